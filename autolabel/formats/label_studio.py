"""Label Studio: tasks carrying auto-labels as predictions, and the readers of its JSON and YOLO exports.

Pure functions, no HTTP. Geometry: Label Studio stores a rectangle as ``x, y, width, height`` in PERCENT
(0..100) of the image, the top-left corner and the size, plus ``rotation`` in degrees clockwise about that
corner; ``original_width`` / ``original_height`` are the image's size in pixels. Everything else here is
xyxy in pixels of the original image.

The image's uncertainty travels apart from the detector's confidence (Label Studio issue #952): each region
has ``score`` = its box confidence; the prediction's ``score`` is :func:`prediction_score`, ordered so that
Label Studio's "Uncertainty sampling" (lowest prediction score first) serves the most uncertain image first;
the task's data carries the raw ``uncertainty``, ``band`` and ``rank`` for filters and columns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import numpy as np

from autolabel.formats.label_studio_json import (
    REGION_TYPE,
    SAME_BOX_PX,
    TO_NAME,
    read_label_studio_json,
    region_id,
)
from autolabel.formats.label_studio_yolo import read_label_studio_yolo
from autolabel.records import ImageRecord
from autolabel.structures import is_suggestion

__all__ = [
    "labeling_config",
    "local_files_url",
    "ls_prediction",
    "ls_task",
    "is_suggestion_region",
    "prediction_score",
    "read_label_studio_json",  # the readers in their own modules, for size
    "read_label_studio_yolo",
    "region_id",
    "SAME_BOX_PX",
]

FROM_NAME = "label"  # the RectangleLabels control of the labeling config
LABEL_ID, SUGGESTION_ID = "b", "s"  # region id prefixes: an auto-label, a two-level suggestion
_SUGGESTION_REGION = re.compile(re.escape(SUGGESTION_ID) + r"\d+")
SUGGESTION_NOTE = "suggestion (confidence {conf:.2f}): keep it if right, delete it if not"


# ------------------------------------------------------------------------------------------------- export


def labeling_config(names: Sequence[str]) -> str:
    """The labeling config of a box project over ``names`` (class names, XML-escaped here)."""
    if not names or len(set(names)) != len(names):
        raise ValueError(f"names must be a non-empty list of distinct class names, got {list(names)}")
    quoted = {'"': "&quot;", "\n": "&#10;", "\t": "&#9;"}
    labels = "".join(f'<Label value="{escape(str(n), quoted)}"/>' for n in names)
    return (
        f'<View><Image name="{TO_NAME}" value="$image"/>'
        f'<RectangleLabels name="{FROM_NAME}" toName="{TO_NAME}">{labels}</RectangleLabels></View>'
    )


def prediction_score(record: ImageRecord) -> float:
    """The prediction's score in [0, 1]; LOWER = MORE uncertain (Label Studio serves the lowest first).

    A scored record (``record.scored``): ``exp(-max(score, 0))`` of its image uncertainty (higher score,
    lower value; monotone, so Label Studio's order is the job's ranking). A failed image, or a scored
    record whose score is undefined, gets 0.0 and is served first. A record of a job run without
    uncertainty (``components`` None) gets its highest box confidence, 0.0 with no boxes: the image with
    the least confident best box first.
    """
    if not record.scored:
        return float(record.detections.conf.max()) if record.n_boxes else 0.0
    score = record.score_value
    if record.failed or not math.isfinite(score):
        return 0.0
    return math.exp(-max(score, 0.0))


def ls_prediction(record: ImageRecord, *, model_version: str, t_high: float | None = None) -> dict[str, Any]:
    """A Label Studio prediction of ``record``: one ``rectanglelabels`` region per box, in percent.

    Region ids are ``b0, b1, ...`` (box order); each region's ``score`` is the box confidence. Boxes are
    clipped to the image. With two levels (``t_high``, :mod:`autolabel.job.two_level_files`) a box below
    ``t_high`` is a *suggestion*: its id is ``s<i>`` instead and its region meta (the note Label Studio shows
    with the selected region) says so; the ids outlive the review, so the import can tell what a person did
    with the suggestions. ValueError for a record without an image size (an unreadable image).
    """
    width, height = _record_size(record)
    det = record.detections
    suggested = is_suggestion(det.conf, t_high)
    result = []
    for i in range(len(det)):
        x1, y1, x2, y2 = (float(v) for v in np.clip(det.xyxy[i], 0, [width, height, width, height]))
        value = {
            "x": 100.0 * x1 / width,
            "y": 100.0 * y1 / height,
            "width": 100.0 * (x2 - x1) / width,
            "height": 100.0 * (y2 - y1) / height,
            "rotation": 0,
            "rectanglelabels": [record.labels[i]],
        }
        region = {
            "id": f"{SUGGESTION_ID if suggested[i] else LABEL_ID}{i}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": REGION_TYPE,
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
            "value": value,
            "score": float(det.conf[i]),
        }
        if suggested[i]:
            region["meta"] = {"text": [SUGGESTION_NOTE.format(conf=float(det.conf[i]))]}
        result.append(region)
    return {"model_version": model_version, "score": prediction_score(record), "result": result}


def is_suggestion_region(region_id: str | None) -> bool:
    """Whether a region id is one :func:`ls_prediction` gave a two-level suggestion (``s<i>``)."""
    return bool(region_id) and _SUGGESTION_REGION.fullmatch(region_id) is not None


def ls_task(
    record: ImageRecord,
    *,
    image_url: str,
    model_version: str,
    rank: int | None = None,
    reason: str | None = None,
    t_high: float | None = None,
) -> dict[str, Any]:
    """A Label Studio task for ``record`` with its auto-labels as the one prediction (``t_high``: two
    levels, see :func:`ls_prediction`).

    data: ``image`` (the URL Label Studio loads), ``autolabel_image`` (the record's key, read back on
    import), ``uncertainty`` (the image score, None when undefined), ``band``, ``failed``,
    ``p_needs_correction``, ``n_boxes``, ``n_suggestions`` (None for one level), ``width``/``height``
    (pixels), ``rank`` and ``reason`` (why the image was selected).
    """
    width, height = _record_size(record)
    prediction = ls_prediction(record, model_version=model_version, t_high=t_high)
    regions = prediction["result"]
    score = record.score_value
    data = {
        "image": image_url,
        "autolabel_image": record.image,
        "uncertainty": score if math.isfinite(score) else None,
        "band": record.band,
        "failed": bool(record.failed),
        "p_needs_correction": record.p_needs_correction,
        "n_boxes": record.n_boxes,
        "n_suggestions": None if t_high is None else sum(is_suggestion_region(r["id"]) for r in regions),
        "width": width,
        "height": height,
        "rank": rank,
        "reason": reason,
    }
    return {"data": data, "predictions": [prediction]}


def local_files_url(path: str | Path, document_root: str | Path) -> str:
    """``/data/local-files/?d=<path relative to document_root>`` (forward slashes, URL-quoted).

    document_root: Label Studio's ``LOCAL_FILES_DOCUMENT_ROOT``. ValueError naming both when ``path`` is
    not under it.
    """
    absolute, root = Path(path).absolute(), Path(document_root).absolute()
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        raise ValueError(
            f"{absolute} is not under Label Studio's document root {root} (LOCAL_FILES_DOCUMENT_ROOT)"
        ) from None
    return "/data/local-files/?d=" + quote(relative.as_posix(), safe="/")


def _record_size(record: ImageRecord) -> tuple[int, int]:
    if record.error is not None or not record.width or not record.height:
        raise ValueError(
            f"{record.image}: no image size (unreadable image: {record.error}); nothing to label"
        )
    return int(record.width), int(record.height)
