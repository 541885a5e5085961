import json
import os
from pathlib import Path

import numpy as np
import pytest

from autolabel.formats.reviewed import ExportError, ReviewedImage
from autolabel.formats.yolo import read_yolo_labels
from autolabel.records import read_folder_records, read_jsonl
from autolabel.review.human_labels import edit_counts, import_reviewed, match_to_batch, pair_reviewed_boxes
from autolabel.review.picks import candidates, choose, picks_of
from autolabel.review.selection import TopKSelection
from tests.autolabel.loop_data import NAMES, auto_label_folder, record
from tests.autolabel.review.test_picks import COST


@pytest.fixture
def batch(tmp_path):
    records = [
        record("a/1.png", [(1, 1, 10, 10, 0, 0.9)], score=0.2),
        record("b/1.png", [(2, 2, 20, 20, 1, 0.5)], score=1.5),
    ]
    source, out = auto_label_folder(tmp_path, records)
    pool, _ = candidates(read_folder_records(out), source=source)
    selection, estimate = choose(
        pool, TopKSelection(budget=2), rng=np.random.default_rng(0), seconds=None, cost=COST
    )
    return picks_of(pool, selection, estimate, source=source), tmp_path / "reviews.jsonl"


def reviewed(image, boxes, labels, **kw):
    return ReviewedImage(image, np.array(boxes, float).reshape(-1, 4), tuple(labels), **kw)


def test_import_writes_yolo_beside_the_image_and_logs_the_review(batch):
    picks, log = batch
    entry = reviewed(
        "b/1.png",
        [(2, 2, 20, 20), (30, 10, 40, 30)],
        ["square", "disc"],
        width=64,
        height=48,
        lead_time=7.5,
        changed=True,
        source="task 3",
        shown_xyxy=np.array([(2, 2, 20, 20)], float),
        shown_labels=("disc",),
    )
    report = import_reviewed([entry], picks, names=NAMES, log_path=log)
    assert report.counts()["written"] == 1
    pick = next(p for p in picks if p.image == "b/1.png")
    truth = read_yolo_labels(Path(pick.label_file), num_classes=2, width=64, height=48)
    np.testing.assert_allclose(truth.xyxy, entry.xyxy, atol=0.01)
    assert truth.cls.tolist() == [0, 1]
    row = read_jsonl(log)[0]
    assert row["lead_time"] == 7.5 and row["changed"] is True and row["status"] == "written"
    assert row["edits"] == {"kept": 0, "relabeled": 1, "deleted": 0, "drawn": 1}
    assert row["score"] == pytest.approx(1.5)


def test_an_existing_human_label_is_never_overwritten_unless_told(batch):
    picks, log = batch
    first = reviewed("a/1.png", [(1, 1, 10, 10)], ["square"])
    import_reviewed([first], picks, names=NAMES, log_path=log)
    label = next(p for p in picks if p.image == "a/1.png").label_file
    before = open(label).read()
    again = import_reviewed([first], picks, names=NAMES, log_path=log)
    assert again.counts()["unchanged"] == 1
    other = reviewed("a/1.png", [], [])
    report = import_reviewed([other], picks, names=NAMES, log_path=log)
    assert report.conflicts == ["a/1.png"] and open(label).read() == before
    report = import_reviewed([other], picks, names=NAMES, log_path=log, overwrite=True)
    assert report.overwritten == ["a/1.png"] and open(label).read() == ""
    statuses = [r["status"] for r in read_jsonl(log)]
    assert statuses == ["written", "unchanged", "conflict", "overwritten"]


def test_entries_map_by_key_path_or_unique_file_name(batch):
    picks, _ = batch
    by_path = reviewed(picks[0].path, [], [])
    assert match_to_batch([by_path], picks)[0] == picks[0]
    with pytest.raises(ExportError, match="several images"):
        match_to_batch([reviewed("1.png", [], [])], picks)  # a/1.png and b/1.png
    with pytest.raises(ExportError, match="not in the batch"):
        match_to_batch([reviewed("c/9.png", [], [], source="task 9")], picks)


def test_bad_entries_stop_the_import_before_anything_is_written(batch):
    picks, log = batch
    good = reviewed("a/1.png", [(1, 1, 10, 10)], ["square"])
    with pytest.raises(ExportError, match=r"classes \['tree'\].*another project"):
        import_reviewed(
            [good, reviewed("b/1.png", [(1, 1, 5, 5)], ["tree"])], picks, names=NAMES, log_path=log
        )
    with pytest.raises(ExportError, match="32x32 pixels"):
        import_reviewed(
            [good, reviewed("b/1.png", [], [], width=32, height=32)], picks, names=NAMES, log_path=log
        )
    assert not any(os.path.exists(p.label_file) for p in picks) and not log.exists()


def test_edit_counts_need_the_shown_prediction():
    assert edit_counts(reviewed("x.png", [], []), NAMES) is None
    entry = reviewed(
        "x.png",
        [(0, 0, 10, 10)],
        ["disc"],
        shown_xyxy=np.array([(0, 0, 10, 10), (20, 20, 30, 30)], float),
        shown_labels=("disc", "square"),
    )
    assert edit_counts(entry, NAMES) == {"kept": 1, "relabeled": 0, "deleted": 1, "drawn": 0}
    json.dumps(edit_counts(entry, NAMES))


# Three overlapping squares (IoU of the first and the third < 0.5) as a weak CAL1 shows them; the reviewer
# flips the class of the first one and leaves the rest. A matching that pairs by class first gave
# "kept 2, deleted 1, drawn 1" here: the first shown square took the second saved square.
CLUSTER = np.array([[18.5, 16.7, 30.2, 27.7], [16.4, 15.9, 29.7, 24.1], [15.8, 14.0, 25.6, 25.8]])


def test_a_relabeled_box_in_a_cluster_counts_as_one_relabel():
    entry = reviewed(
        "x.png",
        CLUSTER,
        ["disc", "square", "square"],
        shown_xyxy=CLUSTER,
        shown_labels=("square", "square", "square"),
    )
    assert edit_counts(entry, NAMES) == {"kept": 2, "relabeled": 1, "deleted": 0, "drawn": 0}


def test_edit_counts_do_not_depend_on_box_order():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 6))
        centre, size = rng.uniform(10, 30, (n, 2)), rng.uniform(6, 14, (n, 2))
        shown = np.concatenate([centre - size / 2, centre + size / 2], 1)
        shown_labels = [NAMES[c] for c in rng.integers(0, 2, n)]
        saved, labels = shown.copy(), list(shown_labels)
        flip = int(rng.integers(0, n))
        labels[flip] = NAMES[1 - NAMES.index(labels[flip])]
        order = rng.permutation(n)
        for ids in (None, [f"b{i}" for i in range(n)]):
            entry = reviewed(
                "x.png",
                saved[order],
                [labels[i] for i in order],
                shown_xyxy=shown,
                shown_labels=tuple(shown_labels),
                shown_ids=None if ids is None else tuple(ids),
                ids=None if ids is None else tuple(ids[i] for i in order),
            )
            assert edit_counts(entry, NAMES) == {"kept": n - 1, "relabeled": 1, "deleted": 0, "drawn": 0}


def test_region_ids_pair_a_relabeled_box_with_the_region_it_came_from():
    # Two predictions of one object, a square and a disc; the reviewer makes the square a disc and deletes
    # the disc. Geometry alone cannot tell which one was kept (it takes the same class: kept + deleted);
    # the region id that Label Studio keeps says the square was relabeled.
    box = [(5, 5, 25, 25)]
    shown = {"shown_xyxy": np.array(box * 2, float), "shown_labels": ("square", "disc")}
    by_geometry = reviewed("x.png", box, ["disc"], **shown)
    assert edit_counts(by_geometry, NAMES) == {"kept": 1, "relabeled": 0, "deleted": 1, "drawn": 0}
    by_id = reviewed("x.png", box, ["disc"], ids=("b0",), shown_ids=("b0", "b1"), **shown)
    assert edit_counts(by_id, NAMES) == {"kept": 0, "relabeled": 1, "deleted": 1, "drawn": 0}
    assert pair_reviewed_boxes(
        ReviewedImage("x.png", shown["shown_xyxy"], shown["shown_labels"], ids=("b0", "b1")), by_id
    ).tolist() == [0]


def test_a_region_moved_off_its_object_is_a_delete_and_a_draw():
    shown = {
        "shown_xyxy": np.array([(0, 0, 10, 10)], float),
        "shown_labels": ("square",),
        "shown_ids": ("b0",),
    }
    moved = reviewed("x.png", [(30, 30, 40, 40)], ["square"], ids=("b0",), **shown)
    assert edit_counts(moved, NAMES) == {"kept": 0, "relabeled": 0, "deleted": 1, "drawn": 1}
    nudged = reviewed("x.png", [(1, 1, 11, 11)], ["disc"], ids=("b0",), **shown)
    assert edit_counts(nudged, NAMES) == {"kept": 0, "relabeled": 1, "deleted": 0, "drawn": 0}
    drawn = reviewed("x.png", [(0, 0, 10, 10), (30, 30, 40, 40)], ["square"] * 2, ids=("b0", "x7Gq"), **shown)
    assert edit_counts(drawn, NAMES) == {"kept": 1, "relabeled": 0, "deleted": 0, "drawn": 1}


def test_a_box_of_zero_area_pairs_with_itself():
    flat = [(4, 4, 4, 20)]  # a box clipped to nothing at the border: IoU 0 even with itself
    entry = reviewed("x.png", flat, ["disc"], shown_xyxy=np.array(flat, float), shown_labels=("square",))
    assert edit_counts(entry, NAMES) == {"kept": 0, "relabeled": 1, "deleted": 0, "drawn": 0}
