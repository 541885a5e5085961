"""Effort captured at k, failed images ranked by their miss estimate, and what each band leaves."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autolabel.records import json_safe
from autolabel.structures import Detections
from uncertainty.calibration import calibrate
from uncertainty.evaluation.effort import (
    band_effort,
    effort_captured,
    effort_summary,
    effort_table,
    failed_calibration,
    ranking_key,
)
from uncertainty.evaluation.images import ImageOutcomes, evaluate_methods, report
from uncertainty.image_score import COMPONENTS

SECONDS = np.array([0.0, 10.0, 0.0, 30.0, 0.0, 60.0, 0.0, 0.0, 0.0, 0.0])  # 100 s in 3 of 10 images


def test_hand_cases_random_and_oracle():
    perfect = SECONDS.copy()
    assert effort_captured(perfect, SECONDS, shares=[0.1, 0.2, 0.3]) == pytest.approx(
        {0.1: 0.6, 0.2: 0.9, 0.3: 1.0}
    )
    backwards = -SECONDS
    assert effort_captured(backwards, SECONDS, shares=[0.3, 0.7])[0.3] == pytest.approx(0.0)
    assert effort_captured(backwards, SECONDS, shares=[0.3, 0.7])[0.7] == pytest.approx(0.0)
    summary = effort_summary(np.arange(10.0), SECONDS)
    assert summary["random"][0.3] == 0.3 and summary["oracle"][0.3] == pytest.approx(1.0)


def test_a_constant_score_captures_exactly_k_and_ties_count_in_expectation():
    flat = effort_captured(np.zeros(10), SECONDS, shares=[0.1, 0.25, 0.5])
    assert flat == pytest.approx({0.1: 0.1, 0.25: 0.25, 0.5: 0.5})
    # The top two images tie: one of them, at random, is the top 10%: half their 70 s in expectation.
    scores = np.array([0, 0, 0, 1, 0, 1, 0, 0, 0, 0], dtype=float)
    assert effort_captured(scores, SECONDS, shares=[0.1])[0.1] == pytest.approx(0.45)


def test_no_seconds_is_undefined_and_bad_input_is_refused():
    assert math.isnan(effort_captured(np.arange(3.0), np.zeros(3), shares=[0.3])[0.3])
    with pytest.raises(ValueError, match="1-D"):
        effort_captured(np.arange(3.0), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        effort_captured(np.array([np.nan, 1.0]), np.ones(2))


@settings(max_examples=50, deadline=None)
@given(
    st.integers(2, 30).flatmap(
        lambda n: st.tuples(
            *(arrays(np.float64, n, elements=e) for e in (st.floats(-5, 5), st.floats(0, 100)))
        )
    )
)
def test_captured_lies_between_nothing_and_the_oracle_and_grows_with_k(pair):
    scores, seconds = pair
    if seconds.sum() == 0:
        return
    shares = [0.1, 0.2, 0.3, 0.4, 0.5]
    got, best = (
        effort_captured(scores, seconds, shares=shares),
        effort_captured(seconds, seconds, shares=shares),
    )
    values = [got[k] for k in shares]
    assert all(0 - 1e-12 <= v <= best[k] + 1e-9 for k, v in zip(shares, values, strict=True))
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:], strict=False))


def test_a_better_score_captures_more():
    rng = np.random.default_rng(0)
    seconds = rng.exponential(5, 200) * (rng.random(200) < 0.4)
    good = seconds + rng.normal(0, 1, 200)
    poor = seconds + rng.normal(0, 20, 200)
    assert effort_captured(good, seconds)[0.3] > effort_captured(poor, seconds)[0.3] > 0.3


def test_failed_images_enter_the_ranking_by_their_miss_estimate():
    """Scored images keep their own order; a failed image with a big miss estimate ranks near the top."""
    val_scores = np.linspace(0, 1, 40)
    val_labels = val_scores > 0.5
    calibration = calibrate(val_scores, val_labels, min_images=10)
    fit = failed_calibration(np.linspace(0, 4, 20), np.linspace(0, 4, 20) > 2)
    assert isinstance(fit, tuple)
    scores = np.array([0.1, 0.9, np.nan, np.nan, 0.6])
    failed = np.isnan(scores)
    missed = np.array([0.0, 0.0, 3.5, 0.2, 0.0])
    key = ranking_key(scores, failed, missed, calibration=calibration, failed_fit=fit)
    assert key[1] > key[4] > key[0]  # the scored images in their own order
    assert key[2] > key[3]  # the failed ones by their miss estimate
    assert key[2] > key[0] and key[3] < key[4]
    rate = failed_calibration(np.zeros(3), np.array([True, False, False]))
    assert rate == pytest.approx(1 / 3)  # too few to fit: their rate
    flat = ranking_key(scores, failed, missed, calibration=calibration, failed_fit=rate)
    assert flat[2] > flat[3]  # ties at one rate still broken by the miss estimate


def test_band_effort_counts_what_is_left_if_a_band_is_accepted():
    bands = np.array(["easy", "easy", "hard", "failed"])
    errors = np.array([[0, 0, 0], [0, 1, 0], [1, 2, 3], [0, 0, 1]])
    seconds = errors @ np.array([3.0, 1.5, 10.0])
    out = band_effort(bands, errors.sum(1) > 0, seconds, errors, ("easy", "medium", "hard", "failed"))
    assert out["easy"]["errors_left"] == {"wrong_class": 0, "fp": 1, "fn": 0, "total": 1}
    assert out["easy"]["rate"] == 0.5 and out["easy"]["seconds_per_image"] == pytest.approx(0.75)
    assert out["hard"]["share_of_seconds"] == pytest.approx(36 / 47.5)
    assert out["medium"]["n"] == 0 and math.isnan(out["medium"]["rate"])


def images(n, seed, failed_share=0.2):
    """Scored images whose `score` follows their correction seconds; failed ones with a miss estimate."""
    rng = np.random.default_rng(seed)
    seconds = rng.exponential(5, n) * (rng.random(n) < 0.6)
    failed = rng.random(n) < failed_share
    missed = np.where(failed, seconds / 10 + rng.random(n) * 0.1, 0.0)
    scored = []
    for s, f in zip(seconds, failed, strict=True):
        comps = {name: float(rng.random()) for name in COMPONENTS}
        fields = {"score": None if f else float(s + rng.normal(0, 1)), "components": comps, "failed": bool(f)}
        scored.append((Detections.empty(2), fields))
    errors = np.stack([np.zeros(n), np.zeros(n), seconds / 10], 1).round().astype(int)
    return scored, seconds > 0, seconds, missed, errors


def test_evaluate_methods_ranks_failed_images_and_reports_effort_and_bands():
    val, val_labels, _, val_missed, _ = images(200, 0)
    test, labels, seconds, missed, errors = images(200, 1)
    outcomes = ImageOutcomes(seconds, errors, missed)
    result = evaluate_methods(val, val_labels, test, labels, outcomes=outcomes, val_missed=val_missed)
    mc, rnd = result["methods"]["mc"], result["methods"]["random"]
    assert mc["n_ranked"] == 200 and result["failed_ranked_by"] == "miss estimate"
    assert mc["effort"]["captured"][0.3] > 0.6 > rnd["effort"]["captured"][0.3]
    assert mc["spearman_correction"] > 0.7 and mc["spearman_correction_scored"] > 0.7
    left_out = evaluate_methods(val, val_labels, test, labels)  # the old way: failed images left out
    assert left_out["methods"]["mc"]["n_ranked"] < 200 and "effort" not in left_out["methods"]["mc"]
    assert mc["band_effort"]["failed"]["n"] == result["n_failed"] > 0
    result["default_method"] = "mc"
    text = report(json.loads(json.dumps(json_safe(result))))
    assert "Effort captured" in text and "(oracle order)" in text and "Bands of mc" in text
    assert "nan" not in text
    assert effort_table(result["methods"], order=["mc"]).splitlines()[1].split()[0] == "mc"
