"""Statistics over seeds: mean, spread and a Student t confidence interval, alone and for paired runs.

An experiment is repeated over seeds and every comparison reports ``summarize`` of the per-seed metric,
never a single run. Paired comparisons (CAL2 vs CONTROL trained from the same split and seed) use
``paired_difference``: the interval of the mean per-seed difference, which removes the seed-to-seed
variance both runs share.

The t quantile is computed without scipy: the two-sided tail of Student's t with ``df`` degrees of
freedom is the regularized incomplete beta ``I_{df / (df + t^2)}(df / 2, 1 / 2)`` (Abramowitz & Stegun
26.7.1 with 26.5.27), evaluated by its continued fraction (modified Lentz) and inverted by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

# --- tuning constants -------------------------------------------------------------------------------
# Default two-sided confidence of every interval (the "95%" of "mean with 95% CI").
DEFAULT_CONFIDENCE = 0.95
# Continued fraction of the incomplete beta: stop when a step changes the value by less than this
# relative amount (about machine precision, so the quantile is exact to far better than 1e-3).
BETA_CF_TOLERANCE = 1e-15
# Continued fraction: give up after this many terms. Near a t quantile it converges in well under a
# hundred terms for any df (the symmetry switch keeps x small), so this is only a safety net.
BETA_CF_MAX_TERMS = 10_000
# Above this many degrees of freedom t_critical returns the normal quantile (t -> z as df -> inf; at
# df = 10^7 the two differ by ~ z^3 / (4 df) < 1e-6).
NORMAL_DF = 10_000_000
# Bisection on t stops when the bracket is narrower than this relative width.
BISECTION_RTOL = 1e-13
# Floor for the Lentz recurrence's denominators (avoids division by an exact zero).
LENTZ_TINY = 1e-300


# --- Student t quantile -----------------------------------------------------------------------------
def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    """Continued fraction of the incomplete beta (Numerical Recipes ``betacf``, modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > LENTZ_TINY else LENTZ_TINY)
    h = d
    for m in range(1, BETA_CF_MAX_TERMS + 1):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > LENTZ_TINY else LENTZ_TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > LENTZ_TINY else LENTZ_TINY
            step = c * d
            h *= step
        if abs(step - 1.0) < BETA_CF_TOLERANCE:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (x={x}, a={a}, b={b})")


def _regularized_beta(x: float, a: float, b: float, *, x_complement: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1 and a, b > 0.

    ``x_complement`` is 1 - x computed by the caller without cancellation (x is often within 1e-10 of 1).
    """
    if x <= 0.0:
        return 0.0
    if x_complement <= 0.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(x_complement)
    )
    front = math.exp(log_front)
    # The fraction converges fast only for x < (a + 1) / (a + b + 2); otherwise use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(x, a, b) / a
    return 1.0 - front * _beta_continued_fraction(x_complement, b, a) / b


def _two_sided_tail(t: float, df: float) -> float:
    """P(|T| > t) for Student's t with ``df`` degrees of freedom, t >= 0."""
    denominator = df + t * t
    return _regularized_beta(df / denominator, df / 2.0, 0.5, x_complement=t * t / denominator)


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:  # also rejects nan
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence}")
    return confidence


def t_critical(df: int, *, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Two-sided Student t quantile: the t with P(|T| <= t) = ``confidence`` for ``df`` degrees of freedom.

    df: int >= 1 (n - 1 for a mean of n values). confidence: any level in (0, 1); accurate to ~1e-10
    (e.g. df=4: 2.776 at 0.95, 4.604 at 0.99, 2.132 at 0.90). Above ``NORMAL_DF`` the normal quantile.
    Raises ValueError naming 'df' or 'confidence' for values outside those ranges.
    """
    confidence = _check_confidence(confidence)
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df must be an int >= 1, got {df!r}")
    df = int(df)
    alpha = 1.0 - confidence
    if df == 1:  # Cauchy: closed form, and its tail is too heavy for a quick bracket
        return math.tan(math.pi * confidence / 2.0)
    if df == 2:  # closed form: P(|T| <= t) = t / sqrt(2 + t^2)
        return math.sqrt(2.0 * confidence**2 / (1.0 - confidence**2))
    if df > NORMAL_DF:
        return NormalDist().inv_cdf(1.0 - alpha / 2.0)
    lo, hi = 0.0, 1.0
    while _two_sided_tail(hi, df) > alpha:  # the tail falls as t grows: double until it brackets
        lo, hi = hi, 2.0 * hi
    while hi - lo > BISECTION_RTOL * hi:
        mid = 0.5 * (lo + hi)
        if _two_sided_tail(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# --- summaries --------------------------------------------------------------------------------------
def summarize(values: Sequence[float], *, confidence: float = DEFAULT_CONFIDENCE) -> dict:
    """Mean, spread and confidence interval of one metric over seeds.

    values: (S,) floats, one per seed; nan entries (a run that produced no value) are dropped first.
    Returns a JSON-ready dict:
      ``mean``: float (nan when no value is left),
      ``std``: sample standard deviation (ddof=1), nan for n < 2,
      ``ci95``: [lo, hi], the Student t interval of the mean at ``confidence`` (the key keeps its name
      for any level; 0.95 by default), [nan, nan] for n < 2,
      ``confidence``: the level of that interval, ``n``: values kept, ``values``: the kept values.
    """
    confidence = _check_confidence(confidence)
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[~np.isnan(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    if n >= 2:
        std = float(x.std(ddof=1))
        half = t_critical(n - 1, confidence=confidence) * std / math.sqrt(n)
        ci = [mean - half, mean + half]
    else:
        std, ci = math.nan, [math.nan, math.nan]
    return {
        "mean": mean,
        "std": std,
        "ci95": ci,
        "confidence": confidence,
        "n": n,
        "values": [float(v) for v in x],
    }


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = DEFAULT_CONFIDENCE
) -> dict:
    """Paired comparison of two runs over the same seeds: ``summarize`` of ``a - b`` per pair.

    a, b: (S,) floats, entry i of both from seed i (e.g. CAL2 and CONTROL mAP); a pair with a nan in
    either is dropped. Adds ``significant``: the interval excludes 0 (never for n < 2), and
    ``direction``: "a>b" | "a<b" | "not significant".
    Raises ValueError when a and b differ in length.
    """
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"a and b must pair up one value per seed, got lengths {x.size} and {y.size}")
    out = summarize(x - y, confidence=confidence)  # nan - anything is nan: dropped by summarize
    lo, hi = out["ci95"]
    if lo > 0.0:  # comparisons with nan are False: n < 2 is never significant
        direction = "a>b"
    elif hi < 0.0:
        direction = "a<b"
    else:
        direction = "not significant"
    out["significant"] = direction != "not significant"
    out["direction"] = direction
    return out
