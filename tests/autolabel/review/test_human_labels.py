import json
import os
from pathlib import Path

import numpy as np
import pytest
from tests.autolabel.review.test_picks import COST

from autolabel.formats.reviewed import ExportError, ReviewedImage
from autolabel.formats.yolo import read_yolo_labels
from autolabel.records import read_folder_records, read_jsonl
from autolabel.review.human_labels import edit_counts, import_reviewed, match_to_batch
from autolabel.review.picks import candidates, choose, picks_of
from autolabel.review.selection import TopKSelection
from tests.autolabel.loop_data import NAMES, auto_label_folder, record


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
