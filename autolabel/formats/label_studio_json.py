"""Reader of Label Studio's JSON export: the reviewed images, each with the prediction it was shown.

Geometry: Label Studio stores a rectangle as ``x, y, width, height`` in PERCENT (0..100) of the image,
the top-left corner and the size, plus ``rotation`` in degrees clockwise about that corner;
``original_width`` / ``original_height`` are the image's size in pixels. What is read back is xyxy in
pixels of the original image. Tasks written by :func:`autolabel.formats.label_studio.ls_task` carry the
record's key as ``data["autolabel_image"]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from autolabel.formats.reviewed import ExportError, ReadReport, ReviewedImage, check_class_names

TO_NAME = "image"  # the Image object of the labeling config
REGION_TYPE = "rectanglelabels"
SAME_BOX_PX = 0.5  # a saved box within this many pixels of a shown one (each coordinate) is unchanged
_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


def read_label_studio_json(
    path: str | Path, *, names: Sequence[str], sizes: Mapping[str, tuple[int, int]] | None = None
) -> tuple[list[ReviewedImage], ReadReport]:
    """The reviewed images of a Label Studio JSON export (a list of tasks), and what was skipped.

    Key: ``data["autolabel_image"]`` when the task came from
    :func:`autolabel.formats.label_studio.ls_task`, else from the image URL (the
    ``?d=`` path of local files, else the file name; uploads keep Label Studio's ``<hash>-`` prefix). A task
    without a saved (non-cancelled) annotation is *skipped* (report.unlabeled), not read as "no objects".
    Of several saved annotations the one marked ``ground_truth`` is taken, else the latest ``updated_at``
    (report.conflicts, extra["n_annotations"]). Boxes: percent -> pixels with each region's
    ``original_width``/``original_height`` (else ``sizes[key]``, else the task's ``width``/``height``); a
    rotated box becomes its axis-aligned bounding box. Regions of other types are ignored and counted.
    ``changed`` and ``shown_*`` come from the annotation's ``prediction`` (what the reviewer was shown);
    ``ids`` and ``shown_ids`` are the regions' ids (:func:`region_id`).
    ExportError naming the file (and task) for a malformed export or class names not in ``names``.
    """
    path = Path(path)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read a Label Studio JSON export: {exc}") from exc
    if not isinstance(tasks, list):
        raise ExportError(
            f"{path}: a Label Studio JSON export is a list of tasks, got {type(tasks).__name__}"
        )
    report = ReadReport(source=str(path), n_entries=len(tasks))
    images: list[ReviewedImage] = []
    seen: set[str] = set()
    for k, task in enumerate(tasks):
        task_id = task.get("id", f"#{k}") if isinstance(task, dict) else f"#{k}"
        where = f"{path}: task {task_id}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise ExportError(f"{where}: not a task with a 'data' object (export as JSON, not JSON-MIN)")
        key = _task_key(task["data"], where)
        annotations = task.get("annotations", [])
        annotations = [] if annotations is None else annotations
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise ExportError(f"{where}: 'annotations' must be a list of objects")
        saved = [a for a in annotations if not (a.get("was_cancelled") or a.get("skipped"))]
        if not saved:
            report.unlabeled.append(key)
            continue
        chosen = _choose(saved)
        where = f"{where}, annotation {chosen.get('id')}"
        if len(saved) > 1:
            why = "ground truth" if chosen.get("ground_truth") else "latest"
            report.conflicts.append(f"{key}: {len(saved)} annotations, took {chosen.get('id')} ({why})")
        data = task["data"]
        fallback = (sizes or {}).get(key) or _data_size(data)
        xyxy, labels, ids, size, ignored, rotated = _read_result(chosen.get("result"), where, fallback)
        report.ignored_regions += ignored
        report.rotated += rotated
        shown = _shown(chosen.get("prediction"), fallback)
        lead = chosen.get("lead_time")
        extra = {
            "task_id": task.get("id"),
            "annotation_id": chosen.get("id"),
            "annotator": _annotator(chosen.get("completed_by")),
            "n_annotations": len(saved),
            "updated_at": chosen.get("updated_at"),
            **({"rotated_boxes": rotated} if rotated else {}),
            **({"ignored_regions": ignored} if ignored else {}),
        }
        width, height = size or fallback or (None, None)
        if key in seen:
            report.duplicates.append(key)
        seen.add(key)
        images.append(
            ReviewedImage(
                image=key,
                xyxy=np.array(xyxy, dtype=np.float64).reshape(-1, 4),
                labels=tuple(labels),
                width=width,
                height=height,
                lead_time=float(lead) if _is_number(lead) else None,
                changed=None if shown is None else not _same_boxes(shown[0], shown[1], xyxy, labels),
                source=where,
                extra=extra,
                shown_xyxy=None if shown is None else np.array(shown[0], dtype=np.float64).reshape(-1, 4),
                shown_labels=None if shown is None else tuple(shown[1]),
                ids=tuple(ids),
                shown_ids=None if shown is None else tuple(shown[2]),
            )
        )
    check_class_names((label for im in images for label in im.labels), names, path)
    return images, report


def _task_key(data: Mapping[str, Any], where: str) -> str:
    own = data.get("autolabel_image")
    if isinstance(own, str) and own:
        return own
    url = data.get(TO_NAME)
    if not isinstance(url, str) or not url:
        raise ExportError(f"{where}: data has neither 'autolabel_image' nor an '{TO_NAME}' URL")
    parts = urlsplit(url)
    local = parse_qs(parts.query).get("d")
    if local:
        return local[0].replace("\\", "/")
    return PurePosixPath(unquote(parts.path)).name


def _choose(saved: list[dict]) -> dict:
    """The annotation marked ground truth, else the most recently updated (then the highest id)."""
    pool = [a for a in saved if a.get("ground_truth")] or saved
    return max(
        pool, key=lambda a: (_time(a.get("updated_at")), a.get("id") if _is_number(a.get("id")) else 0)
    )


def _time(text: object) -> datetime:
    if not isinstance(text, str):
        return _EPOCH
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _annotator(completed_by: object) -> object:
    if isinstance(completed_by, dict):  # older exports expand the user
        return completed_by.get("id", completed_by.get("email"))
    return completed_by


def _data_size(data: Mapping[str, Any]) -> tuple[int, int] | None:
    w, h = data.get("width"), data.get("height")
    return (int(w), int(h)) if _is_number(w) and _is_number(h) and w > 0 and h > 0 else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_result(
    result: object, where: str, fallback: tuple[int, int] | None
) -> tuple[list[list[float]], list[str], list[str | None], tuple[int, int] | None, int, int]:
    """(xyxy px, labels, region ids, image size, ignored regions, rotated boxes) of a ``result``."""
    if result is None:
        result = []
    if not isinstance(result, list):
        raise ExportError(f"{where}: 'result' must be a list of regions")
    xyxy, labels, ids, size, ignored, rotated = [], [], [], None, 0, 0
    for j, region in enumerate(result):
        if not isinstance(region, dict):
            raise ExportError(f"{where}: region {j} is not an object")
        if region.get("type") != REGION_TYPE:
            ignored += 1
            continue
        rid = f"{where}, region {region.get('id', j)}"
        value = region.get("value")
        chosen = value.get(REGION_TYPE) if isinstance(value, dict) else None
        if not (isinstance(chosen, list) and len(chosen) == 1 and isinstance(chosen[0], str)):
            raise ExportError(f"{rid}: needs exactly one label in value.{REGION_TYPE}, got {chosen!r}")
        numbers = [value.get(k) for k in ("x", "y", "width", "height")] + [value.get("rotation") or 0]
        if not all(_is_number(v) for v in numbers):
            raise ExportError(f"{rid}: value needs numbers x, y, width, height (percent), got {value!r}")
        ow, oh = region.get("original_width"), region.get("original_height")
        if _is_number(ow) and _is_number(oh) and ow > 0 and oh > 0:
            size = (int(ow), int(oh))
        elif fallback is not None:
            size = fallback
        else:
            raise ExportError(f"{rid}: no original_width/original_height and no image size (give sizes=)")
        xyxy.append(_percent_to_xyxy(*numbers, *size))
        labels.append(chosen[0])
        ids.append(region_id(region))
        rotated += numbers[4] % 360 != 0
    return xyxy, labels, ids, size, ignored, rotated


def region_id(region: Mapping[str, Any]) -> str | None:
    """A region's id without the ``#<annotation>`` suffix, None when it has none.

    The frontend copies a prediction's regions into the new annotation keeping their ids, rewriting only
    a ``#<annotation id>`` suffix (``addAnnotationFromPrediction``), so the base id links a saved box to
    the shown region it came from; a box the reviewer drew gets a fresh id.
    """
    rid = region.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or rid == "":
        return None
    return str(rid).split("#", 1)[0] or None


def _percent_to_xyxy(
    x: float, y: float, w: float, h: float, rotation: float, width: int, height: int
) -> list[float]:
    """Pixel xyxy of a Label Studio rectangle (percent); when rotated its bounding box; clipped to image."""
    px, py, pw, ph = x * width / 100, y * height / 100, w * width / 100, h * height / 100
    t = math.radians(rotation)
    c, s = math.cos(t), math.sin(t)  # clockwise on screen (y down), about the top-left corner
    xs = [px, px + pw * c, px + pw * c - ph * s, px - ph * s]
    ys = [py, py + pw * s, py + pw * s + ph * c, py + ph * c]
    return [
        min(max(min(xs), 0.0), width),
        min(max(min(ys), 0.0), height),
        min(max(max(xs), 0.0), width),
        min(max(max(ys), 0.0), height),
    ]


def _shown(
    snapshot: object, fallback: tuple[int, int] | None
) -> tuple[list, list[str], list[str | None]] | None:
    """Boxes, labels and region ids of the prediction the reviewer was shown; None when none was kept."""
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("result"), list):
        return None
    try:
        xyxy, labels, ids, *_ = _read_result(snapshot["result"], "prediction", fallback)
    except ExportError:
        return None
    return xyxy, labels, ids


def _same_boxes(a: Sequence, a_labels: Sequence[str], b: Sequence, b_labels: Sequence[str]) -> bool:
    """Whether two box sets are the same multiset of (label, box within SAME_BOX_PX pixels)."""
    if sorted(a_labels) != sorted(b_labels):
        return False
    unused = list(range(len(b)))
    for box, label in zip(a, a_labels, strict=True):
        match = next(
            (
                j
                for j in unused
                if b_labels[j] == label and np.abs(np.subtract(box, b[j])).max() <= SAME_BOX_PX
            ),
            None,
        )
        if match is None:
            return False
        unused.remove(match)
    return True
