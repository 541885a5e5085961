"""``python -m experiments.gt2_vs_random``: does labeling the images our uncertainty picks beat random?

For each seed of ``experiment.seeds`` (see :mod:`experiments.seed_run`): CAL1 on GT1, GT2 = the pool images
``selection`` picks, CONTROL = a random draw of the same size, CAL2 on GT1+GT2 and the control model on
GT1+CONTROL, all evaluated on the same VAL. Then means, spreads and 95% CIs over seeds, paired
differences, and the report (``report.md``, ``metrics.json``, PNGs) in ``runs/gt2_vs_random/<name>/``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from autolabel.cli import clear_errors
from autolabel.records import read_records
from autolabel.settings_check import check_train_settings
from autolabel.split import read_manifest
from autolabel.views import view_name
from autolabel.yolo_format import DataError
from experiments.aggregate import ordering, stage_totals, summary
from experiments.report import SampleImage, write_report
from experiments.rounds import check_rounds, run_rounds, summarize_rounds
from experiments.seed_run import (
    CONFIG_FILE,
    check_control,
    check_same_cal1,
    differing_keys,
    run_seed,
    write_json,
)

log = logging.getLogger("experiments.gt2_vs_random")
# settings a finished run folder may be extended with: more seeds, rounds (a round checks its own budget),
# and where CAL1 comes from (a lent CAL1 is checked to have the same settings)
EXTENDABLE = ("seeds", "rounds", "budget", "round_seeds", "cal1_from")
# experiment keys added after runs were made, with the value those runs used: a folder saved before a key
# existed matches a config that has the key at that value
ADDED_KEYS = {"control": "size"}


def check_config(run_dir: Path, cfg: DictConfig) -> None:
    """Refuse to mix results of different settings in one run folder (seeds may be added)."""
    current = OmegaConf.to_container(cfg, resolve=True)
    for key in EXTENDABLE:
        current["experiment"].pop(key, None)
    saved = run_dir / CONFIG_FILE
    if saved.is_file():
        previous = OmegaConf.to_container(OmegaConf.load(saved), resolve=True)
        for key in EXTENDABLE:
            previous["experiment"].pop(key, None)
        for key, value in ADDED_KEYS.items():
            previous["experiment"].setdefault(key, value)
        if previous != current:
            changed = differing_keys(previous, current)
            raise DataError(
                f"{run_dir} holds results of other settings (differ in: {', '.join(changed)}); "
                "use experiment.name=<new name> or remove the folder"
            )
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, saved)
    if not (
        cfg.label_pool and (cfg.uncertainty.enabled or cfg.selection._target_.endswith("RandomSelection"))
    ):
        raise DataError("the experiment needs label_pool=true and uncertainty=mc_dropout to select GT2")


def pool_scores_and_samples(run_dir: Path, seeds: list[int], per_band: int) -> tuple[dict, dict]:
    """Per seed (score, band) of every pool image; a few sample images per band from the first seed."""
    scores, samples = {}, {}
    for seed in seeds:
        pool_dir = run_dir / f"seed_{seed}" / "cal1"
        records = [
            r for r in read_records(pool_dir / "pool_labels" / "predictions.jsonl") if not r.get("error")
        ]
        scores[str(seed)] = [(r.get("score"), r.get("difficulty", "medium")) for r in records]
        if samples:
            continue
        pool = read_manifest(pool_dir / "manifest.csv").pool
        by_key = {view_name(i, p): p for i, p in enumerate(pool)}
        for band in ("easy", "medium", "hard", "failed"):
            chosen = [r for r in records if r.get("difficulty") == band][:per_band]
            samples[band] = [
                SampleImage(
                    path=by_key[r["image"]],
                    boxes_xyxy=np.array([b["xyxy"] for b in r["boxes"]], np.float32).reshape(-1, 4),
                    labels=[b["label"] for b in r["boxes"]],
                    confs=np.array([b["conf"] for b in r["boxes"]], np.float32),
                    score=r.get("score"),
                )
                for r in chosen
            ]
    return scores, samples


def run_experiment(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """All seeds (reusing finished ones), the statistics and the report; returns the metrics."""
    control = check_control(cfg)  # settings are checked before the folder records them
    n_rounds, budget = check_rounds(cfg)
    if cfg.experiment.get("cal1_from"):
        check_same_cal1(cfg, Path(str(cfg.experiment.cal1_from)) / CONFIG_FILE)
    check_config(run_dir, cfg)
    round_seeds = [int(s) for s in (cfg.experiment.get("round_seeds") or cfg.experiment.seeds)]
    missing = sorted(set(round_seeds) - {int(s) for s in cfg.experiment.seeds})
    if n_rounds and missing:
        raise DataError(
            f"experiment.round_seeds {missing} are not in experiment.seeds; rounds start from their CAL1"
        )
    started = time.perf_counter()
    results = []
    for seed in cfg.experiment.seeds:
        seed_dir = run_dir / f"seed_{seed}"
        done = seed_dir / "result.json"
        if done.is_file():
            log.info("seed %s: finished earlier, reusing %s", seed, done)
            results.append(json.loads(done.read_text()))
            continue
        seed_cfg = cfg.copy()
        seed_cfg.seed = int(seed)
        log.info("seed %s: starting", seed)
        results.append(run_seed(seed_cfg, seed_dir))
    rounds = None
    if n_rounds:
        per_seed_rounds = []
        for seed in round_seeds:
            seed_cfg = cfg.copy()
            seed_cfg.seed = seed
            per_seed_rounds.append(run_rounds(seed_cfg, run_dir / f"seed_{seed}"))
        rounds = summarize_rounds(per_seed_rounds, budget)
        rounds["seconds"] = round(
            sum(r.get("seconds", 0.0) for seed in per_seed_rounds for c in seed.values() for r in c), 2
        )
        log.info("rounds: %s", rounds["label_savings"]["explanation"])
    classes = list(results[0]["models"]["CAL1"]["per_class"])
    metrics = {
        "experiment": {
            "name": cfg.experiment.name,
            "seeds": [int(s) for s in cfg.experiment.seeds],
            "selection": cfg.selection._target_.rsplit(".", 1)[-1],
            "control": control,
            "train_mode": cfg.experiment.train_mode,
            "epochs": cfg.trainer.epochs,
            "finetune_epochs": cfg.experiment.finetune_epochs,
            "dataset": str(cfg.data.get("path") or "demo"),
        },
        "classes": classes,
        "per_seed": {
            str(r["seed"]): {k: r[k] for k in ("models", "selection", "stage_seconds")} for r in results
        },
        "summary": summary(results, classes),
        "ordering": ordering(results),
        "rounds": rounds,
        "stage_seconds": {
            **stage_totals(results),
            **({"rounds": rounds["seconds"]} if rounds else {}),
            "this_run": round(time.perf_counter() - started, 2),
        },
    }
    write_json(run_dir / "metrics.json", metrics)
    scores, samples = pool_scores_and_samples(
        run_dir, metrics["experiment"]["seeds"], cfg.experiment.samples_per_band
    )
    report = write_report(metrics, run_dir, pool_scores=scores, samples=samples)
    log.info("report: %s", report)
    return metrics


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
