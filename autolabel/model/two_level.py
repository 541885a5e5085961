"""Two-level auto-labels: confident boxes as labels, doubtful ones as suggestions a person confirms.

At the operating threshold ``t`` the auto-labels are the boxes with ``conf >= t``. Two levels split them
at a second threshold ``t_high >= t``: boxes at or above it are *labels* (as today: a wrong one is deleted),
boxes in ``[t, t_high)`` are *suggestions*, shown apart (a dashed box, a pre-annotation): a right one
must be accepted (a click more than verifying a label, ``t_accept``), a wrong one is passed over with a
glance (``t_ignore``) instead of deleted. Per image, with the seconds of
:class:`~autolabel.model.efficiency.CostModel`:

    assisted = t_image + TP_label*t_verify + WC_label*t_relabel + FP_label*t_delete
                       + TP_sugg*(t_verify + t_accept) + WC_sugg*(t_relabel + t_accept) + FP_sugg*t_ignore
                       + FN*t_draw

so a box is cheaper as a suggestion when P(wrong) * (t_delete - t_ignore) > P(right) * t_accept: with
the defaults (1.5, 0.5, 0.5), when fewer than 2 in 3 such boxes are right. ``t_high = t`` is the one-level
workflow. The gain rests on ``t_ignore`` and ``t_accept``, which no one has measured here (our
assumptions, conf/cost/default.yaml; ``t_ignore = t_delete`` gains nothing); a review log with
suggestions would settle them.
``t_high`` is chosen on VAL as the value of a grid that maximises the boost (ties: the higher ``t_high``,
fewer suggestions), like the operating threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autolabel.model.efficiency import THRESHOLD_GRID, CostModel, boost_ratio, total_seconds
from autolabel.model.matching import MatchCandidates
from autolabel.structures import Detections, GroundTruth

# Columns of ``two_level_counts``: truth boxes, then TP, WC and FP of labels, of suggestions, and FN.
COLUMNS = (
    "n_truth",
    "tp_label",
    "wc_label",
    "fp_label",
    "tp_suggestion",
    "wc_suggestion",
    "fp_suggestion",
    "fn",
)


@dataclass(frozen=True)
class TwoLevel:
    """The two-level workflow on a labeled set at ``threshold`` and ``t_high``.

    boost, boost_one_level: manual / assisted seconds with two levels and with one (dimensionless);
    counts: ``COLUMNS`` summed over the images; labels, suggestions: boxes on each level.
    """

    threshold: float
    t_high: float
    boost: float
    boost_one_level: float
    counts: dict[str, int]

    @property
    def suggestions(self) -> int:
        return sum(self.counts[k] for k in ("tp_suggestion", "wc_suggestion", "fp_suggestion"))

    @property
    def labels(self) -> int:
        return sum(self.counts[k] for k in ("tp_label", "wc_label", "fp_label"))

    def to_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "t_high": self.t_high,
            "boost": self.boost,
            "boost_one_level": self.boost_one_level,
            "labels": self.labels,
            "suggestions": self.suggestions,
            "counts": dict(self.counts),
        }


def two_level_counts(
    pairs: Sequence[tuple[Detections, GroundTruth]],
    *,
    threshold: float,
    t_highs: Sequence[float],
    iou_threshold: float = 0.5,
) -> np.ndarray:
    """(H, 8) int64 counts in ``COLUMNS`` order, summed over the images, one row per ``t_highs`` value.

    pairs: one (auto-labels, truth) per image; the boxes with ``conf >= threshold`` are matched once, and
    each row splits them at its ``t_high`` (values below ``threshold`` act as ``threshold``).
    """
    out = np.zeros((len(t_highs), len(COLUMNS)), dtype=np.int64)
    highs = np.asarray(t_highs, dtype=np.float64)[:, None]  # (H, 1)
    for det, truth in pairs:
        m = MatchCandidates.build(det, truth, iou_threshold=iou_threshold).match(min_conf=threshold)
        conf = det.conf[det.conf >= threshold][None, :]  # (1, N'): the kept boxes, in the match's order
        label = conf >= highs  # (H, N')
        out[:, 0] += len(truth)
        for j, kind in enumerate((m.tp, m.wrong_class, m.fp)):
            out[:, 1 + j] += (label & kind).sum(1)
            out[:, 4 + j] += (~label & kind).sum(1)
        out[:, 7] += int(m.fn.sum())
    return out


def boost_of(counts: np.ndarray, n_images: int, cost: CostModel) -> np.ndarray:
    """(...) manual / assisted seconds of counts (..., 8) in ``COLUMNS`` order (module docstring): the
    one-level seconds of :mod:`~autolabel.model.efficiency` with the suggestions' FPs passed over instead
    of deleted and ``t_accept`` for each right suggestion."""
    c = counts
    tp, wc = c[..., 1] + c[..., 4], c[..., 2] + c[..., 5]
    one_level = np.stack([c[..., 0], tp + wc + c[..., 3], tp, wc, c[..., 3], c[..., 7]], axis=-1)
    manual, assisted = total_seconds(one_level, n_images, cost)  # (..., 6) in COUNT_COLUMNS order
    assisted = assisted + c[..., 6] * cost.t_ignore + (c[..., 4] + c[..., 5]) * cost.t_accept
    return boost_ratio(manual, assisted)


def choose_two_level(
    pairs: Sequence[tuple[Detections, GroundTruth]],
    *,
    cost: CostModel,
    threshold: float,
    grid: Sequence[float] | None = None,
    iou_threshold: float = 0.5,
) -> TwoLevel:
    """The ``t_high`` of ``grid`` (default 0.05..0.95, values at or above ``threshold``, and ``threshold``
    itself: one level) with the highest two-level boost on ``pairs``; ties go to the higher ``t_high``."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty: the boost of labeling no images is undefined")
    threshold = float(threshold)
    highs = sorted(
        {threshold, *(float(t) for t in (THRESHOLD_GRID if grid is None else grid) if t >= threshold)}
    )
    counts = two_level_counts(pairs, threshold=threshold, t_highs=highs, iou_threshold=iou_threshold)
    boosts = boost_of(counts, len(pairs), cost)
    usable = np.where(np.isnan(boosts), -np.inf, boosts)
    best = int(np.flatnonzero(usable == usable.max())[-1])  # ties: the higher t_high
    return TwoLevel(
        threshold=threshold,
        t_high=highs[best],
        boost=float(boosts[best]),
        boost_one_level=float(boosts[0]),
        counts={name: int(v) for name, v in zip(COLUMNS, counts[best], strict=True)},
    )
