"""The pipeline steps the apps and the experiments share: train, evaluate, calibrate-and-label.

Layer 3 of the toolkit: it composes the data layer (split, views, records, the job) and the model layer
(the detector wrapper). Uncertainty comes in through the Hydra ``uncertainty`` group: ``instantiate``
gives an :class:`~autolabel.job.stages.UncertaintyStage` (MC dropout in :mod:`uncertainty.stage`, or
:class:`~autolabel.job.stages.PlainLabels`), so this package never imports :mod:`uncertainty`; imports run
one way.

:func:`train_and_card` is the train app's whole job; it writes into ``run_dir``: ``manifest.csv``,
``data/`` (the training view), ``ultralytics/`` (ultralytics' own run), ``weights.pt``,
``model_card.json``, ``model_card.md``, ``calibration.json`` (difficulty bands fitted on VAL, when the
stage calibrates) and, with ``label_pool=true``, ``pool_labels/`` (the auto-label job's output).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.data.split import Split, read_manifest, split_dataset, split_labeled, write_manifest
from autolabel.data.views import build_view, load_truth
from autolabel.formats.yolo import DatasetSpec
from autolabel.job.backends import Backend
from autolabel.job.runner import run_label_job
from autolabel.job.stages import PredictorFactory, UncertaintyStage, uncertainty_settings
from autolabel.model.card import evaluate, write_model_card
from autolabel.model.detector import Detector, train_detector
from autolabel.structures import GroundTruth

log = logging.getLogger("autolabel.pipeline")
FALLBACK_CONF = 0.25  # the label app's threshold when no model card sits beside the weights
CARD_FILE = "model_card.json"  # beside the weights: its operating threshold is the label job's default


def operating_threshold(weights: Path) -> float | None:
    """The operating threshold recorded in the model card beside ``weights``, if there is one."""
    card = Path(weights).parent / CARD_FILE
    if not card.is_file():
        return None
    return json.loads(card.read_text()).get("evaluation", {}).get("operating_threshold")


class StageTimer:
    """Seconds spent per named stage, logged as each stage ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(seconds, 2)
        log.info("stage %s: %.1f s", name, self.seconds[name])

    def __call__(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.add(name, time.perf_counter() - self.start)

        return _Stage()


def fit(
    cfg: DictConfig,
    data_yaml: Path,
    out_dir: Path,
    *,
    model: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
) -> Path:
    """Train with the config's recipe on ``data_yaml``; ``model``, ``epochs`` and the training ``seed``
    override the config's."""
    return train_detector(
        data_yaml=data_yaml,
        model=model or cfg.model.name,
        out_dir=out_dir,
        epochs=epochs or cfg.trainer.epochs,
        imgsz=cfg.model.imgsz,
        batch=cfg.trainer.batch,
        seed=cfg.seed if seed is None else seed,
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


def make_split(spec: DatasetSpec, split_cfg: Mapping[str, Any], *, seed: int) -> Split:
    """The split the ``split`` group asks for: drawn by sizes (default) or of a partly labeled dataset."""
    if split_cfg.get("labeled_only"):
        val_from = split_cfg.get("val_from")
        return split_labeled(
            spec,
            val=split_cfg["val"],
            seed=seed,
            val_from=None if val_from is None else read_manifest(val_from).val,
        )
    return split_dataset(spec, val=split_cfg["val"], gt1=split_cfg["gt1"], seed=seed)


def train_and_card(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """The whole train job on a composed config; returns the model card (also written to ``run_dir``)."""
    timer = StageTimer()
    with timer("data"):
        spec: DatasetSpec = instantiate(cfg.data)
        split = make_split(spec, cfg.split, seed=cfg.seed)
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
    """Calibrate difficulty on VAL (the ``uncertainty`` stage) and auto-label ``run_dir/data/images/pool``.

    ``detector`` runs at its operating threshold. Fills ``card["uncertainty"]`` (when the stage calibrates)
    and ``card["pool_labels"]``; writes ``calibration.json`` and ``pool_labels/`` into ``run_dir``.
    """
    stage: UncertaintyStage = instantiate(cfg.uncertainty)
    started = time.perf_counter()
    fitted = stage.calibrate(detector, val, val_truths, batch=cfg.label.batch, cost=instantiate(cfg.cost))
    calibration = None
    if fitted is not None:
        calibration, summary = fitted
        card["uncertainty"] = {"split": "VAL", **summary}
        stage.save_calibration(calibration, run_dir)
        timer.add("calibrate", time.perf_counter() - started)
    if cfg.label_pool:
        with timer("label_pool"):
            pool_dir = run_dir / "data" / "images" / "pool"
            summary = label_folder(
                cfg.uncertainty,
                stage,
                detector,
                calibration,
                source=pool_dir,
                output=run_dir / "pool_labels",
                batch=cfg.label.batch,
                threads=cfg.label.threads,
                calibration_files=stage.calibration_files(detector.weights),
                conf_source=f"the operating threshold of {detector.weights.parent / CARD_FILE}",
            )
        card["pool_labels"] = {"folder": str(run_dir / "pool_labels"), **summary}


def label_folder(
    uncertainty: DictConfig,
    stage: UncertaintyStage,
    detector: Detector,
    calibration: Any,
    *,
    source: Path,
    output: Path,
    batch: int,
    threads: int,
    progress: bool = True,
    backend: Backend | None = None,
    calibration_files: Sequence[Path] = (),
    conf_source: str | None = None,
    t_high: float | None = None,
) -> dict[str, Any]:
    """Run the auto-label job on ``source`` into ``output`` with the stage's predictor; plot its scores.

    uncertainty: the config group the stage was built from (the job records it). backend: where images are
    labeled (default: this process, with ``detector`` itself; another backend rebuilds it from a
    :class:`PredictorFactory`). calibration_files: the files ``calibration`` was read from (or written to),
    ``stage.calibration_files(weights)``; the job records their sha256 and a resume must find the same (a
    calibration fitted in memory for a fresh folder has none). conf_source: where ``detector.conf`` came from,
    for the job's record and its refusals. t_high: two levels (boxes below it are suggestions,
    :mod:`autolabel.job.two_level_files`); None: one. Returns the job's summary.
    """
    if backend is None:
        predict, make_predict = stage.predictor(detector, calibration), None
    else:
        container = OmegaConf.to_container(uncertainty, resolve=True)
        predict, make_predict = None, PredictorFactory.of(detector, container, calibration)
    summary = run_label_job(
        predict=predict,
        make_predict=make_predict,
        backend=backend,
        names=detector.names,
        source=source,
        output=output,
        meta=label_meta(
            detector,
            source,
            uncertainty,
            calibration_files=calibration_files,
            conf_source=conf_source,
            t_high=t_high,
        ),
        batch=batch,
        threads=threads,
        progress=progress,
    )
    stage.plot(output, calibration)
    return summary


def label_meta(
    detector: Detector,
    source: Path,
    uncertainty: Mapping[str, Any],
    *,
    calibration_files: Sequence[Path] = (),
    conf_source: str | None = None,
    t_high: float | None = None,
) -> dict[str, Any]:
    """The settings a label job records, and a resumed job must share (see the job's RESUME_KEYS):
    with the weights (the job adds their sha256), the calibration files beside them (the job adds theirs)
    and the threshold, whose source is recorded to explain a refusal."""
    meta = {
        "uncertainty": uncertainty_settings(OmegaConf.to_container(uncertainty, resolve=True)),
        "weights": str(detector.weights.resolve()),
        "source": str(source.resolve()),
        "names": list(detector.names),
        "conf": detector.conf,
        "iou": detector.iou,
        "imgsz": detector.imgsz,
    }
    if calibration_files:
        meta["calibration_files"] = [str(Path(f).resolve()) for f in calibration_files]
    if conf_source:
        meta["conf_source"] = conf_source
    if t_high is not None:  # two levels; absent (as in older folders) = one level
        meta["t_high"] = float(t_high)
    return meta
