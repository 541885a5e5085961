"""What every per-box score shares: distributions, entropies, input checks and hit-weighted means.

Shapes and conventions: :mod:`uncertainty.scores`. The underscored helpers are for the score modules of
this package only.
"""

from __future__ import annotations

import numpy as np

# A sigmoid row whose sum is at most this carries no class evidence and is normalised to uniform.
NORMALISE_EPS = 1e-12
# Classes per box that the Bernoulli scores sum over: the top class and the runner-up (class_scores.py).
BERNOULLI_CLASSES = 2
# Box areas below this (pixels^2) count as degenerate; their spread is computed against this floor.
MIN_BOX_AREA = 1e-12


# ---------------------------------------------------------------- distributions


def normalise(probs: np.ndarray, *, eps: float = NORMALISE_EPS) -> np.ndarray:
    """Turn nonnegative class scores into a distribution over the last axis.

    probs: (..., C) nonnegative scores (sigmoid rows). Returns (..., C) float64 whose rows sum to 1:
    ``p / p.sum(-1)``, or uniform ``1 / C`` where the row sums to <= ``eps``.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim < 1 or p.shape[-1] < 1:
        raise ValueError(f"probs must have shape (..., C) with C >= 1, got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probs must be finite and nonnegative")
    total = p.sum(axis=-1, keepdims=True)
    empty = total <= eps
    return np.where(empty, 1.0 / p.shape[-1], p / np.where(empty, 1.0, total))


def entropy(dist: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats of distributions over the last axis, with 0 log 0 = 0.

    dist: (..., C), rows already summing to 1 (use ``normalise`` first; this function does not).
    Returns (...) float64 in [0, log C] (clipped there against float noise).
    """
    q = np.asarray(dist, dtype=np.float64)
    if q.ndim < 1 or q.shape[-1] < 1:
        raise ValueError(f"dist must have shape (..., C) with C >= 1, got {q.shape}")
    plogp = q * np.log(np.where(q > 0, q, 1.0))
    return np.clip(-plogp.sum(axis=-1), 0.0, np.log(q.shape[-1]))


def binary_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in nats of Bernoulli variables with success probabilities ``probs``, elementwise.

    probs: any shape, values in [0, 1]. Returns the same shape, float64, in [0, ln 2]; 0 at 0 and 1.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    q = 1.0 - p
    h = -(p * np.log(np.where(p > 0, p, 1.0)) + q * np.log(np.where(q > 0, q, 1.0)))
    return np.clip(h, 0.0, np.log(2.0))


# ---------------------------------------------------------------- validation and hit-weighted means


def _check_scores(values: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
        raise ValueError(f"{name} must hold sigmoid scores in [0, 1] (on hit passes)")


def _check_hits(hits: np.ndarray | None, shape: tuple[int, int], name: str = "hits") -> np.ndarray:
    if hits is None:
        return np.ones(shape, dtype=bool)
    h = np.asarray(hits)
    if h.shape != shape:
        raise ValueError(f"{name} must have shape (T, N) = {shape}, got {h.shape}")
    if h.dtype != bool:
        if not (np.issubdtype(h.dtype, np.integer) and np.all((h == 0) | (h == 1))):
            raise ValueError(f"{name} must be a bool array of shape (T, N), got dtype {h.dtype}")
        h = h.astype(bool)
    return h


def _mc_inputs(mc_probs: np.ndarray, hits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Validated (T, N, C) float64 scores and (T, N) bool hits (None: all hit); missed entries are zeroed so
    they cannot leak. ValueError on a bad shape, or a hit score outside [0, 1]."""
    p = np.asarray(mc_probs, dtype=np.float64)
    if p.ndim != 3 or p.shape[0] < 1 or p.shape[2] < 1:
        raise ValueError(f"mc_probs must have shape (T, N, C) with T >= 1 and C >= 1, got {p.shape}")
    h = _check_hits(hits, p.shape[:2])
    p = np.where(h[..., None], p, 0.0)
    _check_scores(p, "mc_probs")
    return p, h


def _single_input(probs: np.ndarray) -> np.ndarray:
    """Validated (N, C) float64 sigmoid scores of one pass; ValueError on a bad shape or value."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probs must have shape (N, C) with C >= 1, got {p.shape}")
    _check_scores(p, "probs")
    return p


def _hit_mean(values: np.ndarray, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over hit passes: values (T, N, K), hits (T, N) -> ((N, K) mean, (N,) hit count).

    Boxes with zero hits get a mean of 0 (callers overwrite them with their maximal value).
    """
    count = hits.sum(axis=0)
    total = np.where(hits[..., None], values, 0.0).sum(axis=0)
    return total / np.maximum(count, 1)[:, None], count


def _mean_dist(p: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pass distributions (T, N, C), their hit mean (N, C) and the hit count (N,)."""
    q = normalise(p)
    mean_q, count = _hit_mean(q, h)
    return q, mean_q, count


def _margin_of(dist: np.ndarray) -> np.ndarray:
    if dist.shape[-1] == 1:  # one class: the runner-up has probability 0
        return np.clip(1.0 - dist[..., 0], 0.0, 1.0)
    top = np.partition(dist, dist.shape[-1] - 2, axis=-1)
    return np.clip(1.0 - (top[..., -1] - top[..., -2]), 0.0, 1.0)


def _least_confidence_of(dist: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - dist.max(axis=-1), 0.0, 1.0 - 1.0 / dist.shape[-1])
