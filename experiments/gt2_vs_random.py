"""``python -m experiments.gt2_vs_random``: does labeling the images our uncertainty picks beat random?

A thin Hydra entry point over :mod:`experiments.experiment`: per seed CAL1, GT2, CONTROL and CAL2, then the
statistics over seeds and the report in ``runs/gt2_vs_random/<experiment.name>/``. With
``experiment.seed=<k>`` only that seed runs, and no report: ``--multirun experiment.seed=0,1,2
hydra/launcher=joblib hydra.launcher.n_jobs=2`` runs seeds as parallel jobs in the same run folder, each
with its share of the cores as torch threads (unless ``AUTOLABEL_THREADS`` says otherwise), and the
statistics and report are written when the last job ends (:class:`experiments.report.ReportAtEnd`);
``python -m experiments.report runs/gt2_vs_random/<experiment.name>`` writes them at any time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from autolabel.cli import clear_errors
from autolabel.model.offline import ENV_THREADS, torch_threads
from autolabel.settings_check import check_train_settings
from experiments.experiment import run_experiment, run_seed_job


def run_folder(hydra_cfg: DictConfig) -> Path:
    """The experiment's run folder: a single run's output dir, or a multirun's sweep dir, which all its
    jobs share (each job's own output dir, below it, holds only its Hydra record and log)."""
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return Path(hydra_cfg.sweep.dir)
    return Path(hydra_cfg.runtime.output_dir)


def job_threads(n_jobs: int, cores: int) -> int:
    """Torch threads for each of ``n_jobs`` parallel jobs on ``cores`` cores (joblib's ``n_jobs``: -1 is
    one job per core, -2 one fewer, ...), at least 1."""
    jobs = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    return max(1, cores // jobs)


def share_cores(mode: RunMode, n_jobs: int | None) -> int | None:
    """In a multirun with a launcher that runs ``n_jobs`` jobs at once, give this job its share of the
    cores: sets ``AUTOLABEL_THREADS`` unless the user set it. Returns the threads set, or None."""
    if mode != RunMode.MULTIRUN or n_jobs is None or os.environ.get(ENV_THREADS):
        return None
    threads = job_threads(int(n_jobs), torch_threads())
    os.environ[ENV_THREADS] = str(threads)
    return threads


@hydra.main(version_base="1.3", config_path="../conf", config_name="gt2_vs_random")
@clear_errors
def main(cfg: DictConfig) -> float | None:
    check_train_settings(cfg)  # the train settings of every seed, before anything is written
    hydra_cfg = HydraConfig.get()
    run_dir = run_folder(hydra_cfg)
    if (threads := share_cores(hydra_cfg.mode, OmegaConf.select(hydra_cfg, "launcher.n_jobs"))) is not None:
        print(f"{ENV_THREADS}={threads}: this job's share of the cores")
    if cfg.experiment.get("seed") is not None:
        models = run_seed_job(cfg, run_dir)["models"]
        cal2, control = (models[m]["map50_95"] for m in ("CAL2", "CONTROL"))
        diff = math.nan if cal2 is None or control is None else cal2 - control
        print(f"seed {cfg.experiment.seed}: CAL2 - CONTROL mAP50-95 {diff:+.4f} (one seed)")
        print(f"statistics over the finished seeds at any time: python -m experiments.report {run_dir}")
        return diff
    metrics = run_experiment(cfg, run_dir)
    diff = metrics["summary"]["paired"]["CAL2-CONTROL"]["map50_95"]
    print(f"CAL2 - CONTROL mAP50-95: {diff['mean']:+.4f} (95% CI {diff['ci95']}), {diff['direction']}")
    return diff["mean"]


if __name__ == "__main__":
    main()
