"""Per-image prediction records and the append-only ``predictions.jsonl`` that makes the job resumable.

One JSON object per line and per image::

    {"image": "sub/a.jpg", "width": 256, "height": 256, "n_boxes": 1,
     "boxes": [{"xyxy": [x1, y1, x2, y2], "conf": 0.91, "cls": 3, "label": "broken-arc",
                "probs": [p_0, ..., p_{C-1}]}]}

``xyxy`` is in pixels of the original image (2 decimals); ``probs`` is the full vector of ultralytics'
per-class sigmoid scores of the box (6 decimals, not a softmax), and ``conf == max(probs)``,
``cls == argmax(probs)`` exactly. An unreadable image gets ``"error": "<why>"`` and no boxes. Later
stages (uncertainty) add fields to the same record.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.structures import Detections

PROB_DECIMALS = 6
PIXEL_DECIMALS = 2


def json_safe(value: Any) -> Any:
    """``value`` with every float nan (at any depth of dicts and lists) replaced by None, for strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def detections_record(
    image: str, det: Detections, *, width: int, height: int, names: Sequence[str]
) -> dict[str, Any]:
    """The JSON record of one image's detections (see the module docstring)."""
    probs = np.round(det.probs.astype(np.float64), PROB_DECIMALS)
    boxes = [
        {
            "xyxy": [round(float(v), PIXEL_DECIMALS) for v in det.xyxy[i]],
            "conf": float(probs[i].max()),
            "cls": int(probs[i].argmax()),
            "label": names[int(probs[i].argmax())],
            "probs": probs[i].tolist(),
        }
        for i in range(len(det))
    ]
    return {"image": image, "width": int(width), "height": int(height), "n_boxes": len(boxes), "boxes": boxes}


def error_record(image: str, error: str) -> dict[str, Any]:
    """The record of an image that could not be read."""
    return {"image": image, "error": error, "n_boxes": 0, "boxes": []}


def record_detections(record: dict[str, Any], *, num_classes: int) -> Detections:
    """Back from a record to :class:`Detections` (empty for an error record)."""
    boxes = record.get("boxes") or []
    if not boxes:
        return Detections.empty(num_classes)
    return Detections(
        np.array([b["xyxy"] for b in boxes], np.float32),
        np.array([b["conf"] for b in boxes], np.float32),
        np.array([b["cls"] for b in boxes], np.int64),
        np.array([b["probs"] for b in boxes], np.float32),
    )


def unique_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` with one record per ``image`` key: the first (file order); records without a key stay."""
    seen: set[str] = set()
    out = []
    for record in records:
        key = record.get("image")
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append(record)
    return out


def read_records(path: str | Path, *, repair: bool = False, unique: bool = True) -> list[dict[str, Any]]:
    """The complete records of a JSONL file, one per image (none if the file does not exist).

    A job killed mid-write can leave a partial last line: it is ignored, and with ``repair=True`` cut off
    the file so that appending continues on a clean line. A bad line anywhere else is an error. An image
    recorded more than once (two jobs wrote the file at once) counts once: its first complete record is
    kept (``unique=False``: every line, duplicates included).
    """
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    complete, newline, torn = data.rpartition(b"\n")  # an unterminated last line is a torn write
    records = []
    for number, line in enumerate(complete.split(b"\n") if newline else [], start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not a JSON record ({exc.msg})") from exc
    if repair and torn:
        with open(path, "r+b") as f:
            f.truncate(len(complete) + len(newline))
    return unique_records(records) if unique else records


class RecordWriter:
    """Append records to a JSONL file; each :meth:`append` is flushed and fsynced before it returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8")

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        self._file.write(text)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
