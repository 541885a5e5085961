"""Two-level auto-label files: labels at or above t_high in labels/, the doubtful boxes in suggestions/."""

import json

import numpy as np
import pytest

from autolabel.errors import DataError
from autolabel.formats.yolo import read_yolo_labels
from autolabel.job.runner import JobError, run_label_job
from autolabel.job.two_level_files import is_suggestion, resolve_t_high, suggestion_name
from autolabel.records import read_folder_records
from autolabel.structures import Detections
from tests.autolabel.job.test_job import NAMES, job_meta, make_images

BOXES = [[5, 5, 30, 20], [35, 10, 55, 30], [2, 22, 12, 38]]
CONF = [0.9, 0.3, 0.55]  # a label, a suggestion, and one above t_high = 0.5


def two_boxes(images, keys):
    out = []
    for _ in images:
        conf = np.array(CONF, np.float32)
        probs = np.stack([conf, conf / 10], axis=1)
        out.append((Detections(BOXES, conf, np.zeros(3, np.int64), probs), {"score": 0.5}))
    return out


def run(src, out, t_high):
    meta = job_meta(src) if t_high is None else job_meta(src, t_high=t_high)
    return run_label_job(
        predict=two_boxes, names=NAMES, source=src, output=out, meta=meta, batch=2, progress=False
    )


def test_labels_hold_the_confident_boxes_and_suggestions_the_doubtful_ones(tmp_path):
    src = make_images(tmp_path / "pool", 3)
    out = tmp_path / "out"
    summary = run(src, out, 0.5)
    assert summary["t_high"] == 0.5 and summary["suggestions"] == 3 and summary["boxes"] == 9
    for record in read_folder_records(out):
        assert record.n_boxes == 3  # the record keeps every box with its confidence
        labels = read_yolo_labels(out / record.label_file, num_classes=2, width=60, height=40)
        np.testing.assert_allclose(labels.xyxy, [BOXES[0], BOXES[2]], atol=1e-3)
        suggestion = out / suggestion_name(record.label_file)
        assert suggestion.parent.name == "suggestions"
        lines = suggestion.read_text().splitlines()
        assert len(lines) == 1 and float(lines[0].split()[5]) == pytest.approx(0.3)
    coco = json.loads((out / "annotations.coco.json").read_text())
    assert sorted(a["suggestion"] for a in coco["annotations"]) == [False] * 6 + [True] * 3
    assert all((a["score"] < 0.5) == a["suggestion"] for a in coco["annotations"])
    (out / "predictions.jsonl").write_text(
        (out / "predictions.jsonl").read_text().splitlines(True)[0]
    )  # killed
    again = run(src, out, 0.5)  # the same t_high resumes; suggestions/ is rebuilt for every image
    assert again["labeled_now"] == 2 and again["suggestions"] == 3
    assert len(list((out / "suggestions").iterdir())) == 3


def test_one_level_writes_no_suggestions_and_another_t_high_is_refused_on_resume(tmp_path):
    src = make_images(tmp_path / "pool", 2)
    out = tmp_path / "out"
    summary = run(src, out, None)
    assert "suggestions" not in summary and not (out / "suggestions").exists()
    record = read_folder_records(out)[0]
    assert len((out / record.label_file).read_text().splitlines()) == 3
    assert "suggestion" not in json.loads((out / "annotations.coco.json").read_text())["annotations"][0]
    with pytest.raises(JobError, match="t_high: None -> 0.5"):
        run(src, out, 0.5)


def test_is_suggestion_at_the_boundary():
    assert is_suggestion(np.array([0.49, 0.5, 0.51]), 0.5).tolist() == [True, False, False]
    assert not is_suggestion(np.array([0.1]), None).any()
    assert suggestion_name("labels/sub/x.txt") == "suggestions/sub/x.txt"


def test_resolve_t_high_reads_the_card_and_names_what_is_wrong(tmp_path):
    card = tmp_path / "model_card.json"
    assert resolve_t_high(False, card, 0.2) is None
    with pytest.raises(DataError, match="two_level=true.*model_card.json"):
        resolve_t_high(True, card, 0.2)
    card.write_text(json.dumps({"evaluation": {"two_level": {"t_high": 0.45}}}))
    assert resolve_t_high(True, card, 0.2) == 0.45
    assert resolve_t_high(0.6, card, 0.2) == 0.6
    with pytest.raises(DataError, match=r"two_level=0.1 must lie in \[conf, 1\]"):
        resolve_t_high(0.1, card, 0.2)
    with pytest.raises(DataError, match="two_level must be"):
        resolve_t_high("high", card, 0.2)
