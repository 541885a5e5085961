"""Score a labeled image set as if it were unlabeled, and fit the difficulty calibration on it.

An image *needs correction* when its auto-labels at the operating threshold have any FP, FN or wrong
class (:func:`autolabel.model.matching.needs_correction`); :func:`uncertainty.calibration.calibrate` then maps
scores to ``p_needs_correction`` and easy / medium / hard bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.data.images import map_batches
from autolabel.errors import DataError
from autolabel.model.efficiency import CostModel
from autolabel.model.matching import needs_correction
from autolabel.records import BANDS, FAILED
from autolabel.structures import Detections, GroundTruth
from uncertainty.calibration import Calibration, calibrate
from uncertainty.error_features import without_mc
from uncertainty.error_model import ErrorData, ErrorModel, FittedErrorModel, ImageErrors
from uncertainty.evaluation.boxes import Outcomes, match_outcomes, score_paths_with_boxes
from uncertainty.evaluation.effort import band_effort, effort_summary
from uncertainty.labeler import UncertaintyLabeler
from uncertainty.metrics import auroc, band_rates


def score_paths(
    labeler: UncertaintyLabeler, paths: Sequence[Path], *, batch: int = 16, desc: str = "score"
) -> list[tuple[Detections, dict[str, Any]]]:
    """(auto-labels, uncertainty fields) for every image of ``paths``; keys are the file names."""
    return map_batches(lambda ims, ps: labeler(ims, [p.name for p in ps]), paths, batch=batch, desc=desc)


def correction_labels(scored: Sequence[tuple[Detections, dict]], truths: Sequence[GroundTruth]) -> np.ndarray:
    """(K,) bool: whether each image's auto-labels need a correction."""
    return np.array([needs_correction(det, truth) for (det, _), truth in zip(scored, truths, strict=True)])


def image_scores(scored: Sequence[tuple[Detections, dict]], key: str = "score") -> np.ndarray:
    """(K,) float: the image score (or ``components.<name>``) of each image, nan where undefined."""
    values = []
    for _, fields in scored:
        value = (
            fields["components"].get(key[len("components.") :])
            if key.startswith("components.")
            else fields[key]
        )
        values.append(np.nan if value is None else float(value))
    return np.array(values, dtype=np.float64)


def fit_difficulty(
    labeler: UncertaintyLabeler,
    paths: Sequence[Path],
    truths: Sequence[GroundTruth],
    *,
    levels: tuple[float, float],
    min_images: int,
    require_split: bool = True,
    batch: int = 16,
    cost: CostModel | None = None,
) -> tuple[Calibration, list[tuple[Detections, dict]], Outcomes]:
    """Score ``paths`` (labeled: VAL), match them to their truth, fit the calibration; returns all three.

    Failed images (no kept box) are left out of the fit: they form their own band. cost: the seconds of
    the outcomes' correction times (default ``CostModel()``).
    """
    scored = score_paths(labeler, paths, batch=batch, desc="calibrate")
    outcomes = match_outcomes([det for det, _ in scored], truths, cost=cost or CostModel())
    labels = outcomes.needs_correction
    scores = image_scores(scored)
    failed = np.array([fields["failed"] for _, fields in scored])
    calibration = calibrate(
        np.where(failed, np.nan, scores),
        labels,
        levels=tuple(levels),
        min_images=min_images,
        require_split=require_split,
    )
    return calibration, scored, outcomes


def fit_error_model(
    labeler: UncertaintyLabeler,
    error_model: ErrorModel,
    scored: Sequence[tuple],
    outcomes: Outcomes,
    *,
    cost: CostModel,
    features: Sequence[tuple] | None = None,
) -> tuple[FittedErrorModel, ImageErrors]:
    """Cross-fit ``error_model`` on images scored by ``score_paths_with_boxes`` and matched to their truth
    (``match_outcomes``). Returns (the model fitted on all of them, out-of-fold predictions).

    features: each image's error-model features when not those of ``scored`` (the evaluate app's flip-TTA
    variants append columns); by default ``scored``'s, cut to ``error_model.mc_features``.
    """
    if features is None:
        features = [f if error_model.mc_features else without_mc(f) for *_, f in scored]
    codes = np.split(outcomes.box_codes(), np.cumsum([len(det) for det, *_ in scored])[:-1])
    data = ErrorData.of(features, codes, outcomes.missed)
    return error_model.cross_fit(data, features, cost=cost, num_classes=labeler.detector.num_classes)


def fit_error_difficulty(
    labeler: UncertaintyLabeler,
    error_model: ErrorModel,
    paths: Sequence[Path],
    truths: Sequence[GroundTruth],
    *,
    cost: CostModel,
    levels: tuple[float, float],
    min_images: int,
    require_split: bool = True,
    batch: int = 16,
) -> tuple[FittedErrorModel, Calibration, dict[str, Any]]:
    """Fit the error model on ``paths`` (VAL) and the difficulty bands on its out-of-fold predictions.

    Returns (the error model fitted on all of VAL, the calibration, the model card's summary). The bands
    are cut on the model's image score (``FittedErrorModel.image_score``) as predicted for each VAL image
    by a model that never saw its truth.
    """
    if len(paths) < 2:
        raise DataError(
            f"the error model is cross-fitted on VAL: it needs at least 2 VAL images, got {len(paths)}; "
            "raise split.val, or set uncertainty/error_model=none"
        )
    scored = score_paths_with_boxes(labeler, paths, batch=batch, desc="calibrate")
    outcomes = match_outcomes([det for det, *_ in scored], truths, cost=cost)
    fitted, oof = fit_error_model(labeler, error_model, scored, outcomes, cost=cost)
    labels = outcomes.needs_correction
    failed = np.array([fields["failed"] for _, fields, *_ in scored], dtype=bool)
    oof_score = fitted.image_score(oof)
    calibration = calibrate(
        np.where(failed, np.nan, oof_score),
        labels,
        levels=tuple(levels),
        min_images=min_images,
        require_split=require_split,
    )
    with_scores = [
        (det, {**fields, "score": float(p)}) for (det, fields, *_), p in zip(scored, oof_score, strict=True)
    ]
    summary = summarize(calibration, with_scores, outcomes)
    summary["auroc_out_of_fold"] = summary.pop("auroc_in_sample")
    summary["error_model"] = {
        "images": fitted.n_images,
        "boxes": fitted.n_boxes,
        "mc_features": fitted.mc_features,
        "score": fitted.score,
        "box_model": fitted.describe(fitted.box_model),
        "missing_model": fitted.describe(fitted.missing_model),
        "notes": list(fitted.notes),
    }
    return fitted, calibration, summary


def summarize(
    calibration: Calibration, scored: Sequence[tuple[Detections, dict]], outcomes: Outcomes | np.ndarray
) -> dict:
    """What the model card says of the calibration set: the fit, band sizes and correction rates, and with
    :class:`Outcomes` (else only the (K,) bool "needs correction") per band the correction seconds and the
    errors left if the band is accepted unreviewed, and the effort captured by the score: the share of all
    correction seconds in the top k of images by the score (failed images by the score they have, from
    the miss estimate; one without a score last)."""
    labels = outcomes.needs_correction if isinstance(outcomes, Outcomes) else np.asarray(outcomes, bool)
    scores = image_scores(scored)
    difficulty = np.array(
        [
            "failed" if f["failed"] else d
            for (_, f), d in zip(scored, calibration.difficulty(scores), strict=True)
        ]
    )
    scored_ok = ~np.isnan(scores)
    summary = {
        "calibration": calibration.to_dict(),
        "bands": band_rates(difficulty, labels),
        "auroc_in_sample": auroc(scores[scored_ok], labels[scored_ok]) if scored_ok.any() else None,
    }
    if isinstance(outcomes, Outcomes):
        every = np.array([np.nan if f.get("score") is None else float(f["score"]) for _, f in scored])
        key = np.nan_to_num(every, nan=np.nanmin(every) - 1 if np.isfinite(every).any() else 0.0)
        summary["effort"] = effort_summary(key, outcomes.correction_seconds)
        summary["band_effort"] = band_effort(
            difficulty, labels, outcomes.correction_seconds, outcomes.errors, (*BANDS, FAILED)
        )
    return summary


def plot_job_scores(output: Path, calibration: Calibration | None) -> Path | None:
    """``score_histogram.png`` of an auto-label job's records (None if they carry no scores)."""
    from autolabel.records import read_folder_records
    from uncertainty.evaluation.plots import score_histogram

    records = [r for r in read_folder_records(output) if r.scored]
    if not records:
        return None
    return score_histogram(
        [r.score for r in records],
        [r.band for r in records],
        output / "score_histogram.png",
        cutoffs=calibration.cutoffs if calibration else None,
    )
