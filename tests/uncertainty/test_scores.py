import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from uncertainty.scores import (
    bernoulli_entropy,
    bernoulli_mutual_information,
    box_spread,
    detection_inconsistency,
    entropy,
    least_confidence,
    margin,
    mutual_information,
    normalise,
    one_minus_conf,
    predictive_entropy,
    score_variance,
    single_bernoulli_entropy,
    single_entropy,
    single_least_confidence,
    single_margin,
)

CLASS_SCORES = (
    predictive_entropy,
    mutual_information,
    margin,
    least_confidence,
    score_variance,
    bernoulli_entropy,
    bernoulli_mutual_information,
)
SINGLE_SCORES = (
    single_entropy,
    single_margin,
    single_least_confidence,
    one_minus_conf,
    single_bernoulli_entropy,
)
FAST = settings(max_examples=50, deadline=None)

unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)


@st.composite
def mc_samples(draw, *, min_t=1, min_n=0, distributions=False):
    """(mc_probs (T, N, C), hits (T, N)); with distributions=True the rows already sum to 1."""
    t = draw(st.integers(min_t, 5))
    n = draw(st.integers(min_n, 4))
    c = draw(st.integers(1, 5))
    probs = draw(arrays(np.float64, (t, n, c), elements=unit))
    if distributions:
        probs = normalise(probs)
    hits = draw(arrays(np.bool_, (t, n)))
    return probs, hits


@st.composite
def mc_box_samples(draw, *, min_t=1, min_n=0):
    """(mc_boxes (T, N, 4) xyxy with width and height >= 1 px, hits (T, N))."""
    t = draw(st.integers(min_t, 5))
    n = draw(st.integers(min_n, 4))
    corner = draw(arrays(np.float64, (n, 2), elements=st.floats(0.0, 100.0)))
    size = draw(arrays(np.float64, (n, 2), elements=st.floats(1.0, 100.0)))
    base = np.concatenate([corner, corner + size], axis=1)
    noise = draw(arrays(np.float64, (t, n, 4), elements=st.floats(-5.0, 5.0)))
    hits = draw(arrays(np.bool_, (t, n)))
    return base[None] + noise, hits


def hit_mean_box(boxes, hits):
    w = hits[..., None].astype(float)
    return (boxes * w).sum(0) / np.maximum(w.sum(0), 1.0)


# ---------------------------------------------------------------- normalise and entropy


@FAST
@given(arrays(np.float64, st.tuples(st.integers(0, 4), st.integers(2, 6)), elements=unit))
def test_normalise_rows_sum_to_one_and_entropy_in_range(probs):
    q = normalise(probs)
    assert q.shape == probs.shape
    np.testing.assert_allclose(q.sum(-1), 1.0, rtol=0, atol=1e-12)
    h = entropy(q)
    assert h.shape == probs.shape[:1]
    assert np.all((h >= 0) & (h <= math.log(probs.shape[1])))


@pytest.mark.parametrize("c", [2, 3, 80])
def test_entropy_maximal_at_uniform_zero_at_one_hot(c):
    assert entropy(np.full(c, 1.0 / c)) == pytest.approx(math.log(c), abs=1e-12)
    assert entropy(np.eye(c)).tolist() == [0.0] * c


def test_normalise_zero_row_is_uniform_and_scale_free():
    q = normalise(np.array([[0.0, 0.0, 0.0], [0.2, 0.1, 0.1], [0.8, 0.4, 0.4]]))
    np.testing.assert_allclose(q, [[1 / 3] * 3, [0.5, 0.25, 0.25], [0.5, 0.25, 0.25]])


def test_normalise_rejects_negative_scores():
    with pytest.raises(ValueError, match="probs"):
        normalise(np.array([0.5, -0.1]))


# ---------------------------------------------------------------- hand-computed cases


def test_hand_computed_two_class_cases():
    assert entropy(np.array([0.5, 0.5])) == pytest.approx(math.log(2))
    # two passes that disagree completely: mean (0.5, 0.5), each pass certain
    mc = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert mutual_information(mc)[0] == pytest.approx(math.log(2))
    assert predictive_entropy(mc)[0] == pytest.approx(math.log(2))
    assert margin(mc)[0] == pytest.approx(1.0)
    assert least_confidence(mc)[0] == pytest.approx(0.5)
    # raw sigmoid (0.9, 0.1) then (0.5, 0.2): class 0 on average, its scores 0.9 and 0.5 -> std 0.2
    assert score_variance(np.array([[[0.9, 0.1]], [[0.5, 0.2]]]))[0] == pytest.approx(0.2)


def test_hand_computed_box_spread():
    # mean box (1, 1, 11, 11): area 100; every coordinate deviates by 1 -> std 1 -> 1 / sqrt(100)
    boxes = np.array([[[0.0, 0.0, 10.0, 10.0]], [[2.0, 2.0, 12.0, 12.0]]])
    assert box_spread(boxes)[0] == pytest.approx(0.1)
    assert detection_inconsistency(np.array([[True], [False], [False], [True]]))[0] == 0.5


def test_single_pass_baselines_normalise_but_conf_does_not():
    probs = np.array([[0.8, 0.2], [0.4, 0.1]])  # same distribution (0.8, 0.2), different conf
    np.testing.assert_allclose(single_margin(probs), [0.4, 0.4])
    np.testing.assert_allclose(single_least_confidence(probs), [0.2, 0.2])
    np.testing.assert_allclose(single_entropy(probs), [-(0.8 * math.log(0.8) + 0.2 * math.log(0.2))] * 2)
    np.testing.assert_allclose(one_minus_conf(probs), [0.2, 0.6])


# ---------------------------------------------------------------- ranges and empty / single-pass inputs


@FAST
@given(mc_samples())
def test_mc_scores_lie_in_their_documented_ranges(sample):
    probs, hits = sample
    c = probs.shape[2]
    bounds = mc_score_maxima(c)
    for fn, upper in bounds.items():
        for h in (None, hits):
            value = fn(probs, hits=h)
            assert value.shape == (probs.shape[1],)
            assert np.all((value >= 0) & (value <= upper + 1e-12)), fn.__name__


def test_empty_image_gives_empty_outputs():
    for fn in CLASS_SCORES:
        assert fn(np.zeros((3, 0, 4))).shape == (0,)
        assert fn(np.zeros((3, 0, 4)), hits=np.zeros((3, 0), bool)).shape == (0,)
    for fn in SINGLE_SCORES:
        assert fn(np.zeros((0, 4))).shape == (0,)
    assert box_spread(np.zeros((3, 0, 4))).shape == (0,)
    assert detection_inconsistency(np.zeros((3, 0), bool)).shape == (0,)


@FAST
@given(arrays(np.float64, st.tuples(st.integers(0, 4), st.integers(1, 5)), elements=unit))
def test_one_pass_equals_the_single_pass_baselines_and_has_no_mi(probs):
    mc = probs[None]
    np.testing.assert_allclose(predictive_entropy(mc), single_entropy(probs), atol=1e-12)
    np.testing.assert_allclose(margin(mc), single_margin(probs), atol=1e-12)
    np.testing.assert_allclose(least_confidence(mc), single_least_confidence(probs), atol=1e-12)
    np.testing.assert_allclose(bernoulli_entropy(mc), single_bernoulli_entropy(probs), atol=1e-12)
    assert np.all(mutual_information(mc) == 0.0)
    assert np.all(bernoulli_mutual_information(mc) == 0.0)
    assert np.all(score_variance(mc) == 0.0)
    assert np.all(box_spread(np.tile([[[0.0, 0.0, 5.0, 5.0]]], (1, len(probs), 1))) == 0.0)


# ---------------------------------------------------------------- mutual information


@FAST
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 5)), elements=unit), st.integers(1, 6))
def test_mi_is_zero_when_all_passes_agree(probs, t):
    mc = np.repeat(probs[None], t, axis=0)
    assert np.all(np.abs(mutual_information(mc)) <= 1e-9)


@FAST
@given(arrays(np.float64, (2, 1, 3), elements=unit))
def test_mi_is_positive_when_passes_disagree(mc):
    q = normalise(mc)
    assume(np.abs(q[0] - q[1]).max() > 1e-2)
    assert mutual_information(mc)[0] > 0


@FAST
@given(mc_samples())
def test_mi_nonnegative_and_at_most_predictive_entropy(sample):
    probs, hits = sample
    for h in (None, hits):
        mi = mutual_information(probs, hits=h)
        assert np.all(mi >= 0)
        assert np.all(mi <= predictive_entropy(probs, hits=h) + 1e-12)


# ---------------------------------------------------------------- direction: worse input, higher score


@FAST
@given(mc_samples(distributions=True), st.floats(0.0, 1.0))
def test_mixing_towards_uniform_never_lowers_class_scores(sample, a):
    probs, hits = sample
    mixed = (1 - a) * probs + a / probs.shape[2]
    for fn in (predictive_entropy, margin, least_confidence):
        for h in (None, hits):
            assert np.all(fn(mixed, hits=h) >= fn(probs, hits=h) - 1e-9), fn.__name__


@FAST
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 5)), elements=unit), st.floats(0, 1))
def test_mixing_sigmoid_scores_towards_flat_never_lowers_single_scores(probs, a):
    mixed = (1 - a) * probs + a * 0.5
    for fn in (single_entropy, single_margin, single_least_confidence):
        assert np.all(fn(mixed) >= fn(probs) - 1e-9), fn.__name__


@FAST
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 5)), elements=unit), st.floats(0.01, 1))
def test_weaker_sigmoid_scores_raise_one_minus_conf_only(probs, k):
    # scaling every score down keeps the class distribution but lowers ultralytics' conf
    assert np.all(one_minus_conf(k * probs) >= one_minus_conf(probs))
    np.testing.assert_allclose(single_margin(k * probs), single_margin(probs), atol=1e-9)


@FAST
@given(mc_box_samples(), st.floats(1.0, 10.0))
def test_more_box_spread_never_lowers_box_spread(sample, k):
    boxes, hits = sample
    for h in (None, hits):
        hh = np.ones(hits.shape, bool) if h is None else h
        mean = hit_mean_box(boxes, hh)[None]
        wider = mean + k * (boxes - mean)
        assert np.all(box_spread(wider, hits=h) >= box_spread(boxes, hits=h) - 1e-9)


@FAST
@given(mc_box_samples())
def test_box_spread_is_scale_invariant_and_in_range(sample):
    boxes, hits = sample
    for h in (None, hits):
        value = box_spread(boxes, hits=h)
        assert np.all((value >= 0) & (value <= 1))
        np.testing.assert_allclose(box_spread(3.0 * boxes, hits=h), value, rtol=1e-9, atol=1e-12)


def test_identical_boxes_have_zero_spread():
    boxes = np.tile([[[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 1.0, 1.0]]], (4, 1, 1))
    assert box_spread(boxes).tolist() == [0.0, 0.0]


@FAST
@given(arrays(np.bool_, st.tuples(st.integers(1, 5), st.integers(1, 4))), st.data())
def test_turning_a_hit_into_a_miss_raises_detection_inconsistency(hits, data):
    assume(hits.any())
    t, n = data.draw(st.sampled_from(list(zip(*np.nonzero(hits), strict=True))))
    fewer = hits.copy()
    fewer[t, n] = False
    before, after = detection_inconsistency(hits), detection_inconsistency(fewer)
    assert after[n] > before[n]
    assert np.all(after >= before)
    assert np.all((after >= 0) & (after <= 1))


# ---------------------------------------------------------------- hits masking


@FAST
@given(mc_samples(min_n=1), st.data())
def test_missed_passes_do_not_affect_class_scores(sample, data):
    probs, hits = sample
    junk = probs.copy()
    junk[~hits] = data.draw(st.sampled_from([np.nan, 7.0, -1.0, 0.0]))
    for fn in CLASS_SCORES:
        np.testing.assert_array_equal(fn(junk, hits=hits), fn(probs, hits=hits), err_msg=fn.__name__)
        for n in np.flatnonzero(hits.any(0)):  # a box's score is its score on its hit passes alone
            alone = probs[hits[:, n], n][:, None]
            np.testing.assert_allclose(fn(probs, hits=hits)[n], fn(alone)[0], atol=1e-12)


def test_missed_passes_do_not_affect_box_spread():
    boxes = np.array([[[0.0, 0.0, 10.0, 10.0]], [[2.0, 2.0, 12.0, 12.0]], [[np.nan] * 4]])
    hits = np.array([[True], [True], [False]])
    assert box_spread(boxes, hits=hits)[0] == pytest.approx(0.1)


@pytest.mark.parametrize("c", [1, 2, 5])
def test_zero_hits_get_maximal_values(c):
    probs = np.full((3, 2, c), np.nan)
    probs[:, 1] = np.eye(c)[0]  # box 1: certain and consistent
    hits = np.array([[False, True]] * 3)
    expected = mc_score_maxima(c)
    for fn, top in expected.items():
        np.testing.assert_allclose(fn(probs, hits=hits), [top, 0.0], atol=1e-12, err_msg=fn.__name__)
    boxes = np.tile([[[0.0, 0.0, 10.0, 10.0]]], (3, 2, 1))
    assert box_spread(boxes, hits=hits).tolist() == [1.0, 0.0]
    assert detection_inconsistency(hits).tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- validation at the boundary


@pytest.mark.parametrize("shape", [(4, 3), (2, 4, 0), (0, 4, 3)])
def test_mc_scores_reject_bad_shapes_naming_the_argument(shape):
    for fn in CLASS_SCORES:
        with pytest.raises(ValueError, match=r"mc_probs.*\(T, N, C\)"):
            fn(np.zeros(shape))


def test_bad_hits_and_values_are_rejected():
    mc = np.full((2, 3, 4), 0.5)
    with pytest.raises(ValueError, match=r"hits.*\(T, N\)"):
        margin(mc, hits=np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="hits"):
        margin(mc, hits=np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"mc_probs.*\[0, 1\]"):
        margin(mc * 3)
    with pytest.raises(ValueError, match=r"mc_boxes.*\(T, N, 4\)"):
        box_spread(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"hits.*\(T, N\)"):
        detection_inconsistency(np.ones(3, bool))
    for fn in SINGLE_SCORES:
        with pytest.raises(ValueError, match=r"probs.*\(N, C\)"):
            fn(np.zeros((2, 3, 4)))


def mc_score_maxima(c: int) -> dict:
    """The largest value each MC class score can take for C classes (also its value at zero hits)."""
    return {
        predictive_entropy: math.log(c),
        mutual_information: math.log(c),
        margin: 1.0,
        least_confidence: 1.0 - 1.0 / c,
        score_variance: 0.5,
        bernoulli_entropy: min(c, 2) * math.log(2),
        bernoulli_mutual_information: min(c, 2) * math.log(2),
    }
