"""YOLO format: round trips, polygons, data.yaml layouts, and errors that name the file at fault."""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from autolabel.errors import DataError, LabelError
from autolabel.formats.yolo import (
    format_yolo_lines,
    image_size,
    label_path_for,
    list_images,
    load_data_yaml,
    read_yolo_labels,
    write_yolo_labels,
)


def make_image(path: Path, width: int = 8, height: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(path)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------- labels


@st.composite
def boxes_in_image(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    width = draw(st.integers(1, 1000))
    height = draw(st.integers(1, 1000))
    n = draw(st.integers(0, 6))
    boxes = []
    for _ in range(n):
        x1 = draw(st.floats(0, width - 0.05))
        y1 = draw(st.floats(0, height - 0.05))
        x2 = draw(st.floats(x1 + 0.05, width))
        y2 = draw(st.floats(y1 + 0.05, height))
        boxes.append((x1, y1, x2, y2))
    cls = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(cls, np.int64), width, height


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=boxes_in_image())
def test_write_read_round_trip(tmp_path: Path, case: tuple) -> None:
    xyxy, cls, width, height = case
    label = tmp_path / "labels" / "a.txt"
    write_yolo_labels(label, xyxy, cls, width=width, height=height)
    gt = read_yolo_labels(label, num_classes=5, width=width, height=height)
    assert gt.xyxy.dtype == np.float32 and gt.cls.dtype == np.int64
    np.testing.assert_array_equal(gt.cls, cls)
    np.testing.assert_allclose(gt.xyxy, xyxy, atol=1e-3, rtol=0)


def test_format_clips_to_image_and_writes_conf_column() -> None:
    text = format_yolo_lines(
        np.array([[-10, 0, 50, 100], [10, 20, 30, 40]]),
        np.array([1, 0]),
        width=100,
        height=100,
        conf=[0.5, 0.25],
    )
    assert (
        text
        == "1 0.250000 0.500000 0.500000 1.000000 0.500000\n0 0.200000 0.300000 0.200000 0.200000 0.250000\n"
    )


def test_format_empty_and_zero_area_after_clipping() -> None:
    assert format_yolo_lines(np.zeros((0, 4)), np.zeros(0), width=10, height=10) == ""
    with pytest.warns(UserWarning, match="dropped 1"):
        text = format_yolo_lines(
            np.array([[20, 0, 30, 5], [1, 1, 2, 2]]), np.array([0, 3]), width=10, height=10
        )
    assert text.splitlines() == ["3 0.150000 0.150000 0.100000 0.100000"]


def test_write_is_atomic_and_creates_parents(tmp_path: Path) -> None:
    label = tmp_path / "deep" / "labels" / "x.txt"
    write_yolo_labels(label, np.array([[0, 0, 5, 5]]), np.array([2]), width=10, height=10)
    write_yolo_labels(label, np.zeros((0, 4)), np.zeros(0), width=10, height=10)
    assert label.read_text() == ""
    assert [p.name for p in label.parent.iterdir()] == ["x.txt"]  # no temp file left behind


def test_polygon_line_becomes_its_bounding_box(tmp_path: Path) -> None:
    label = write(tmp_path / "p.txt", "2 0.1 0.2 0.5 0.1 0.4 0.6 0.2 0.5\n\n0 0.5 0.5 0.2 0.2\n")
    gt = read_yolo_labels(label, num_classes=3, width=200, height=100)
    np.testing.assert_allclose(gt.xyxy, [[20, 10, 100, 60], [80, 40, 120, 60]], atol=1e-4)
    np.testing.assert_array_equal(gt.cls, [2, 0])


def test_missing_or_blank_label_file_is_an_image_without_objects(tmp_path: Path) -> None:
    assert len(read_yolo_labels(tmp_path / "none.txt", num_classes=1, width=5, height=5)) == 0
    assert len(read_yolo_labels(write(tmp_path / "b.txt", "\n  \n"), num_classes=1, width=5, height=5)) == 0


def test_small_overshoot_is_clipped(tmp_path: Path) -> None:
    label = write(tmp_path / "o.txt", "0 1.005 0.5 0.1 0.2\n")
    gt = read_yolo_labels(label, num_classes=1, width=100, height=100)
    np.testing.assert_allclose(gt.xyxy, [[95.5, 40, 100, 60]], atol=1e-4)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("0 0.5 0.5 0.2", "expected 5 fields"),
        ("0 0.5 0.5 0.2 0.2 0.9", "6 fields look like a prediction"),
        ("0 0.1 0.1 0.2 0.2 0.3 0.3 0.4", "got 8"),
        ("0 0.5 abc 0.2 0.2", "'abc'"),
        ("0 0.5 nan 0.2 0.2", "'nan'"),
        ("0 0.5 0.5 inf 0.2", "'inf'"),
        ("7 0.5 0.5 0.2 0.2", "class id 7 out of range 0..5"),
        ("-1 0.5 0.5 0.2 0.2", "class id -1 out of range"),
        ("1.5 0.5 0.5 0.2 0.2", "class id '1.5' is not an integer"),
        ("x 0.5 0.5 0.2 0.2", "class id 'x' is not an integer"),
        ("0 0.5 0.5 0 0.2", "zero-area"),
        ("0 0.5 0.5 0.2 -0.005", "zero-area"),
        ("0 0.1 0.1 0.5 0.1 0.9 0.1", "zero-area"),
        ("0 1.2 0.5 0.2 0.2", "outside [0, 1]"),
        ("0 0.5 0.5 0.2 0.2 0.5 -0.2", "outside [0, 1]"),
        ("0 320 240 50 60", "outside [0, 1]"),
    ],
)
def test_bad_label_line_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    label = write(tmp_path / "labels" / "img_42.txt", f"1 0.5 0.5 0.1 0.1\n\n{line}\n")
    with pytest.raises(LabelError) as info:
        read_yolo_labels(label, num_classes=6, width=640, height=480)
    assert str(info.value).startswith(f"{label}:3: ")
    assert reason in str(info.value)
    assert (info.value.path, info.value.line) == (label, 3)
    assert isinstance(info.value, DataError)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)


def test_integral_float_class_id_is_accepted(tmp_path: Path) -> None:
    gt = read_yolo_labels(
        write(tmp_path / "f.txt", "2.0 0.5 0.5 0.2 0.2\n"), num_classes=3, width=10, height=10
    )
    np.testing.assert_array_equal(gt.cls, [2])


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("/d/images/train/a.jpg", "/d/labels/train/a.txt"),
        ("/d/images/x/images/b.PNG", "/d/images/x/labels/b.txt"),  # only the last 'images' component
        ("/d/my_images/c.jpeg", "/d/my_images/c.txt"),  # no '/images/' component: label beside the image
        ("/d/images/v1.2/d.jpg", "/d/labels/v1.2/d.txt"),
    ],
)
def test_label_path_for(image: str, label: str) -> None:
    assert label_path_for(Path(image)) == Path(label)


def test_image_size_and_unreadable_image(tmp_path: Path) -> None:
    assert image_size(make_image(tmp_path / "a.png", width=7, height=3)) == (7, 3)
    bad = write(tmp_path / "broken.jpg", "not an image")
    with pytest.raises(DataError, match="broken.jpg"):
        image_size(bad)
    with pytest.raises(DataError, match="missing.jpg"):
        image_size(tmp_path / "missing.jpg")


def test_image_size_follows_exif_rotation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[274] = 6  # rotate 90 degrees: decoders return a tall image
    path = tmp_path / "rot.jpg"
    Image.fromarray(np.zeros((3, 7, 3), np.uint8)).save(path, exif=exif)
    assert image_size(path) == (3, 7)


def test_list_images_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    for name in ["b/2.JPG", "a.png", "b/1.webp", ".hidden/x.jpg"]:
        make_image(tmp_path / name)
    write(tmp_path / "b" / "._2.JPG", "")  # macOS resource fork: hidden, not an image
    write(tmp_path / "notes.txt", "x")
    assert list_images(tmp_path) == [tmp_path / "a.png", tmp_path / "b/1.webp", tmp_path / "b/2.JPG"]


# -------------------------------------------------------------------------------------------- data.yaml


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """tmp/ds/images/{train,val}/*.png and a data.yaml beside them."""
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            make_image(tmp_path / "ds" / "images" / split / f"{split}{i}.png")
    return tmp_path / "ds"


def test_yaml_with_directories_and_list_names(dataset: Path) -> None:
    yaml_path = write(
        dataset / "data.yaml", "train: images/train\nval: images/val\ntest: nope\nnames: [cat, dog]\n"
    )
    spec = load_data_yaml(yaml_path)
    assert spec.names == ("cat", "dog") and spec.root == dataset.resolve() and spec.yaml_path == yaml_path
    assert [p.name for p in spec.train] == ["train0.png", "train1.png", "train2.png"]
    assert [p.name for p in spec.val] == ["val0.png", "val1.png"]
    assert all(p.is_absolute() for p in spec.train)


def test_yaml_with_dict_names_path_key_and_list_of_dirs(dataset: Path) -> None:
    yaml_path = write(
        dataset.parent / "cfg" / "data.yaml",
        "path: ../ds\ntrain: [images/train, images/val]\nnc: 3\nnames: {0: a, 2: c, 1: b}\n",
    )
    spec = load_data_yaml(yaml_path)
    assert spec.names == ("a", "b", "c") and spec.val is None and spec.root == dataset.resolve()
    assert len(spec.train) == 5 and list(spec.train) == sorted(spec.train, key=str)


def test_yaml_with_list_files(dataset: Path) -> None:
    write(dataset / "lists" / "train.txt", "./../images/train/train0.png\n\nimages/train/train2.png\n")
    write(dataset / "val.txt", "images/val/val1.png\n")
    yaml_path = write(dataset / "data.yaml", "train: lists/train.txt\nval: [val.txt]\nnames: [x]\n")
    spec = load_data_yaml(yaml_path)
    assert [p.name for p in spec.train] == ["train0.png", "train2.png"]
    assert spec.train[0] == dataset.resolve() / "images" / "train" / "train0.png"
    assert [p.name for p in spec.val] == ["val1.png"]


def test_yaml_single_image_entry(dataset: Path) -> None:
    spec = load_data_yaml(write(dataset / "d.yaml", "train: images/train/train1.png\nnames: [x]\n"))
    assert [p.name for p in spec.train] == ["train1.png"]


def test_val_equal_to_train_warns_and_becomes_none(dataset: Path) -> None:
    yaml_path = write(dataset / "data.yaml", "train: images/train\nval: images/train/\nnames: [x]\n")
    with pytest.warns(UserWarning, match="same 3 images"):
        spec = load_data_yaml(yaml_path)
    assert spec.val is None and len(spec.train) == 3


def test_distinct_val_does_not_warn(dataset: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_data_yaml(write(dataset / "data.yaml", "train: images/train\nval: images/val\nnames: [x]\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", "must be a mapping"),
        ("train: [unclosed\n", "cannot parse"),
        ("train: images/train\n", "'names' is missing"),
        ("train: images/train\nnames: cat\n", "'names' must be a list"),
        ("train: images/train\nnames: []\n", "'names' is empty"),
        ("train: images/train\nnames: {0: a, 2: c}\n", "ids must be 0..1"),
        ("train: images/train\nnames: [cat, yes]\n", "entry 1 is True"),
        ("train: images/train\nnc: 3\nnames: [a, b]\n", "'nc: 3' does not match"),
        ("names: [a]\n", "'train' is missing"),
        ("train: images/nope\nnames: [a]\n", "'train' entry 'images/nope' does not exist"),
        ("train: images/train\nval: [images/val, gone]\nnames: [a]\n", "'val' entry 'gone' does not exist"),
        ("train: empty\nnames: [a]\n", "'train' has no images"),
        ("train: images/train\npath: elsewhere\nnames: [a]\n", "'path' dataset root does not exist"),
        ("train: data.yaml\nnames: [a]\n", "neither a directory"),
    ],
)
def test_bad_yaml_names_file_and_key(dataset: Path, text: str, message: str) -> None:
    (dataset / "empty").mkdir()
    yaml_path = write(dataset / "data.yaml", text)
    with pytest.raises(DataError) as info:
        load_data_yaml(yaml_path)
    assert str(yaml_path) in str(info.value) and message in str(info.value)


def test_missing_yaml_and_missing_listed_image(dataset: Path) -> None:
    with pytest.raises(DataError, match=r"data.yaml not found: .*nowhere.yaml \(set data.path\)"):
        load_data_yaml(dataset / "nowhere.yaml")
    list_file = write(dataset / "train.txt", "images/train/train0.png\nimages/train/ghost.png\n")
    with pytest.raises(DataError, match=re.escape(f"{list_file}:2: image not found: ")):
        load_data_yaml(write(dataset / "data.yaml", "train: train.txt\nnames: [a]\n"))
