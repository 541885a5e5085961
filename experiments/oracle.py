"""A ceiling for any uncertainty score: GT2 chosen with the pool's hidden truth (experiments only).

The experiment knows what the annotator would find in every pool image, so it can rank the pool by what an
uncertainty score tries to predict: how many errors CAL1's auto-labels hold (``errors`` = FP + FN + wrong
class, matched at IoU >= 0.5 by :mod:`autolabel.matching`), or by how many boxes an image holds
(``truth_boxes``). ``selection=oracle`` takes the ``budget`` images ranked highest, so its CAL2 - CONTROL
gap bounds what a better score could give on the same data and recipe. It is a measuring stick, not a
strategy: a real selection never sees the truth.

:func:`with_truth` adds ``truth_errors`` and ``truth_boxes`` to copies of the records; the experiment calls
it only for a strategy whose ``needs_truth`` is true.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autolabel.efficiency import class_counts
from autolabel.matching import match_detections
from autolabel.records import record_detections
from autolabel.structures import GroundTruth
from experiments.selection import Selection, _check_budget, _eligible, top_by_value

ORACLE_KEYS = ("errors", "truth_boxes")


def truth_counts(record: dict, truth: GroundTruth, num_classes: int) -> np.ndarray:
    """(6,) int64 counts of one auto-labeled image against its truth: n_truth, n_pred, tp, wrong_class,
    fp, fn (:data:`autolabel.efficiency.COUNT_COLUMNS`), summed over classes."""
    det = record_detections(record, num_classes=num_classes)
    return class_counts(det, truth, match_detections(det, truth), num_classes=num_classes).sum(0)


def with_truth(
    records: Sequence[dict], truth_of: Callable[[dict], GroundTruth], num_classes: int
) -> list[dict]:
    """Copies of ``records`` with ``truth_errors`` (FP + FN + wrong class) and ``truth_boxes`` added.

    truth_of: the hidden truth of a record. Records with an ``error`` (unreadable images) are copied as is.
    """
    out = []
    for r in records:
        if r.get("error"):
            out.append(dict(r))
            continue
        n_truth, _, _, wrong, fp, fn = (int(c) for c in truth_counts(r, truth_of(r), num_classes))
        out.append({**r, "truth_errors": fp + fn + wrong, "truth_boxes": n_truth})
    return out


class OracleSelection:
    """The ``budget`` eligible images with the most ``truth_errors`` (key="errors") or ``truth_boxes``.

    budget: int >= 1 (images) or float in (0, 1] (fraction of the eligible pool, rounded half up).
    Ties are broken by rng. Values are the key's counts. Records need the key (:func:`with_truth`).
    """

    needs_truth = True

    def __init__(self, *, budget: int | float, key: str = "errors") -> None:
        if key not in ORACLE_KEYS:
            raise ValueError(f"key must be one of {ORACLE_KEYS}, got {key!r}")
        self.budget = _check_budget(budget)
        self.key = key

    def select(self, records: Sequence[dict], *, rng: np.random.Generator) -> Selection:
        field = "truth_errors" if self.key == "errors" else "truth_boxes"
        eligible = _eligible(records)
        missing = [int(i) for i in eligible if field not in records[i]]
        if missing:
            raise ValueError(
                f"{len(missing)} records have no {field!r} (e.g. {records[missing[0]].get('image')!r}): the "
                "oracle needs the hidden truth, which only experiments.gt2_vs_random adds"
            )
        label = f"oracle, most {self.key} by the hidden truth"
        return top_by_value(records, lambda r: r[field], budget=self.budget, rng=rng, label=label)
