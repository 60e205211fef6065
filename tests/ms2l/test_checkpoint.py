"""Model files: round trip, metadata, refusal of pickles and mismatches."""
import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from ms2l.checkpoint import ModelFileError, load_model, read_metadata, resolve_model, save_model
from ms2l.config import ModelConfig, TaskConfig
from ms2l.model import MS2L

CFG = ModelConfig(hidden=16, layers=1, labels=("wave", "clap", "bow"), fps=30.0, window=48)


def test_round_trip_keeps_config_labels_and_weights(tmp_path):
    torch.manual_seed(0)
    model = MS2L(CFG).eval()
    path = save_model(model, tmp_path / "m.safetensors", {"metrics": {"top1": 50.0}, "recipe": {"epochs": 3}})
    loaded, meta = load_model(path)
    assert loaded.config == CFG and loaded.config.labels == ("wave", "clap", "bow")
    assert meta["metrics"] == {"top1": 50.0} and meta["recipe"] == {"epochs": 3}
    x, n = torch.randn(2, 10, 1, 25, 3), torch.tensor([10, 7])
    with torch.no_grad():
        assert torch.allclose(model(x, n), loaded(x, n))


def test_inference_file_drops_ssl_heads(tmp_path):
    path = save_model(MS2L(CFG), tmp_path / "m.safetensors", include_ssl_heads=False)
    model, meta = load_model(path)
    assert not model.has_ssl_heads and meta["ssl_heads"] is False


def test_pickle_checkpoint_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Evil()))
    torch_path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, torch_path)
    for p in (path, torch_path):
        with pytest.raises(ModelFileError, match="not a safetensors model file"):
            load_model(p)
    assert not marker.exists()


def test_safetensors_without_metadata_or_with_wrong_shapes(tmp_path):
    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(bare))
    with pytest.raises(ModelFileError, match="no ms2l metadata"):
        load_model(bare)
    good = save_model(MS2L(CFG), tmp_path / "m.safetensors")
    meta = read_metadata(good)
    meta["config"]["hidden"] = 20  # weights were saved for 16
    bad = tmp_path / "bad.safetensors"
    from safetensors.torch import load_file
    save_file(load_file(str(good)), str(bad), metadata={"ms2l": json.dumps(meta)})
    with pytest.raises(ModelFileError, match="do not match"):
        load_model(bad)


def test_resolve_model(tmp_path):
    assert resolve_model("default").name == "default.safetensors"
    with pytest.raises(ModelFileError, match="no model file"):
        resolve_model(tmp_path / "nope.safetensors")


def test_config_round_trip_and_unknown_fields():
    assert ModelConfig.from_dict(CFG.to_dict()) == CFG
    with pytest.raises(ValueError, match="unknown model config fields: colour"):
        ModelConfig.from_dict({**CFG.to_dict(), "colour": "red"})
    assert TaskConfig.from_names("jigsaw").enabled == ["jigsaw"]
    with pytest.raises(ValueError):
        TaskConfig.from_names("motion,dance")


def test_nwucla_model_is_small_and_complete():
    """The NW-UCLA-only model (the default until the webcam model; the paper table): ``--model nwucla``."""
    model, meta = load_model("nwucla")
    path = resolve_model("nwucla")
    assert path.stat().st_size < 20 * 2**20
    cfg = model.config
    assert cfg.num_classes == 10 and cfg.layout == "ntu25" and cfg.fps > 0 and cfg.window > 0
    assert meta["metrics"]["test"]["top1"] >= 85
    assert meta["recipe"]["strategy"] == "joint"


def test_default_model_is_the_webcam_model_with_rejection():
    from ms2l.data import dataset_labels

    model, meta = load_model("default")
    assert resolve_model("default").stat().st_size < 20 * 2**20
    cfg = model.config
    assert cfg.labels == dataset_labels("nw-ucla+utd-mhad") and cfg.num_classes == 34 and cfg.layout == "ntu25"
    assert meta["open_set"]["threshold"] > 0 and float(model.classifier.threshold) > 0
    assert meta["open_set"]["negatives"]["clips"] > 100
    assert 8 <= meta["live"]["min_frames"] <= meta["live"]["window"] <= cfg.window
    assert meta["data"]["dataset"] == "nw-ucla+utd-mhad" and meta["encoder"]["path"].endswith("encoder.safetensors")
