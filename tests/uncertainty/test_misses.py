"""Missed objects estimated from near misses: which near misses count, and the evidence per image."""

import numpy as np
import pytest

from autolabel.structures import Detections
from uncertainty.error_features import counted_near_misses, miss_feature_names, miss_features
from uncertainty.evaluation.misses import evaluate_misses, miss_table
from uncertainty.samples import MCSamples

# An auto-label at 0.8, a duplicate of it at 0.3, two near misses on one other object (0.35, 0.25),
# a lone near miss at 0.2, and one below the floor (0.04).
XYXY = np.array(
    [[0, 0, 20, 20], [1, 1, 21, 21], [50, 50, 70, 70], [51, 50, 71, 70], [100, 0, 120, 20], [0, 90, 20, 110]],
    dtype=np.float32,
)
CONF = np.array([0.8, 0.3, 0.35, 0.25, 0.2, 0.04], dtype=np.float32)


def test_duplicates_of_a_label_and_of_a_stronger_near_miss_and_weak_boxes_do_not_count():
    counted = counted_near_misses(CONF, XYXY, threshold=0.5, floor=0.1)
    assert counted.tolist() == [False, False, True, False, True, False]
    lower = counted_near_misses(CONF, XYXY, threshold=0.5, floor=0.01)
    assert lower[5] and lower.sum() == 3


def samples(hits_of_near=0.5):
    probs = np.zeros((4, len(CONF), 2), np.float32)
    probs[..., 0] = CONF
    hits = np.zeros((4, len(CONF)), bool)
    hits[:, 0] = True
    hits[: int(4 * hits_of_near), 2] = True  # dropout lifts the 0.35 near miss over the threshold
    cand = Detections(XYXY, CONF, np.zeros(len(CONF), np.int64), probs[0])
    return MCSamples(cand, probs, np.repeat(XYXY[None], 4, 0), hits, image_hw=(128, 128))


def test_miss_features_sum_the_counted_scores_and_their_mc_lift():
    values = dict(
        zip(miss_feature_names(mc=True), miss_features(samples(), threshold=0.5, floor=0.1), strict=True)
    )
    assert values["miss_evidence"] == pytest.approx(0.55)
    assert values["miss_count"] == 2 and values["miss_max"] == pytest.approx(0.35)
    assert values["mc_miss_evidence"] == pytest.approx(0.55)
    assert values["mc_miss_flip"] == pytest.approx(0.5)
    single = miss_features(samples(), threshold=0.5, floor=0.1, mc=False)
    assert single.shape == (len(miss_feature_names(mc=False)),) == (3,)
    more_lift = miss_features(samples(hits_of_near=1.0), threshold=0.5, floor=0.1)
    assert more_lift[-1] > values["mc_miss_flip"]


def test_no_candidates_give_zero_evidence():
    empty = MCSamples(Detections.empty(2), np.zeros((4, 0, 2)), np.zeros((4, 0, 4)), np.zeros((4, 0), bool))
    assert miss_features(empty, threshold=0.5, floor=0.1).tolist() == [0.0] * 5


def test_evaluate_misses_rewards_an_estimate_that_follows_the_truth():
    truth = np.array([0, 0, 1, 2, 3, 0])
    result = evaluate_misses({"good": truth * 0.3 + 0.01, "bad": -truth, "flat": np.zeros(6)}, truth)
    assert result["spearman"]["good"] == pytest.approx(1.0) and result["spearman"]["bad"] == pytest.approx(
        -1.0
    )
    assert np.isnan(result["spearman"]["flat"])
    assert (result["n_missed"], result["n_images_with_miss"]) == (6, 3)
    lines = miss_table(result).splitlines()
    assert lines[2].split() == ["good", "1.000"] and lines[-1].split() == ["flat", "undefined"]
