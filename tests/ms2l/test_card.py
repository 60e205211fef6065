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
