"""Two-level auto-labels in Label Studio: suggestions marked on the way out, counted on the way back."""

import numpy as np

from autolabel.formats.label_studio import ls_task, read_label_studio_json
from autolabel.formats.reviewed import ReviewedImage
from autolabel.review.human_labels import edit_counts
from tests.autolabel.formats.test_label_studio_format import NAMES, annotated, record, write

BOXES = [[10, 20, 50, 60], [100.5, 0, 199, 99.25], [60, 10, 90, 40]]  # confidences 0.9, 0.8, 0.7


def test_boxes_below_t_high_go_out_as_marked_suggestions():
    task = ls_task(record(boxes=BOXES), image_url="/x.png", model_version="m", t_high=0.75)
    result = task["predictions"][0]["result"]
    assert [r["id"] for r in result] == ["b0", "b1", "s2"]
    assert "meta" not in result[0] and "meta" not in result[1]
    assert "suggestion (confidence 0.70)" in result[2]["meta"]["text"][0]
    assert task["data"]["n_suggestions"] == 1
    one = ls_task(record(boxes=BOXES), image_url="/x.png", model_version="m")
    assert [r["id"] for r in one["predictions"][0]["result"]] == ["b0", "b1", "b2"]
    assert one["data"]["n_suggestions"] is None and all(
        "meta" not in r for r in one["predictions"][0]["result"]
    )


def test_the_import_counts_what_the_reviewer_did_with_the_suggestions(tmp_path):
    task = ls_task(record(boxes=BOXES), image_url="/x.png", model_version="m", t_high=0.85)  # s1, s2
    shown = task["predictions"][0]["result"]
    saved = [r for r in shown if r["id"] != "s2"]  # s1 kept, s2 deleted
    images, _ = read_label_studio_json(write(tmp_path, [annotated(task, result=saved)]), names=NAMES)
    counts = edit_counts(images[0], NAMES)
    assert counts == {
        "kept": 2,
        "relabeled": 0,
        "deleted": 1,
        "drawn": 0,
        "suggested": 2,
        "suggestions_kept": 1,
    }


def test_ids_that_only_look_like_suggestions_are_not_counted():
    box = np.array([(0, 0, 10, 10)], float)
    entry = ReviewedImage(
        "x.png", box, ("zebra",), shown_xyxy=box, shown_labels=("zebra",), shown_ids=("sXq9",)
    )
    assert edit_counts(entry, NAMES) == {"kept": 1, "relabeled": 0, "deleted": 0, "drawn": 0}
