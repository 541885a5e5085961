"""Metrics of a score against per-image (or per-box) outcomes: AUROC, average precision, expected
calibration error and the correction rate per band, used to fit and to judge the difficulty calibration
(:mod:`uncertainty.calibration`).

Arrays are 1-D, one entry each: scores or probabilities (K,) float (higher = more likely label 1; nan
entries are dropped with their labels), labels (K,) bool or 0/1.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from autolabel.records import BANDS, FAILED

# Equal-width bins on [0, 1] for the expected calibration error (the common choice, Guo et al. 2017).
DEFAULT_ECE_BINS = 10


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of scores ranking label-1 images above label-0 ones (``roc_auc_score``).

    scores: (K,) float, nan dropped with their labels; labels: (K,) bool or 0/1. A tied positive/negative
    pair counts 1/2. nan when either class is absent (the AUROC is undefined).
    """
    s, y = paired(scores, labels, "scores")
    if y.all() or not y.any():
        return math.nan
    return float(roc_auc_score(y, s))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision of scores retrieving label-1 images, highest score first.

    scores: (K,) float, nan dropped with their labels; labels: (K,) bool or 0/1. ``average_precision_score``:
    sum over score groups g (tied scores form one rank) of recall gained at g times precision through g.
    nan if no positive.
    """
    s, y = paired(scores, labels, "scores")
    if not y.any():
        return math.nan
    return float(average_precision_score(y, s))


def expected_calibration_error(p: np.ndarray, labels: np.ndarray, *, bins: int = DEFAULT_ECE_BINS) -> float:
    """Expected calibration error: sum over bins of (n_bin / n) * |mean p in bin - label rate in bin|.

    p: (K,) probabilities in [0, 1], nan dropped with their labels; labels: (K,) bool or 0/1;
    bins: equal-width bins on [0, 1] (p == 1 falls in the last). nan when no p is left.
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be an int >= 1, got {bins!r}")
    q, y = paired(p, labels, "p")
    if np.any((q < 0) | (q > 1)):
        raise ValueError("p must lie in [0, 1]")
    if len(q) == 0:
        return math.nan
    idx = np.minimum((q * bins).astype(np.int64), bins - 1)
    sum_p = np.bincount(idx, weights=q, minlength=bins)
    sum_y = np.bincount(idx, weights=y.astype(np.float64), minlength=bins)
    return float(np.abs(sum_p - sum_y).sum() / len(q))  # n_b/n * |sum_p/n_b - sum_y/n_b|, summed


def band_rates(difficulty: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """Correction rate per band: {band: {"n": int, "rate": float}} for easy, medium, hard and failed.

    difficulty: (K,) band names as from ``Calibration.difficulty``; labels: (K,) bool or 0/1.
    rate is nan for a band with n == 0.
    """
    d = np.asarray(difficulty, dtype=object)
    y = binary(labels, "labels")
    if d.shape != y.shape or d.ndim != 1:
        raise ValueError(f"difficulty and labels must be 1-D of equal length, got {d.shape} and {y.shape}")
    names = (*BANDS, FAILED)
    unknown = set(d.tolist()) - set(names)
    if unknown:
        raise ValueError(f"difficulty has unknown band names {sorted(map(str, unknown))}; expected {names}")
    out: dict[str, dict] = {}
    for name in names:
        mask = d == name
        k = int(mask.sum())
        out[name] = {"n": k, "rate": float(y[mask].mean()) if k else math.nan}
    return out


def binary(labels: np.ndarray, name: str) -> np.ndarray:
    """(K,) bool or 0/1 -> (K,) bool; anything else is a ValueError."""
    arr = np.asarray(labels)
    if arr.dtype == bool:
        return arr
    values = arr.astype(np.float64)
    if not np.all((values == 0) | (values == 1)):
        raise ValueError(f"{name} must be bool or 0/1")
    return values == 1


def paired(values: np.ndarray, labels: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Check (K,) float values against (K,) binary labels; drop entries whose value is nan."""
    v = np.asarray(values, dtype=np.float64)
    y = binary(labels, "labels")
    if v.ndim != 1 or v.shape != y.shape:
        raise ValueError(f"{name} and labels must be 1-D of equal length, got {v.shape} and {y.shape}")
    keep = ~np.isnan(v)
    return v[keep], y[keep]
