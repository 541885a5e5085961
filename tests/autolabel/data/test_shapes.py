"""The shapes set: deterministic, valid YOLO labels, a one-class variant, clear errors."""

import pytest

from autolabel.data.datasets import shapes_dataset
from autolabel.data.synthetic.shapes import generate_shapes, render_shapes_image
from autolabel.formats.yolo import read_yolo_labels


def test_same_seed_same_bytes_and_a_prefix_for_fewer_images(tmp_path):
    a = generate_shapes(tmp_path / "a", n_images=6, image_size=64, seed=3).parent
    b = generate_shapes(tmp_path / "b", n_images=4, image_size=64, seed=3).parent
    for i in range(4):
        name = f"{i:05d}"
        assert (a / "images" / f"{name}.jpg").read_bytes() == (b / "images" / f"{name}.jpg").read_bytes()
        assert (a / "labels" / f"{name}.txt").read_text() == (b / "labels" / f"{name}.txt").read_text()
    other = generate_shapes(tmp_path / "c", n_images=4, image_size=64, seed=4).parent
    assert (other / "images" / "00000.jpg").read_bytes() != (b / "images" / "00000.jpg").read_bytes()


def test_labels_are_valid_boxes_around_the_drawn_shapes(tmp_path):
    spec = shapes_dataset(root=str(tmp_path / "s"), n_images=12, image_size=96, seed=0)
    assert list(spec.names) == ["square", "disc"] and len(spec.train) == 12
    boxes = 0
    for image in spec.train:
        truth = read_yolo_labels(
            image.parent.parent / "labels" / f"{image.stem}.txt", num_classes=2, width=96, height=96
        )
        assert ((truth.xyxy >= 0) & (truth.xyxy <= 96)).all()
        boxes += len(truth)
    assert boxes > 0
    img, objects, meta = render_shapes_image(1, image_size=96)
    for o in objects:  # the box holds the shape: its pixels differ from the background's mean
        x0, y0, x1, y1 = o["xyxy"]
        inside = img[y0:y1, x0:x1, 0].astype(float).mean()
        assert abs(inside - meta["background"]) > 5


def test_a_one_class_set(tmp_path):
    spec = shapes_dataset(root=str(tmp_path / "one"), n_images=5, image_size=64, classes=["disc"])
    assert list(spec.names) == ["disc"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classes": ["hexagon"]}, "classes"),
        ({"hard_share": 1.5}, "hard_share"),
        ({"n_images": 0}, "n_images"),
    ],
)
def test_bad_parameters_are_named(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_shapes(tmp_path / "x", **{"n_images": 2, "image_size": 64, **kwargs})
