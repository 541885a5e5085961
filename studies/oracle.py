"""A ceiling for any uncertainty score: GT2 chosen with the pool's hidden truth (experiments only).

The experiment knows what the annotator would find in every pool image, so it can rank the pool by what an
uncertainty score tries to predict: how many errors CAL1's auto-labels hold (``errors`` = FP + FN + wrong
class, matched at IoU >= 0.5 by :mod:`autolabel.model.matching`), or by how many boxes an image holds
(``truth_boxes``). ``selection=oracle`` takes the ``budget`` images ranked highest, so its CAL2 - CONTROL
gap bounds what a better score could give on the same data and recipe. It is a measuring stick, not a
strategy: a real selection never sees the truth. It asks for the truth through its ``select`` signature
(:func:`autolabel.review.selection.call_select` passes it), so no loop needs to know it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autolabel.model.efficiency import class_counts
from autolabel.model.matching import match_detections
from autolabel.records import ImageRecord
from autolabel.review.selection import check_budget, top_by_value
from autolabel.review.strategy import Selection
from autolabel.structures import GroundTruth

ORACLE_KEYS = ("errors", "truth_boxes")


def truth_counts(record: ImageRecord, truth: GroundTruth, num_classes: int) -> np.ndarray:
    """(6,) int64 counts of one auto-labeled image against its truth: n_truth, n_pred, tp, wrong_class,
    fp, fn (:data:`autolabel.model.efficiency.COUNT_COLUMNS`), summed over classes."""
    det = record.detections_for(num_classes)
    return class_counts(det, truth, match_detections(det, truth), num_classes=num_classes).sum(0)


class OracleSelection:
    """The ``budget`` eligible images with the most true errors (key="errors") or true boxes.

    budget: int >= 1 (images) or float in (0, 1] (fraction of the eligible pool, rounded half up).
    Ties are broken by rng. Values are the key's counts. ``truth``: a record's hidden truth.
    """

    requires = frozenset({"boxes"})

    def __init__(self, *, budget: int | float, key: str = "errors") -> None:
        if key not in ORACLE_KEYS:
            raise ValueError(f"key must be one of {ORACLE_KEYS}, got {key!r}")
        self.budget = check_budget(budget)
        self.key = key

    def select(
        self,
        records: Sequence[ImageRecord],
        *,
        rng: np.random.Generator,
        truth: Callable[[ImageRecord], GroundTruth],
    ) -> Selection:
        def value(record: ImageRecord) -> float:
            known = truth(record)
            # counts are summed over classes, so any class count that covers both sides gives the same sums
            n_cls = max(record.detections.num_classes, int(known.cls.max()) + 1 if len(known) else 0, 1)
            n_truth, _, _, wrong, fp, fn = (int(c) for c in truth_counts(record, known, n_cls))
            return float(fp + fn + wrong) if self.key == "errors" else float(n_truth)

        label = f"oracle, most {self.key} by the hidden truth"
        return top_by_value(records, value, budget=self.budget, rng=rng, label=label)
