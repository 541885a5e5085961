import json

import numpy as np
import pytest

from autolabel.records import RecordWriter, detections_record, read_records, record_detections
from autolabel.structures import Detections

NAMES = ("a", "b", "c")


def dets() -> Detections:
    probs = np.array([[0.1, 0.8123456789, 0.3], [0.7, 0.2, 0.05]], np.float32)
    return Detections([[1.234, 2.0, 30.5, 40.25], [5, 6, 7, 8]], probs.max(1), probs.argmax(1), probs)


def test_record_keeps_full_probability_vector_and_conf_is_its_max():
    record = detections_record("x.jpg", dets(), width=64, height=48, names=NAMES)
    assert record["n_boxes"] == 2 and record["width"] == 64
    for box in record["boxes"]:
        assert len(box["probs"]) == len(NAMES)
        assert box["conf"] == max(box["probs"])
        assert box["cls"] == int(np.argmax(box["probs"]))
        assert box["label"] == NAMES[box["cls"]]
    back = record_detections(json.loads(json.dumps(record)), num_classes=3)
    np.testing.assert_allclose(back.xyxy, dets().xyxy, atol=0.006)
    np.testing.assert_allclose(back.probs, dets().probs, atol=1e-6)


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    log = tmp_path / "p.jsonl"
    with RecordWriter(log) as w:
        w.append([{"image": "a"}, {"image": "b"}])
    with open(log, "a") as f:
        f.write('{"image": "c", "bo')  # killed mid-write
    assert [r["image"] for r in read_records(log)] == ["a", "b"]
    assert [r["image"] for r in read_records(log, repair=True)] == ["a", "b"]
    with RecordWriter(log) as w:
        w.append([{"image": "c"}])
    assert [r["image"] for r in read_records(log)] == ["a", "b", "c"]


def test_corrupt_line_in_the_middle_is_an_error(tmp_path):
    log = tmp_path / "p.jsonl"
    log.write_text('{"image": "a"}\nnot json\n{"image": "b"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:2"):
        read_records(log)


def test_missing_file_has_no_records(tmp_path):
    assert read_records(tmp_path / "none.jsonl") == []


def test_an_image_recorded_twice_counts_once(tmp_path):
    log = tmp_path / "p.jsonl"
    with RecordWriter(log) as w:
        w.append([{"image": "a", "n": 1}, {"image": "b", "n": 1}])
    with RecordWriter(log) as w:  # a second job wrote the same images again
        w.append([{"image": "b", "n": 2}, {"image": "a", "n": 2}, {"image": "c", "n": 2}])
    assert [(r["image"], r["n"]) for r in read_records(log)] == [("a", 1), ("b", 1), ("c", 2)]
    assert len(read_records(log, unique=False)) == 5
