"""Model cards say how a model's encoder was pretrained, not only on what."""
from __future__ import annotations

from ms2l.card import model_card
from ms2l.config import ModelConfig, Recipe, TaskConfig


def test_the_card_gives_the_encoders_pretraining_recipe_and_its_input():
    enc = Recipe(strategy="pretrain", epochs=36, views=("tilt", "mask"), tasks=TaskConfig(pair_views=True)).to_dict()
    meta = {"config": ModelConfig(velocity=True, labels=("wave",)).to_dict(),
            "encoder": {"path": "runs/pre/encoder.safetensors", "recipe": enc, "data": {"dataset": "pool"}}}
    card = model_card(meta)
    assert "## Encoder pretraining\n" in card
    assert "motion, jigsaw, contrastive (contrastive positives also from a second" in card
    assert "36 epochs, batch 64, lr 0.001 (cosine), extra views: tilt, mask, seed 0" in card
    assert "reads joints and their frame-to-frame change" in card
    plain = model_card({"config": ModelConfig(labels=("wave",)).to_dict()})
    assert "## Encoder pretraining" not in plain and "frame-to-frame" not in plain
    assert "max over frames" not in plain
    assert "the mean and the max over frames" in model_card({"config": ModelConfig(pooling="mean+max").to_dict()})
    bone = model_card({"config": ModelConfig(bone=True, velocity=True).to_dict()})
    assert "reads bone vectors (joint minus parent) and their frame-to-frame change" in bone
    assert "reads bone vectors (joint minus parent) in place of joint positions" in model_card(
        {"config": ModelConfig(bone=True).to_dict()})


def test_the_card_tells_how_self_training_went():
    from ms2l.card import model_card

    meta = {"kind": "classifier", "data": {"dataset": "nw-ucla", "label_fraction": 0.1, "self_training": {
        "rounds": 2, "unlabelled": 918, "log": [{"round": 0, "clips": 102, "pseudo": 0},
                                                {"round": 1, "clips": 562, "pseudo": 460, "pseudo_correct": 81.3},
                                                {"round": 2, "clips": 1020, "pseudo": 918, "pseudo_correct": 74.9}],
        "labeller": "spread", "labelled_recipe": {"epochs": 126, "lr": 0.0003}}},
        "recipe": {"strategy": "finetune", "epochs": 40}}
    card = model_card(meta)
    assert ("self-training: 2 rounds on the 918 unlabelled clips of the training split, pseudo-labelled by label "
            "spreading over the model's features (round 1: 460 pseudo-labelled, 81 % of them right; round 2: 918 "
            "pseudo-labelled, 75 % of them right); the final model learnt from those of the last round, with the "
            "recipe below") in card
    assert "the labelled clips alone were trained first for 126 epochs at lr 0.0003" in card
    assert card.index("self-training") < card.index("## Recipe") and "- epochs: 40" in card
    assert "'log'" not in card
