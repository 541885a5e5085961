"""CVAT for images 1.1 XML: auto-labels out with declared attributes, reviewed boxes back in."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from autolabel.formats.cvat import SCORE, UNCERTAINTY, cvat_xml, read_cvat_xml
from autolabel.formats.reviewed import ExportError
from autolabel.records import ImageRecord
from autolabel.structures import Detections

NAMES = ("car", 'a<b&"c"')


def record(image: str, boxes: list[list[float]], classes: list[int], names=NAMES, **fields) -> ImageRecord:
    probs = np.full((len(boxes), len(names)), 0.01, np.float32)
    probs[np.arange(len(boxes)), classes] = 0.8
    det = Detections(np.array(boxes, np.float32).reshape(-1, 4), probs.max(1), np.array(classes), probs)
    return ImageRecord.from_detections(image, det, width=320, height=240, names=names, **fields)


def records() -> list[ImageRecord]:
    return [
        record("sub/a.jpg", [[10.123, 20, 110, 120.5], [0, 0, 320, 240]], [0, 1], score=0.7, components={}),
        record("b.jpg", [], [], score=None, components={}, failed=True),
        ImageRecord.unreadable("broken.jpg", "truncated"),
    ]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "annotations.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_gives_the_boxes_back(tmp_path):
    path = write(tmp_path, cvat_xml(records(), names=NAMES))
    reviewed = read_cvat_xml(path, names=NAMES)
    assert [r.image for r in reviewed] == ["sub/a.jpg", "b.jpg"]  # the unreadable image is left out
    a, b = reviewed
    assert a.labels == ("car", 'a<b&"c"') and (a.width, a.height) == (320, 240) and len(b) == 0
    np.testing.assert_allclose(a.xyxy, records()[0].detections.xyxy, atol=0.006)
    assert a.extra["sources"] == {"auto": 2} and a.changed is None and a.lead_time is None


def test_attributes_are_declared_on_every_label_and_set_on_every_box():
    root = ET.fromstring(cvat_xml(records(), names=NAMES))
    assert root.findtext("version") == "1.1"
    labels = root.findall("meta/task/labels/label")
    assert [label.findtext("name") for label in labels] == list(NAMES)
    for label in labels:
        specs = {a.findtext("name"): a for a in label.findall("attributes/attribute")}
        assert set(specs) == {SCORE, UNCERTAINTY}
        assert all(
            s.findtext("input_type") == "text" and s.findtext("mutable") == "False" for s in specs.values()
        )
    boxes = root.findall("image/box")
    assert len(boxes) == 2 and all(b.get("source") == "auto" and b.get("occluded") == "0" for b in boxes)
    values = [{a.get("name"): a.text for a in box.findall("attribute")} for box in boxes]
    assert values == [{SCORE: "0.800000", UNCERTAINTY: "0.7"}] * 2


def test_image_names_and_one_class(tmp_path):
    one = [record("sub/a.jpg", [[1, 2, 3, 4]], [0], names=("only",))]
    text = cvat_xml(one, names=("only",), image_names={"sub/a.jpg": "a.jpg"})
    (reviewed,) = read_cvat_xml(write(tmp_path, text), names=("only",))
    assert reviewed.image == "a.jpg" and reviewed.labels == ("only",)
    uncertainty = ET.fromstring(text).find("image/box/attribute[@name='uncertainty']")
    assert uncertainty is not None and not uncertainty.text  # a record without uncertainty: empty


def test_writer_refuses_unknown_labels_and_repeated_names():
    with pytest.raises(ValueError, match="not in names"):
        cvat_xml(records(), names=("car",))
    twice = [record("a.jpg", [], []), record("b.jpg", [], [])]
    with pytest.raises(ValueError, match="'same.jpg'"):
        cvat_xml(twice, names=NAMES, image_names={"a.jpg": "same.jpg", "b.jpg": "same.jpg"})


def export(body: str) -> str:
    labels = "".join(f"<label><name>{n}</name></label>" for n in ("car", "dog"))
    meta = f"<meta><task><labels>{labels}</labels></task></meta>"
    return f"<annotations><version>1.1</version>{meta}{body}</annotations>"


def test_other_shapes_and_outside_boxes_are_ignored(tmp_path):
    body = (
        '<image id="3" name="x.png" width="100" height="50">'
        '<box label="car" source="manual" occluded="0" xtl="1" ytl="2" xbr="30" ybr="40" z_order="0"/>'
        '<box label="car" source="manual" outside="1" xtl="1" ytl="2" xbr="3" ybr="4"/>'
        '<polygon label="dog" points="1,1;5,5;1,5"/><points label="dog" points="1,1"/><tag label="car"/>'
        '<box label="dog" source="semi-auto" occluded="1" xtl="80" ytl="10" xbr="120" ybr="20"/>'
        "</image>"
    )
    (reviewed,) = read_cvat_xml(write(tmp_path, export(body)), names=["car", "dog"])
    assert reviewed.labels == ("car", "dog")
    np.testing.assert_allclose(reviewed.xyxy, [[1, 2, 30, 40], [80, 10, 100, 20]])  # clipped to the image
    assert reviewed.extra["ignored_shapes"] == {"polygon": 1, "points": 1, "tag": 1}
    assert reviewed.extra["sources"] == {"manual": 1, "semi-auto": 1} and "image 3 (x.png)" in reviewed.source


def test_rotated_box_becomes_its_bounding_box(tmp_path):
    box = '<box label="car" xtl="40" ytl="45" xbr="60" ybr="55" rotation="90"/>'
    body = f'<image id="0" name="r.png" width="100" height="100">{box}</image>'
    (reviewed,) = read_cvat_xml(write(tmp_path, export(body)), names=["car"])
    np.testing.assert_allclose(reviewed.xyxy, [[45, 40, 55, 60]], atol=1e-9)
    assert reviewed.extra["rotated_boxes"] == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("<annotations><image", "not well-formed XML"),
        ("<root/>", "not CVAT's <annotations>"),
        (export('<track id="0" label="car"/>'), "CVAT for video"),
        (
            export('<image id="0" name="a.png"><box label="car" xtl="a" ytl="0" xbr="1" ybr="1"/></image>'),
            "numeric",
        ),
        (
            export('<image id="0" name="a.png"><box label="car" xtl="5" ytl="0" xbr="1" ybr="1"/></image>'),
            "bad box",
        ),
        (
            export('<image id="0" name="a.png"><box label="cat" xtl="0" ytl="0" xbr="1" ybr="1"/></image>'),
            "'cat'",
        ),
    ],
)
def test_bad_exports_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ExportError, match=message) as err:
        read_cvat_xml(path, names=["car", "dog"])
    assert str(path) in str(err.value)


def test_missing_file_is_an_export_error(tmp_path):
    with pytest.raises(ExportError, match="cannot read"):
        read_cvat_xml(tmp_path / "none.xml", names=["car"])
