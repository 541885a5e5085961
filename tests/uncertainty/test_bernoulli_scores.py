"""The Bernoulli entropy and BALD of sigmoid class scores: any C (1, 2, 80), objectness counts."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from uncertainty.scores import (
    bernoulli_entropy,
    bernoulli_mutual_information,
    predictive_entropy,
    single_bernoulli_entropy,
)

FAST = settings(max_examples=40, deadline=None)
CLASS_COUNTS = (1, 2, 80)
LN2 = math.log(2)

unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)


def upper(c: int) -> float:
    """The documented bound of the Bernoulli scores for C classes: ln 2 per summed class (top two)."""
    return min(c, 2) * LN2


@st.composite
def sigmoid_samples(draw, *, c=None, min_t=1):
    """(mc_probs (T, N, C), hits (T, N)) with C drawn from 1, 2 and 80 unless given."""
    c = draw(st.sampled_from(CLASS_COUNTS)) if c is None else c
    t = draw(st.integers(min_t, 6))
    n = draw(st.integers(0, 4))
    probs = draw(arrays(np.float64, (t, n, c), elements=unit))
    hits = draw(arrays(np.bool_, (t, n)))
    return probs, hits


def box(top: tuple[float, ...], c: int, tail: float = 0.001) -> np.ndarray:
    """(1, 1, C) one pass of one box: the leading scores ``top`` (as many as fit), ``tail`` elsewhere."""
    row = np.full(c, tail)
    row[: min(len(top), c)] = top[:c]
    return row[None, None]


# ---------------------------------------------------------------- bounds


@FAST
@given(sigmoid_samples())
def test_values_are_finite_and_within_their_bounds(sample):
    probs, hits = sample
    c = probs.shape[2]
    for h in (None, hits):
        h_ent = bernoulli_entropy(probs, hits=h)
        mi = bernoulli_mutual_information(probs, hits=h)
        assert h_ent.shape == mi.shape == (probs.shape[1],)
        assert np.all(np.isfinite(h_ent)) and np.all(np.isfinite(mi))
        assert np.all((h_ent >= 0) & (h_ent <= upper(c) + 1e-12))
        assert np.all(mi >= 0)
        assert np.all(mi <= h_ent + 1e-12)  # BALD is the epistemic part of the entropy


@FAST
@given(st.sampled_from(CLASS_COUNTS), st.integers(1, 6), st.integers(1, 4), st.data())
def test_certain_predictions_score_zero(c, t, n, data):
    certain = data.draw(arrays(np.float64, (1, n, c), elements=st.sampled_from([0.0, 1.0])))
    mc = np.repeat(certain, t, axis=0)  # every pass gives the same 0 / 1 scores
    assert np.all(bernoulli_entropy(mc) == 0.0)
    assert np.all(bernoulli_mutual_information(mc) == 0.0)
    assert np.all(single_bernoulli_entropy(certain[0]) == 0.0)


@FAST
@given(st.sampled_from(CLASS_COUNTS), st.integers(2, 6), st.integers(1, 4), st.data())
def test_passes_that_are_each_certain_make_all_entropy_epistemic(c, t, n, data):
    mc = data.draw(arrays(np.float64, (t, n, c), elements=st.sampled_from([0.0, 1.0])))
    np.testing.assert_allclose(bernoulli_mutual_information(mc), bernoulli_entropy(mc), atol=1e-12)


@FAST
@given(sigmoid_samples())
def test_one_pass_has_no_mi_and_equals_the_single_pass_entropy(sample):
    probs, _ = sample
    one = probs[:1]
    assert np.all(bernoulli_mutual_information(one) == 0.0)
    np.testing.assert_allclose(bernoulli_entropy(one), single_bernoulli_entropy(one[0]), atol=1e-12)


# ---------------------------------------------------------------- direction


@pytest.mark.parametrize("c", CLASS_COUNTS)
def test_a_weak_box_is_more_uncertain_than_a_sure_one(c):
    weak, sure = box((0.30, 0.01), c), box((0.95, 0.03), c)
    for fn in (bernoulli_entropy, lambda mc: single_bernoulli_entropy(mc[0])):
        assert fn(weak)[0] > fn(sure)[0] + 0.25


def test_the_row_normalised_entropy_cannot_tell_those_boxes_apart():
    """Why the Bernoulli scores are the default: normalising the row throws objectness away."""
    weak, sure = box((0.30, 0.01), 2), box((0.95, 0.03), 2)
    assert predictive_entropy(weak)[0] == pytest.approx(predictive_entropy(sure)[0], abs=0.01)


@FAST
@given(sigmoid_samples(), st.floats(0.0, 1.0))
def test_scores_nearer_one_half_never_lower_the_entropy(sample, a):
    probs, hits = sample
    flatter = (1 - a) * probs + a * 0.5  # order-preserving: the same top two classes, each nearer 0.5
    for h in (None, hits):
        assert np.all(bernoulli_entropy(flatter, hits=h) >= bernoulli_entropy(probs, hits=h) - 1e-9)


@st.composite
def spread_passes(draw):
    """(mean (C,), spread (C,)) with 0 < mean < 1 and 0 < spread <= min(mean, 1 - mean)."""
    c = draw(st.sampled_from(CLASS_COUNTS))
    mean = draw(arrays(np.float64, c, elements=st.floats(0.02, 0.98), unique=True))
    fraction = draw(arrays(np.float64, c, elements=st.floats(0.1, 1.0)))
    return mean, fraction * np.minimum(mean, 1.0 - mean)


def two_passes(mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """(2, 1, C): passes mean + spread and mean - spread, whose pass mean is ``mean``."""
    return np.stack([mean + spread, mean - spread])[:, None, :]


@FAST
@given(spread_passes(), st.floats(0.1, 0.9))
def test_passes_that_disagree_get_more_bald_than_passes_that_agree(sample, shrink):
    mean, spread = sample
    agree = two_passes(mean, np.zeros_like(mean))
    disagree = two_passes(mean, spread)
    np.testing.assert_allclose(bernoulli_entropy(disagree), bernoulli_entropy(agree), atol=1e-12)
    assert bernoulli_mutual_information(agree)[0] == pytest.approx(0.0, abs=1e-12)
    assert bernoulli_mutual_information(disagree)[0] > 0
    less = bernoulli_mutual_information(two_passes(mean, shrink * spread))[0]
    assert bernoulli_mutual_information(disagree)[0] >= less - 1e-12


# ---------------------------------------------------------------- hand-computed cases and the class tail


def test_hand_computed_one_class():
    mc = np.array([[[0.2]], [[0.8]]])  # mean 0.5: total ln 2; each pass H_b(0.2)
    h02 = -(0.2 * math.log(0.2) + 0.8 * math.log(0.8))
    assert bernoulli_entropy(mc)[0] == pytest.approx(LN2)
    assert bernoulli_mutual_information(mc)[0] == pytest.approx(LN2 - h02)
    assert single_bernoulli_entropy(np.array([[0.5], [1.0]])).tolist() == pytest.approx([LN2, 0.0])


def test_only_the_top_two_classes_count():
    h = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))  # noqa: E731
    assert bernoulli_entropy(box((0.9, 0.2, 0.1), 3))[0] == pytest.approx(h(0.9) + h(0.2))
    # 78 small scores of 80 classes would add 78 * H_b(0.005), about 2.4 nats; they are left out
    np.testing.assert_allclose(bernoulli_entropy(box((0.9, 0.2), 80, tail=0.005)), h(0.9) + h(0.2))


def test_zero_hits_get_the_maximum_for_any_c():
    for c in CLASS_COUNTS:
        mc = np.full((3, 1, c), np.nan)
        none = np.zeros((3, 1), bool)
        assert bernoulli_entropy(mc, hits=none)[0] == pytest.approx(upper(c))
        assert bernoulli_mutual_information(mc, hits=none)[0] == pytest.approx(upper(c))
