"""The doubt that an auto-label is right: monotone over the whole [threshold, 1] range, any C, MC variants."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from uncertainty.scores import (
    bernoulli_entropy,
    label_bald,
    label_doubt,
    label_doubt_spread,
    label_probability,
    single_bernoulli_entropy,
    single_label_doubt,
)

FAST = settings(max_examples=60, deadline=None)
CLASS_COUNTS = (1, 2, 6, 80)
unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
threshold = st.floats(0.01, 0.95, allow_nan=False)


def row(top: float, c: int, *, runner_up: float = 0.01, tail: float = 0.001) -> np.ndarray:
    """(C,) class scores: ``top`` for class 0, ``runner_up`` for class 1 (when C > 1), ``tail`` elsewhere."""
    r = np.full(c, tail)
    r[0] = top
    if c > 1:
        r[1] = runner_up
    return r


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("c", CLASS_COUNTS)
def test_a_box_at_010_is_more_doubtful_than_at_045_and_at_090(c):
    """The issue's case: the Bernoulli entropy calls a 0.10 box surer than a 0.45 one; the doubt does not."""
    probs = np.stack([row(p, c) for p in (0.10, 0.45, 0.90)])
    labels = np.zeros(3, np.int64)
    doubt = single_label_doubt(probs, labels=labels)
    assert doubt[0] > doubt[1] > doubt[2]
    mc = label_doubt(np.stack([probs] * 4), labels=labels)
    assert mc[0] > mc[1] > mc[2]
    entropy = single_bernoulli_entropy(probs)
    assert entropy[0] < entropy[1]  # what went wrong before, kept as a named alternative


@FAST
@given(
    threshold,
    st.lists(unit, min_size=2, max_size=8),
    st.sampled_from(CLASS_COUNTS),
    st.floats(0.0, 0.99),
)
def test_single_pass_doubt_falls_as_the_labeled_score_rises_over_the_kept_range(thr, fractions, c, other):
    """For every threshold and any runner-up score: strictly decreasing in the labeled class's score."""
    tops = np.sort(thr + (1 - thr) * np.asarray(fractions))
    assume(np.all(np.diff(tops) > 1e-9))
    probs = np.stack([row(t, c, runner_up=min(other, t)) for t in tops])
    doubt = single_label_doubt(probs, labels=np.zeros(len(tops), np.int64))
    assert np.all(np.diff(doubt) < 0)
    assert np.all((doubt >= 0) & (doubt <= 1))


@FAST
@given(threshold, st.lists(unit, min_size=2, max_size=6), st.sampled_from(CLASS_COUNTS), st.data())
def test_mc_doubt_falls_when_every_pass_is_surer(thr, fractions, c, data):
    """The same dropout noise (in logits) on a surer box: the MC doubt is lower, over [threshold, 1]."""
    t = data.draw(st.integers(1, 6))
    noise = data.draw(arrays(np.float64, (t,), elements=st.floats(-2.0, 2.0)))
    tops = np.sort(thr + (1 - thr) * np.asarray(fractions))
    assume(np.all(np.diff(tops) > 1e-6) and tops[-1] < 1 - 1e-6)
    passes = sigmoid(logit(tops)[None, :] + noise[:, None])  # (T, N)
    probs = np.stack([[row(p, c) for p in pass_] for pass_ in passes])  # (T, N, C)
    doubt = label_doubt(probs, labels=np.zeros(len(tops), np.int64))
    assert np.all(np.diff(doubt) < 0)


@FAST
@given(unit, unit, st.sampled_from([2, 6, 80]))
def test_class_confusion_adds_doubt(top, other, c):
    """A higher runner-up (another class claims the box) never makes the auto-label surer."""
    low, high = sorted((other * top, top))
    probs = np.stack([row(top, c, runner_up=low), row(top, c, runner_up=high)])
    doubt = single_label_doubt(probs, labels=np.zeros(2, np.int64))
    assert doubt[1] >= doubt[0] - 1e-12


def test_probability_of_right_label_matches_its_formula():
    probs = np.array([[0.9, 0.9], [0.9, 0.01], [0.0, 0.0], [0.3, 0.6]])
    r = label_probability(probs, np.array([0, 0, 0, 0]))
    assert r == pytest.approx([0.9 * (1 - 0.81 / 1.8), 0.9 * (1 - 0.009 / 0.91), 0.0, 0.3 * (1 - 0.18 / 0.9)])
    assert label_probability(np.array([[0.7]]), np.array([0])) == pytest.approx([0.7])  # C == 1: p itself


@FAST
@given(st.sampled_from(CLASS_COUNTS), st.data())
def test_bounds_shapes_and_agreement(c, data):
    t, n = data.draw(st.integers(1, 5)), data.draw(st.integers(0, 4))
    probs = data.draw(arrays(np.float64, (t, n, c), elements=unit))
    hits = data.draw(arrays(np.bool_, (t, n)))
    for h in (None, hits):
        d, s, b = label_doubt(probs, hits=h), label_doubt_spread(probs, hits=h), label_bald(probs, hits=h)
        assert d.shape == s.shape == b.shape == (n,)
        assert np.all((d >= 0) & (d <= 1)) and np.all((s >= 0) & (s <= 0.5))
        assert np.all((b >= 0) & (b <= math.log(2) + 1e-12))
    agree = np.repeat(probs[:1], t, axis=0)
    assert np.allclose(label_doubt_spread(agree), 0) and np.allclose(label_bald(agree), 0, atol=1e-12)
    assert np.allclose(label_doubt(agree), single_label_doubt(probs[0]))


def test_disagreeing_passes_raise_spread_and_bald_at_the_same_mean():
    calm = np.array([[[0.5]], [[0.5]], [[0.5]], [[0.5]]])
    torn = np.array([[[0.1]], [[0.9]], [[0.1]], [[0.9]]])
    assert label_doubt(calm) == pytest.approx(label_doubt(torn))
    assert label_doubt_spread(torn)[0] > label_doubt_spread(calm)[0] == 0
    assert label_bald(torn)[0] > label_bald(calm)[0] == pytest.approx(0)


def test_missed_passes_are_ignored_and_a_box_no_pass_finds_is_most_doubtful():
    probs = np.array([[[0.9, 0.1]], [[np.nan, np.nan]], [[0.9, 0.1]]])
    hits = np.array([[True], [False], [True]])
    assert label_doubt(probs, hits=hits) == pytest.approx(single_label_doubt(probs[0]))
    none = np.zeros((3, 1), bool)
    assert label_doubt(probs, hits=none) == [1.0]
    assert label_doubt_spread(probs, hits=none) == [0.5]
    assert label_bald(probs, hits=none) == [pytest.approx(math.log(2))]


def test_the_labeled_class_is_the_auto_labels_class_not_the_pass_mean_argmax():
    probs = np.array([[[0.5, 0.6]], [[0.5, 0.6]]])
    as_labeled = label_doubt(probs, labels=np.array([0]))
    as_argmax = label_doubt(probs)
    assert as_labeled[0] > as_argmax[0]  # labeled with the weaker class: more doubt


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="labels"):
        single_label_doubt(np.array([[0.5, 0.5]]), labels=np.array([2]))
    with pytest.raises(ValueError, match="labels"):
        label_doubt(np.zeros((2, 1, 2)), labels=np.array([0, 1]))


def test_bernoulli_entropy_is_not_monotone_below_one_half():
    """The flaw of the Bernoulli entropy for kept boxes at 0.1 and 0.45, which the doubt does not have."""
    probs = np.array([[[0.10]], [[0.45]]]).reshape(1, 2, 1)
    h = bernoulli_entropy(probs)
    assert h[0] < h[1]
    assert label_doubt(probs)[0] > label_doubt(probs)[1]
