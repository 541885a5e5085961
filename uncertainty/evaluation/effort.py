"""Triage measured as effort: how much of the correction work lies in the images a score ranks first.

*Effort captured at k*: sort the images by the score, highest first, and take the top ``k`` share of them;
the effort captured is the share of all correction seconds that lies in those images. A random order
captures k on average, the oracle (the images sorted by their own correction seconds) the most any
order can. Unlike AUROC for "needs correction" it stays defined when every image needs a fix. Ties in
the score are broken at random, in expectation: the tied group that straddles the cut contributes its
mean seconds for each place it takes, so a constant score captures exactly k.

Failed images (no auto-label kept) have no per-box evidence, so a score that pools boxes gives them none.
:func:`ranking_key` puts them into the same ranking as the scored images by their miss estimate: every
image gets the probability that it needs a correction as calibrated on VAL (the method's own score for a
scored image; for a failed one, the correction rate of VAL's failed images as an isotonic function of
their miss estimate), ties broken by the score, or the miss estimate, itself.

Arrays are 1-D, one entry per image: scores (K,) float (higher = more work expected), seconds (K,) float
>= 0 (correction seconds under the cost model, or real lead times).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from uncertainty.calibration import Calibration, isotonic_fit, isotonic_predict

# The shares of the pool reviewed first, for the effort-captured curve (the k = 10 .. 50%).
EFFORT_SHARES = (0.1, 0.2, 0.3, 0.4, 0.5)
# Fewest VAL failed images with both outcomes for an isotonic fit on the miss estimate; else their rate.
MIN_FAILED_FIT = 10


def effort_captured(
    scores: np.ndarray, seconds: np.ndarray, *, shares: Sequence[float] = EFFORT_SHARES
) -> dict[float, float]:
    """Share of all ``seconds`` in the top ``k`` of images by ``scores``, for each k in ``shares``.

    scores: (K,) finite floats; seconds: (K,) finite, >= 0. k * K need not be whole: the image at the cut
    counts by the fraction taken. Returns {k: share in [0, 1]}; nan for every k when the seconds sum to 0
    or K == 0.
    """
    s, v = _check(scores, seconds)
    total = v.sum()
    if len(s) == 0 or total <= 0:
        return {float(k): math.nan for k in shares}
    # Expected seconds per place under random tie-breaking: each tied group's mean, spread over its places.
    order = np.argsort(-s, kind="stable")
    ranks = rankdata(-s, method="dense")[order]
    group_mean = np.bincount(ranks, weights=v[order]) / np.maximum(np.bincount(ranks), 1)
    per_place = group_mean[ranks]
    cumulative = np.concatenate([[0.0], np.cumsum(per_place)])
    out = {}
    for k in shares:
        if not 0 <= k <= 1:
            raise ValueError(f"shares must lie in [0, 1], got {k!r}")
        places = k * len(s)
        whole = int(math.floor(places))
        taken = cumulative[whole] + (places - whole) * (per_place[whole] if whole < len(s) else 0.0)
        out[float(k)] = float(taken / total)
    return out


def effort_summary(
    scores: np.ndarray, seconds: np.ndarray, *, shares: Sequence[float] = EFFORT_SHARES
) -> dict[str, Any]:
    """``effort_captured`` of ``scores`` with its yardsticks: {"captured", "random", "oracle"}, each
    {k: share}. random is k itself (the expectation of a random order); oracle ranks by ``seconds``.
    """
    return {
        "captured": effort_captured(scores, seconds, shares=shares),
        "random": {float(k): float(k) for k in shares},
        "oracle": effort_captured(seconds, seconds, shares=shares),
    }


def failed_calibration(
    val_missed: np.ndarray, val_labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | float:
    """How often VAL's failed images need a correction, as a function of their miss estimate.

    val_missed: (F,) miss estimates of VAL's failed images; val_labels: (F,) bool, needs correction.
    Returns isotonic knots (x, y) when there are at least ``MIN_FAILED_FIT`` images and both outcomes,
    else their correction rate (nan with no failed VAL image).
    """
    x, y = np.asarray(val_missed, np.float64), np.asarray(val_labels, bool)
    if len(x) == 0:
        return math.nan
    if len(x) < MIN_FAILED_FIT or y.all() or not y.any():
        return float(y.mean())
    return isotonic_fit(x, y.astype(np.float64))


def ranking_key(
    scores: np.ndarray,
    failed: np.ndarray,
    missed: np.ndarray,
    *,
    calibration: Calibration,
    failed_fit: tuple[np.ndarray, np.ndarray] | float,
) -> np.ndarray:
    """(K,) float ranks that order every image, failed ones included (module docstring).

    scores: (K,) the method's scores, nan where undefined (failed images); failed: (K,) bool; missed: (K,)
    miss estimates; calibration: the method's VAL calibration; failed_fit: :func:`failed_calibration`.
    A failed image with no fit of its own (no failed VAL image) takes VAL's base rate. Higher = ranked
    first; equal keys only for images equal on both the probability and the tie-breaker.
    """
    s = np.asarray(scores, np.float64)
    f = np.asarray(failed, bool) | np.isnan(s)
    m = np.asarray(missed, np.float64)
    p = np.zeros(len(s))
    if (~f).any():
        p[~f] = calibration.p_needs_correction(s[~f])
    if f.any():
        if isinstance(failed_fit, tuple):
            p[f] = isotonic_predict(*failed_fit, m[f])
        else:
            p[f] = calibration.base_rate if math.isnan(failed_fit) else failed_fit
    p = np.nan_to_num(p, nan=0.0)
    tie = np.zeros(len(s))
    for group, values in ((~f, s), (f, m)):
        if group.any():
            tie[group] = rankdata(np.nan_to_num(values[group]), method="average") / (group.sum() + 1)
    order = np.lexsort((tie, p))  # by p, then the tie-breaker
    key = np.empty(len(s))
    same = np.concatenate([[False], (np.diff(p[order]) == 0) & (np.diff(tie[order]) == 0)])
    key[order] = np.cumsum(~same)
    return key.astype(np.float64)


def band_effort(
    difficulty: np.ndarray,
    needs_correction: np.ndarray,
    correction_seconds: np.ndarray,
    errors: np.ndarray,
    bands: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """What each band holds, and what is left if it is accepted without review.

    difficulty: (K,) band names; needs_correction: (K,) bool; correction_seconds: (K,); errors: (K, 3)
    wrong-class, FP and FN counts. Returns {band: {n, rate (correction rate), seconds_per_image (mean
    correction seconds), errors_left {wrong_class, fp, fn, total}, share_of_seconds (of all images')}};
    rate and seconds_per_image are nan for an empty band.
    """
    d = np.asarray(difficulty, dtype=object)
    y = np.asarray(needs_correction, bool)
    sec = np.asarray(correction_seconds, np.float64)
    err = np.asarray(errors, np.int64).reshape(-1, 3)
    total = sec.sum()
    out: dict[str, dict[str, Any]] = {}
    for band in bands:
        mask = d == band
        n = int(mask.sum())
        left = err[mask].sum(0)
        out[band] = {
            "n": n,
            "rate": float(y[mask].mean()) if n else math.nan,
            "seconds_per_image": float(sec[mask].mean()) if n else math.nan,
            "errors_left": {
                "wrong_class": int(left[0]),
                "fp": int(left[1]),
                "fn": int(left[2]),
                "total": int(left.sum()),
            },
            "share_of_seconds": float(sec[mask].sum() / total) if total > 0 else math.nan,
        }
    return out


def effort_table(methods: Mapping[str, Mapping[str, Any]], *, order: Sequence[str]) -> str:
    """Plain text: effort captured at each k for the methods in ``order``, then random and the oracle.

    methods: name -> a method's figures with ``effort`` (:func:`effort_summary`, or its JSON round trip,
    whose keys are strings).
    """
    first = next((methods[n]["effort"] for n in order if methods[n].get("effort")), None)
    if first is None:
        return "Effort captured: undefined (no correction seconds)"
    ks = list(first["captured"])
    head = " ".join(f"{'top ' + format(float(k), '.0%'):>8s}" for k in ks)
    lines = [f"{'method':36s} {head}"]

    def row(name: str, shares: Mapping[Any, float | None]) -> str:
        cells = " ".join(f"{_share(shares[k]):>8s}" for k in ks)
        return f"{name:36s} {cells}"

    lines += [row(name, methods[name]["effort"]["captured"]) for name in order if methods[name].get("effort")]
    lines += [row("(random order)", first["random"]), row("(oracle order)", first["oracle"])]
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "undefined" if value is None or math.isnan(value) else f"{value:.3f}"


def _check(scores: np.ndarray, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, v = np.asarray(scores, np.float64), np.asarray(seconds, np.float64)
    if s.ndim != 1 or s.shape != v.shape:
        raise ValueError(f"scores and seconds must be 1-D of equal length, got {s.shape} and {v.shape}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(v))) or np.any(v < 0):
        raise ValueError("scores must be finite and seconds finite and >= 0")
    return s, v
