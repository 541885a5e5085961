"""The oracle ceiling: the hidden truth's error counts on auto-labels, and the selection ranked by them."""

import numpy as np
import pytest

from autolabel.records import ImageRecord
from autolabel.review.strategy import call_select
from autolabel.structures import Detections, GroundTruth
from studies.oracle import OracleSelection, truth_counts


def record(image, *boxes):
    """A record with boxes ((x1, y1, x2, y2), cls) of a two-class model, conf 0.9."""
    probs = np.zeros((len(boxes), 2), np.float32)
    for i, (_, c) in enumerate(boxes):
        probs[i, c] = 0.9
    det = Detections(
        np.array([b[0] for b in boxes], np.float32).reshape(-1, 4), probs.max(1), probs.argmax(1), probs
    )
    return ImageRecord(
        image=image, detections=det, labels=tuple("ab"[c] for _, c in boxes), width=99, height=99
    )


def truth(*boxes):
    return GroundTruth(np.array([b[0] for b in boxes], np.float32).reshape(-1, 4), [b[1] for b in boxes])


SQUARE, OTHER, FAR = (0, 0, 10, 10), (20, 20, 30, 30), (50, 50, 60, 60)


def test_truth_counts_match_auto_labels_to_the_truth():
    r = record("a.jpg", (SQUARE, 0), (OTHER, 0), (FAR, 1))
    # SQUARE right, OTHER wrong class, FAR a false positive; a missed truth box far away
    counts = truth_counts(r, truth((SQUARE, 0), (OTHER, 1), ((80, 80, 90, 90), 1)), 2)
    n_truth, n_pred, tp, wrong, fp, fn = counts.tolist()
    assert (n_truth, n_pred, tp, wrong, fp, fn) == (3, 3, 1, 1, 1, 1)


def test_oracle_takes_the_images_with_most_errors_through_the_truth_input():
    # image i: i auto-labeled boxes, all false positives, and 5 - i true boxes, all missed
    records = [record(f"{i}.jpg", *[((10 * k, 0, 10 * k + 5, 5), 0) for k in range(i)]) for i in range(6)]
    records.append(ImageRecord.unreadable("bad.jpg", "unreadable"))
    truths = {
        f"{i}.jpg": truth(*[((0, 50 + 6 * k, 5, 55 + 6 * k), 1) for k in range(5 - i)]) for i in range(6)
    }
    rng = np.random.default_rng(0)
    chosen = call_select(OracleSelection(budget=3), records, rng=rng, truth=lambda r: truths[r.image])
    # every image holds i + (5 - i) = 5 errors: a tie
    assert sorted(chosen.values.tolist()) == [5.0, 5.0, 5.0]
    by_boxes = call_select(
        OracleSelection(budget=2, key="truth_boxes"), records, rng=rng, truth=lambda r: truths[r.image]
    )
    assert by_boxes.indices.tolist() == [0, 1] and by_boxes.values.tolist() == [5.0, 4.0]
    assert 6 not in chosen.indices  # the unreadable image is never eligible


def test_oracle_ranks_by_errors():
    records = [record(f"{i}.jpg", *[((10 * k, 0, 10 * k + 5, 5), 0) for k in range(i)]) for i in range(4)]
    chosen = call_select(
        OracleSelection(budget=2), records, rng=np.random.default_rng(0), truth=lambda r: truth()
    )
    assert chosen.indices.tolist() == [3, 2] and chosen.values.tolist() == [3.0, 2.0]


def test_oracle_needs_the_truth_and_a_known_key():
    with pytest.raises(ValueError, match="needs truth"):
        call_select(OracleSelection(budget=2), [record("x.jpg")], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="key must be one of"):
        OracleSelection(budget=2, key="score")
