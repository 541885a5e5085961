import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uncertainty.calibration import Calibration, calibrate, isotonic_fit, isotonic_predict
from uncertainty.metrics import auroc, average_precision, band_rates, expected_calibration_error

unit = st.floats(0.0, 1.0, allow_nan=False)
small_x = st.integers(0, 5).map(float)  # few distinct values, so ties in x are common


@st.composite
def xyw(draw, max_size=10):
    k = draw(st.integers(1, max_size))
    x = draw(st.lists(small_x, min_size=k, max_size=k))
    y = draw(st.lists(unit, min_size=k, max_size=k))
    w = draw(st.lists(st.floats(0.1, 10.0), min_size=k, max_size=k))
    return np.array(x), np.array(y), np.array(w)


def min_max_isotonic(x, y, w):
    """Independent oracle: fit_i = max over a <= i of min over b >= i of the weighted mean of y[a..b]."""
    ux = np.unique(x)
    wy = np.array([(w * y)[x == v].sum() for v in ux])
    ws = np.array([w[x == v].sum() for v in ux])
    n = len(ux)
    return np.array(
        [
            max(min(wy[a : b + 1].sum() / ws[a : b + 1].sum() for b in range(i, n)) for a in range(i + 1))
            for i in range(n)
        ]
    )


def pairwise_auroc(s, y):
    """Oracle: fraction of (positive, negative) pairs ranked right, ties counting 1/2."""
    pos, neg = s[y == 1], s[y == 0]
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (
        len(pos) * len(neg)
    )


def bernoulli_set(seed, n=500):
    """Scores ~ U(0, 1) and needs_correction ~ Bernoulli(score): the true rate at score s is s."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(size=n)
    return s, rng.uniform(size=n) < s


# --- isotonic regression ----------------------------------------------------------------------------
def test_pava_hand_case():
    kx, ky = isotonic_fit(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 1.0, 1.0]))
    np.testing.assert_array_equal(kx, [1, 2, 3, 4])
    np.testing.assert_allclose(ky, [0.5, 0.5, 1.0, 1.0])


def test_pava_unsorted_input_and_chain_of_merges():
    # sorted by x: y = 3, 2, 1, 4 -> the first three pool to their mean 2
    kx, ky = isotonic_fit(np.array([3.0, 1.0, 4.0, 2.0]), np.array([1.0, 3.0, 4.0, 2.0]))
    np.testing.assert_array_equal(kx, [1, 2, 3, 4])
    np.testing.assert_allclose(ky, [2.0, 2.0, 2.0, 4.0])


def test_pava_weights_respected():
    # (3 * 1 + 1 * 0) / 4 = 0.75 with weights; 0.5 without
    _, ky = isotonic_fit(np.array([1.0, 2.0]), np.array([1.0, 0.0]), weights=np.array([3.0, 1.0]))
    np.testing.assert_allclose(ky, [0.75, 0.75])
    _, ky = isotonic_fit(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(ky, [0.5, 0.5])


def test_pava_ties_in_x_pooled():
    # x = 1 holds y = 1 and 0 (mean 0.5) <= 0.6 at x = 2: no violation between the two knots
    kx, ky = isotonic_fit(np.array([2.0, 1.0, 1.0]), np.array([0.6, 1.0, 0.0]))
    np.testing.assert_array_equal(kx, [1.0, 2.0])
    np.testing.assert_allclose(ky, [0.5, 0.6])
    # x = 1 holds y = 1, 1 (mean 1) > 0 at x = 2: pooled over all three points, 2 / 3
    kx, ky = isotonic_fit(np.array([1.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(ky, [2 / 3, 2 / 3])


@settings(max_examples=100, deadline=None)
@given(xyw())
def test_pava_non_decreasing_and_matches_min_max_formula(data):
    x, y, w = data
    kx, ky = isotonic_fit(x, y, weights=w)
    assert np.all(np.diff(kx) > 0)
    assert np.all(np.diff(ky) >= 0)
    np.testing.assert_allclose(ky, min_max_isotonic(x, y, w), atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(unit, min_size=1, max_size=30, unique=True), st.lists(unit, min_size=30, max_size=30))
def test_pava_keeps_already_sorted_y(xs, ys):
    x = np.array(xs)
    y = np.sort(np.array(ys[: len(xs)]))[np.argsort(np.argsort(x))]  # y non-decreasing in x
    kx, ky = isotonic_fit(x, y)
    np.testing.assert_array_equal(kx, np.sort(x))
    np.testing.assert_allclose(ky, np.sort(y))


def test_pava_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        isotonic_fit(np.array([1.0, 2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="weights"):
        isotonic_fit(np.array([1.0, 2.0]), np.array([1.0, 0.0]), weights=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="finite"):
        isotonic_fit(np.array([1.0, np.nan]), np.array([1.0, 0.0]))


def test_isotonic_predict_interpolates_and_clamps():
    p = isotonic_predict(
        np.array([1.0, 3.0]), np.array([0.2, 0.6]), np.array([0.0, 1.0, 2.0, 3.0, 9.0, np.nan])
    )
    np.testing.assert_allclose(p, [0.2, 0.2, 0.4, 0.6, 0.6, np.nan])
    assert np.isnan(isotonic_predict(np.array([]), np.array([]), np.array([0.5]))).all()


# --- calibrate --------------------------------------------------------------------------------------
def test_calibrate_recovers_bands_of_a_known_rate():
    s, y = bernoulli_set(seed=0)
    cal = calibrate(s, y)
    assert cal.method == "isotonic"
    assert cal.reason == "isotonic fit on 500 images"
    assert cal.n_images == 500 and cal.base_rate == pytest.approx(y.mean())
    # the true rate is the score itself, so the cutoffs sit near the levels (the fit's noise at n = 500
    # is a few hundredths; this seed is typical)
    assert cal.cutoffs[0] == pytest.approx(0.2, abs=0.1)
    assert cal.cutoffs[1] == pytest.approx(0.5, abs=0.1)
    rates = band_rates(cal.difficulty(s), y)
    easy, medium, hard = (rates[b]["rate"] for b in ("easy", "medium", "hard"))
    assert easy < medium < hard
    assert hard >= 3 * easy
    assert rates["failed"]["n"] == 0
    assert cal.observed_rates == pytest.approx((easy, medium, hard))
    # calibrated on fresh images of the same kind, not only on the ones it was fitted to
    s2, y2 = bernoulli_set(seed=1)
    assert expected_calibration_error(cal.p_needs_correction(s2), y2) < 0.1
    assert expected_calibration_error(cal.p_needs_correction(s), y) < 0.1


def test_difficulty_agrees_with_fitted_rate():
    s, y = bernoulli_set(seed=2)
    cal = calibrate(s, y)
    grid = np.linspace(-0.5, 1.5, 2001)
    grid = grid[np.min(np.abs(grid[:, None] - np.array(cal.cutoffs)[None, :]), axis=1) > 1e-9]
    p, d = cal.p_needs_correction(grid), cal.difficulty(grid)
    np.testing.assert_array_equal(d != "easy", p >= cal.levels[0])
    np.testing.assert_array_equal(d == "hard", p >= cal.levels[1])
    assert np.all(np.diff(p) >= 0)


def test_calibrate_hand_case_cutoffs_interpolate_the_curve():
    # PAVA: y = 0 0 1 0 1 1 -> 0 0 .5 .5 1 1. Level 0.2 is reached between scores 0.2 (rate 0) and
    # 0.3 (rate 0.5): 0.2 + 0.1 * 0.2 / 0.5 = 0.24; level 0.5 is reached at 0.3.
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    cal = calibrate(s, np.array([0, 0, 1, 0, 1, 1]), min_images=1, require_split=False)  # medium is empty
    assert cal.method == "isotonic"
    assert cal.cutoffs == pytest.approx((0.24, 0.3))
    q = np.array([0.1, 0.239, 0.25, 0.3, 0.6, np.nan])
    assert cal.difficulty(q).tolist() == ["easy", "easy", "medium", "hard", "hard", "failed"]
    np.testing.assert_allclose(cal.p_needs_correction(q), [0.0, 0.195, 0.25, 0.5, 1.0, np.nan])
    assert cal.observed_rates[0] == 0.0 and math.isnan(cal.observed_rates[1])
    assert cal.observed_rates[2] == pytest.approx(0.75)


def test_infinite_cutoffs_when_the_curve_starts_above_or_never_reaches_a_level():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    # raw isotonic semantics: empty bands allowed here
    above = calibrate(x, np.array([1, 0, 1, 1]), levels=(0.2, 0.6), min_images=1, require_split=False)
    assert above.cutoffs == (-math.inf, pytest.approx(2.2))
    below = calibrate(x, np.array([0, 0, 1, 0]), levels=(0.2, 0.6), min_images=1, require_split=False)
    assert below.cutoffs == (pytest.approx(2.4), math.inf)
    assert below.difficulty(np.array([1e9])).tolist() == ["medium"]
    for cal in (above, below):
        back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict(), allow_nan=False)))
        assert back == cal


def test_quantile_fallback_for_a_small_set():
    s = np.arange(12.0)
    cal = calibrate(s, np.arange(12) % 2, min_images=30)
    assert cal.method == "quantile"
    assert cal.reason == "only 12 images (< min_images=30): quantile bands"
    assert cal.knots_x == () and cal.knots_y == ()


def test_quantile_fallback_for_a_single_outcome():
    s, _ = bernoulli_set(seed=3, n=90)
    cal = calibrate(s, np.zeros(90, bool))
    assert cal.method == "quantile"
    assert "needs_correction=0" in cal.reason
    np.testing.assert_array_equal(cal.p_needs_correction(s), 0.0)


def test_quantile_fallback_for_constant_scores():
    cal = calibrate(np.full(100, 0.7), np.arange(100) % 4 == 0)
    assert cal.method == "quantile"
    assert "flat" in cal.reason
    assert cal.cutoffs == (0.7, 0.7)
    # ties at a cutoff go to the higher band; a band empty at fit time gets the base rate
    assert cal.difficulty(np.array([0.7, 0.1])).tolist() == ["hard", "easy"]
    np.testing.assert_allclose(cal.p_needs_correction(np.array([0.7, 0.1])), [0.25, 0.25])


def test_quantile_bands_are_thirds_with_their_measured_rates():
    s = np.arange(90.0)
    y = np.r_[np.zeros(30), np.arange(30) % 2, np.ones(30)]  # rates 0, 0.5, 1 by thirds
    cal = calibrate(s, y, min_images=100)
    d = cal.difficulty(s)
    assert [int((d == b).sum()) for b in ("easy", "medium", "hard")] == [30, 30, 30]
    assert cal.observed_rates == (0.0, 0.5, 1.0)
    np.testing.assert_allclose(
        cal.p_needs_correction(np.array([5.0, 45.0, 85.0, np.nan])), [0, 0.5, 1, np.nan]
    )


def test_nan_scores_are_ignored_by_the_fit():
    s, y = bernoulli_set(seed=4, n=200)
    with_failed = calibrate(np.r_[s, np.nan, np.nan], np.r_[y, True, False])
    assert with_failed == calibrate(s, y)
    none_scored = calibrate(np.full(5, np.nan), np.ones(5))
    assert none_scored.method == "quantile" and none_scored.n_images == 0
    assert none_scored.difficulty(np.array([0.3, np.nan])).tolist() == ["medium", "failed"]
    json.dumps(none_scored.to_dict(), allow_nan=False)


def test_difficulty_of_nan_is_failed():
    cal = calibrate(*bernoulli_set(seed=5, n=100))
    d = cal.difficulty(np.array([np.nan, 0.0, 1.0]))
    assert d.dtype == object
    assert d.tolist() == ["failed", "easy", "hard"]
    assert np.isnan(cal.p_needs_correction(np.array([np.nan]))).all()


def test_to_dict_round_trip():
    cal = calibrate(*bernoulli_set(seed=6, n=100))
    text = json.dumps(cal.to_dict(), allow_nan=False)
    assert Calibration.from_dict(json.loads(text)) == cal
    quantile = calibrate(np.arange(10.0), np.arange(10) % 2)
    assert Calibration.from_dict(json.loads(json.dumps(quantile.to_dict()))) == quantile


@pytest.mark.parametrize("levels", [(0.5, 0.2), (0.0, 0.5), (0.2, 1.0), (0.3, 0.3), (0.2,), "ab"])
def test_bad_levels_raise(levels):
    with pytest.raises(ValueError, match="levels"):
        calibrate(np.arange(40.0), np.arange(40) % 2, levels=levels)


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="labels"):
        calibrate(np.arange(3.0), np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="equal length"):
        calibrate(np.arange(3.0), np.array([0, 1]))


# --- metrics ----------------------------------------------------------------------------------------
def test_auroc_hand_cases():
    y = np.array([0, 0, 1, 1])
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), y) == 0.0
    assert auroc(np.full(4, 0.5), y) == 0.5
    # pairs (pos, neg): (.4, .1) right, (.4, .4) tie = 1/2, (.8, .1) and (.8, .4) right: 3.5 / 4
    assert auroc(np.array([0.1, 0.4, 0.4, 0.8]), y) == 0.875
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([1, 1])))
    assert auroc(np.array([0.1, np.nan, 0.9]), np.array([0, 0, 1])) == 1.0  # nan score dropped


def test_worse_ranking_gives_lower_auroc_and_ap():
    s, y = bernoulli_set(seed=7, n=300)
    rng = np.random.default_rng(0)
    noisy = s + rng.normal(scale=0.5, size=s.shape)
    assert auroc(noisy, y) < auroc(s, y)
    assert average_precision(noisy, y) < average_precision(s, y)
    assert auroc(s, y) == pytest.approx(pairwise_auroc(s, y.astype(int)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4).map(float), st.booleans()), min_size=2, max_size=15))
def test_auroc_matches_pairwise_count(pairs):
    s = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    if y.all() or not y.any():
        assert math.isnan(auroc(s, y))
    else:
        assert auroc(s, y) == pytest.approx(pairwise_auroc(s, y))


def test_average_precision_hand_cases():
    # precision at the positives' ranks 1 and 3: (1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # tie group {0.5, 0.5} counts as one rank: its positive gets precision 2/3 -> (1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.5, 0.5, 0.1]), np.array([1, 1, 0, 0])) == pytest.approx(5 / 6)
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([1, 1, 0])) == 1.0
    assert average_precision(np.full(4, 0.3), np.array([1, 0, 0, 0])) == 0.25  # all tied: the base rate
    assert math.isnan(average_precision(np.array([0.1, 0.2]), np.array([0, 0])))


def test_expected_calibration_error():
    # bin [0.2, 0.3): mean p 0.25, rate 1/4; bin [0.7, 0.8): mean p 0.75, rate 3/4 -> perfectly calibrated
    p = np.r_[np.full(4, 0.25), np.full(4, 0.75)]
    assert expected_calibration_error(p, np.array([1, 0, 0, 0, 1, 1, 1, 0])) == pytest.approx(0.0)
    # the same p with rates 0 and 1: (4/8) * 0.25 + (4/8) * 0.25
    assert expected_calibration_error(p, np.array([0, 0, 0, 0, 1, 1, 1, 1])) == pytest.approx(0.25)
    assert expected_calibration_error(np.array([1.0, 0.0, np.nan]), np.array([1, 0, 1])) == 0.0
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([0, 0]), bins=1) == pytest.approx(0.9)
    assert math.isnan(expected_calibration_error(np.array([np.nan]), np.array([1])))
    with pytest.raises(ValueError, match="p must"):
        expected_calibration_error(np.array([1.5]), np.array([1]))


def test_band_rates():
    d = np.array(["easy", "easy", "hard", "failed", "hard", "hard"], dtype=object)
    r = band_rates(d, np.array([0, 1, 1, 1, 1, 0]))
    assert r["easy"] == {"n": 2, "rate": 0.5}
    assert r["hard"]["n"] == 3 and r["hard"]["rate"] == pytest.approx(2 / 3)
    assert r["failed"] == {"n": 1, "rate": 1.0}
    assert r["medium"]["n"] == 0 and math.isnan(r["medium"]["rate"])
    with pytest.raises(ValueError, match="unknown band"):
        band_rates(np.array(["easy", "tricky"]), np.array([0, 1]))


def test_bands_that_do_not_split_the_set_fall_back_to_quantiles():
    # (one empty band is fine: easy and hard still split the set)
    # a weak model: almost every image needs correction, so the fitted rate never drops below 0.5
    rng = np.random.default_rng(0)
    scores = rng.random(200)
    labels = rng.random(200) < 0.85 + 0.15 * scores
    strict = calibrate(scores, labels)
    assert strict.method == "quantile" and "all in hard" in strict.reason
    assert set(strict.difficulty(scores)) == {"easy", "medium", "hard"}
    loose = calibrate(scores, labels, require_split=False)
    assert loose.method == "isotonic" and "easy" not in set(loose.difficulty(scores))
