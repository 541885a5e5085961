"""A training view of a split: a YOLO-format folder inside the run folder that ultralytics can train on.

Images are symlinked (copied where links are not allowed) and labels are re-written from the validated
ground truth, so ultralytics' label caches and anything else it writes land in the run folder and the
user's dataset, its ``labels/`` above all, is never written to.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from tqdm import tqdm

from autolabel.formats.yolo import image_size, label_path_for, read_yolo_labels, write_yolo_labels
from autolabel.structures import GroundTruth


def load_truth(image: Path, *, num_classes: int) -> GroundTruth:
    """The ground truth of one dataset image, read (and validated) from its YOLO label file."""
    width, height = image_size(image)
    return read_yolo_labels(label_path_for(image), num_classes=num_classes, width=width, height=height)


def view_name(index: int, image: Path) -> str:
    """A collision-free file name for the ``index``-th image of a split (stems may repeat across folders)."""
    return f"{index:06d}_{image.name}"


def _link(source: Path, target: Path) -> None:
    if target.is_symlink() or target.exists():
        target.unlink()
    try:
        os.symlink(source.resolve(), target)
    except OSError:  # file systems without symlinks
        shutil.copyfile(source, target)


def build_view(
    splits: Mapping[str, Sequence[Path]],
    *,
    dest: str | Path,
    names: Sequence[str],
    train: str,
    val: str,
    with_labels: Sequence[str] | None = None,
    yaml_name: str = "data.yaml",
) -> Path:
    """Write ``dest/images/<split>/`` and ``dest/labels/<split>/`` for every split, and a data.yaml.

    splits: split name -> image paths (splits already in ``dest`` and not named here are kept).
    ``train`` / ``val`` name the splits the data.yaml points at; ``with_labels`` the splits whose labels
    are copied (default: all); ``yaml_name`` the data.yaml's file name. Returns its path.
    """
    dest = Path(dest).resolve()
    labelled = set(splits if with_labels is None else with_labels)
    for split, images in splits.items():
        image_dir = dest / "images" / split
        label_dir = dest / "labels" / split
        if image_dir.exists():
            shutil.rmtree(image_dir)
        if label_dir.exists():
            shutil.rmtree(label_dir)
        image_dir.mkdir(parents=True)
        for index, image in enumerate(tqdm(images, desc=f"view {split}", unit="img", leave=False)):
            name = view_name(index, image)
            _link(image, image_dir / name)
            if split in labelled:
                width, height = image_size(image)
                truth = read_yolo_labels(
                    label_path_for(image), num_classes=len(names), width=width, height=height
                )
                write_yolo_labels(
                    label_dir / Path(name).with_suffix(".txt"),
                    truth.xyxy,
                    truth.cls,
                    width=width,
                    height=height,
                )
    data_yaml = dest / yaml_name
    spec = {
        "path": str(dest),
        "train": f"images/{train}",
        "val": f"images/{val}",
        "names": {i: name for i, name in enumerate(names)},
    }
    data_yaml.write_text(yaml.safe_dump(spec, sort_keys=False))
    return data_yaml
