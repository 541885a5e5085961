"""COCO from annotation tools: categories mapped by name; auto-label COCO files carry per-image facts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autolabel.errors import DataError
from autolabel.formats.coco import CocoImage, coco_dataset, read_coco, write_coco
from autolabel.formats.coco_reviewed import read_coco_reviewed
from autolabel.formats.reviewed import ExportError

NAMES = ["cat", "dog", "bird"]


def tool_export() -> dict:
    """A COCO file as another tool writes it: ids 0, 7, 42 in another order than the project's classes."""
    return {
        "images": [
            {"id": 10, "file_name": "a.jpg", "width": 100, "height": 50},
            {"id": 11, "file_name": "sub/b.jpg", "width": 64, "height": 64},
            {"id": 12, "file_name": "c.jpg"},
        ],
        "categories": [{"id": 42, "name": "bird"}, {"id": 0, "name": "cat"}, {"id": 7, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 0, "bbox": [1, 2, 10, 20], "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 42, "bbox": [90, 40, 30, 30], "area": 1},
            {"id": 3, "image_id": 10, "category_id": 7, "bbox": [0, 0, 100, 50], "iscrowd": 1},
            {"id": 4, "image_id": 12, "category_id": 7, "segmentation": [[1, 1, 2, 2, 1, 2]]},
            {"id": 5, "image_id": 12, "category_id": 7, "bbox": [5, 5, 1, 1], "score": 0.3},
        ],
    }


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    return path


def test_categories_are_mapped_by_name_whatever_their_ids(tmp_path):
    path = write(tmp_path, tool_export())
    with pytest.raises(DataError, match="category ids must be 1..3"):
        read_coco(path)  # the toolkit's own reader insists on 1..n
    a, b, c = read_coco_reviewed(path, names=NAMES)
    assert (a.image, a.labels, a.width, a.height) == ("a.jpg", ("cat", "bird"), 100, 50)
    np.testing.assert_allclose(a.xyxy, [[1, 2, 11, 22], [90, 40, 100, 50]])  # clipped to 100 x 50
    assert a.extra == {"image_id": 10, "ignored": {"crowd": 1}} and "image 10" in a.source
    assert (b.image, len(b)) == ("sub/b.jpg", 0)
    assert (c.width, c.labels, c.extra["ignored"], c.extra["scored_boxes"]) == (
        None,
        ("dog",),
        {"no_bbox": 1},
        1,
    )
    np.testing.assert_allclose(c.xyxy, [[5, 5, 6, 6]])


def test_file_without_annotations_key(tmp_path):
    data = tool_export()
    del data["annotations"], data["categories"]
    assert [len(r) for r in read_coco_reviewed(write(tmp_path, data), names=NAMES)] == [0, 0, 0]


def test_unknown_category_names_are_an_error(tmp_path):
    path = write(tmp_path, tool_export())
    with pytest.raises(ExportError, match=r"\['bird'\] are not among .*\['cat', 'dog'\]") as err:
        read_coco_reviewed(path, names=["cat", "dog"])
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.clear(), "an object with an 'images' list"),
        (
            lambda d: d["categories"].append({"id": 0, "name": "x"}),
            r"categories\[3\]: duplicate category id 0",
        ),
        (lambda d: d["images"].append({"id": 10, "file_name": "z.jpg"}), r"images\[3\]: duplicate image id"),
        (lambda d: d["images"].append({"id": 13, "file_name": "a.jpg"}), r"images\[3\]: 'file_name' must be"),
        (lambda d: d["annotations"][0].update(image_id=99), r"annotations\[0\]: unknown image_id 99"),
        (lambda d: d["annotations"][0].update(category_id=3), r"annotations\[0\]: unknown category_id 3"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), r"annotations\[0\]: 'bbox' must be"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, -3, 4]), r"annotations\[0\]: bbox width"),
        (lambda d: d["annotations"][0].pop("category_id"), r"annotations\[0\]: missing key 'category_id'"),
    ],
)
def test_malformed_files_name_the_file_and_entry(tmp_path, mutate, message):
    data = tool_export()
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(ExportError, match=message) as err:
        read_coco_reviewed(path, names=NAMES)
    assert str(path) in str(err.value)


def test_unparsable_file(tmp_path):
    path = tmp_path / "coco.json"
    path.write_text("{")
    with pytest.raises(ExportError, match="cannot read a COCO JSON file"):
        read_coco_reviewed(path, names=NAMES)


# ------------------------------------------------------------------------------------- auto-label export


def auto_labels() -> list[CocoImage]:
    facts = {"uncertainty": 1.25, "band": "hard", "p_needs_correction": 0.8}
    return [
        CocoImage(
            "a.jpg",
            64,
            48,
            np.array([[1, 2, 3, 4], [5, 6, 7, 8]]),
            np.array([0, 2]),
            np.array([0.9, 0.4]),
            extra=facts,
        ),  # fmt: skip
        CocoImage("empty.jpg", 8, 8, np.zeros((0, 4)), np.zeros(0), np.zeros(0), extra={"band": "failed"}),
    ]


def test_extra_facts_go_into_the_image_and_every_annotation(tmp_path):
    data = coco_dataset(auto_labels(), names=NAMES)
    first, empty = data["images"]
    assert first["uncertainty"] == 1.25 and first["band"] == "hard" and empty["band"] == "failed"
    for ann in data["annotations"]:  # FiftyOne: score -> confidence, the rest -> Detection attributes
        assert ann["score"] in (0.9, 0.4) and (
            ann["uncertainty"],
            ann["band"],
            ann["p_needs_correction"],
        ) == (
            1.25,
            "hard",
            0.8,
        )
    path = tmp_path / "auto.json"
    write_coco(path, data)
    _, images = read_coco(path)
    assert [im.extra for im in images] == [im.extra for im in auto_labels()]
    reviewed = read_coco_reviewed(path, names=NAMES)  # the reader of tools' files reads ours too
    assert reviewed[0].labels == ("cat", "bird") and reviewed[0].extra["scored_boxes"] == 2


@pytest.mark.parametrize("key", ["score", "id", "bbox", "confidence", "label", "attributes"])
def test_extra_may_not_shadow_coco_or_fiftyone_keys(key):
    with pytest.raises(ValueError, match="reserved"):
        CocoImage("a.jpg", 4, 4, np.zeros((0, 4)), np.zeros(0), extra={key: 1})
