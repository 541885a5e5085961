"""``python -m autolabel.train``: split, train CAL1 on GT1, write its model card on VAL, auto-label POOL.

A thin Hydra entry point over :func:`autolabel.pipeline.train_and_card`; the run folder
(``runs/train/<time>/``) holds what that function documents.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from autolabel.cli import clear_errors
from autolabel.pipeline import train_and_card
from autolabel.settings_check import check_train_settings


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@clear_errors
def main(cfg: DictConfig) -> float | None:
    check_train_settings(cfg)  # before anything is written
    card = train_and_card(cfg, Path(HydraConfig.get().runtime.output_dir))
    return card["evaluation"]["map50_95"]


if __name__ == "__main__":
    main()
