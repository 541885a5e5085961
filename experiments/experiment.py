"""The GT2-vs-random experiment over seeds: does labeling the images our uncertainty picks beat random?

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

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.records import ALL_BANDS
from autolabel.yolo_format import DataError
from experiments.aggregate import ordering, stage_totals, summary
from experiments.constants import MODEL_NAMES
from experiments.report import SampleImage, write_report
from experiments.rounds import check_rounds, run_rounds, summarize_rounds
from experiments.run_folder import CONFIG_FILE, RunFolder, differing_keys, write_json
from experiments.seed_run import check_control, check_same_cal1, run_seed, settings_as_now

log = logging.getLogger("experiments.experiment")
# settings a finished run folder may be extended with: more seeds, rounds (a round checks its own budget),
# and where CAL1 comes from (a lent CAL1 is checked to have the same settings)
EXTENDABLE = ("seeds", "rounds", "budget", "round_seeds", "cal1_from")
# experiment keys added after runs were made, with the value those runs used: a folder saved before a key
# existed matches a config that has the key at that value
ADDED_KEYS = {"control": "size"}


def comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    """A run's settings as compared between runs of one folder: extendable keys left out, keys added
    since older folders were made at the value those used (:func:`settings_as_now`)."""
    out = settings_as_now(cfg)
    out["experiment"] = dict(out["experiment"])
    for key in EXTENDABLE:
        out["experiment"].pop(key, None)
    for key, value in ADDED_KEYS.items():
        out["experiment"].setdefault(key, value)
    return out


def check_config(run_dir: Path, cfg: DictConfig) -> None:
    """Refuse to mix results of different settings in one run folder (seeds may be added)."""
    current = comparable(OmegaConf.to_container(cfg, resolve=True))
    saved = run_dir / CONFIG_FILE
    if saved.is_file():
        previous = comparable(OmegaConf.to_container(OmegaConf.load(saved), resolve=True))
        if previous != current:
            changed = differing_keys(previous, current)
            raise DataError(
                f"{run_dir} holds results of other settings (differ in: {', '.join(changed)}); "
                "use experiment.name=<new name> or remove the folder"
            )
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, saved)
    check_inputs(cfg)


def check_inputs(cfg: DictConfig) -> None:
    """Refuse, before anything is trained, a selection whose record fields the pool labels will lack."""
    if not cfg.label_pool:
        raise DataError("the experiment selects GT2 from CAL1's pool labels: set label_pool=true")
    requires = frozenset(instantiate(cfg.selection).requires)
    provides = frozenset(instantiate(cfg.uncertainty).provides)
    if not requires <= provides:
        raise DataError(
            f"selection={cfg.selection._target_.rsplit('.', 1)[-1]} ranks by {', '.join(sorted(requires))}, "
            f"which the uncertainty stage does not give ({', '.join(sorted(provides)) or 'nothing'}): "
            "use uncertainty=mc_dropout"
        )


def pool_scores_and_samples(run_dir: Path, seeds: list[int], per_band: int) -> tuple[dict, dict]:
    """Per seed (score, band) of every pool image; a few sample images per band from the first seed."""
    scores, samples = {}, {}
    run = RunFolder(run_dir)
    for seed in seeds:
        folder = run.seed(seed)
        records = [r for r in folder.pool_records if r.ok]
        scores[str(seed)] = [(r.score, r.band) for r in records]
        if samples:
            continue
        for band in ALL_BANDS:
            chosen = [r for r in records if r.difficulty == band][:per_band]
            samples[band] = [
                SampleImage(
                    path=folder.pool_path(r),
                    boxes_xyxy=r.detections.xyxy,
                    labels=list(r.labels),
                    confs=r.detections.conf,
                    score=r.score,
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
    classes = list(results[0]["models"][MODEL_NAMES[0]]["per_class"])
    metrics = {
        "experiment": {
            "name": cfg.experiment.name,
            "seeds": [int(s) for s in cfg.experiment.seeds],
            "selection": cfg.selection._target_.rsplit(".", 1)[-1],
            "control": control,
            "train_mode": cfg.experiment.train_mode,
            "epochs": cfg.trainer.epochs,
            "finetune_epochs": cfg.experiment.finetune_epochs,
            # a file's path, or the generator's name (demo_dataset -> "demo", shapes_dataset -> "shapes")
            "dataset": str(
                cfg.data.get("path") or cfg.data._target_.rsplit(".", 1)[-1].removesuffix("_dataset")
            ),
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
