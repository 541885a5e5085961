"""Per-box evaluation: does a per-box measure tell a correct auto-label from a wrong one?

Each image's auto-labels (the boxes kept at the operating threshold, the ones a person sees) are matched
to its truth (:mod:`autolabel.model.matching`, IoU >= 0.5): a box is *correct* when it is a TP (its truth box
with its class) and *wrong* when it is an FP or has the wrong class. For every per-box measure (each
component of :func:`uncertainty.image_score.box_components`, MC and single-pass, the scorer's combined
per-box uncertainty ``mc`` and a ``random`` baseline) the AUROC of the measure ranking wrong boxes above
correct ones: above 0.5 the measure is higher on wrong boxes, as an uncertainty should be.

The same matching gives each image's outcome: whether it needs a correction and the seconds a person
spends correcting it under the cost model (:mod:`autolabel.model.efficiency`):
``t_image + TP*t_verify + WC*t_relabel + FP*t_delete + FN*t_draw``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.data.images import map_batches
from autolabel.model.efficiency import CostModel, action_seconds, class_counts
from autolabel.model.matching import match_detections
from autolabel.structures import Detections, GroundTruth
from uncertainty.error_features import error_features
from uncertainty.image_score import COMPONENTS, box_components
from uncertainty.labeler import UncertaintyLabeler
from uncertainty.metrics import auroc

# IoU at which an auto-label matches a truth box (the cost model's and needs_correction's default).
IOU_THRESHOLD = 0.5

# The per-box measures: the scorer's combined per-box uncertainty, then every component.
BOX_MEASURES = ("mc", *COMPONENTS)

# (auto-labels, uncertainty fields, per-box measures, error-model features with MC) of one image
BoxScored = tuple[Detections, dict[str, Any], dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]


def score_paths_with_boxes(
    labeler: UncertaintyLabeler, paths: Sequence[Path], *, batch: int = 16, desc: str = "score"
) -> list[BoxScored]:
    """Per image of ``paths``: (auto-labels, uncertainty fields, per-box measures, error-model features).

    The first two are what ``labeler`` returns; the measures map ``mc`` (the scorer's combined per-box
    uncertainty) and each component name to an (N,) float64 array over the N auto-labels, in their order;
    the features are :func:`uncertainty.error_features.error_features` with ``mc=True``.
    """
    conf = labeler.detector.conf

    def run(images: list[np.ndarray], batch_paths: list[Path]) -> list[BoxScored]:
        out = []
        batch = labeler.samples(images, [p.name for p in batch_paths])
        per_image = [box_components(samples, conf=conf) for samples in batch]
        for samples, fields, components in zip(
            batch, labeler.fields_batch(batch, per_image), per_image, strict=True
        ):
            kept = samples.candidates.conf >= conf
            measures = {"mc": labeler.scorer.box_uncertainty(components, kept)[kept]}
            measures.update({name: values[kept] for name, values in components.items()})
            features = error_features(samples, conf=conf, mc=True, components=components)
            out.append((samples.candidates.above(conf), fields, measures, features))
        return out

    return map_batches(run, paths, batch=batch, desc=desc)


def stack_measures(per_image: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each of ``BOX_MEASURES`` over all boxes: per-image (N_i,) arrays -> (B,) float64, B = sum N_i."""
    return {
        name: np.concatenate([np.zeros(0), *(np.asarray(m[name], np.float64) for m in per_image)])
        for name in BOX_MEASURES
    }


@dataclass(frozen=True)
class Outcomes:
    """What a person correcting the auto-labels of K images (B boxes in all) meets.

    needs_correction: (K,) bool, any FP, FN or wrong class; seconds: (K,) float64, assisted seconds per
    image under the cost model; tp: (B,) bool, a correct auto-label; wrong_class: (B,) bool, the right box
    with the wrong class (the rest of the B boxes are FPs); missed: (K,) int64, truth boxes no auto-label
    found (FN); errors: (K, 3) int64 per image, its wrong-class, FP and FN counts; correction_seconds:
    (K,) float64, the seconds of the fixes alone, ``WC*t_relabel + FP*t_delete + FN*t_draw`` (opening the
    image and verifying its correct boxes are left out: a reviewer spends them on any image and they fix
    nothing). Boxes in image order, each image's in its order.
    """

    needs_correction: np.ndarray
    seconds: np.ndarray
    tp: np.ndarray
    wrong_class: np.ndarray
    missed: np.ndarray
    errors: np.ndarray
    correction_seconds: np.ndarray

    def box_codes(self) -> np.ndarray:
        """(B,) int64 outcome codes of :mod:`uncertainty.error_model`: 0 TP, 1 wrong class, 2 FP."""
        return np.where(self.tp, 0, np.where(self.wrong_class, 1, 2)).astype(np.int64)


def match_outcomes(
    detections: Sequence[Detections],
    truths: Sequence[GroundTruth],
    *,
    cost: CostModel,
    iou_threshold: float = IOU_THRESHOLD,
) -> Outcomes:
    """Match each image's auto-labels to its truth; see :class:`Outcomes`."""
    needs, seconds, tp, wrong_class, missed, errors = [], [], [], [], [], []
    for det, truth in zip(detections, truths, strict=True):
        match = match_detections(det, truth, iou_threshold=iou_threshold)
        counts = class_counts(det, truth, match, num_classes=det.num_classes).sum(0)
        seconds.append(cost.t_image + float(action_seconds(counts, cost)[1]))
        needs.append(bool(match.fp.any() or match.fn.any() or match.wrong_class.any()))
        tp.append(match.tp)
        wrong_class.append(match.wrong_class)
        missed.append(int(match.fn.sum()))
        errors.append([int(match.wrong_class.sum()), int(match.fp.sum()), int(match.fn.sum())])
    error_counts = np.array(errors, dtype=np.int64).reshape(-1, 3)
    return Outcomes(
        needs_correction=np.array(needs, dtype=bool),
        seconds=np.array(seconds, dtype=np.float64),
        tp=np.concatenate(tp) if tp else np.zeros(0, bool),
        wrong_class=np.concatenate(wrong_class) if wrong_class else np.zeros(0, bool),
        missed=np.array(missed, dtype=np.int64),
        errors=error_counts,
        correction_seconds=error_counts @ np.array([cost.t_relabel, cost.t_delete, cost.t_draw], np.float64),
    )


def evaluate_boxes(
    measures: Mapping[str, np.ndarray],
    tp: np.ndarray,
    wrong_class: np.ndarray,
    *,
    split: str = "test",
    seed: int = 0,
) -> dict[str, Any]:
    """AUROC of each per-box measure for telling wrong auto-labels (FP or wrong class) from TPs.

    measures: name -> (B,) float, higher = more uncertain (nan dropped); tp, wrong_class: (B,) bool.
    Adds ``random`` (uniform scores from ``seed``). Returns n_boxes, n_tp, n_wrong, n_fp, n_wrong_class,
    ``auroc`` (name -> float, nan when undefined) and ``note`` (why it is undefined, else None).
    """
    tp, wrong_class = np.asarray(tp, dtype=bool), np.asarray(wrong_class, dtype=bool)
    n = len(tp)
    if wrong_class.shape != tp.shape or any(np.shape(v) != (n,) for v in measures.values()):
        raise ValueError(f"measures, tp and wrong_class must all be (B,) with B = {n}")
    wrong = ~tp
    all_measures = {**measures, "random": np.random.default_rng(seed).random(n)}
    n_tp, n_wrong = int(tp.sum()), int(wrong.sum())
    note = None
    if n == 0:
        note = f"no {split.upper()} image has an auto-label: per-box AUROC is undefined"
    elif n_wrong == 0 or n_tp == 0:
        what = "correct" if n_wrong == 0 else "wrong"
        note = f"every one of the {n} {split.upper()} auto-labels is {what}: per-box AUROC is undefined"
    return {
        "n_boxes": n,
        "n_tp": n_tp,
        "n_wrong": n_wrong,
        "n_fp": int((wrong & ~wrong_class).sum()),
        "n_wrong_class": int(wrong_class.sum()),
        "auroc": {name: auroc(np.asarray(v, np.float64), wrong) for name, v in all_measures.items()},
        "note": note,
    }


def box_table(result: Mapping[str, Any]) -> str:
    """Plain text of :func:`evaluate_boxes` (or its JSON round trip): counts, then AUROC, best first."""
    lines = [
        f"Per box: {result['n_boxes']} auto-labels, {result['n_tp']} correct (TP), {result['n_wrong']} wrong "
        f"({result['n_fp']} FP, {result['n_wrong_class']} wrong class); AUROC of each measure for "
        "telling wrong from correct (> 0.5: higher on wrong boxes)"
    ]
    if result.get("note"):
        lines.append(result["note"])
    values = {name: math.nan if v is None else float(v) for name, v in result["auroc"].items()}
    lines.append(f"{'measure':36s} {'AUROC':>9s}")
    for name, value in sorted(values.items(), key=lambda kv: -np.nan_to_num(kv[1], nan=-1.0)):
        lines.append(f"{name:36s} {'undefined' if math.isnan(value) else f'{value:.3f}':>9s}")
    return "\n".join(lines)
