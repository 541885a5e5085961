"""The oracle ceiling: the hidden truth's error counts on auto-labels, and the selection ranked by them."""

import numpy as np
import pytest

from autolabel.structures import GroundTruth
from experiments.oracle import OracleSelection, truth_counts, with_truth


def box(xyxy, cls, conf=0.9):
    probs = [0.0, 0.0]
    probs[cls] = conf
    return {"xyxy": list(xyxy), "conf": conf, "cls": cls, "probs": probs}


def truth(*boxes):
    return GroundTruth(np.array([b[0] for b in boxes], np.float32).reshape(-1, 4), [b[1] for b in boxes])


SQUARE, OTHER, FAR = (0, 0, 10, 10), (20, 20, 30, 30), (50, 50, 60, 60)


def test_truth_counts_match_auto_labels_to_the_truth():
    record = {"image": "a.jpg", "boxes": [box(SQUARE, 0), box(OTHER, 0), box(FAR, 1)]}
    # SQUARE right, OTHER wrong class, FAR a false positive; a missed truth box far away
    counts = truth_counts(record, truth((SQUARE, 0), (OTHER, 1), ((80, 80, 90, 90), 1)), 2)
    n_truth, n_pred, tp, wrong, fp, fn = counts.tolist()
    assert (n_truth, n_pred, tp, wrong, fp, fn) == (3, 3, 1, 1, 1, 1)


def test_with_truth_adds_errors_and_boxes_to_copies():
    records = [
        {"image": "a.jpg", "boxes": [box(SQUARE, 0)]},
        {"image": "b.jpg", "boxes": []},
        {"image": "c.jpg", "error": "unreadable"},
    ]
    truths = {"a.jpg": truth((SQUARE, 0)), "b.jpg": truth((SQUARE, 0), (OTHER, 1))}
    out = with_truth(records, lambda r: truths[r["image"]], 2)
    assert [(r.get("truth_errors"), r.get("truth_boxes")) for r in out] == [(0, 1), (2, 2), (None, None)]
    assert "truth_errors" not in records[0]  # the job's records are left as they were


def test_oracle_takes_the_images_with_most_errors_and_needs_the_truth():
    records = [{"image": f"{i}.jpg", "truth_errors": e, "truth_boxes": 9 - e} for i, e in enumerate(range(6))]
    records.append({"image": "bad.jpg", "error": "unreadable"})
    chosen = OracleSelection(budget=3).select(records, rng=np.random.default_rng(0))
    assert chosen.indices.tolist() == [5, 4, 3] and chosen.values.tolist() == [5, 4, 3]
    by_boxes = OracleSelection(budget=2, key="truth_boxes").select(records, rng=np.random.default_rng(0))
    assert by_boxes.indices.tolist() == [0, 1]
    with pytest.raises(ValueError, match="'truth_errors'.*hidden truth"):
        OracleSelection(budget=2).select([{"image": "x.jpg"}], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="key must be one of"):
        OracleSelection(budget=2, key="score")
