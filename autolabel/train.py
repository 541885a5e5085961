"""``python -m autolabel.train``: split, train CAL1 on GT1, write its model card on VAL, auto-label POOL.

Writes into the Hydra run folder (``runs/train/<time>/``): ``manifest.csv``, ``data/`` (the training
view), ``ultralytics/`` (ultralytics' own run), ``weights.pt``, ``model_card.json``, ``model_card.md``,
``calibration.json`` (difficulty bands fitted on VAL, with ``uncertainty=mc_dropout``) and, with
``label_pool=true``, ``pool_labels/`` (the auto-label job's output, with scores and difficulty).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.cli import clear_errors
from autolabel.detector import Detector, train_detector
from autolabel.job import plain_predict, run_label_job
from autolabel.model_card import evaluate, write_model_card
from autolabel.settings_check import check_train_settings
from autolabel.split import split_dataset, write_manifest
from autolabel.structures import GroundTruth
from autolabel.views import build_view, load_truth
from autolabel.yolo_format import DatasetSpec
from uncertainty.build import build_labeler, save_calibration, settings
from uncertainty.difficulty import fit_difficulty, plot_job_scores, summarize
from uncertainty.labeler import UncertaintyLabeler

log = logging.getLogger("autolabel.train")


class StageTimer:
    """Seconds spent per named stage, logged as each stage ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = round(time.perf_counter() - self.start, 2)
                log.info("stage %s: %.1f s", name, timer.seconds[name])

        return _Stage()


def fit(
    cfg: DictConfig, data_yaml: Path, out_dir: Path, *, model: str | None = None, epochs: int | None = None
) -> Path:
    """Train with the config's recipe on ``data_yaml``; ``model`` and ``epochs`` override the config."""
    return train_detector(
        data_yaml=data_yaml,
        model=model or cfg.model.name,
        out_dir=out_dir,
        epochs=epochs or cfg.trainer.epochs,
        imgsz=cfg.model.imgsz,
        batch=cfg.trainer.batch,
        seed=cfg.seed,
        device=cfg.device,
        workers=cfg.trainer.workers,
        val=cfg.trainer.val,
        head_dropout=cfg.trainer.head_dropout,
        plots=cfg.trainer.plots,
        verbose=cfg.trainer.verbose,
        extra=OmegaConf.to_container(cfg.trainer.extra, resolve=True),
    )


def evaluate_weights(
    cfg: DictConfig, weights: Path, images: Sequence[Path], truths: Sequence[GroundTruth]
) -> tuple[Detector, dict[str, Any]]:
    """Model-card figures of ``weights`` on labelled ``images``, at the threshold ``cfg.threshold`` sets."""
    detector = Detector(weights, imgsz=cfg.model.imgsz, device=cfg.device)
    evaluation = evaluate(
        detector, images, truths, cost=instantiate(cfg.cost), threshold=cfg.threshold, batch=cfg.label.batch
    )
    return detector, evaluation


def calibrated_labeler(
    cfg: DictConfig, detector: Detector, val: Sequence[Path], val_truths: Sequence[GroundTruth]
) -> tuple[UncertaintyLabeler, dict[str, Any]]:
    """The MC-dropout labeler of ``detector`` (at its ``conf``) with difficulty bands fitted on VAL.

    Returns the labeler and the calibration's summary for a model card (split, cutoffs, band rates).
    """
    labeler = build_labeler(detector, cfg.uncertainty)
    calibration, scored, needs = fit_difficulty(
        labeler,
        val,
        val_truths,
        levels=tuple(cfg.uncertainty.calibration.levels),
        min_images=cfg.uncertainty.calibration.min_images,
        require_split=cfg.uncertainty.calibration.require_split,
        batch=cfg.label.batch,
    )
    labeler.calibration = calibration
    log.info("difficulty calibration: %s", calibration.reason)
    return labeler, {"split": "VAL", **summarize(calibration, scored, needs)}


def train_and_card(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """The whole train job on a composed config; returns the model card (also written to ``run_dir``)."""
    timer = StageTimer()
    with timer("data"):
        spec: DatasetSpec = instantiate(cfg.data)
        split = split_dataset(spec, val=cfg.split.val, gt1=cfg.split.gt1, seed=cfg.seed)
        write_manifest(split, run_dir / "manifest.csv")
        log.info("split of %s: %s", spec.yaml_path, split.sizes())
        data_yaml = build_view(
            {"gt1": split.gt1, "val": split.val, "pool": split.pool},
            dest=run_dir / "data",
            names=spec.names,
            train="gt1",
            val="val",
            with_labels=("gt1", "val"),
        )
        gt1_truths = [load_truth(p, num_classes=len(spec.names)) for p in split.gt1]
        val_truths = [load_truth(p, num_classes=len(spec.names)) for p in split.val]
    with timer("train"):
        weights = fit(cfg, data_yaml, run_dir)
    with timer("evaluate"):
        detector, evaluation = evaluate_weights(cfg, weights, split.val, val_truths)
    gt1_boxes = Counter(spec.names[c] for t in gt1_truths for c in t.cls)
    card = {
        "model": {
            "name": "CAL1",
            "weights": str(weights),
            "architecture": cfg.model.name,
            "imgsz": cfg.model.imgsz,
            "epochs": cfg.trainer.epochs,
            "classes": list(spec.names),
        },
        "data": {"dataset": str(spec.yaml_path), "seed": cfg.seed, "split_sizes": split.sizes()},
        "training": {
            "split": "GT1",
            "n_images": len(split.gt1),
            "n_boxes": int(sum(gt1_boxes.values())),
            "per_class_boxes": {name: gt1_boxes.get(name, 0) for name in spec.names},
        },
        "evaluation": {"split": "VAL", **evaluation},
        "cost_model": OmegaConf.to_container(cfg.cost, resolve=True),
    }
    card["cost_model"].pop("_target_", None)
    detector.conf = evaluation["operating_threshold"]
    label_stages(cfg, detector, run_dir, split.val, val_truths, card, timer)
    card["stage_seconds"] = timer.seconds
    json_path, md_path = write_model_card(card, run_dir)
    log.info(
        "CAL1 on VAL: mAP50 %.3f, mAP50-95 %.3f, boost %.2fx at conf %.2f; card: %s",
        evaluation["map50"] or 0.0,
        evaluation["map50_95"] or 0.0,
        evaluation["boost"] or 0.0,
        evaluation["operating_threshold"],
        md_path,
    )
    return card


def label_stages(
    cfg: DictConfig,
    detector: Detector,
    run_dir: Path,
    val: Sequence[Path],
    val_truths: Sequence[GroundTruth],
    card: dict[str, Any],
    timer: StageTimer,
) -> None:
    """Calibrate difficulty on VAL (``cfg.uncertainty``) and auto-label ``run_dir/data/images/pool``.

    ``detector`` runs at its operating threshold. Fills ``card["uncertainty"]`` and ``card["pool_labels"]``;
    writes ``calibration.json`` and ``pool_labels/`` into ``run_dir``.
    """
    labeler, calibration = None, None
    if cfg.uncertainty.enabled:
        with timer("calibrate"):
            labeler, card["uncertainty"] = calibrated_labeler(cfg, detector, val, val_truths)
            calibration = labeler.calibration
            save_calibration(calibration, run_dir)
    if cfg.label_pool:
        with timer("label_pool"):
            pool_dir = run_dir / "data" / "images" / "pool"
            summary = run_label_job(
                predict=labeler or plain_predict(detector.predict),
                names=detector.names,
                source=pool_dir,
                output=run_dir / "pool_labels",
                meta=label_meta(detector, pool_dir, cfg.uncertainty),
                batch=cfg.label.batch,
                threads=cfg.label.threads,
            )
            plot_job_scores(run_dir / "pool_labels", calibration)
        card["pool_labels"] = {"folder": str(run_dir / "pool_labels"), **summary}


def label_meta(detector: Detector, source: Path, uncertainty: DictConfig) -> dict[str, Any]:
    """The settings a label job records, and a resumed job must share."""
    return {
        "uncertainty": settings(uncertainty),
        "weights": str(detector.weights.resolve()),
        "source": str(source.resolve()),
        "names": list(detector.names),
        "conf": detector.conf,
        "iou": detector.iou,
        "imgsz": detector.imgsz,
    }


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@clear_errors
def main(cfg: DictConfig) -> float | None:
    check_train_settings(cfg)  # before anything is written
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    card = train_and_card(cfg, run_dir)
    return card["evaluation"]["map50_95"]


if __name__ == "__main__":
    main()
