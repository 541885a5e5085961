"""The labeling cost model and the expected efficiency boost of correcting auto-labels over drawing by hand.

Each image's auto-labels are matched to its ground truth (``autolabel.model.matching``, IoU >= 0.5 by default)
into TP (right box, right class: verify), WC (right box, wrong class: fix the class), FP (unmatched
prediction: delete) and FN (unmatched truth: draw). With the per-action seconds of ``CostModel``:

    manual_s   = sum over images (t_image + n_truth * t_draw)
    assisted_s = sum over images (t_image + TP*t_verify + WC*t_relabel + FP*t_delete + FN*t_draw)
    boost      = manual_s / assisted_s

Per class c (t_image belongs to no class, so it is left out):

    manual_c   = n_truth_c * t_draw
    assisted_c = TP_c*t_verify + WC_c*t_relabel + FP_c*t_delete + FN_c*t_draw
    boost_c    = manual_c / assisted_c

where TP, WC and FN count by the *truth's* class and FP by the *predicted* class, so the per-class assisted
seconds add up to ``assisted_s - n_images * t_image``. Per-class precision at the threshold is
TP_c / n_pred_c (predictions of class c) and recall is TP_c / n_truth_c.

Undefined values are nan (``None`` in ``to_dict``): precision with n_pred_c == 0, recall with
n_truth_c == 0, and any boost whose manual seconds are 0 (for a class: it has no truth box, so there is
nothing to speed up even if its FPs cost time; those FP seconds still count in ``assisted_s``). A boost
with manual seconds > 0 and assisted seconds == 0 (only possible with zero-cost actions) is inf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from autolabel.model.matching import MatchCandidates, MatchResult, match_detections
from autolabel.structures import Detections, GroundTruth

# Column order of ``class_counts``.
COUNT_COLUMNS: tuple[str, ...] = ("n_truth", "n_pred", "tp", "wrong_class", "fp", "fn")
_N_TRUTH, _N_PRED, _TP, _WC, _FP, _FN = range(len(COUNT_COLUMNS))

# Operating thresholds the boost is maximised over (0.05 .. 0.95); the model card records the grid.
THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))


@dataclass(frozen=True)
class CostModel:
    """Seconds a person spends per action (defaults and sources in conf/cost/default.yaml).

    t_draw: draw a missed box and choose its class; t_verify: accept a correct auto-label;
    t_delete: delete a false auto-label; t_relabel: fix the class of a well-placed auto-label;
    t_image: open, scan and submit one image, with or without auto-labels; t_ignore: pass over a wrong
    *suggestion* of the two-level workflow (:mod:`autolabel.model.two_level`), t_accept: accept a right
    one (beyond verifying it); both assumptions.
    """

    t_draw: float = 10.0
    t_verify: float = 1.5
    t_delete: float = 1.5
    t_relabel: float = 3.0
    t_image: float = 2.0
    t_ignore: float = 0.5
    t_accept: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            raw = getattr(self, f.name)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"CostModel.{f.name} must be a number of seconds, got {raw!r}") from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"CostModel.{f.name} must be finite and >= 0 seconds, got {raw!r}")
            object.__setattr__(self, f.name, value)
        if self.t_draw <= 0:
            raise ValueError(f"CostModel.t_draw must be > 0 seconds, got {self.t_draw!r}")

    def hand_label_seconds(self, n_images: float, n_boxes: float) -> float:
        """Seconds to label ``n_images`` images holding ``n_boxes`` boxes by hand (no auto-labels).

        images x t_image + boxes x t_draw; the manual side of the boost, for any set of images.
        """
        return n_images * self.t_image + n_boxes * self.t_draw


@dataclass(frozen=True)
class EfficiencyReport:
    """Expected labeling cost with and without auto-labels kept at ``conf >= threshold``.

    boost: manual_s / assisted_s (dimensionless); manual_s, assisted_s: seconds over all images;
    counts: n_images, n_truth, n_pred, tp, wrong_class, fp, fn over all images;
    per_class: one dict per class id ``cls`` in 0..C-1 with n_truth, n_pred, tp, wrong_class, fp, fn,
    precision, recall, manual_s, assisted_s, boost (attribution rules in the module docstring).
    """

    threshold: float
    boost: float
    manual_s: float
    assisted_s: float
    counts: dict[str, int]
    per_class: list[dict]

    def to_dict(self) -> dict:
        """A JSON-safe copy: plain Python numbers, nan and inf as None."""
        return {
            "threshold": _json_number(self.threshold),
            "boost": _json_number(self.boost),
            "manual_s": _json_number(self.manual_s),
            "assisted_s": _json_number(self.assisted_s),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "per_class": [{k: _json_number(v) for k, v in row.items()} for row in self.per_class],
        }


def _json_number(value: float | int) -> float | int | None:
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _check_classes(cls: np.ndarray, num_classes: int, name: str) -> None:
    if len(cls) and (cls.min() < 0 or cls.max() >= num_classes):
        raise ValueError(f"{name} has class ids outside [0, {num_classes}): {np.unique(cls).tolist()}")


def _bincount(ids: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(ids, minlength=num_classes)[:num_classes]


def _count_by_class(
    pred_cls: np.ndarray, truth_cls: np.ndarray, match: MatchResult, num_classes: int
) -> np.ndarray:
    """(C, 6) int64 counts in ``COUNT_COLUMNS`` order; class ids already checked."""
    counts = np.empty((num_classes, len(COUNT_COLUMNS)), dtype=np.int64)
    counts[:, _N_TRUTH] = _bincount(truth_cls, num_classes)
    counts[:, _N_PRED] = _bincount(pred_cls, num_classes)
    counts[:, _TP] = _bincount(pred_cls[match.tp], num_classes)  # same as the truth's class
    counts[:, _WC] = _bincount(truth_cls[match.pred_truth[match.wrong_class]], num_classes)
    counts[:, _FP] = _bincount(pred_cls[match.fp], num_classes)
    counts[:, _FN] = _bincount(truth_cls[match.fn], num_classes)
    return counts


def class_counts(det: Detections, truth: GroundTruth, match: MatchResult, *, num_classes: int) -> np.ndarray:
    """Per-class action counts of one matched image.

    det: N predictions, truth: M truth boxes, match: their ``MatchResult`` ((N,) and (M,) arrays).
    Returns (C, 6) int64, columns ``COUNT_COLUMNS`` = n_truth, n_pred, tp, wrong_class, fp, fn, where
    n_truth, tp, wrong_class and fn count by the truth's class and n_pred and fp by the predicted class.
    """
    if len(match.tp) != len(det) or len(match.fn) != len(truth):
        raise ValueError(
            f"match covers {len(match.tp)} predictions and {len(match.fn)} truths, "
            f"but det has {len(det)} and truth {len(truth)}"
        )
    _check_classes(det.cls, num_classes, "det.cls")
    _check_classes(truth.cls, num_classes, "truth.cls")
    return _count_by_class(det.cls, truth.cls, match, num_classes)


def action_seconds(counts: np.ndarray, cost: CostModel) -> tuple[np.ndarray, np.ndarray]:
    """Manual and assisted seconds of counts (..., 6) in ``COUNT_COLUMNS`` order, t_image left out.

    Returns two (...) float64 arrays: drawing every truth box, and correcting the auto-labels.
    """
    counts = counts.astype(np.float64)
    manual = counts[..., _N_TRUTH] * cost.t_draw
    assisted = (
        counts[..., _TP] * cost.t_verify
        + counts[..., _WC] * cost.t_relabel
        + counts[..., _FP] * cost.t_delete
        + counts[..., _FN] * cost.t_draw
    )
    return manual, assisted


def _ratio(num: np.ndarray, den: np.ndarray, *, nan_when: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.asarray(num, dtype=np.float64) / den
    return np.where(nan_when, np.nan, out)


def boost_ratio(manual: np.ndarray, assisted: np.ndarray) -> np.ndarray:
    """manual / assisted; nan where manual == 0, inf where only assisted == 0."""
    return _ratio(manual, assisted, nan_when=np.asarray(manual) == 0)


def total_seconds(totals: np.ndarray, n_images: int, cost: CostModel) -> tuple[np.ndarray, np.ndarray]:
    """Manual and assisted seconds including t_image from totals (..., 6) summed over classes and images."""
    manual, assisted = action_seconds(totals, cost)
    return n_images * cost.t_image + manual, n_images * cost.t_image + assisted


def _prepare(
    pairs: Sequence[tuple[Detections, GroundTruth]], num_classes: int
) -> list[tuple[Detections, GroundTruth]]:
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty: the boost of labeling no images is undefined")
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    for i, (det, truth) in enumerate(pairs):
        _check_classes(det.cls, num_classes, f"pairs[{i}] detections")
        _check_classes(truth.cls, num_classes, f"pairs[{i}] ground truth")
    return pairs


def _check_threshold(threshold: float) -> float:
    value = float(threshold)
    if not math.isfinite(value):
        raise ValueError(f"confidence threshold must be finite, got {threshold!r}")
    return value


def efficiency_report(
    pairs: Sequence[tuple[Detections, GroundTruth]],
    *,
    cost: CostModel,
    threshold: float,
    num_classes: int,
    iou_threshold: float = 0.5,
) -> EfficiencyReport:
    """The cost model over a labeled set when auto-labels with ``conf >= threshold`` are shown.

    pairs: one (auto-labels, ground truth) per image; each ``Detections`` is cut with
    ``Detections.above(threshold)``, then matched with ``match_detections(iou_threshold=...)``.
    num_classes: C, every class id must lie in [0, C). Seconds are totals over all images.
    """
    pairs = _prepare(pairs, num_classes)
    threshold = _check_threshold(threshold)
    per_image = []
    for det, truth in pairs:
        kept = det.above(threshold)
        match = match_detections(kept, truth, iou_threshold=iou_threshold)
        per_image.append(_count_by_class(kept.cls, truth.cls, match, num_classes))
    per_class = np.sum(per_image, axis=0)  # (C, 6)
    totals = per_class.sum(axis=0)  # (6,)
    manual_s, assisted_s = total_seconds(totals, len(pairs), cost)
    manual_c, assisted_c = action_seconds(per_class, cost)
    boost_c = boost_ratio(manual_c, assisted_c)
    tp = per_class[:, _TP]
    precision = _ratio(tp, per_class[:, _N_PRED], nan_when=per_class[:, _N_PRED] == 0)
    recall = _ratio(tp, per_class[:, _N_TRUTH], nan_when=per_class[:, _N_TRUTH] == 0)
    rows = []
    for c in range(num_classes):
        row: dict = {"cls": c}
        row.update({name: int(per_class[c, j]) for j, name in enumerate(COUNT_COLUMNS)})
        row.update(
            precision=float(precision[c]),
            recall=float(recall[c]),
            manual_s=float(manual_c[c]),
            assisted_s=float(assisted_c[c]),
            boost=float(boost_c[c]),
        )
        rows.append(row)
    counts = {"n_images": len(pairs)}
    counts.update({name: int(totals[j]) for j, name in enumerate(COUNT_COLUMNS)})
    return EfficiencyReport(
        threshold=threshold,
        boost=float(boost_ratio(manual_s, assisted_s)),
        manual_s=float(manual_s),
        assisted_s=float(assisted_s),
        counts=counts,
        per_class=rows,
    )


def choose_threshold(
    pairs: Sequence[tuple[Detections, GroundTruth]],
    *,
    cost: CostModel,
    num_classes: int,
    grid: Sequence[float] | None = None,
    iou_threshold: float = 0.5,
) -> tuple[float, np.ndarray]:
    """The confidence threshold of ``grid`` with the highest boost, and the boost at every grid point.

    grid: G confidence thresholds, default 0.05, 0.10, ..., 0.95. Returns (threshold, (G,) float64 boosts
    in grid order); ``boosts[g] == efficiency_report(..., threshold=grid[g]).boost``. Ties go to the lower
    threshold. Raises ValueError when no grid point has a defined (non-nan) boost.
    Each image's IoU matrix and candidate lists are built once and reused for every grid point.
    """
    pairs = _prepare(pairs, num_classes)
    thresholds = [_check_threshold(t) for t in (THRESHOLD_GRID if grid is None else grid)]
    if not thresholds:
        raise ValueError("grid is empty")
    totals = np.zeros((len(thresholds), len(COUNT_COLUMNS)), dtype=np.int64)  # (G, 6)
    for det, truth in pairs:
        candidates = MatchCandidates.build(det, truth, iou_threshold=iou_threshold)
        for g, t in enumerate(thresholds):
            m = candidates.match(min_conf=t)
            # The class-summed row of _count_by_class, without the per-class bincounts.
            totals[g] += (len(m.fn), len(m.tp), m.tp.sum(), m.wrong_class.sum(), m.fp.sum(), m.fn.sum())
    manual_s, assisted_s = total_seconds(totals, len(pairs), cost)
    boosts = boost_ratio(manual_s, assisted_s)
    defined = ~np.isnan(boosts)
    if not defined.any():
        raise ValueError("the boost is undefined at every threshold (no truth boxes and t_image == 0)")
    best = boosts[defined].max()
    chosen = min(t for t, b, ok in zip(thresholds, boosts, defined, strict=True) if ok and b == best)
    return chosen, boosts
