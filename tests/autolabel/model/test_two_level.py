"""Two-level auto-labels (autolabel/model/two_level.py): the cost both ways, and the choice of t_high."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autolabel.model.efficiency import CostModel, efficiency_report
from autolabel.model.two_level import COLUMNS, choose_two_level, two_level_counts
from tests.autolabel.model.test_efficiency import C, cell, det, truth

COST = CostModel()  # t_delete 1.5, t_ignore 0.5


def doubtful_fps():
    """Two images: right boxes at conf 0.9 / 0.8, wrong boxes (no truth there) at 0.3 and 0.35, a wrong
    class at 0.6 and a missed object."""
    a = (det([cell(0), cell(1), cell(2)], [0.9, 0.3, 0.6], [0, 1, 2]), truth([cell(0), cell(2)], [0, 1]))
    b = (det([cell(0), cell(3)], [0.8, 0.35], [1, 1]), truth([cell(0), cell(4)], [1, 2]))
    return [a, b]


def test_counts_split_the_kept_boxes_at_t_high():
    counts = two_level_counts(doubtful_fps(), threshold=0.25, t_highs=[0.25, 0.5, 0.95])
    rows = [dict(zip(COLUMNS, row.tolist(), strict=True)) for row in counts]
    assert rows[0] == dict(
        n_truth=4, tp_label=2, wc_label=1, fp_label=2, tp_suggestion=0, wc_suggestion=0, fp_suggestion=0, fn=1
    )
    assert rows[1]["fp_label"] == 0 and rows[1]["fp_suggestion"] == 2 and rows[1]["tp_label"] == 2
    assert rows[2]["tp_suggestion"] == 2 and rows[2]["wc_suggestion"] == 1 and rows[2]["fp_suggestion"] == 2
    assert counts[:, [1, 2, 3, 4, 5, 6]].sum(1).tolist() == [5, 5, 5]  # every kept box on one level


def test_one_level_is_t_high_at_the_threshold():
    pairs = doubtful_fps()
    two = choose_two_level(pairs, cost=COST, threshold=0.25)
    one = efficiency_report(pairs, cost=COST, threshold=0.25, num_classes=C)
    assert two.boost_one_level == pytest.approx(one.boost)
    # the wrong boxes sit below 0.5 and the right ones above: suggestions below, labels above
    assert 0.35 < two.t_high <= 0.6 and two.counts["fp_suggestion"] == 2 and two.counts["fp_label"] == 0
    # the 2 wrong boxes move to suggestions, the 0.6 wrong-class box stays a label (a suggestion would cost
    # t_accept more): t_high 0.4 to 0.6 tie, and the tie goes to the highest
    assert two.t_high == pytest.approx(0.6) and two.counts["wc_label"] == 1 and two.counts["tp_label"] == 2
    saved = 2 * (COST.t_delete - COST.t_ignore)
    assert one.manual_s / two.boost == pytest.approx(one.assisted_s - saved)
    assert two.labels + two.suggestions == one.counts["n_pred"]


def test_ties_keep_the_fewest_suggestions():
    # every box right: suggestions save nothing, so t_high stays at the threshold (one level)
    pairs = [(det([cell(0), cell(1)], [0.9, 0.4], [0, 1]), truth([cell(0), cell(1)], [0, 1]))]
    two = choose_two_level(pairs, cost=COST, threshold=0.3)
    assert two.t_high == pytest.approx(0.95) or two.suggestions == 0
    assert two.boost == pytest.approx(two.boost_one_level)


@settings(max_examples=40, deadline=None)
@given(
    conf=st.lists(st.floats(0.05, 1.0), min_size=1, max_size=6),
    shift=st.lists(st.integers(0, 4), min_size=6, max_size=6),
    t_high=st.floats(0.05, 1.0),
)
def test_ignoring_at_the_price_of_deleting_gains_nothing(conf, shift, t_high):
    """With t_ignore == t_delete the two-level boost equals the one-level one at any t_high."""
    boxes = [cell(s) for s in shift[: len(conf)]]
    pairs = [(det(boxes, conf, [0] * len(conf)), truth([cell(0), cell(2)], [0, 0]))]
    cost = CostModel(t_ignore=COST.t_delete, t_accept=0.0)
    one = efficiency_report(pairs, cost=cost, threshold=0.1, num_classes=C).boost
    two = choose_two_level(pairs, cost=cost, threshold=0.1, grid=[t_high])
    assert two.boost == pytest.approx(one) and two.boost_one_level == pytest.approx(one)
    cheaper = choose_two_level(pairs, cost=CostModel(t_accept=0.0), threshold=0.1, grid=[t_high])
    assert cheaper.boost >= one - 1e-12  # a cheaper glance, no dearer acceptance: never worse
    chosen = choose_two_level(pairs, cost=COST, threshold=0.1, grid=[t_high])
    assert chosen.boost >= chosen.boost_one_level - 1e-12  # one level is always a candidate


def test_an_empty_set_is_refused():
    with pytest.raises(ValueError, match="empty"):
        choose_two_level([], cost=COST, threshold=0.2)
    assert np.isnan(
        choose_two_level([(det([], [], []), truth([], []))], cost=CostModel(t_image=0.0), threshold=0.2).boost
    )
