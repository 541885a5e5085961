"""COCO JSON export: exact round trips, 1-based category ids, and errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autolabel.errors import DataError
from autolabel.formats.coco import CocoImage, coco_dataset, read_coco, write_coco

NAMES = ["cat", "dog", "bird"]


def auto_labels() -> list[CocoImage]:
    rng = np.random.default_rng(0)
    probs = rng.random((3, 3)).astype(np.float32)
    return [
        CocoImage(
            file_name="images/a.jpg",
            width=640,
            height=480,
            xyxy=np.array([[10.25, 20.5, 110.75, 220.0], [0, 0, 640, 480], [5.5, 6.5, 7.5, 8.5]], np.float32),
            cls=probs.argmax(1),
            score=probs.max(1),
            probs=probs,
        ),
        CocoImage("images/empty.jpg", 32, 16, np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros((0, 3))),
    ]


def write_and_read(tmp_path: Path, images: list[CocoImage]) -> tuple[list[str], list[CocoImage]]:
    path = tmp_path / "out" / "labels.json"
    write_coco(path, coco_dataset(images, names=NAMES))
    return read_coco(path)


def test_round_trip_is_exact_up_to_rounding(tmp_path: Path) -> None:
    images = auto_labels()
    names, back = write_and_read(tmp_path, images)
    assert names == NAMES
    assert [(b.file_name, b.width, b.height) for b in back] == [
        (i.file_name, i.width, i.height) for i in images
    ]
    for im, b in zip(images, back, strict=True):
        np.testing.assert_array_equal(b.cls, im.cls)
        np.testing.assert_allclose(b.xyxy, im.xyxy, atol=1e-4, rtol=0)  # inputs already have 2 decimals
        np.testing.assert_allclose(b.score, im.score, atol=5e-7, rtol=0)
        np.testing.assert_allclose(b.probs, im.probs, atol=5e-7, rtol=0)
        assert b.xyxy.dtype == np.float32 and b.cls.dtype == np.int64 and b.probs.shape == im.probs.shape
    # a second pass through the format changes nothing
    assert coco_dataset(back, names=names) == coco_dataset(images, names=NAMES)


def test_round_trip_without_scores(tmp_path: Path) -> None:
    human = [CocoImage("a.png", 10, 10, np.array([[1.004, 2, 3.006, 4]]), np.array([2]))]
    names, (b,) = write_and_read(tmp_path, human)
    assert b.score is None and b.probs is None
    np.testing.assert_allclose(b.xyxy, [[1.0, 2, 3.01, 4]], atol=1e-5)


def test_file_layout_and_one_based_category_ids(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    write_coco(path, coco_dataset(auto_labels(), names=NAMES))
    text = path.read_text()
    assert "\n" not in text and ", " not in text  # compact
    data = json.loads(text)
    assert data["categories"] == [
        {"id": k + 1, "name": n, "supercategory": "object"} for k, n in enumerate(NAMES)
    ]
    assert [im["id"] for im in data["images"]] == [1, 2]
    assert data["licenses"] == [] and data["info"]["description"]
    ann = data["annotations"][0]
    im = auto_labels()[0]
    assert ann["id"] == 1 and ann["image_id"] == 1 and ann["iscrowd"] == 0
    assert ann["category_id"] == int(im.cls[0]) + 1
    assert ann["bbox"] == [10.25, 20.5, 100.5, 199.5] and ann["area"] == pytest.approx(100.5 * 199.5)
    assert len(ann["probs"]) == 3 and ann["score"] == round(float(im.score[0]), 6)
    assert ann["probs"] != [round(p, 4) for p in ann["probs"]]  # 6 decimals kept, not 4


def test_writer_refuses_inconsistent_input() -> None:
    good = auto_labels()[0]
    with pytest.raises(ValueError, match="outside 0..1"):
        coco_dataset([good], names=["a", "b"])
    with pytest.raises(ValueError, match="score is given for some images"):
        coco_dataset([good, CocoImage("b.jpg", 4, 4, np.zeros((0, 4)), np.zeros(0))], names=NAMES)
    with pytest.raises(ValueError, match="boxes must be finite xyxy"):
        CocoImage("c.jpg", 4, 4, np.array([[3, 0, 1, 2]]), np.array([0]))


def coco_file(tmp_path: Path, mutate) -> Path:
    data = coco_dataset(auto_labels(), names=NAMES)
    mutate(data)
    path = tmp_path / "bad_labels.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("annotations"), "'annotations' is missing"),
        (lambda d: d["annotations"][1].pop("bbox"), "annotations[1]: missing key 'bbox'"),
        (lambda d: d["annotations"][2].update(category_id=4), "unknown category_id 4"),
        (lambda d: d["annotations"][0].update(image_id=9), "unknown image_id 9"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), "'bbox' must be a list of 4"),
        (lambda d: d["annotations"][0].update(probs=[0.5]), "'probs' must be a list of 3"),
        (lambda d: d["annotations"][1].pop("score"), "missing key 'score'"),
        (lambda d: d["images"][1].update(id=1), "duplicate image id 1"),
        (lambda d: d["images"][0].pop("width"), "images[0]: missing key 'width'"),
        (lambda d: d["categories"][0].update(id=7), "category ids must be 1..3"),
    ],
)
def test_reader_errors_name_the_file(tmp_path: Path, mutate, message: str) -> None:
    path = coco_file(tmp_path, mutate)
    with pytest.raises(DataError) as info:
        read_coco(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_reader_missing_and_unparsable_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found: .*nothing.json"):
        read_coco(tmp_path / "nothing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(DataError, match="broken.json: cannot parse"):
        read_coco(broken)
