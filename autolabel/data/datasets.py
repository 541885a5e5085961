"""Dataset sources for the Hydra ``data`` group: each returns a :class:`DatasetSpec`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from autolabel.data.synthetic.demo import generate_demo
from autolabel.data.synthetic.shapes import generate_shapes
from autolabel.errors import DataError
from autolabel.formats.yolo import DatasetSpec, label_path_for, load_data_yaml


def cache_root() -> Path:
    """Where generated data lives by default: ``$XDG_CACHE_HOME/autolabel`` (``~/.cache/autolabel``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autolabel"


def demo_dataset(
    *,
    root: str | None = None,
    n_images: int = 774,
    image_size: int = 256,
    seed: int = 0,
    shift_share: float = 0.0,
) -> DatasetSpec:
    """The built-in steel-defect demo set, generated once into ``root`` (default: the cache) and reused.

    shift_share: expected share of images from a second imaging line (inverted gray levels); 0 = none.
    """
    name = f"n{n_images}_px{image_size}_seed{seed}" + (f"_shift{shift_share:g}" if shift_share else "")
    folder = Path(root) if root else cache_root() / "demo" / name
    return load_data_yaml(
        generate_demo(folder, n_images=n_images, image_size=image_size, seed=seed, shift_share=shift_share)
    )


def shapes_dataset(
    *,
    root: str | None = None,
    n_images: int = 64,
    image_size: int = 128,
    seed: int = 0,
    classes: Sequence[str] = ("square", "disc"),
    hard_share: float = 0.15,
    max_objects: int = 3,
) -> DatasetSpec:
    """The tiny, easy shapes set (:mod:`autolabel.data.synthetic.shapes`), generated once into ``root``
    (default: the cache).

    classes: the shape drawn for each class id, e.g. ``[square, disc]`` or, for one class, ``[disc]``.
    """
    names = [str(c) for c in classes]
    name = f"n{n_images}_px{image_size}_seed{seed}_{'-'.join(names)}_hard{hard_share:g}_max{max_objects}"
    folder = Path(root) if root else cache_root() / "shapes" / name
    return load_data_yaml(
        generate_shapes(
            folder,
            n_images=n_images,
            image_size=image_size,
            seed=seed,
            classes=names,
            hard_share=hard_share,
            max_objects=max_objects,
        )
    )


def yolo_dataset(*, path: str | None, allow_unlabeled: bool = False) -> DatasetSpec:
    """A dataset in ultralytics' YOLO layout, given by the path of its data.yaml (``data.path``).

    A ``train`` or ``val`` split none of whose images has a label file is an error (training would learn
    from 0 boxes) unless ``allow_unlabeled`` says the images are meant to hold no objects.
    """
    if not path:
        raise DataError("data=yolo needs data.path=/path/to/data.yaml")
    spec = load_data_yaml(Path(path).expanduser())
    if not allow_unlabeled:
        check_labeled(spec)
    return spec


def check_labeled(spec: DatasetSpec) -> None:
    """Raise DataError naming the dataset and split when not one of a split's images has a label file."""
    for name, images in (("train", spec.train), ("val", spec.val or ())):
        if images and not any(label_path_for(image).is_file() for image in images):
            raise DataError(
                f"{spec.yaml_path}: none of the {len(images)} '{name}' images has a label file (looked for "
                f"YOLO labels such as {label_path_for(images[0])}, in a labels/ folder beside images/); "
                "training on it would learn from 0 boxes. Put the labels there, or set "
                "data.allow_unlabeled=true if these images really hold no objects"
            )
