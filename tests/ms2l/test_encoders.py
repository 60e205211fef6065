"""Encoders: the per-person GRU that lets two-person models start from a one-person encoder."""
from __future__ import annotations

import pytest
import torch

from ms2l.config import ModelConfig
from ms2l.encoders import PersonsGRUEncoder, for_persons
from ms2l.errors import ConfigError
from ms2l.model import MS2L

torch.manual_seed(0)


def test_each_person_goes_through_the_one_person_encoder():
    one = MS2L(ModelConfig(hidden=8, layers=1), with_ssl_heads=False)
    cfg2 = for_persons(one.config, 2)
    assert (cfg2.persons, cfg2.encoder) == (2, "gru-persons")
    two = MS2L(cfg2, with_ssl_heads=False)
    assert isinstance(two.encoder, PersonsGRUEncoder) and two.encoder.out_dim == 2 * one.encoder.out_dim
    two.encoder.load_state_dict(one.encoder.state_dict())   # the same weights fit
    x = torch.randn(3, 10, 2, 25, 3)
    lengths = torch.tensor([10, 7, 4])
    h = two.encoder(x.flatten(2), lengths)                   # [B, T, 2 * 2H]
    F = one.encoder.out_dim
    for m in range(2):
        alone = one.encoder(x[:, :, m].flatten(2), lengths)
        assert torch.allclose(h[..., m * F:(m + 1) * F], alone, atol=1e-6)
    swapped = two.encoder(x.flip(2).flatten(2), lengths)     # persons swapped: feature blocks swap
    assert torch.allclose(swapped[..., :F], h[..., F:], atol=1e-6)


def test_a_two_person_encoder_cannot_read_one_person_or_other_layouts():
    assert for_persons(ModelConfig(), 1) == ModelConfig()
    with pytest.raises(ConfigError, match="cannot read"):
        for_persons(ModelConfig(persons=2), 3)


def test_train_sbu_from_a_one_person_encoder(sbu_dir, tiny_encoder, tmp_path):
    """``ms2l train --dataset sbu --encoder ONE_PERSON``: a two-person model on that encoder's weights."""
    import json

    from ms2l.checkpoint import load_model, read_metadata
    from test_datasets_utd_sbu_pool import links, ms2l

    sbu = links(tmp_path / "sbu", sorted(sbu_dir.glob("s0[12]s0[12]/0[15]/*/skeleton_pos.txt")), root=sbu_dir)
    out = tmp_path / "sbu.safetensors"
    code, _, err = ms2l("train", "--strategy", "finetune", "--encoder", tiny_encoder, "--dataset", "sbu",
                        "--data", sbu, "--protocol", "fold4", "--out", out, "--epochs", "1", "--device", "cpu")
    assert code == 0, err
    meta = read_metadata(out)
    assert meta["config"]["persons"] == 2 and meta["config"]["encoder"] == "gru-persons"
    model, _ = load_model(out)
    enc, _ = load_model(tiny_encoder)
    assert model.encoder.gru.weight_ih_l0.shape == enc.encoder.gru.weight_ih_l0.shape
    code, text, err = ms2l("evaluate", "--model", out, "--dataset", "sbu", "--data", sbu, "--protocol", "fold4", "--json")
    assert code == 0, err
    assert json.loads(text)["n"] > 0


def test_a_velocity_encoder_reads_each_joints_change_and_keeps_the_persons_apart():
    from ms2l.encoders import VELOCITY_SCALE, with_velocity

    x = torch.randn(2, 6, 75)
    xv = with_velocity(x)                                        # [B, T, 2D]
    assert xv.shape == (2, 6, 150) and torch.equal(xv[..., :75], x)
    assert torch.equal(xv[:, 0, 75:], torch.zeros(2, 75))       # nothing before the first frame
    assert torch.allclose(xv[:, 3, 75:], VELOCITY_SCALE * (x[:, 3] - x[:, 2]))
    one = MS2L(ModelConfig(hidden=8, layers=1, velocity=True, labels=("a", "b")))
    assert one.encoder.gru.input_size == 150 and one.reconstruct.out_features == 75  # predicts joints, not velocities
    lengths = torch.tensor([6, 3])
    assert one(x, lengths).shape == (2, 2)
    # The same clip with its last frames padded away: the velocity of padding does not leak in.
    short = one.encoder(x[1:, :3], lengths[1:])
    assert torch.allclose(one.encoder(x, lengths)[1, :3], short[0], atol=1e-6)
    two = MS2L(for_persons(one.config, 2), with_ssl_heads=False)
    two.encoder.load_state_dict(one.encoder.state_dict())
    x2 = torch.randn(1, 5, 2, 25, 3)
    h = two.encoder(x2.flatten(2), torch.tensor([5]))
    assert torch.allclose(h[..., 16:], one.encoder(x2[:, :, 1].flatten(2), torch.tensor([5])), atol=1e-6)
    # Files written before the field existed load as joint-only models.
    assert ModelConfig.from_dict({k: v for k, v in ModelConfig().to_dict().items() if k != "velocity"}).velocity is False


def test_a_bone_encoder_reads_each_joint_from_its_parent_and_keeps_the_root_in_place(tmp_path):
    import numpy as np

    from ms2l.checkpoint import load_model, save_model
    from ms2l.encoders import BONE_SCALE, bone_parents, with_bones
    from ms2l.export import export_onnx
    from pose_adapters.convention import JOINT_INDEX

    parents = bone_parents(ModelConfig(bone=True))
    assert bone_parents(ModelConfig()) is None
    assert sum(p == v for v, p in enumerate(parents)) == 1 and parents[JOINT_INDEX["spine_base"]] == 0
    x = torch.randn(2, 4, 2 * 75)                                # two people side by side
    b = with_bones(x, parents).reshape(2, 4, 2, 25, 3)
    j = x.reshape(2, 4, 2, 25, 3)
    wrist, elbow = JOINT_INDEX["right_wrist"], JOINT_INDEX["right_elbow"]
    assert torch.allclose(b[..., wrist, :], BONE_SCALE * (j[..., wrist, :] - j[..., elbow, :]))
    assert torch.equal(b[..., 0, :], j[..., 0, :])               # the root keeps its position
    # Lossless: walking the bones from the root gives the joints back.
    back = torch.zeros_like(j)
    order = sorted(range(25), key=lambda v: _depth(parents, v))
    for v in order:
        back[..., v, :] = b[..., v, :] if parents[v] == v else back[..., parents[v], :] + b[..., v, :] / BONE_SCALE
    assert torch.allclose(back, j, atol=1e-5)
    model = MS2L(ModelConfig(hidden=8, layers=1, bone=True, velocity=True, labels=("a", "b")))
    assert model.encoder.gru.input_size == 150 and model.reconstruct.out_features == 75  # still predicts joints
    xv = model.encoder.inputs(x[..., :75])
    assert torch.allclose(xv[..., :75], with_bones(x[..., :75], parents))
    assert model(x[..., :75], torch.tensor([4, 2])).shape == (2, 2)
    # The file carries the input; the parent table is the layout's, not a weight; the export reads bones too.
    path = save_model(model, tmp_path / "b.safetensors", {"kind": "classifier"}, include_ssl_heads=False)
    loaded, _ = load_model(path)
    assert loaded.config.bone and not any("parents" in k for k in loaded.state_dict())
    onnx = pytest.importorskip("onnxruntime")
    sess = onnx.InferenceSession(str(export_onnx(loaded, tmp_path / "b.onnx")))
    window = torch.randn(1, 20, 1, 25, 3)
    ref = loaded(window, torch.tensor([20])).softmax(-1).detach().numpy()
    assert np.allclose(sess.run(["probs"], {"x": window.numpy()})[0], ref, atol=1e-5)
    with pytest.raises(ConfigError, match="ntu25"):
        MS2L(ModelConfig(bone=True, joints=15, layout="sbu15"))
    assert ModelConfig.from_dict({k: v for k, v in ModelConfig().to_dict().items() if k != "bone"}).bone is False


def _depth(parents: tuple[int, ...], v: int) -> int:
    d = 0
    while parents[v] != v:
        v, d = parents[v], d + 1
    return d


def test_mean_max_pooling_reads_only_valid_frames_and_keeps_the_ssl_heads_on_the_mean(tmp_path):
    import numpy as np

    from ms2l.checkpoint import check_config, load_model, save_model
    from ms2l.config import TaskConfig
    from ms2l.encoders import masked_mean, pool
    from ms2l.export import export_onnx

    h = torch.randn(2, 5, 4)
    lengths = torch.tensor([5, 2])
    f = pool(h, lengths, "mean+max")                                      # [B, 2F]
    assert f.shape == (2, 8) and torch.allclose(f[:, :4], masked_mean(h, lengths))
    assert torch.equal(f[1, 4:], h[1, :2].amax(0))                        # padding never wins the max
    with pytest.raises(ConfigError, match="unknown pooling"):
        pool(h, lengths, "median")
    with pytest.raises(ValueError, match="pooling"):
        check_config(ModelConfig(pooling="median"))
    model = MS2L(ModelConfig(hidden=8, layers=1, pooling="mean+max", labels=("a", "b", "c")))
    assert model.feature_dim == 2 * model.encoder.out_dim == model.classifier.fc.in_features
    x, lengths = torch.randn(3, 12, 25, 3), torch.tensor([12, 9, 5])
    assert model(x, lengths).shape == (3, 3)
    losses = model.ssl_losses(x, lengths, TaskConfig(), original_features=model.features(x, lengths))
    assert set(losses) >= {"motion", "jigsaw", "contrastive"} and torch.isfinite(losses["contrastive"])
    # The file carries the pooling; the exported graph pools the same way.
    path = save_model(model, tmp_path / "m.safetensors", {"kind": "classifier"}, include_ssl_heads=False)
    loaded, _ = load_model(path)
    assert loaded.config.pooling == "mean+max"
    onnx = pytest.importorskip("onnxruntime")
    sess = onnx.InferenceSession(str(export_onnx(loaded, tmp_path / "m.onnx")))
    window = torch.randn(1, 20, 1, 25, 3)
    probs = sess.run(["probs"], {"x": window.numpy()})[0]
    ref = loaded(window, torch.tensor([20])).softmax(-1).detach().numpy()
    assert np.allclose(probs, ref, atol=1e-5)
