"""Reviewed boxes from a COCO detection file written by an annotation tool (CVAT, FiftyOne, Label Studio...).

Unlike :func:`autolabel.formats.coco.read_coco`, which reads this toolkit's own files (category ids 1..n),
this reader maps categories BY NAME: a tool numbers them its own way (FiftyOne from 0, others from 1,
some with gaps). ``bbox`` is ``[x, y, w, h]`` in pixels, returned as xyxy pixels.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.formats.coco import json_field, json_int_field
from autolabel.formats.reviewed import ExportError, ReviewedImage, check_class_names


def read_coco_reviewed(path: str | Path, *, names: Sequence[str]) -> list[ReviewedImage]:
    """One reviewed image per COCO image entry, in file order, classes mapped by category name.

    Key: the image's ``file_name``. Boxes are clipped to the image when its size is given. Crowd
    annotations (``iscrowd`` 1) and annotations without a ``bbox`` are left out and counted in
    ``extra["ignored"]``; ``extra["scored_boxes"]`` counts boxes carrying a ``score`` (a prediction file
    rather than a review?). ``changed`` and ``lead_time`` are unknown (None). ExportError naming the file
    and entry for malformed JSON, unknown or duplicate ids, a bad box, or category names not in ``names``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read a COCO JSON file: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ExportError(f"{path}: a COCO file is an object with an 'images' list")
    annotations = data.get("annotations") or []  # FiftyOne writes no key when nothing is labeled
    categories = data.get("categories") or []
    if not isinstance(annotations, list) or not isinstance(categories, list):
        raise ExportError(f"{path}: 'annotations' and 'categories' must be lists")

    category_names: dict[int, str] = {}
    for k, category in enumerate(categories):
        where = f"{path}: categories[{k}]"
        cat_id, name = _int(category, "id", where), _get(category, "name", where)
        if cat_id in category_names:
            raise ExportError(f"{where}: duplicate category id {cat_id}")
        category_names[cat_id] = str(name)

    index: dict[int, int] = {}
    headers: list[tuple[str, int | None, int | None, int]] = []
    seen: set[str] = set()
    for k, image in enumerate(data["images"]):
        where = f"{path}: images[{k}]"
        image_id, file_name = _int(image, "id", where), _get(image, "file_name", where)
        if image_id in index:
            raise ExportError(f"{where}: duplicate image id {image_id}")
        if not isinstance(file_name, str) or not file_name or file_name in seen:
            raise ExportError(f"{where}: 'file_name' must be a unique non-empty string, got {file_name!r}")
        seen.add(file_name)
        width, height = image.get("width"), image.get("height")
        size_known = _is_int(width) and _is_int(height) and width > 0 and height > 0
        index[image_id] = len(headers)
        headers.append((file_name, width if size_known else None, height if size_known else None, image_id))

    boxes: list[list[list[float]]] = [[] for _ in headers]
    labels: list[list[str]] = [[] for _ in headers]
    ignored: list[Counter] = [Counter() for _ in headers]
    scored = [0] * len(headers)
    for k, ann in enumerate(annotations):
        where = f"{path}: annotations[{k}]"
        image_id, cat_id = _int(ann, "image_id", where), _int(ann, "category_id", where)
        if image_id not in index:
            raise ExportError(f"{where}: unknown image_id {image_id}")
        if cat_id not in category_names:
            raise ExportError(f"{where}: unknown category_id {cat_id} (categories: {category_names})")
        i = index[image_id]
        if ann.get("iscrowd") in (1, True) or ann.get("bbox") is None:
            ignored[i]["crowd" if ann.get("iscrowd") in (1, True) else "no_bbox"] += 1
            continue
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            raise ExportError(f"{where}: 'bbox' must be 4 finite numbers [x, y, w, h], got {bbox!r}")
        x, y, w, h = (float(v) for v in bbox)
        if w < 0 or h < 0:
            raise ExportError(f"{where}: bbox width and height must be >= 0, got {bbox}")
        box = [x, y, x + w, y + h]
        _, width, height, _ = headers[i]
        if width is not None and height is not None:
            box = [
                min(max(v, 0.0), float(s)) for v, s in zip(box, (width, height, width, height), strict=True)
            ]
        boxes[i].append(box)
        labels[i].append(category_names[cat_id])
        scored[i] += "score" in ann

    check_class_names((label for row in labels for label in row), names, path)
    reviewed = []
    for i, (file_name, width, height, image_id) in enumerate(headers):
        extra: dict[str, Any] = {"image_id": image_id}
        if ignored[i]:
            extra["ignored"] = dict(ignored[i])
        if scored[i]:
            extra["scored_boxes"] = scored[i]
        reviewed.append(
            ReviewedImage(
                image=file_name,
                xyxy=np.array(boxes[i], dtype=np.float64).reshape(-1, 4),
                labels=tuple(labels[i]),
                width=width,
                height=height,
                source=f"{path}: image {image_id}",
                extra=extra,
            )
        )
    return reviewed


def _get(entry: object, key: str, where: str) -> object:
    return json_field(entry, key, where, error=ExportError)


def _int(entry: object, key: str, where: str) -> int:
    return json_int_field(entry, key, where, error=ExportError)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
