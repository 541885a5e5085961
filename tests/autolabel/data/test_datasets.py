"""A YOLO dataset with no labels at all is refused by name unless the user says it is meant to be so."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from autolabel.data.datasets import yolo_dataset
from autolabel.errors import DataError

CONF = Path(__file__).resolve().parents[3] / "conf"


def dataset(root, *, train_labels, val_labels=0):
    """A YOLO layout with 4 train and 2 val images; the first ``*_labels`` images get a label file."""
    for split, n, labeled in (("train", 4, train_labels), ("val", 2, val_labels)):
        (root / "images" / split).mkdir(parents=True)
        for i in range(n):
            (root / "images" / split / f"{i}.jpg").write_bytes(b"jpeg")
            if i < labeled:
                label = root / "labels" / split / f"{i}.txt"
                label.parent.mkdir(parents=True, exist_ok=True)
                label.write_text("0 0.5 0.5 0.2 0.2\n")
    yaml = root / "data.yaml"
    yaml.write_text("path: .\ntrain: images/train\nval: images/val\nnames: [defect]\n")
    return yaml


def test_a_dataset_without_labels_is_refused_by_name(tmp_path):
    yaml = dataset(tmp_path, train_labels=0, val_labels=0)
    with pytest.raises(DataError, match=r"data.yaml: none of the 4 'train' images has a label file") as info:
        yolo_dataset(path=str(yaml))
    assert "labels/train/0.txt" in str(info.value) and "data.allow_unlabeled=true" in str(info.value)


def test_an_unlabeled_val_split_is_refused_too(tmp_path):
    yaml = dataset(tmp_path, train_labels=1, val_labels=0)
    with pytest.raises(DataError, match="none of the 2 'val' images"):
        yolo_dataset(path=str(yaml))


def test_some_unlabeled_images_are_fine_and_allow_unlabeled_accepts_none(tmp_path):
    labeled = dataset(tmp_path / "a", train_labels=1, val_labels=1)
    assert len(yolo_dataset(path=str(labeled)).train) == 4  # a missing label file: an image of background
    bare = dataset(tmp_path / "b", train_labels=0)
    assert len(yolo_dataset(path=str(bare), allow_unlabeled=True).train) == 4


def test_the_setting_is_in_the_yolo_config(tmp_path):
    yaml = dataset(tmp_path, train_labels=0)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data=yolo", f"data.path={yaml}"])
        allowed = compose(
            config_name="train", overrides=["data=yolo", f"data.path={yaml}", "data.allow_unlabeled=true"]
        )
    assert cfg.data.allow_unlabeled is False
    with pytest.raises(InstantiationException) as info:
        instantiate(cfg.data)
    assert isinstance(info.value.__cause__, DataError)
    assert len(instantiate(allowed.data).train) == 4
