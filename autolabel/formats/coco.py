"""COCO detection JSON: writing auto-labels (with their scores) and reading them back.

Conventions of the files written here, checked when read back:
- ``images``: ids 1..n in the order given; ``file_name``, ``width``, ``height`` (pixels).
- ``categories``: ``{"id": k + 1, "name": names[k], "supercategory": "object"}``, i.e.
  ``category_id = class id + 1`` because COCO ids start at 1. Read back, category ids must be 1..n.
- ``annotations``: ids 1..m; ``bbox = [x, y, w, h]`` in pixels, rounded to 2 decimals (x, y are the
  rounded top-left corner; w, h the differences of the rounded corners, so x + w is the rounded x2);
  ``area = w * h``; ``iscrowd = 0``.
- Auto-labels carry two extra keys per annotation, which COCO tools ignore: ``score`` (the detection
  confidence) and ``probs`` (the full per-class score vector, length = number of categories, ultralytics'
  sigmoid scores, not a softmax), both rounded to 6 decimals. Within one file either every annotation
  carries ``score`` (``probs``) or none does. Two-level auto-labels add ``suggestion`` (true: a doubtful
  box for a person to confirm; false: a label), see :mod:`autolabel.job.two_level_files`.
- ``CocoImage.extra`` (per-image facts such as ``uncertainty``, ``band``, ``p_needs_correction``) is written
  into the image entry and into every annotation of the image. FiftyOne's COCO importer loads extra
  annotation keys as attributes of the Detection and ``score`` as its ``confidence`` (voxel51/fiftyone
  ``fiftyone/utils/coco.py``: ``COCOObject.from_anno_dict(d, extra_attrs=True)`` passes unknown keys to
  ``COCOObject(**attributes)``, and ``to_detection`` builds ``Detection(confidence=self.score,
  **attributes)``); an image without boxes keeps its facts only in its image entry. Read back, the image
  entry's own extra keys fill ``extra``.
- ``info`` holds a description; ``licenses`` is empty.

Round trip: ``read_coco(write_coco(coco_dataset(images)))`` returns the same images up to that rounding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.atomic_files import write_text_atomic
from autolabel.errors import DataError

BBOX_DECIMALS = 2  # pixels; finer is noise for any annotation tool
SCORE_DECIMALS = 6  # score and probs; 4 decimals would merge distinct low class scores
SUPERCATEGORY = "object"
# Keys ``extra`` may not use: COCO's own, ours, and the fields of a FiftyOne Detection it would shadow.
RESERVED_KEYS = frozenset(
    "id image_id category_id bbox area iscrowd score probs segmentation keypoints file_name width height"
    " attributes label bounding_box mask confidence tags suggestion".split()
)


@dataclass(frozen=True, eq=False)
class CocoImage:
    """One image and its boxes.

    xyxy: (N, 4) float32 pixels; cls: (N,) int64 class ids; score: (N,) float32 or None; probs: (N, C) float32
    per-class scores or None. suggestion: (N,) bool or None: two-level auto-labels, whether each box is a
    suggestion to confirm rather than a label (written as ``"suggestion"``). extra: JSON-safe per-image facts
    written into the image entry and each annotation (keys outside :data:`RESERVED_KEYS`). ``eq=False``:
    arrays have no single truth value.
    """

    file_name: str
    width: int
    height: int
    xyxy: np.ndarray
    cls: np.ndarray
    score: np.ndarray | None = None
    probs: np.ndarray | None = None
    suggestion: np.ndarray | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        cls = np.asarray(self.cls, dtype=np.int64).reshape(-1)
        n = len(xyxy)
        if len(cls) != n:
            raise ValueError(f"CocoImage {self.file_name!r}: {n} boxes but {len(cls)} classes")
        if not np.isfinite(xyxy).all() or (xyxy[:, 2:] < xyxy[:, :2]).any():
            raise ValueError(
                f"CocoImage {self.file_name!r}: boxes must be finite xyxy with x2 >= x1, y2 >= y1"
            )
        if self.width < 1 or self.height < 1:
            raise ValueError(f"CocoImage {self.file_name!r}: size {self.width}x{self.height}")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "cls", cls)
        if self.score is not None:
            score = np.asarray(self.score, dtype=np.float32).reshape(-1)
            if len(score) != n:
                raise ValueError(f"CocoImage {self.file_name!r}: {n} boxes but {len(score)} scores")
            object.__setattr__(self, "score", score)
        if self.probs is not None:
            probs = np.asarray(self.probs, dtype=np.float32)
            if probs.ndim != 2 or len(probs) != n:
                raise ValueError(f"CocoImage {self.file_name!r}: probs must be (N, C), got {probs.shape}")
            object.__setattr__(self, "probs", probs)
        if self.suggestion is not None:
            suggestion = np.asarray(self.suggestion, dtype=bool).reshape(-1)
            if len(suggestion) != n:
                raise ValueError(
                    f"CocoImage {self.file_name!r}: {n} boxes but {len(suggestion)} suggestion flags"
                )
            object.__setattr__(self, "suggestion", suggestion)
        clash = sorted(RESERVED_KEYS.intersection(self.extra))
        if clash:
            raise ValueError(f"CocoImage {self.file_name!r}: extra keys {clash} are reserved COCO keys")
        object.__setattr__(self, "extra", dict(self.extra))

    def __len__(self) -> int:
        return len(self.cls)


def coco_dataset(
    images: Sequence[CocoImage], *, names: Sequence[str], description: str = "autolabel auto-labels"
) -> dict:
    """A COCO detection dict of ``images`` (see the module docstring for the conventions).

    names: class names, index = class id. Raises ValueError for a class id outside ``names``, a probs
    width other than ``len(names)``, or score / probs given for some images but not others.
    """
    if not names:
        raise ValueError("names must hold at least one class")
    for key in ("score", "probs"):
        given = {getattr(im, key) is not None for im in images}
        if len(given) > 1:
            raise ValueError(f"{key} is given for some images but not for others")
    out_images, annotations = [], []
    for image_id, im in enumerate(images, start=1):
        if len(im.cls) and (im.cls.min() < 0 or im.cls.max() >= len(names)):
            raise ValueError(f"{im.file_name}: class ids {im.cls} outside 0..{len(names) - 1}")
        if im.probs is not None and im.probs.shape[1] != len(names):
            raise ValueError(f"{im.file_name}: probs has {im.probs.shape[1]} columns for {len(names)} names")
        header = {"id": image_id, "file_name": im.file_name, "width": im.width, "height": im.height}
        out_images.append({**header, **im.extra})
        corners = np.round(im.xyxy.astype(np.float64), BBOX_DECIMALS)
        for i in range(len(im)):
            x1, y1, x2, y2 = (float(v) for v in corners[i])
            w, h = round(x2 - x1, BBOX_DECIMALS), round(y2 - y1, BBOX_DECIMALS)
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": int(im.cls[i]) + 1,
                "bbox": [x1, y1, w, h],
                "area": round(w * h, 2 * BBOX_DECIMALS),
                "iscrowd": 0,
            }
            if im.score is not None:
                ann["score"] = round(float(im.score[i]), SCORE_DECIMALS)
            if im.probs is not None:
                ann["probs"] = [round(float(p), SCORE_DECIMALS) for p in im.probs[i]]
            if im.suggestion is not None:
                ann["suggestion"] = bool(im.suggestion[i])
            annotations.append({**ann, **im.extra})
    categories = [{"id": k + 1, "name": str(n), "supercategory": SUPERCATEGORY} for k, n in enumerate(names)]
    return {
        "info": {"description": description},
        "licenses": [],
        "images": out_images,
        "annotations": annotations,
        "categories": categories,
    }


def write_coco(path: Path, data: dict) -> None:
    """Write a COCO dict as compact JSON, atomically (temp file + ``os.replace``); NaN is refused."""
    text = json.dumps(data, indent=None, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    write_text_atomic(Path(path), text)


def read_coco(path: Path) -> tuple[list[str], list[CocoImage]]:
    """Read a COCO detection file written by this module (or following its conventions).

    Returns (names, images): names indexed by class id (= category_id - 1); images in the file's order,
    each with its annotations in file order. Raises DataError naming the file for a missing file or key,
    unknown category or image id, or a malformed value.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as e:
        raise DataError(f"COCO file not found: {path}") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot parse COCO JSON: {e}") from e
    if not isinstance(data, dict):
        raise DataError(f"{path}: COCO JSON must be an object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DataError(f"{path}: key {key!r} is missing or not a list")

    names = _read_categories(path, data["categories"])
    image_index: dict[int, int] = {}
    headers = []
    for k, im in enumerate(data["images"]):
        where = f"{path}: images[{k}]"
        image_id = json_int_field(im, "id", where)
        if image_id in image_index:
            raise DataError(f"{where}: duplicate image id {image_id}")
        image_index[image_id] = k
        file_name = json_field(im, "file_name", where)
        if not isinstance(file_name, str):
            raise DataError(f"{where}: 'file_name' must be a string, got {file_name!r}")
        extra = {k: v for k, v in im.items() if k not in RESERVED_KEYS}
        headers.append(
            (file_name, json_int_field(im, "width", where), json_int_field(im, "height", where), extra)
        )

    anns = data["annotations"]
    has_score = any(isinstance(a, dict) and "score" in a for a in anns)
    has_probs = any(isinstance(a, dict) and "probs" in a for a in anns)
    per_image: list[list[tuple]] = [[] for _ in headers]
    for k, ann in enumerate(anns):
        where = f"{path}: annotations[{k}]"
        image_id = json_int_field(ann, "image_id", where)
        if image_id not in image_index:
            raise DataError(f"{where}: unknown image_id {image_id}")
        category_id = json_int_field(ann, "category_id", where)
        if not 1 <= category_id <= len(names):
            raise DataError(f"{where}: unknown category_id {category_id} (categories are 1..{len(names)})")
        bbox = _numbers(json_field(ann, "bbox", where), where, "bbox", length=4)
        x, y, w, h = bbox
        if w < 0 or h < 0:
            raise DataError(f"{where}: bbox width and height must be >= 0, got {bbox}")
        score = _score(json_field(ann, "score", where), where) if has_score else 0.0
        probs = (
            _numbers(json_field(ann, "probs", where), where, "probs", length=len(names)) if has_probs else []
        )
        per_image[image_index[image_id]].append(([x, y, x + w, y + h], category_id - 1, score, probs))

    images = []
    for (file_name, width, height, extra), rows in zip(headers, per_image, strict=True):
        if width < 1 or height < 1:
            raise DataError(f"{path}: image {file_name!r} has size {width}x{height}")
        images.append(
            CocoImage(
                file_name=file_name,
                width=width,
                height=height,
                xyxy=np.array([r[0] for r in rows], dtype=np.float32).reshape(-1, 4),
                cls=np.array([r[1] for r in rows], dtype=np.int64),
                score=np.array([r[2] for r in rows], dtype=np.float32) if has_score else None,
                probs=np.array([r[3] for r in rows], dtype=np.float32).reshape(-1, len(names))
                if has_probs
                else None,
                extra=extra,
            )
        )
    return names, images


def _read_categories(path: Path, categories: list) -> list[str]:
    by_id: dict[int, str] = {}
    for k, cat in enumerate(categories):
        where = f"{path}: categories[{k}]"
        cat_id = json_int_field(cat, "id", where)
        name = json_field(cat, "name", where)
        if cat_id in by_id:
            raise DataError(f"{where}: duplicate category id {cat_id}")
        by_id[cat_id] = str(name)
    if sorted(by_id) != list(range(1, len(by_id) + 1)):
        raise DataError(f"{path}: category ids must be 1..{len(by_id)} (category_id = class id + 1)")
    if not by_id:
        raise DataError(f"{path}: no categories")
    return [by_id[i] for i in range(1, len(by_id) + 1)]


def json_field(record: object, key: str, where: str, *, error: type[DataError] = DataError) -> object:
    """``record[key]`` of a parsed JSON object; ``error`` naming ``where`` if no object or no such key."""
    if not isinstance(record, dict):
        raise error(f"{where}: must be an object, got {type(record).__name__}")
    if key not in record:
        raise error(f"{where}: missing key {key!r}")
    return record[key]


def json_int_field(record: object, key: str, where: str, *, error: type[DataError] = DataError) -> int:
    """``record[key]`` as an int (bools refused); ``error`` naming ``where`` otherwise."""
    value = json_field(record, key, where, error=error)
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{where}: {key!r} must be an integer, got {value!r}")
    return value


def _numbers(value: object, where: str, key: str, *, length: int | None = None) -> list[float]:
    ok = isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )
    if not ok or (length is not None and len(value) != length):
        size = f" {length}" if length is not None else ""
        raise DataError(f"{where}: {key!r} must be a list of{size} finite numbers, got {value!r}")
    return [float(v) for v in value]


def _score(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}: 'score' must be a finite number, got {value!r}")
    return float(value)
