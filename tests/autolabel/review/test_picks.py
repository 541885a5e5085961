import numpy as np
import pytest

from autolabel.formats.reviewed import ExportError
from autolabel.model.efficiency import CostModel
from autolabel.records import ImageRecord, read_folder_records
from autolabel.review.picks import (
    candidates,
    choose,
    estimated_seconds,
    job_source,
    picks_of,
    read_picks,
    within_seconds,
    write_picks,
)
from autolabel.review.selection import RandomSelection, TopKSelection
from tests.autolabel.loop_data import auto_label_folder, record

COST = CostModel(t_draw=10.0, t_verify=1.5, t_delete=1.5, t_relabel=3.0, t_image=2.0)


@pytest.fixture
def folder(tmp_path):
    records = [
        record("a/1.png", [(1, 1, 10, 10, 0, 0.9)], score=0.2),
        record("a/2.png", [(1, 1, 10, 10, 1, 0.5), (20, 20, 30, 30, 0, 0.6)], score=1.5),
        record("b/3.png", [], score=0.9),
        record("b/4.png", [(5, 5, 9, 9, 1, 0.4)], score=2.5),
        ImageRecord.unreadable("b/bad.png", "cannot decode"),
    ]
    return auto_label_folder(tmp_path, records)


def test_candidates_leave_out_labeled_unreadable_and_other_folders(folder):
    source, out = folder
    records = read_folder_records(out)
    (source.parent / "labels" / "a").mkdir(parents=True)
    (source.parent / "labels" / "a" / "1.txt").write_text("")  # a person labeled a/1.png
    kept, left_out = candidates(records, source=source)
    assert [r.image for r in kept] == ["a/2.png", "b/3.png", "b/4.png"]
    assert left_out == {"unreadable": 1, "not_included": 0, "not_listed": 0, "labeled": 1}
    kept, left_out = candidates(records, source=source, include=["b"], skip_labeled=False)
    assert [r.image for r in kept] == ["b/3.png", "b/4.png"] and left_out["not_included"] == 2
    kept, _ = candidates(records, source=source, image_list=["a/2.png", ""])
    assert [r.image for r in kept] == ["a/2.png"]
    with pytest.raises(ExportError, match="did not record"):
        candidates(records, source=source, image_list=["nope.png"])


def test_top_score_picks_in_order_with_reasons_and_real_paths(folder):
    source, out = folder
    records, _ = candidates(read_folder_records(out), source=source)
    selection, estimate = choose(
        records, TopKSelection(budget=2), rng=np.random.default_rng(0), seconds=None, cost=COST
    )
    picks = picks_of(records, selection, estimate, source=source)
    assert [p.image for p in picks] == ["b/4.png", "a/2.png"]
    assert [p.rank for p in picks] == [1, 2] and picks[0].value == pytest.approx(2.5)
    assert picks[0].path == str((source / "b/4.png").resolve())
    assert picks[0].label_file.endswith("data/labels/b/4.txt")
    assert picks[1].seconds == pytest.approx(2.0 + 2 * 10.0)
    write_picks(out, picks)
    assert read_picks(out) == picks


def test_seconds_budget_takes_the_longest_prefix_that_fits(folder):
    source, out = folder
    records, _ = candidates(read_folder_records(out), source=source)
    # ranked b/4 (12 s), a/2 (22 s), b/3 (12 s: failed, one box to draw), a/1 (12 s)
    selection, _ = choose(
        records, TopKSelection(budget=1.0), rng=np.random.default_rng(0), seconds=40.0, cost=COST
    )
    assert [records[i].image for i in selection.indices] == ["b/4.png", "a/2.png"]
    assert "within 40 s" in selection.reason
    assert within_seconds(np.array([2, 0]), np.array([5.0, 1.0, 5.0]), 4.9).size == 0
    with pytest.raises(ValueError, match="seconds"):
        within_seconds(np.array([0]), np.array([1.0]), 0.0)


def test_expected_correction_seconds_of_the_error_model_price_a_pick_when_recorded():
    records = [
        record("x/1.png", [(1, 1, 10, 10, 0, 0.9)] * 3, components={"error_seconds": 6.5}),
        record("x/2.png", [(1, 1, 10, 10, 0, 0.9)] * 3),
    ]
    np.testing.assert_allclose(estimated_seconds(records, COST), [6.5, 2.0 + 3 * 10.0])


def test_random_strategy_needs_no_score_and_job_source_checks_folder(folder, tmp_path):
    source, out = folder
    records, _ = candidates(read_folder_records(out), source=source)
    selection, _ = choose(
        records, RandomSelection(budget=2), rng=np.random.default_rng(1), seconds=None, cost=COST
    )
    assert len(selection) == 2 and np.isnan(selection.values).all()
    assert job_source(out) == source
    with pytest.raises(ExportError, match="not an auto-label output folder"):
        job_source(tmp_path)
