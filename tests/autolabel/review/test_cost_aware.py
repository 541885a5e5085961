"""autolabel.review.cost_aware: budgets in labeling seconds, and gain per expected second."""

import numpy as np
import pytest

from autolabel.model.efficiency import CostModel
from autolabel.records import ImageRecord
from autolabel.review.cost_aware import (
    GainPerSecondSelection,
    fill_seconds,
    images_within_seconds,
    within_seconds,
)
from autolabel.review.selection import TopKSelection
from autolabel.review.strategy import call_select

COST = CostModel(t_draw=10.0, t_image=2.0)


def rec(name: str, score: float | None, seconds: float | None = None, **fields) -> ImageRecord:
    """A scored record whose error model expects ``seconds`` of correction (None: not recorded)."""
    components = {} if seconds is None else {"error_seconds": seconds}
    return ImageRecord(image=name, score=score, components=components, **fields)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_an_image_as_likely_to_need_a_fix_but_cheaper_ranks_first():
    records = [
        rec("slow.png", 0.8, seconds=40.0),  # 0.02 per second
        rec("quick.png", 0.8, seconds=8.0),  # 0.10
        rec("sure.png", 0.1, seconds=2.0),  # 0.05
        rec("big.png", 0.95, seconds=95.0),  # 0.01: the highest score, the lowest ratio
    ]
    strategy = GainPerSecondSelection(budget=4, gain="score", cost_model=COST)
    chosen = call_select(strategy, records, rng=rng())
    assert [records[i].image for i in chosen.indices] == ["quick.png", "sure.png", "slow.png", "big.png"]
    np.testing.assert_allclose(chosen.values, [0.1, 0.05, 0.02, 0.01])
    top = call_select(TopKSelection(budget=1), records, rng=rng())
    assert records[top.indices[0]].image == "big.png"  # what ranking by score alone takes first


def test_a_seconds_budget_is_filled_greedily_and_never_overspent():
    records = [
        rec("a.png", 0.9, seconds=10.0),  # 0.09
        rec("b.png", 0.8, seconds=20.0),  # 0.04
        rec("c.png", 0.2, seconds=5.0),  # 0.04 (ties with b: random order)
        rec("d.png", 0.1, seconds=5.0),  # 0.02
    ]
    for seed in range(4):
        strategy = GainPerSecondSelection(seconds=21.0, gain="score", cost_model=COST)
        chosen = call_select(strategy, records, rng=rng(seed))
        names = {records[i].image for i in chosen.indices}
        # a (10 s) first; b (20 s) no longer fits after it and is passed over; c and d (5 s) still do
        assert names == {"a.png", "c.png", "d.png"} and "20 s expected" in chosen.reason
    both = GainPerSecondSelection(budget=2, seconds=100.0, gain="score", cost_model=COST)
    assert len(call_select(both, records, rng=rng())) == 2  # both caps hold


def test_without_error_seconds_an_image_is_priced_as_drawn_by_hand():
    plain = ImageRecord.from_json(
        {"image": "p.png", "boxes": [], "score": 0.5, "components": {}, "n_candidates": 0, "failed": False}
    )
    records = [plain, rec("m.png", 0.5, seconds=20.0)]
    chosen = call_select(GainPerSecondSelection(budget=2, gain="score", cost_model=COST), records, rng=rng())
    np.testing.assert_allclose(chosen.values, [0.5 / 12.0, 0.5 / 20.0])  # t_image + 1 box x t_draw = 12 s


def test_gain_is_the_calibrated_probability_by_default_or_a_score_component():
    def error_model(name, score, p_calibrated, p_model, band):
        return ImageRecord(
            image=name,
            score=score,
            components={"error_seconds": 10.0, "error_p": p_model},
            p_needs_correction=p_calibrated,
            difficulty=band,
        )

    records = [
        error_model("x.png", 9.0, 0.2, 0.7, "medium"),
        error_model("y.png", 1.0, 0.6, 0.1, "hard"),
        rec("f.png", None, seconds=2.0, failed=True),
        ImageRecord.unreadable("bad.png", "cannot decode"),
    ]
    strategy = GainPerSecondSelection(budget=1.0, cost_model=COST)
    chosen = call_select(strategy, records, rng=rng())
    assert [records[i].image for i in chosen.indices] == ["y.png", "x.png", "f.png"]  # failed: no gain, last
    assert np.isnan(chosen.values[-1]) and strategy.requires == {"score", "difficulty"}
    by_model = GainPerSecondSelection(budget=2, gain="components.error_p", cost_model=COST)
    chosen = call_select(by_model, records, rng=rng())
    assert [records[i].image for i in chosen.indices] == ["x.png", "y.png"] and by_model.requires == {"score"}
    np.testing.assert_allclose(chosen.values, [0.07, 0.01])
    with pytest.raises(ValueError, match="have no 'score'"):
        call_select(GainPerSecondSelection(budget=1, gain="score"), [rec("u.png", None)], rng=rng())
    with pytest.raises(ValueError, match="have no 'p_needs_correction'"):
        call_select(GainPerSecondSelection(budget=1), [rec("u.png", 0.5)], rng=rng())
    with pytest.raises(ValueError, match="budget"):
        GainPerSecondSelection()
    with pytest.raises(ValueError, match="gain"):
        GainPerSecondSelection(budget=1, gain="boxes")
    with pytest.raises(ValueError, match="gain"):
        GainPerSecondSelection(budget=1, gain="components.")
    with pytest.raises(ValueError, match="seconds"):
        GainPerSecondSelection(seconds=0.0)


def test_seconds_helpers():
    seconds = np.array([5.0, 1.0, 3.0, 2.0])
    assert images_within_seconds(seconds, 6.0) == 3  # 1 + 2 + 3
    assert images_within_seconds(seconds, 0.5) == 0
    np.testing.assert_array_equal(fill_seconds(np.array([0, 2, 1, 3]), seconds, 7.0), [0, 1])
    np.testing.assert_array_equal(fill_seconds(np.array([2, 1, 3, 0]), seconds, 7.0, limit=2), [2, 1])
    np.testing.assert_array_equal(within_seconds(np.array([2, 1, 3]), seconds, 4.5), [2, 1])
