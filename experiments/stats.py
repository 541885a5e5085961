"""Statistics over seeds: mean, spread and a Student t confidence interval, alone and for paired runs.

An experiment is repeated over seeds and every comparison reports ``summarize`` of the per-seed metric,
never a single run. Paired comparisons (CAL2 vs CONTROL trained from the same split and seed) use
``paired_difference``: the interval of the mean per-seed difference, which removes the seed-to-seed
variance both runs share.

The t quantile is ``scipy.stats.t.ppf``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import t as t_distribution

# --- tuning constants -------------------------------------------------------------------------------
# Default two-sided confidence of every interval (the "95%" of "mean with 95% CI").
DEFAULT_CONFIDENCE = 0.95


# --- Student t quantile -----------------------------------------------------------------------------
def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:  # also rejects nan
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence}")
    return confidence


def t_critical(df: int, *, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Two-sided Student t quantile: the t with P(|T| <= t) = ``confidence`` for ``df`` degrees of freedom.

    df: int >= 1 (n - 1 for a mean of n values). confidence: any level in (0, 1), e.g. df=4: 2.776 at 0.95,
    4.604 at 0.99, 2.132 at 0.90 (``scipy.stats.t.ppf``; the normal quantile as df grows).
    Raises ValueError naming 'df' or 'confidence' for values outside those ranges.
    """
    confidence = _check_confidence(confidence)
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"df must be an int >= 1, got {df!r}")
    return float(t_distribution.ppf(0.5 + confidence / 2.0, int(df)))


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
