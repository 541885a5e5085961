import json

import numpy as np
import pytest

from autolabel.records import ImageRecord, JsonlWriter, RecordWriter, read_records
from autolabel.structures import Detections

NAMES = ("a", "b", "c")


def dets() -> Detections:
    probs = np.array([[0.1, 0.8123456789, 0.3], [0.7, 0.2, 0.05]], np.float32)
    return Detections([[1.234, 2.0, 30.5, 40.25], [5, 6, 7, 8]], probs.max(1), probs.argmax(1), probs)


def line(record: ImageRecord) -> str:
    return json.dumps(record.to_json(), separators=(",", ":"))


def test_record_keeps_full_probability_vector_and_conf_is_its_max():
    record = ImageRecord.from_detections("x.jpg", dets(), width=64, height=48, names=NAMES).to_json()
    assert record["n_boxes"] == 2 and record["width"] == 64
    for box in record["boxes"]:
        assert len(box["probs"]) == len(NAMES)
        assert box["conf"] == max(box["probs"])
        assert box["cls"] == int(np.argmax(box["probs"]))
        assert box["label"] == NAMES[box["cls"]]
    back = ImageRecord.from_json(json.loads(json.dumps(record))).detections
    np.testing.assert_allclose(back.xyxy, dets().xyxy, atol=0.006)
    np.testing.assert_allclose(back.probs, dets().probs, atol=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        # a plain record, an error record, an uncalibrated scored record, a calibrated failed one
        '{"image":"x.jpg","width":64,"height":48,"n_boxes":1,"boxes":[{"xyxy":[1.23,2.0,30.5,40.25],'
        '"conf":0.812346,"cls":1,"label":"b","probs":[0.1,0.812346,0.3]}]}',
        '{"image":"bad.png","error":"cannot decode","n_boxes":0,"boxes":[]}',
        '{"image":"s/y.jpg","width":8,"height":8,"n_boxes":0,"boxes":[],"score":null,'
        '"components":{"predictive_entropy":null},"n_candidates":0,"failed":true}',
        '{"image":"z.jpg","width":9000,"height":12000,"n_boxes":1,"boxes":[{"xyxy":[8999.99,11999.99,'
        '9000.0,12000.0],"conf":0.999999,"cls":0,"label":"a","probs":[0.999999,1e-06,0.0]}],"score":1.25,'
        '"components":{"one_minus_conf":1e-06},"n_candidates":3,"failed":false,"p_needs_correction":0.4,'
        '"difficulty":"medium","later_key":[1,2]}',
    ],
)
def test_a_log_line_round_trips_byte_for_byte(text):
    assert line(ImageRecord.from_json(json.loads(text))) == text


def test_bands_are_never_invented():
    plain = ImageRecord.from_detections("x.jpg", dets(), width=64, height=48, names=NAMES)
    assert plain.difficulty is None and plain.band is None and not plain.scored
    failed = ImageRecord.from_detections(
        "y.jpg", Detections.empty(3), width=1, height=1, names=NAMES, score=None, components={}, failed=True
    )
    assert failed.band == "failed" and failed.difficulty is None
    with pytest.raises(ValueError, match="difficulty 'unknown'"):
        ImageRecord(image="z.jpg", difficulty="unknown")


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    log = tmp_path / "p.jsonl"
    with RecordWriter(log) as w:
        w.append([ImageRecord(image="a"), ImageRecord(image="b")])
    with open(log, "a") as f:
        f.write('{"image": "c", "bo')  # killed mid-write
    assert [r.image for r in read_records(log)] == ["a", "b"]
    assert [r.image for r in read_records(log, repair=True)] == ["a", "b"]
    with RecordWriter(log) as w:
        w.append([ImageRecord(image="c")])
    assert [r.image for r in read_records(log)] == ["a", "b", "c"]


def test_an_image_recorded_twice_is_read_once(tmp_path):
    log = tmp_path / "p.jsonl"
    with RecordWriter(log) as w:
        w.append([ImageRecord(image="a"), ImageRecord(image="b"), ImageRecord.unreadable("a", "later copy")])
    records = read_records(log)
    assert [r.image for r in records] == ["a", "b"] and records[0].ok


def test_corrupt_line_in_the_middle_is_an_error(tmp_path):
    log = tmp_path / "p.jsonl"
    log.write_text('{"image": "a"}\nnot json\n{"image": "b"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:2"):
        read_records(log)


def test_missing_file_has_no_records(tmp_path):
    assert read_records(tmp_path / "none.jsonl") == []


def test_an_image_recorded_twice_counts_once(tmp_path):
    log = tmp_path / "p.jsonl"
    with JsonlWriter(log) as w:
        w.append([{"image": "a", "n": 1}, {"image": "b", "n": 1}])
    with JsonlWriter(log) as w:  # a second job wrote the same images again
        w.append([{"image": "b", "n": 2}, {"image": "a", "n": 2}, {"image": "c", "n": 2}])
    assert [(r.image, r.extra["n"]) for r in read_records(log)] == [("a", 1), ("b", 1), ("c", 2)]
    assert len(read_records(log, unique=False)) == 5


def test_an_embedding_travels_in_its_line_as_float16_and_only_when_given():
    vector = np.linspace(-1, 1, 448).astype(np.float32)
    record = ImageRecord.from_detections("e.jpg", dets(), width=64, height=48, names=NAMES, embedding=vector)
    data = json.loads(line(record))
    assert isinstance(data["embedding"], str) and len(data["embedding"]) == 1196  # base64 of 896 bytes
    back = ImageRecord.from_json(data)
    assert back.embedding.dtype == np.float16 and back.embedding.shape == (448,)
    np.testing.assert_array_equal(back.embedding, vector.astype(np.float16))
    assert not back.embedding.flags.writeable
    assert line(back) == line(record)  # the line round-trips byte for byte
    plain = ImageRecord.from_detections("e.jpg", dets(), width=64, height=48, names=NAMES)
    assert "embedding" not in plain.to_json() and plain.embedding is None
    assert line(plain) == line(ImageRecord.from_json(json.loads(line(record)) | {"embedding": None}))
