"""A warm start from a user's own local checkpoint trained on other classes (model.name=/path/weights.pt)."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir

from tests.conftest import CONF_DIR, block_network

pytestmark = pytest.mark.slow


def test_a_checkpoint_of_other_classes_warm_starts_a_one_class_model(trained_run, tmp_path):
    from autolabel.pipeline import train_and_card

    weights = trained_run[0] / "weights.pt"  # six demo defect classes
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                "experiment=smoke",
                f"data.root={tmp_path / 'shapes'}",
                "data.n_images=32",
                "data.classes=[disc]",
                "split.val=8",
                "split.gt1=16",
                f"model.name={weights}",
                "trainer.epochs=2",
                "label_pool=false",
            ],
        )
    with block_network() as attempts:
        card = train_and_card(cfg, tmp_path / "run")
    assert not attempts
    assert card["model"]["classes"] == ["disc"] and card["model"]["architecture"] == str(weights)
    model = torch.load(card["model"]["weights"], weights_only=False)["model"]
    assert model.nc == 1 and list(model.names.values()) == ["disc"]
