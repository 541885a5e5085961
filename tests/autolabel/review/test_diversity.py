"""autolabel.review.diversity: k-center greedy, k-means++ and the hybrid, on synthetic embeddings."""

import numpy as np
import pytest

from autolabel.records import ImageRecord
from autolabel.review.diversity import (
    DiverseSelection,
    coverage_distances,
    k_center_greedy,
    kmeans_pp,
)
from autolabel.review.selection import TopKSelection
from autolabel.review.strategy import call_select

BIG, SMALL = 90, 10  # cluster A holds most of the pool, cluster B is the under-covered one


def two_clusters(seed: int = 0, dim: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, dim) points of a big cluster A and a small far cluster B, (N,) scores, (N,) bool "in B".

    A's scores U(0.6, 1.0) are the highest; B's U(0.7, 0.9) reach A's upper middle only.
    """
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, 0.3, (BIG, dim)) + np.eye(dim)[0] * 5
    b = rng.normal(0.0, 0.3, (SMALL, dim)) + np.eye(dim)[1] * 5
    scores = np.concatenate([rng.uniform(0.6, 1.0, BIG), rng.uniform(0.7, 0.9, SMALL)])
    in_b = np.arange(BIG + SMALL) >= BIG
    return np.vstack([a, b]).astype(np.float32), scores, in_b


def pool(seed: int = 0, *, unreadable: int = 0) -> tuple[list[ImageRecord], np.ndarray]:
    """Records of :func:`two_clusters` (embeddings, scores), plus ``unreadable`` error records at the end."""
    x, scores, in_b = two_clusters(seed)
    records = [
        ImageRecord(image=f"{i}.png", score=float(s), components={}, embedding=v)
        for i, (v, s) in enumerate(zip(x, scores, strict=True))
    ]
    records += [ImageRecord.unreadable(f"bad{i}.png", "cannot decode") for i in range(unreadable)]
    return records, np.concatenate([in_b, np.zeros(unreadable, bool)])


def first_in_b(picks: np.ndarray, in_b: np.ndarray) -> int:
    """The position in pick order of the first pick in cluster B (len(picks) when none is)."""
    hits = np.flatnonzero(in_b[picks])
    return int(hits[0]) if hits.size else len(picks)


def test_k_center_greedy_goes_to_the_under_covered_cluster_right_after_the_first_pick():
    x, scores, in_b = two_clusters()
    picks, values = k_center_greedy(x, 10, rng=np.random.default_rng(0), scores=scores)
    assert picks[0] == int(np.argmax(scores)) and not in_b[picks[0]]  # starts at the most uncertain
    assert first_in_b(picks, in_b) == 1
    assert len(set(picks.tolist())) == 10
    assert np.isnan(values[0]) and values[1] > 5  # the jump across clusters
    assert np.all(np.diff(values[1:]) <= 1e-6)  # farthest-first: each pick covers less new ground
    np.testing.assert_allclose(values[1:], coverage_distances(x, picks)[1:], rtol=1e-4)
    for seed in range(5):  # without scores the start is random, and B still comes at once
        picks, _ = k_center_greedy(x, 10, rng=np.random.default_rng(seed))
        assert first_in_b(picks, in_b) <= 1


def test_kmeans_pp_reaches_the_under_covered_cluster_within_two_picks():
    x, scores, in_b = two_clusters()
    for seed in range(5):
        picks, values = kmeans_pp(x, 10, rng=np.random.default_rng(seed))
        assert first_in_b(picks, in_b) <= 1 and len(set(picks.tolist())) == 10
        assert np.isnan(values[0]) and np.all(values[1:] > 0)
        weighted, _ = kmeans_pp(x, 10, rng=np.random.default_rng(seed), scores=scores)
        assert first_in_b(weighted, in_b) <= 1
    # random picks reach B late: 10 uniform picks miss it entirely about a third of the time
    rng = np.random.default_rng(0)
    random_first = [first_in_b(rng.permutation(BIG + SMALL)[:10], in_b) for _ in range(200)]
    assert np.mean(random_first) > 3


def test_kmeans_pp_gives_distinct_picks_even_on_duplicate_points():
    x = np.zeros((6, 4), np.float32)
    x[5] = 1.0
    picks, _ = kmeans_pp(x, 4, rng=np.random.default_rng(0))
    assert len(set(picks.tolist())) == 4 and 5 in picks.tolist()
    picks, _ = k_center_greedy(x, 6, rng=np.random.default_rng(0))
    assert sorted(picks.tolist()) == list(range(6))


def test_coverage_distances_are_the_distance_to_the_nearest_earlier_pick():
    x = np.random.default_rng(1).normal(size=(30, 5)).astype(np.float32)
    picks = np.array([4, 17, 2, 29, 0])
    brute = [np.nan] + [min(np.linalg.norm(x[p] - x[q]) for q in picks[:j]) for j, p in enumerate(picks) if j]
    np.testing.assert_allclose(coverage_distances(x, picks), brute, rtol=1e-4)


def test_hybrid_takes_the_under_covered_cluster_that_top_score_leaves_out():
    records, in_b = pool()
    top = call_select(TopKSelection(budget=10), records, rng=np.random.default_rng(0))
    assert first_in_b(top.indices, in_b) == 10  # the highest scores are all in A
    hybrid = DiverseSelection(budget=10, order=k_center_greedy, candidates=4)
    chosen = call_select(hybrid, records, rng=np.random.default_rng(0))
    assert len(chosen) == 10 and first_in_b(chosen.indices, in_b) == 1
    assert chosen.indices[0] == top.indices[0]  # it starts at the most uncertain image
    assert "k_center_greedy among the 40 highest scores" in chosen.reason
    candidates = set(np.argsort(-np.array([r.score for r in records]))[:40].tolist())
    assert set(chosen.indices.tolist()) <= candidates  # never outside the 4 x budget by score
    assert hybrid.requires == {"embedding", "score"}


def test_budget_is_respected_and_the_same_seed_gives_the_same_batch():
    records, _ = pool(unreadable=3)
    for order in (k_center_greedy, kmeans_pp):
        strategy = DiverseSelection(budget=0.3, order=order)
        a = call_select(strategy, records, rng=np.random.default_rng(7))
        b = call_select(strategy, records, rng=np.random.default_rng(7))
        assert len(a) == 30  # 0.3 of the 100 readable images; the unreadable ones are never picked
        assert max(a.indices) < 100 and len(set(a.indices.tolist())) == 30
        np.testing.assert_array_equal(a.indices, b.indices)
        other = call_select(strategy, records, rng=np.random.default_rng(8))
        assert not np.array_equal(a.indices, other.indices)  # random start: the seed matters
        whole = call_select(DiverseSelection(budget=500, order=order), records, rng=np.random.default_rng(0))
        assert sorted(whole.indices.tolist()) == list(range(100))
    assert DiverseSelection(budget=5, order=kmeans_pp).requires == {"embedding"}


def test_records_without_embeddings_are_refused_by_name():
    records = [ImageRecord(image=f"{i}.png", score=0.5, components={}) for i in range(5)]
    with pytest.raises(ValueError, match="'embedding'.*uncertainty.embedding=true"):
        call_select(DiverseSelection(budget=2, order=k_center_greedy), records, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="candidates"):
        DiverseSelection(budget=2, order=k_center_greedy, candidates=0.5)
