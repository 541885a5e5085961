"""A run folder's seeds -> the experiment's ``metrics.json``, ``report.md`` and PNGs.

The sequential experiment calls this after its last seed (:func:`experiments.experiment.run_experiment`);
``python -m experiments.report RUN_FOLDER`` calls :func:`report_folder` after seeds ran as separate jobs
(a Hydra multirun over ``experiment.seed``). Both build the same ``metrics.json`` (the schema is in
:mod:`experiments.report`) from the same per-seed files, timings aside.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from autolabel.errors import DataError
from autolabel.records import ALL_BANDS
from experiments.constants import MODEL_NAMES
from experiments.repeats import train_repeats, training_noise
from experiments.reporting.aggregate import ordering, stage_totals, summary
from experiments.reporting.markdown import write_report
from experiments.reporting.plots import SampleImage
from experiments.round_stats import summarize_rounds
from experiments.rounds import finished_rounds
from experiments.run_folder import METRICS_FILE, RunFolder, SeedFolder, write_json
from experiments.seed_run import check_control

log = logging.getLogger("experiments.reporting.summary")

PerSeedRounds = Mapping[str, Sequence[Mapping[str, Any]]]  # strategy -> rounds, as run_rounds returns


def rounds_entry(per_seed: Sequence[PerSeedRounds], budget: int) -> dict[str, Any]:
    """The ``rounds`` entry of metrics.json: :func:`summarize_rounds` plus the rounds' total seconds."""
    rounds = summarize_rounds(per_seed, budget)
    rounds["seconds"] = round(
        sum(r.get("seconds", 0.0) for seed in per_seed for curve in seed.values() for r in curve), 2
    )
    log.info("rounds: %s", rounds["label_savings"]["explanation"])
    return rounds


def experiment_metrics(
    cfg: DictConfig,
    results: Sequence[Mapping[str, Any]],
    rounds: Mapping[str, Any] | None,
    *,
    this_run: float | None = None,
) -> dict[str, Any]:
    """The metrics dict of a run: ``results`` (one ``result.json`` per seed, in seed order) summarised.

    rounds: :func:`rounds_entry`, or None without rounds. this_run: seconds the calling run spent, if any.
    """
    classes = list(results[0]["models"][MODEL_NAMES[0]]["per_class"])
    stage_seconds = {**stage_totals(results), **({"rounds": rounds["seconds"]} if rounds else {})}
    if this_run is not None:
        stage_seconds["this_run"] = round(this_run, 2)
    return {
        "experiment": {
            "name": cfg.experiment.name,
            "seeds": [int(r["seed"]) for r in results],
            "selection": cfg.selection._target_.rsplit(".", 1)[-1],
            "control": check_control(cfg),
            "train_mode": cfg.experiment.train_mode,
            "epochs": cfg.trainer.epochs,
            "finetune_epochs": cfg.experiment.finetune_epochs,
            "train_repeats": train_repeats(cfg),
            # a file's path, or the generator's name (demo_dataset -> "demo", shapes_dataset -> "shapes"),
            # with the second imaging line's share where data=demo_shift set one
            "dataset": str(
                cfg.data.get("path") or cfg.data._target_.rsplit(".", 1)[-1].removesuffix("_dataset")
            )
            + (
                f" (shift_share {cfg.data.shift_share}: a second imaging line)"
                if cfg.data.get("shift_share")
                else ""
            ),
        },
        "classes": classes,
        "per_seed": {
            str(r["seed"]): {k: r[k] for k in ("models", "selection", "stage_seconds")} for r in results
        },
        "summary": summary(results, classes),
        "ordering": ordering(results),
        "training_noise": training_noise(results),
        "rounds": dict(rounds) if rounds else None,
        "stage_seconds": stage_seconds,
    }


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


def write_run_report(run_dir: Path, metrics: Mapping[str, Any], *, samples_per_band: int) -> Path:
    """``metrics.json``, ``report.md`` and the PNGs into the run folder; returns the report's path."""
    write_json(Path(run_dir) / METRICS_FILE, metrics)
    scores, samples = pool_scores_and_samples(run_dir, metrics["experiment"]["seeds"], samples_per_band)
    return write_report(metrics, run_dir, pool_scores=scores, samples=samples)


def folder_rounds(seeds: Sequence[SeedFolder]) -> dict[str, Any] | None:
    """The ``rounds`` entry from the seeds' finished rounds on disk; None when no seed has one.

    Seeds whose rounds stop short of the longest curve (a job still running or interrupted) are left out.
    """
    found = {s.seed: rounds for s in seeds if (rounds := finished_rounds(s))}
    if not found:
        return None
    longest = max(len(curve) for rounds in found.values() for curve in rounds.values())
    complete = {k: r for k, r in found.items() if all(len(c) == longest for c in r.values())}
    if len(complete) < len(found):
        log.warning("rounds of seeds %s are unfinished: left out", sorted(set(found) - set(complete)))
    if not complete:
        return None
    budget = int(next(iter(complete.values()))["uncertainty"][1]["budget"])
    return rounds_entry(list(complete.values()), budget)


def report_folder(run_dir: str | Path) -> tuple[dict[str, Any], Path]:
    """The statistics over a run folder's finished seeds, written as the sequential run writes them.

    Settings come from the folder's saved config; seeds are every ``seed_<k>`` with a ``result.json``,
    rounds every finished round. Returns (metrics, the report's path); DataError without a finished seed.
    """
    run = RunFolder(run_dir)
    cfg = run.config()
    seeds = run.finished_seeds()
    if not seeds:
        raise DataError(f"{run.path} holds no finished seed (no seed_<k>/result.json) to report on")
    results = [s.result() for s in seeds]
    metrics = experiment_metrics(cfg, results, folder_rounds(seeds))
    return metrics, write_run_report(run.path, metrics, samples_per_band=cfg.experiment.samples_per_band)
