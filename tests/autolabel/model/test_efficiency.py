import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autolabel.model.efficiency import (
    COUNT_COLUMNS,
    CostModel,
    choose_threshold,
    class_counts,
    efficiency_report,
)
from autolabel.model.matching import match_detections
from autolabel.structures import Detections, GroundTruth

C = 3
COST = CostModel()  # t_draw 10, t_verify 1.5, t_delete 1.5, t_relabel 3, t_image 2


def cell(k):
    """A 50 x 50 box in column k; boxes of different columns never overlap."""
    return [100.0 * k, 0.0, 100.0 * k + 50.0, 50.0]


def det(boxes, conf, cls, num_classes=C):
    conf = np.asarray(conf, np.float32)
    cls = np.asarray(cls, np.int64)
    probs = np.zeros((len(conf), num_classes), np.float32)
    probs[np.arange(len(conf)), cls] = conf
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), conf, cls, probs)


def truth(boxes, cls):
    return GroundTruth(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(cls, np.int64))


def report(pairs, threshold=0.0, cost=COST):
    return efficiency_report(pairs, cost=cost, threshold=threshold, num_classes=C)


def test_perfect_auto_labels():
    boxes = [cell(0), cell(1), cell(2)]
    r = report([(det(boxes, [0.9, 0.8, 0.7], [0, 1, 2]), truth(boxes, [0, 1, 2]))])
    # manual = 2 + 3 * 10 = 32 s; assisted = 2 + 3 * 1.5 = 6.5 s; 32 / 6.5 = 4.923...
    assert r.manual_s == 32.0
    assert r.assisted_s == 6.5
    assert r.boost == pytest.approx(4.9230769, rel=1e-6)
    assert r.counts == {"n_images": 1, "n_truth": 3, "n_pred": 3, "tp": 3, "wrong_class": 0, "fp": 0, "fn": 0}


def test_all_wrong_class():
    boxes = [cell(0), cell(1)]
    r = report([(det(boxes, [0.9, 0.9], [1, 1]), truth(boxes, [0, 0]))])
    # manual = 2 + 2 * 10 = 22 s; assisted = 2 + 2 * 3 = 8 s
    assert (r.manual_s, r.assisted_s) == (22.0, 8.0)
    assert r.boost == pytest.approx(2.75)
    assert r.counts["wrong_class"] == 2 and r.counts["tp"] == 0 and r.counts["fp"] == 0


def test_all_fp():
    # Three boxes where there is nothing, two truths nobody found: 2 + 3 * 1.5 + 2 * 10 = 26.5 s.
    pairs = [(det([cell(2), cell(3), cell(4)], [0.9] * 3, [0, 0, 0]), truth([cell(0), cell(1)], [0, 0]))]
    r = report(pairs)
    assert r.counts["fp"] == 3 and r.counts["fn"] == 2
    assert r.assisted_s == 26.5
    assert r.boost == pytest.approx(22 / 26.5)  # 0.830
    assert r.boost < 1


def test_all_fn_without_predictions_costs_the_same_as_manual():
    r = report([(Detections.empty(C), truth([cell(0), cell(1)], [0, 1]))])
    assert r.manual_s == r.assisted_s == 22.0
    assert r.boost == 1.0
    assert r.counts["fn"] == 2


def test_duplicate_is_one_tp_and_one_fp():
    r = report([(det([cell(0), cell(0)], [0.9, 0.8], [0, 0]), truth([cell(0)], [0]))])
    assert (r.counts["tp"], r.counts["fp"]) == (1, 1)
    # manual = 2 + 10 = 12 s; assisted = 2 + 1.5 + 1.5 = 5 s
    assert r.boost == pytest.approx(2.4)


def test_lower_confidence_right_class_box_wins_over_wrong_class_box():
    r = report([(det([cell(0), cell(0)], [0.9, 0.6], [1, 0]), truth([cell(0)], [0]))])
    assert (r.counts["tp"], r.counts["wrong_class"], r.counts["fp"]) == (1, 0, 1)


def test_class_counts_attribute_wrong_class_to_truth_and_fp_to_prediction():
    d = det([cell(0), cell(1), cell(5)], [0.9, 0.8, 0.7], [2, 1, 2])
    t = truth([cell(0), cell(1), cell(2)], [0, 1, 1])
    counts = class_counts(d, t, match_detections(d, t), num_classes=C)
    assert COUNT_COLUMNS == ("n_truth", "n_pred", "tp", "wrong_class", "fp", "fn")
    np.testing.assert_array_equal(
        counts,
        [
            [1, 0, 0, 1, 0, 0],  # class 0: its truth got a class-2 box -> wrong_class here
            [2, 1, 1, 0, 0, 1],  # class 1: one found, one missed
            [0, 2, 0, 0, 1, 0],  # class 2: no truth, one stray box -> fp here
        ],
    )


def test_class_counts_rejects_out_of_range_classes_and_foreign_matches():
    d, t = det([cell(0)], [0.9], [0]), truth([cell(0)], [0])
    with pytest.raises(ValueError, match="class ids"):
        class_counts(d, truth([cell(0)], [5]), match_detections(d, t), num_classes=C)
    with pytest.raises(ValueError, match="match covers"):
        class_counts(d, GroundTruth.empty(), match_detections(d, t), num_classes=C)


def test_per_class_costs_boosts_and_rates():
    d = det([cell(0), cell(1), cell(5)], [0.9, 0.8, 0.7], [2, 1, 2])
    t = truth([cell(0), cell(1)], [0, 1])
    r = report([(d, t)])
    c0, c1, c2 = r.per_class
    assert [row["cls"] for row in r.per_class] == [0, 1, 2]
    # class 0: one truth (10 s by hand) fixed from class 2 (3 s)
    assert (c0["manual_s"], c0["assisted_s"], c0["wrong_class"]) == (10.0, 3.0, 1)
    assert c0["boost"] == pytest.approx(10 / 3)
    assert c0["recall"] == 0.0 and math.isnan(c0["precision"])  # no class-0 predictions
    # class 1: verified (1.5 s)
    assert (c1["manual_s"], c1["assisted_s"]) == (10.0, 1.5)
    assert c1["boost"] == pytest.approx(10 / 1.5)
    assert c1["precision"] == c1["recall"] == 1.0
    # class 2: no truth, one FP to delete (1.5 s): boost undefined, precision 0 / 2
    assert (c2["manual_s"], c2["assisted_s"], c2["fp"], c2["n_pred"]) == (0.0, 1.5, 1, 2)
    assert math.isnan(c2["boost"]) and math.isnan(c2["recall"])
    assert c2["precision"] == 0.0
    # totals: 2 + 2 * 10 = 22 s by hand, 2 + 3 + 1.5 + 1.5 = 8 s assisted; classes add up without t_image
    assert (r.manual_s, r.assisted_s) == (22.0, 8.0)
    assert sum(row["assisted_s"] for row in r.per_class) + COST.t_image == r.assisted_s


def test_precision_and_recall_numbers():
    # class 0: 3 truths, 4 boxes of which 2 on truths -> precision 2/4, recall 2/3
    d = det([cell(0), cell(1), cell(7), cell(8)], [0.9, 0.9, 0.9, 0.9], [0, 0, 0, 0])
    t = truth([cell(0), cell(1), cell(2)], [0, 0, 0])
    row = report([(d, t)]).per_class[0]
    assert row["precision"] == 0.5
    assert row["recall"] == pytest.approx(2 / 3)


def test_sums_over_images():
    one = (det([cell(0)], [0.9], [0]), truth([cell(0)], [0]))  # 12 s by hand, 3.5 s assisted
    empty = (Detections.empty(C), GroundTruth.empty())  # 2 s either way
    r = report([one, one, empty])
    assert r.counts["n_images"] == 3
    assert (r.manual_s, r.assisted_s) == (26.0, 9.0)


# Two found objects (0.92, 0.82) and two stray boxes (0.22, 0.33) in one image.
THRESHOLD_CASE = [
    (
        det([cell(0), cell(1), cell(2), cell(3)], [0.92, 0.82, 0.22, 0.33], [0, 0, 0, 0]),
        truth([cell(0), cell(1)], [0, 0]),
    )
]


def test_report_keeps_only_boxes_at_or_above_the_threshold():
    low, high = report(THRESHOLD_CASE, threshold=0.1), report(THRESHOLD_CASE, threshold=0.5)
    assert (low.counts["fp"], high.counts["fp"]) == (2, 0)
    assert low.boost == pytest.approx(22 / 8)  # 2 + 2 * 1.5 + 2 * 1.5
    assert high.boost == pytest.approx(22 / 5)  # 2 + 2 * 1.5
    assert high.threshold == 0.5


def test_choose_threshold_drops_low_confidence_false_positives():
    best, boosts = choose_threshold(THRESHOLD_CASE, cost=COST, num_classes=C)
    assert best == 0.35  # the lowest grid point above both stray boxes and below both found ones
    grid = np.round(np.arange(1, 20) * 0.05, 2)
    want = np.select(
        [grid <= 0.2, grid <= 0.3, grid <= 0.8, grid <= 0.9],
        [22 / 8, 22 / 6.5, 22 / 5, 22 / 13.5],  # 2 FP, 1 FP, clean, one TP lost to FN
        default=1.0,  # nothing kept
    )
    np.testing.assert_allclose(boosts, want)


def test_choose_threshold_breaks_ties_towards_the_lower_threshold():
    best, boosts = choose_threshold(THRESHOLD_CASE, cost=COST, num_classes=C, grid=[0.7, 0.4, 0.6])
    assert best == 0.4
    np.testing.assert_allclose(boosts, [22 / 5] * 3)


def test_choose_threshold_boosts_equal_the_reports():
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(20):
        t_boxes = rng.uniform(0, 200, (4, 2))
        t_boxes = np.c_[t_boxes, t_boxes + 40]
        p_boxes = t_boxes[rng.integers(0, 4, 8)] + rng.normal(0, 6, (8, 4))
        pairs.append(
            (det(p_boxes, rng.random(8), rng.integers(0, C, 8)), truth(t_boxes, rng.integers(0, C, 4)))
        )
    grid = [0.1, 0.3, 0.5, 0.7, 0.9]
    _, boosts = choose_threshold(pairs, cost=COST, num_classes=C, grid=grid)
    np.testing.assert_array_equal(boosts, [report(pairs, threshold=g).boost for g in grid])


def test_rejects_empty_inputs():
    with pytest.raises(ValueError, match="pairs is empty"):
        report([])
    with pytest.raises(ValueError, match="grid is empty"):
        choose_threshold(THRESHOLD_CASE, cost=COST, num_classes=C, grid=[])
    with pytest.raises(ValueError, match="undefined"):
        no_truth = [(Detections.empty(C), GroundTruth.empty())]
        choose_threshold(no_truth, cost=CostModel(t_image=0.0), num_classes=C)


def test_to_dict_is_json_safe():
    d = det([cell(0), cell(5)], [0.9, 0.8], [0, 2])
    out = report([(d, truth([cell(0)], [0]))]).to_dict()
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["per_class"][2]["boost"] is None  # class 2 has no truth
    assert out["counts"]["fp"] == 1 and isinstance(out["per_class"][0]["tp"], int)


@pytest.mark.parametrize("field", ["t_draw", "t_verify", "t_delete", "t_relabel", "t_image"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "fast"])
def test_cost_model_rejects_bad_values_naming_the_field(field, bad):
    with pytest.raises(ValueError, match=field):
        CostModel(**{field: bad})


def test_cost_model_needs_positive_draw_time_and_stores_floats():
    with pytest.raises(ValueError, match="t_draw"):
        CostModel(t_draw=0)
    cost = CostModel(t_draw=12, t_verify=0)
    assert cost.t_draw == 12.0 and isinstance(cost.t_draw, float)


def test_default_cost_config_instantiates_the_cost_model():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = Path(__file__).resolve().parents[3] / "conf" / "cost" / "default.yaml"
    assert instantiate(OmegaConf.load(path)) == CostModel()


# Direction: scenes of disjoint cells, so each box's fate is set by its own cell.
costs = st.builds(
    CostModel,
    t_draw=st.floats(1.0, 30.0),
    t_verify=st.floats(0.0, 1.0),  # never above t_draw: verifying is not slower than drawing
    t_delete=st.floats(0.0, 5.0),
    t_relabel=st.floats(0.0, 10.0),
    t_image=st.floats(0.5, 5.0),
)
# Per cell: truth class or None, prediction class or None.
cells = st.tuples(st.none() | st.integers(0, C - 1), st.none() | st.integers(0, C - 1))


def build(cell_list):
    t = [(cell(k), tc) for k, (tc, _) in enumerate(cell_list) if tc is not None]
    p = [(cell(k), pc) for k, (_, pc) in enumerate(cell_list) if pc is not None]
    d = det([b for b, _ in p], [0.9] * len(p), [c for _, c in p]) if p else Detections.empty(C)
    return d, truth([b for b, _ in t], [c for _, c in t]) if t else GroundTruth.empty()


@settings(max_examples=200, deadline=None)
@given(st.lists(cells, min_size=1, max_size=6), st.integers(0, C - 1), costs)
def test_adding_a_false_positive_never_raises_the_boost(cell_list, fp_cls, cost):
    before = report([build(cell_list)], cost=cost).boost
    after = report([build([*cell_list, (None, fp_cls)])], cost=cost).boost
    assert after <= before


@settings(max_examples=200, deadline=None)
@given(st.lists(cells, min_size=1, max_size=6), st.data(), costs)
def test_turning_a_tp_into_an_fn_never_raises_the_boost(cell_list, data, cost):
    tps = [k for k, (tc, pc) in enumerate(cell_list) if tc is not None and tc == pc]
    assume(tps)
    k = data.draw(st.sampled_from(tps))
    missed = [*cell_list[:k], (cell_list[k][0], None), *cell_list[k + 1 :]]
    before = report([build(cell_list)], cost=cost)
    after = report([build(missed)], cost=cost)
    assert (after.counts["tp"], after.counts["fn"]) == (before.counts["tp"] - 1, before.counts["fn"] + 1)
    assert after.boost <= before.boost * (1 + 1e-12)


def test_choose_threshold_on_a_realistic_set_matches_reports_at_each_threshold():
    # speed is measured in benchmarks, not asserted here; this checks the shared-IoU shortcut's answers
    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(200):
        t_xy = rng.uniform(0, 600, (8, 2))
        t_boxes = np.c_[t_xy, t_xy + rng.uniform(20, 100, (8, 2))]
        p_boxes = t_boxes[rng.integers(0, 8, 20)] + rng.normal(0, 8, (20, 4))
        pairs.append(
            (det(p_boxes, rng.random(20), rng.integers(0, C, 20)), truth(t_boxes, rng.integers(0, C, 8)))
        )
    best, boosts = choose_threshold(pairs, cost=COST, num_classes=C)  # 19 thresholds
    for t, boost in zip((0.05, 0.5, 0.95), (boosts[0], boosts[9], boosts[18]), strict=True):
        assert efficiency_report(pairs, cost=COST, threshold=t, num_classes=C).boost == pytest.approx(boost)
    assert boosts.max() == pytest.approx(
        efficiency_report(pairs, cost=COST, threshold=best, num_classes=C).boost
    )
