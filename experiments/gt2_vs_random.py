"""``python -m experiments.gt2_vs_random``: does labeling the images our uncertainty picks beat random?

A thin Hydra entry point over :func:`experiments.experiment.run_experiment`: per seed CAL1, GT2, CONTROL
and CAL2, then the statistics over seeds and the report in ``runs/gt2_vs_random/<experiment.name>/``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from autolabel.cli import clear_errors
from autolabel.settings_check import check_train_settings
from experiments.experiment import run_experiment


@hydra.main(version_base="1.3", config_path="../conf", config_name="gt2_vs_random")
@clear_errors
def main(cfg: DictConfig) -> float | None:
    check_train_settings(cfg)  # the train settings of every seed, before anything is written
    metrics = run_experiment(cfg, Path(HydraConfig.get().runtime.output_dir))
    diff = metrics["summary"]["paired"]["CAL2-CONTROL"]["map50_95"]
    print(f"CAL2 - CONTROL mAP50-95: {diff['mean']:+.4f} (95% CI {diff['ci95']}), {diff['direction']}")
    return diff["mean"]


if __name__ == "__main__":
    main()
