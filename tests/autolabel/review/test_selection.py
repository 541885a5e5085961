"""autolabel.review.selection: GT2 by difficulty or score, random strategies, the CONTROL, its composition."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from autolabel.records import ImageRecord
from autolabel.review.selection import (
    BoxCountSelection,
    DifficultySelection,
    RandomSelection,
    TopKSelection,
    composition,
    cost_matched_control,
    random_control,
)
from autolabel.review.strategy import Selection, call_select
from autolabel.structures import Detections, GroundTruth

CONF = Path(__file__).resolve().parents[3] / "conf"
SELECTION_OPTIONS = sorted(p.stem for p in (CONF / "selection").glob("*.yaml"))


def rec(image: str, **fields) -> ImageRecord:
    """A record as the job would read it from its log (scored when it has a score)."""
    data = {"image": image, **fields}
    if "score" in data:
        data.setdefault("components", {})
    return ImageRecord.from_json(data)


def make_records(seed: int = 0, n: int = 60) -> list[ImageRecord]:
    """n pool records: a mix of easy / medium / hard (scored), failed (score None) and unreadable images."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        kind = ("easy", "medium", "hard", "failed", "error")[i % 5]
        if kind == "error":
            records.append(rec(f"img{i}.jpg", error="cannot decode"))
        elif kind == "failed":
            records.append(rec(f"img{i}.jpg", score=None, difficulty="failed", failed=True))
        else:
            base = {"easy": 0.0, "medium": 0.3, "hard": 0.6}[kind]
            score = round(base + 0.3 * float(rng.random()), 6)
            records.append(
                rec(f"img{i}.jpg", score=score, p_needs_correction=score, difficulty=kind, failed=False)
            )
    return records


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def positions(records, *kinds):
    return {i for i, r in enumerate(records) if r.difficulty in kinds}


def errors(records):
    return {i for i, r in enumerate(records) if not r.ok}


def test_difficulty_selection_is_medium_hard_failed_exactly():
    records = make_records()
    sel = DifficultySelection().select(records, rng=rng())
    assert set(sel.indices.tolist()) == positions(records, "medium", "hard", "failed")
    assert len(sel) == 36 and len(set(sel.indices.tolist())) == len(sel)
    assert sel.reason == "difficulty in {medium, hard, failed}: 36 of 48 eligible"
    assert sel.indices.dtype == np.int64 and sel.values.dtype == np.float64


def test_difficulty_selection_values_are_scores_ranked_highest_first():
    records = make_records()
    sel = DifficultySelection().select(records, rng=rng())
    for i, v in zip(sel.indices, sel.values, strict=True):
        if records[i].score is None:
            assert np.isnan(v)
        else:
            assert v == records[i].score
    # ranked by score; failed images without any score (nothing seen) last
    n_scored = int(np.isfinite(sel.values).sum())
    assert np.all(np.diff(sel.values[:n_scored]) <= 0)
    assert all(records[i].failed for i in sel.indices[n_scored:])


def test_difficulty_selection_other_bands_and_budget():
    records = make_records()
    hard = DifficultySelection(bands=["hard"]).select(records, rng=rng())
    assert set(hard.indices.tolist()) == positions(records, "hard")
    capped = DifficultySelection(budget=15).select(records, rng=rng())
    top_scored = sorted(positions(records, "medium", "hard"), key=lambda i: -records[i].score)
    assert capped.indices.tolist() == top_scored[:15]
    assert "budget 15" in capped.reason and "highest score first" in capped.reason
    first = DifficultySelection(budget=15, failed_first=True).select(records, rng=rng())
    n_failed = len(positions(records, "failed"))
    assert len(first) == 15 and all(records[i].failed for i in first.indices[:n_failed])
    assert set(first.indices[n_failed:].tolist()) == set(top_scored[: 15 - n_failed])
    assert "failed first" in first.reason
    fraction = DifficultySelection(budget=0.25).select(records, rng=rng())  # 0.25 of 48 eligible
    assert fraction.indices.tolist() == top_scored[:12]
    loose = DifficultySelection(budget=1000).select(records, rng=rng())
    assert len(loose) == 36 and "covers all 36" in loose.reason


def test_difficulty_selection_needs_known_bands_and_a_calibration():
    with pytest.raises(ValueError, match="unknown band"):
        DifficultySelection(bands=["medium", "tricky"])
    with pytest.raises(ValueError, match="bands"):
        DifficultySelection(bands=[])
    uncalibrated = [rec("a.jpg", score=0.3, failed=False)]
    with pytest.raises(ValueError, match="difficulty"):
        DifficultySelection().select(uncalibrated, rng=rng())
    with pytest.raises(ValueError, match="difficulty 'tricky'"):  # a record cannot hold an unknown band
        rec("a.jpg", score=0.3, difficulty="tricky", failed=False)


@pytest.mark.parametrize(
    "strategy",
    [DifficultySelection(bands=["easy", "medium", "hard", "failed"]), TopKSelection(budget=1.0)]
    + [RandomSelection(budget=1.0)],
)
def test_error_records_are_never_selected(strategy):
    records = make_records()
    sel = strategy.select(records, rng=rng())
    assert len(sel) == 48 and not set(sel.indices.tolist()) & errors(records)


def test_topk_ranks_failed_images_by_their_near_miss_score():
    records = make_records()
    failed = sorted(positions(records, "failed"))
    records[failed[0]] = dataclasses.replace(records[failed[0]], score=0.95)  # strong near-miss evidence
    records[failed[1]] = dataclasses.replace(records[failed[1]], score=0.0)  # none: below every scored image
    sel = TopKSelection(budget=40).select(records, rng=rng())
    assert sel.indices[0] == failed[0] and sel.values[0] == 0.95
    scored = [i for i in sel.indices if records[i].score is not None]
    assert sel.indices[: len(scored)].tolist() == scored
    assert sel.indices[len(scored) - 1] == failed[1]
    assert np.all(np.diff(sel.values[: len(scored)]) <= 0) and np.isnan(sel.values[len(scored) :]).all()
    assert "highest score first" in sel.reason


def test_topk_failed_first_puts_every_failed_image_first():
    records = make_records()
    sel = TopKSelection(budget=20, failed_first=True).select(records, rng=rng())
    failed = positions(records, "failed")
    assert len(sel) == 20 and set(sel.indices[: len(failed)].tolist()) == failed
    rest = sel.indices[len(failed) :]
    scored = sorted(
        (i for i, r in enumerate(records) if r.score is not None), key=lambda i: -records[i].score
    )
    assert rest.tolist() == scored[: len(rest)]
    assert np.all(np.isnan(sel.values[: len(failed)])) and np.all(np.diff(sel.values[len(failed) :]) <= 0)
    assert f"{len(failed)} failed; failed first" in sel.reason


def test_topk_budget_as_fraction_of_the_eligible_pool():
    records = make_records()
    assert len(TopKSelection(budget=0.5).select(records, rng=rng())) == 24
    assert len(TopKSelection(budget=0.3).select(records, rng=rng())) == 14  # 14.4 rounds to 14
    assert len(RandomSelection(budget=0.25).select(records, rng=rng())) == 12
    everything = TopKSelection(budget=500).select(records, rng=rng())
    assert len(everything) == 48 and "covers the pool" in everything.reason


def test_topk_ties_are_broken_by_the_rng():
    records = [rec(f"{i}.jpg", score=0.5, difficulty="medium", failed=False) for i in range(30)]
    draws = {tuple(TopKSelection(budget=5).select(records, rng=rng(s)).indices.tolist()) for s in range(5)}
    assert len(draws) > 1


def test_topk_needs_scores():
    unscored = [rec(f"{i}.jpg", score=None, failed=False) for i in range(4)]
    with pytest.raises(ValueError, match="score"):
        TopKSelection(budget=2).select(unscored, rng=rng())


@pytest.mark.parametrize("budget", [0, -3, 0.0, 1.5, True, "10"])
def test_bad_budgets_are_rejected(budget):
    with pytest.raises(ValueError, match="budget"):
        TopKSelection(budget=budget)
    with pytest.raises(ValueError, match="budget"):
        RandomSelection(budget=budget)


def test_random_selection_is_uniform_over_eligible_and_has_nan_values():
    records = make_records()
    sel = RandomSelection(budget=10).select(records, rng=rng())
    assert len(sel) == 10 and len(set(sel.indices.tolist())) == 10
    assert not set(sel.indices.tolist()) & errors(records) and np.all(np.isnan(sel.values))


@pytest.mark.parametrize(
    "strategy", [DifficultySelection(budget=10), TopKSelection(budget=0.5), RandomSelection(budget=0.5)]
)
def test_same_seed_same_selection(strategy):
    records = make_records()
    a, b = strategy.select(records, rng=rng(7)), strategy.select(records, rng=rng(7))
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.values, b.values, equal_nan=True)
    assert a.reason == b.reason


def test_control_matches_gt2_size_from_eligible_images():
    records = make_records()
    gt2 = DifficultySelection().select(records, rng=rng())
    control = random_control(records, size=len(gt2), rng=rng(1))
    assert len(control) == len(gt2) and len(set(control.indices.tolist())) == len(gt2)
    assert not set(control.indices.tolist()) & errors(records)
    assert np.all(np.isnan(control.values)) and "may overlap" in control.reason


def test_control_respects_exclude():
    records = make_records()
    gt2 = DifficultySelection(bands=["hard", "failed"]).select(records, rng=rng())
    control = random_control(records, size=len(gt2), exclude=gt2.indices, rng=rng(1))
    assert len(control) == len(gt2) and not set(control.indices.tolist()) & set(gt2.indices.tolist())
    assert not set(control.indices.tolist()) & errors(records)
    with pytest.raises(ValueError, match="size"):  # 48 eligible - 36 excluded < 36
        random_control(
            records, size=36, exclude=DifficultySelection().select(records, rng=rng()).indices, rng=rng()
        )


def test_control_same_seed_same_draw_different_seed_different_draw():
    records = make_records()
    a = random_control(records, size=20, rng=rng(3))
    b = random_control(records, size=20, rng=rng(3))
    c = random_control(records, size=20, rng=rng(4))
    assert np.array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)


def test_control_size_is_checked():
    records = make_records()
    assert len(random_control(records, size=48, rng=rng())) == 48
    assert len(random_control(records, size=0, rng=rng())) == 0
    for size in (49, -1):
        with pytest.raises(ValueError, match="size"):
            random_control(records, size=size, rng=rng())


def test_cost_matched_control_spends_gt2s_seconds_on_random_eligible_images():
    records = make_records()
    seconds = np.array([2.0 + 10.0 * (i % 4) for i in range(len(records))])  # 2, 12, 22, 32 s
    gt2 = DifficultySelection(bands=["hard"]).select(records, rng=rng())
    target = float(seconds[gt2.indices].sum())
    control = cost_matched_control(records, seconds=seconds, target=target, rng=rng(1))
    chosen = control.indices.tolist()
    assert len(set(chosen)) == len(chosen) and not set(chosen) & errors(records)
    spent = float(seconds[control.indices].sum())
    assert abs(spent - target) <= seconds.max() / 2  # the closest prefix is within half an image
    assert f"{spent:.0f} s against GT2's {target:.0f} s" in control.reason
    again = cost_matched_control(records, seconds=seconds, target=target, rng=rng(1))
    assert np.array_equal(control.indices, again.indices)  # same seed, same draw
    # cheap images only: the same seconds take more images than GT2 holds
    cheap = cost_matched_control(records, seconds=np.full(len(records), 8.0), target=target, rng=rng(1))
    assert target == 204.0 and len(gt2) == 12
    assert len(cheap) == 25  # 200 s and 208 s are equally close: the shorter prefix
    assert len(cost_matched_control(records, seconds=seconds, target=0.0, rng=rng())) == 0
    everything = cost_matched_control(records, seconds=seconds, target=1e9, rng=rng())
    assert len(everything) == 48  # capped by the eligible pool


@pytest.mark.parametrize(
    ("seconds", "target", "match"),
    [
        (np.ones(3), 10.0, "one value per record"),
        (np.ones(60), -1.0, "target"),
        (np.ones(60), float("nan"), "target"),
        (np.r_[np.nan, np.ones(59)], 10.0, "finite"),
    ],
)
def test_cost_matched_control_refuses_bad_seconds(seconds, target, match):
    with pytest.raises(ValueError, match=match):
        cost_matched_control(make_records(), seconds=seconds, target=target, rng=rng())


def test_box_count_selection_takes_the_images_with_most_boxes():
    records = [
        dataclasses.replace(r, detections=boxes(i % 7), labels=("a",) * (i % 7)) if r.ok else r
        for i, r in enumerate(make_records())
    ]
    chosen = BoxCountSelection(budget=10).select(records, rng=rng())
    counts = sorted((r.n_boxes for r in records if r.ok), reverse=True)
    assert chosen.values.tolist() == counts[:10] and not set(chosen.indices.tolist()) & errors(records)
    assert "most boxes: 10 of 48" in chosen.reason
    again = BoxCountSelection(budget=10).select(records, rng=rng())
    assert np.array_equal(chosen.indices, again.indices)
    with pytest.raises(ValueError, match="budget"):
        BoxCountSelection(budget=0)


def test_composition_counts_bands_and_mean_score():
    records = make_records()
    gt2 = DifficultySelection().select(records, rng=rng())
    comp = composition(records, gt2)
    assert comp["n"] == 36 and comp["bands"] == {"medium": 12, "hard": 12, "failed": 12}
    expected = np.mean([r.score for r in records if r.difficulty in ("medium", "hard")])
    assert comp["mean_score"] == pytest.approx(expected)
    only_failed = DifficultySelection(bands=["failed"]).select(records, rng=rng())
    assert composition(records, only_failed) == {"n": 12, "bands": {"failed": 12}, "mean_score": None}
    uncalibrated = [rec("a.jpg", score=0.2, failed=False)]
    comp = composition(uncalibrated, random_control(uncalibrated, size=1, rng=rng()))
    assert comp["bands"] == {"uncalibrated": 1} and comp["mean_score"] == pytest.approx(0.2)


def test_selection_is_read_only_and_checks_shapes():
    sel = Selection(indices=[2, 0], values=[0.5, np.nan], reason="r")
    assert sel.indices.dtype == np.int64 and len(sel) == 2
    with pytest.raises(ValueError):
        sel.indices[0] = 1
    with pytest.raises(ValueError, match="one entry per image"):
        Selection(indices=[1, 2], values=[0.1], reason="r")


def test_empty_pool_selects_nothing():
    records = [rec("bad.jpg", error="cannot decode")]
    for strategy in (DifficultySelection(), TopKSelection(budget=0.5), RandomSelection(budget=3)):
        assert len(strategy.select(records, rng=rng())) == 0


@pytest.mark.parametrize("option", SELECTION_OPTIONS)
def test_every_selection_config_instantiates_a_strategy(option):
    with initialize_config_dir(config_dir=str(CONF / "selection"), version_base="1.3"):
        cfg = compose(config_name=option)
    strategy = instantiate(cfg)
    records = make_records()
    if "embedding" in strategy.requires:  # pool labels made with uncertainty.embedding=true
        vectors = np.random.default_rng(0).normal(size=(len(records), 16))
        records = [
            r if not r.ok else dataclasses.replace(r, embedding=v)
            for r, v in zip(records, vectors, strict=True)
        ]
    truth = {
        r.image: GroundTruth(np.zeros((i % 5, 4), np.float32) + i, [0] * (i % 5))
        for i, r in enumerate(records)
    }
    # every strategy through the loops' one call; only the oracle's signature asks for the truth
    sel = call_select(strategy, records, rng=rng(), truth=lambda r: truth[r.image])
    assert isinstance(sel, Selection) and 0 < len(sel) <= 48
    assert strategy.requires <= {"boxes", "score", "difficulty", "embedding"}


def boxes(n: int) -> Detections:
    """n auto-labeled boxes of a one-class model."""
    probs = np.full((n, 1), 0.9, np.float32)
    return Detections(np.tile([0, 0, 4, 4], (n, 1)), probs[:, 0], np.zeros(n), probs)


def test_selection_config_group_is_complete():
    assert SELECTION_OPTIONS == [
        "boxes",
        "difficulty",
        "gain_per_second",
        "hybrid",
        "kcenter",
        "kmeanspp",
        "oracle",
        "random",
        "topk",
    ]
