"""experiments.stats: t quantiles, summaries over seeds and paired differences."""

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.stats import paired_difference, summarize, t_critical


@pytest.mark.parametrize(
    ("df", "confidence", "expected"),
    [
        (1, 0.95, 12.706),
        (2, 0.95, 4.303),
        (4, 0.95, 2.776),
        (9, 0.95, 2.262),
        (30, 0.95, 2.042),
        (1000, 0.95, 1.962),
        (4, 0.99, 4.604),
        (30, 0.99, 2.750),
        (1, 0.99, 63.657),
        (4, 0.90, 2.132),
        (30, 0.90, 1.697),
        (100, 0.90, 1.660),
    ],
)
def test_t_critical_matches_tables(df, confidence, expected):
    assert t_critical(df, confidence=confidence) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
def test_t_critical_closed_forms_and_normal_limit(confidence):
    # df=1 is Cauchy and df=2 has a closed form; as df grows t tends to the normal quantile.
    assert t_critical(1, confidence=confidence) == pytest.approx(math.tan(math.pi * confidence / 2), rel=1e-9)
    assert t_critical(2, confidence=confidence) == pytest.approx(
        math.sqrt(2 * confidence**2 / (1 - confidence**2)), rel=1e-9
    )
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    assert t_critical(10**6, confidence=confidence) == pytest.approx(z, abs=1e-5)
    assert t_critical(10**8, confidence=confidence) == pytest.approx(z, abs=1e-6)


def test_t_critical_falls_with_df_and_rises_with_confidence():
    values = [t_critical(df) for df in (1, 2, 3, 5, 10, 30, 100, 1000)]
    assert np.all(np.diff(values) < 0)
    assert t_critical(5, confidence=0.90) < t_critical(5) < t_critical(5, confidence=0.99)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1, float("nan")])
def test_t_critical_rejects_bad_confidence(confidence):
    with pytest.raises(ValueError, match="confidence"):
        t_critical(4, confidence=confidence)


@pytest.mark.parametrize("df", [0, -1, 2.5, True])
def test_t_critical_rejects_bad_df(df):
    with pytest.raises(ValueError, match="df"):
        t_critical(df)


def test_summarize_known_numbers():
    s = summarize([1, 2, 3, 4, 5])
    assert s["mean"] == pytest.approx(3.0)
    assert s["std"] == pytest.approx(1.5811, abs=1e-4)
    half = 2.776445 * 1.5811388 / math.sqrt(5)
    assert s["ci95"] == pytest.approx([3 - half, 3 + half], abs=1e-5)
    assert s["ci95"] == pytest.approx([1.0368, 4.9632], abs=1e-4)
    assert s["n"] == 5 and s["values"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert s["confidence"] == 0.95


def test_summarize_wider_interval_at_higher_confidence():
    lo90, hi90 = summarize([1, 2, 3, 4, 5], confidence=0.90)["ci95"]
    lo99, hi99 = summarize([1, 2, 3, 4, 5], confidence=0.99)["ci95"]
    assert lo99 < 1.0368 < lo90 and hi90 < 4.9632 < hi99


def test_summarize_single_value_has_no_spread():
    s = summarize([0.7])
    assert s["mean"] == 0.7 and s["n"] == 1
    assert math.isnan(s["std"]) and all(math.isnan(v) for v in s["ci95"])


def test_summarize_empty_and_all_nan():
    for values in ([], [float("nan")] * 3):
        s = summarize(values)
        assert s["n"] == 0 and s["values"] == [] and math.isnan(s["mean"])


def test_summarize_drops_nan():
    s = summarize([1.0, float("nan"), 2.0, 3.0, float("nan"), 4.0, 5.0])
    assert s["n"] == 5 and s["mean"] == pytest.approx(3.0)
    assert s["ci95"] == pytest.approx(summarize([1, 2, 3, 4, 5])["ci95"])


def test_summarize_constant_values_have_a_point_interval():
    s = summarize([2.0, 2.0, 2.0])
    assert s["std"] == 0.0 and s["ci95"] == [2.0, 2.0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=20))
def test_summarize_interval_contains_the_mean(values):
    s = summarize(values)
    lo, hi = s["ci95"]
    assert lo <= s["mean"] + 1e-9 * (1 + abs(s["mean"])) and s["mean"] <= hi + 1e-9 * (1 + abs(s["mean"]))


def test_paired_difference_clear_win():
    b = np.array([0.40, 0.50, 0.45, 0.55, 0.48])
    d = paired_difference(b + np.array([0.10, 0.11, 0.09, 0.10, 0.12]), b)
    assert d["significant"] and d["direction"] == "a>b"
    assert d["mean"] == pytest.approx(0.104) and d["n"] == 5
    flipped = paired_difference(b, b + 0.1 + np.array([0.0, 0.01, -0.01, 0.0, 0.02]))
    assert flipped["significant"] and flipped["direction"] == "a<b"


def test_paired_difference_noise_is_not_significant():
    a = [0.50, 0.42, 0.61, 0.47, 0.55]
    b = [0.48, 0.49, 0.52, 0.55, 0.50]
    d = paired_difference(a, b)
    assert not d["significant"] and d["direction"] == "not significant"
    lo, hi = d["ci95"]
    assert lo < 0 < hi


def test_paired_difference_pairing_removes_shared_seed_variance():
    # Seeds vary a lot but a beats b by ~0.02 on every one: unpaired intervals overlap, the paired one is > 0.
    b = np.array([0.2, 0.5, 0.8, 0.35, 0.65])
    a = b + np.array([0.02, 0.021, 0.019, 0.02, 0.022])
    lo_a, _ = summarize(a)["ci95"]
    _, hi_b = summarize(b)["ci95"]
    assert lo_a < hi_b
    assert paired_difference(a, b)["direction"] == "a>b"


def test_paired_difference_drops_pairs_with_nan():
    d = paired_difference([1.0, float("nan"), 3.0, 4.0], [0.5, 1.0, float("nan"), 3.0])
    assert d["n"] == 2 and d["values"] == [0.5, 1.0]


def test_paired_difference_single_pair_is_never_significant():
    d = paired_difference([10.0], [0.0])
    assert d["n"] == 1 and not d["significant"] and d["direction"] == "not significant"


def test_paired_difference_needs_equal_lengths():
    with pytest.raises(ValueError, match="length"):
        paired_difference([1.0, 2.0], [1.0])
