r"""Diverse batches over per-image embeddings: k-center greedy, k-means++ seeding, and the hybrid.

Records carry an ``embedding`` when the auto-label job ran with ``uncertainty.embedding=true``: the
detector's own neck features, pooled per image and L2-normalised (``pool_neck_features`` in
``uncertainty/mc_dropout.py``). A batch of the most uncertain images can be a batch of near-copies (one
imaging line, one defect); spreading it over the embedding space labels more of what the pool holds.

Orderings are pure functions over arrays, ``order(features, k, *, rng, scores=None) -> (picks, values)``:

- :func:`k_center_greedy` (Sener and Savarese 2018, "core-set"): each pick is the image farthest from
  every earlier pick, so the batch covers the pool with the smallest radius. It starts at the highest
  score when ``scores`` are given, else at a random image.
- :func:`kmeans_pp` (Arthur and Vassilvitskii 2007, scikit-learn's ``kmeans_plusplus``): each pick drawn
  with probability proportional to its squared distance to the earlier picks (times its score when
  ``scores`` are given, BADGE-like: uncertain *and* far), best of a few draws per pick.

``picks`` are positions into ``features`` in pick order; ``values`` the distance of each pick to the
nearest earlier one (nan for the first): how much new ground it covered.

:class:`DiverseSelection` applies an ordering to the eligible pool (``candidates=None``: pure diversity),
or to the ``candidates`` x budget most uncertain images (the hybrid, as PPAL (CVPR 2024) takes 4x the
budget by uncertainty and then a diverse batch among them). Orderings are chosen with Hydra
(``_partial_: true``), not by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.cluster import kmeans_plusplus

from autolabel.records import ImageRecord
from autolabel.review.selection import budget_size, check_budget, eligible_positions, rank_by_score
from autolabel.review.strategy import Selection

# (features (N, D), k, *, rng, scores (N,) | None) -> (picks (k,) int64, values (k,) float64)
Ordering = Callable[..., tuple[np.ndarray, np.ndarray]]

# --- tuning constants -------------------------------------------------------------------------------
WEIGHT_FLOOR = 1e-6  # k-means++ weight of an image without a score (or a zero one): drawn last
BLOCK_ROWS = 1024  # rows per pairwise-distance block of coverage_distances (memory: BLOCK_ROWS x k floats)


def _check(features: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features must be finite")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return x, min(int(k), len(x))


def coverage_distances(features: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """(k,) Euclidean distance of each pick to the nearest earlier pick (nan for the first).

    features: (N, D); picks: (k,) positions in pick order. Computed in blocks of :data:`BLOCK_ROWS` rows.
    """
    x = np.asarray(features, dtype=np.float32)[np.asarray(picks, dtype=np.int64)]
    out = np.full(len(x), np.nan)
    sq = np.einsum("ij,ij->i", x, x)
    for start in range(1, len(x), BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, len(x))
        d2 = sq[start:stop, None] - 2.0 * x[start:stop] @ x[:stop].T + sq[None, :stop]  # (b, stop)
        rows = np.arange(start, stop)
        d2[np.arange(stop)[None, :] >= rows[:, None]] = np.inf  # only earlier picks count
        out[start:stop] = np.sqrt(np.maximum(d2.min(1), 0.0))
    return out


def k_center_greedy(
    features: np.ndarray, k: int, *, rng: np.random.Generator, scores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """k picks, each the point farthest from all earlier picks (ties: the lowest position).

    features: (N, D) floats; k: picks wanted (at most N); scores: (N,) higher = more uncertain (nan =
    none): the first pick is the highest score; without any, the first pick is drawn from ``rng``.
    Returns (picks (k,) int64, values (k,) float64: the distance each pick had to the nearest earlier one,
    nan for the first). O(k N D).
    """
    x, k = _check(features, k)
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    s = None if scores is None else np.asarray(scores, dtype=np.float64)
    first = int(np.nanargmax(s)) if s is not None and np.isfinite(s).any() else int(rng.integers(len(x)))
    sq = np.einsum("ij,ij->i", x, x)
    picks, values = [first], [math.nan]
    nearest = np.maximum(sq - 2.0 * (x @ x[first]) + sq[first], 0.0)  # (N,) squared distance to the picks
    nearest[first] = -1.0
    for _ in range(k - 1):
        nxt = int(np.argmax(nearest))
        picks.append(nxt)
        values.append(math.sqrt(float(nearest[nxt])))
        np.minimum(nearest, np.maximum(sq - 2.0 * (x @ x[nxt]) + sq[nxt], 0.0), out=nearest)
        nearest[nxt] = -1.0  # never picked twice, even among duplicate points
    return np.array(picks, dtype=np.int64), np.array(values, dtype=np.float64)


def kmeans_pp(
    features: np.ndarray,
    k: int,
    *,
    rng: np.random.Generator,
    scores: np.ndarray | None = None,
    n_local_trials: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """k picks by k-means++ seeding (scikit-learn's ``kmeans_plusplus``), weighted by ``scores`` if given.

    features: (N, D); scores: (N,) non-negative weights (nan or 0 -> :data:`WEIGHT_FLOOR`), None =
    uniform. n_local_trials: draws per pick, the best kept (None: scikit-learn's 2 + log k). The seed
    comes from ``rng``. Returns (picks (k,) int64, values (k,): distance to the nearest earlier pick, nan
    for the first). Duplicate points can make it pick a point twice: repeats are replaced by the farthest
    remaining points (k-center), so the picks are distinct.
    """
    x, k = _check(features, k)
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    weight = None
    if scores is not None:
        weight = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
        if (weight < 0).any():
            raise ValueError("kmeans_pp scores are weights and must be >= 0")
        weight = np.maximum(weight, WEIGHT_FLOOR)
    seed = int(rng.integers(2**31 - 1))
    _, found = kmeans_plusplus(x, k, sample_weight=weight, random_state=seed, n_local_trials=n_local_trials)
    picks = list(dict.fromkeys(int(i) for i in found))
    if len(picks) < k:
        picks = _fill_farthest(x, picks, k)
    picks = np.array(picks, dtype=np.int64)
    return picks, coverage_distances(x, picks)


def _fill_farthest(x: np.ndarray, picks: list[int], k: int) -> list[int]:
    """``picks`` extended to k distinct positions, each next the farthest from all before (k-center)."""
    sq = np.einsum("ij,ij->i", x, x)
    nearest = np.full(len(x), np.inf)
    for p in picks:
        np.minimum(nearest, np.maximum(sq - 2.0 * (x @ x[p]) + sq[p], 0.0), out=nearest)
    nearest[picks] = -1.0
    while len(picks) < k:
        nxt = int(np.argmax(nearest))
        picks.append(nxt)
        np.minimum(nearest, np.maximum(sq - 2.0 * (x @ x[nxt]) + sq[nxt], 0.0), out=nearest)
        nearest[picks] = -1.0
    return picks


def embedding_matrix(records: Sequence[ImageRecord], positions: np.ndarray) -> np.ndarray:
    """(len(positions), D) float32: the ``embedding`` of each record at ``positions``.

    ValueError naming 'embedding' when one has none (the job ran without ``uncertainty.embedding=true``)
    or when their lengths differ (two models' records mixed).
    """
    missing = [int(i) for i in positions if records[int(i)].embedding is None]
    if missing:
        raise ValueError(
            f"{len(missing)} records have no 'embedding' (e.g. {records[missing[0]].image!r}): label the "
            "pool with uncertainty.embedding=true, or use a selection that needs no embedding"
        )
    if len(positions) == 0:
        return np.zeros((0, 0), np.float32)
    dims = {records[int(i)].embedding.size for i in positions}
    if len(dims) > 1:
        raise ValueError(f"records' 'embedding' lengths differ ({sorted(dims)}): one job's records only")
    return np.stack([records[int(i)].embedding for i in positions]).astype(np.float32)


def ordering_name(order: Ordering) -> str:
    """A readable name of an ordering for reasons, e.g. "k_center_greedy" (a partial's function's name)."""
    func = getattr(order, "func", order)
    return getattr(func, "__name__", type(func).__name__)


class DiverseSelection:
    """``budget`` eligible images spread over the embedding space by ``order``.

    order: an :data:`Ordering` (:func:`k_center_greedy`, :func:`kmeans_pp`; Hydra ``_partial_: true``).
    candidates: None = order the whole eligible pool, without scores (pure diversity); a number >= 1 =
    first keep the ``ceil(candidates x budget)`` highest-scoring images (failed images by their near-miss
    score, as :class:`~autolabel.review.selection.TopKSelection` ranks), then order those, with their
    scores (the hybrid: k-center starts at the most uncertain, k-means++ draws in proportion to score).
    budget: int >= 1 (images) or float in (0, 1] (fraction of the eligible pool, rounded half up).
    Values: each pick's distance to the nearest earlier pick (nan for the first).
    """

    def __init__(self, *, budget: int | float, order: Ordering, candidates: float | None = None) -> None:
        self.budget = check_budget(budget)
        if candidates is not None and not (math.isfinite(candidates) and candidates >= 1):
            raise ValueError(f"candidates={candidates!r}: a multiple of the budget >= 1, or None (all)")
        self.order, self.candidates = order, None if candidates is None else float(candidates)
        self.requires = frozenset({"embedding", *(["score"] if candidates is not None else [])})

    def select(self, records: Sequence[ImageRecord], *, rng: np.random.Generator) -> Selection:
        eligible = eligible_positions(records)
        size = min(budget_size(self.budget, eligible.size), eligible.size)
        name = ordering_name(self.order)
        if self.candidates is None:
            pool, scores = eligible, None
            reason = f"{name} over all {eligible.size} eligible"
        else:
            ranked = rank_by_score(records, eligible, rng=rng)
            pool = ranked[: min(eligible.size, math.ceil(self.candidates * size))]
            scores = np.array([records[i].score_value for i in pool], dtype=np.float64)
            reason = f"{name} among the {pool.size} highest scores ({self.candidates:g} x budget)"
        picks, values = self.order(embedding_matrix(records, pool), size, rng=rng, scores=scores)
        reason += f": {len(picks)} of {eligible.size} eligible (budget {self.budget})"
        return Selection(indices=pool[picks], values=values, reason=reason)
