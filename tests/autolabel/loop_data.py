"""Tiny auto-label output folders for the human-loop tests: real image files, hand-made records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from autolabel.job.runner import MARKER
from autolabel.records import ImageRecord, RecordWriter
from autolabel.structures import Detections

NAMES = ("square", "disc")


def record(key: str, boxes: list[tuple[float, float, float, float, int, float]], **fields) -> ImageRecord:
    """A record of a 64 x 48 image with boxes (x1, y1, x2, y2, cls, conf); fields: score, difficulty..."""
    xyxy = np.array([b[:4] for b in boxes], np.float32).reshape(-1, 4)
    cls = np.array([b[4] for b in boxes], np.int64)
    conf = np.array([b[5] for b in boxes], np.float32)
    probs = np.zeros((len(boxes), len(NAMES)), np.float32)
    probs[np.arange(len(boxes)), cls] = conf
    det = Detections(xyxy, conf, cls, probs)
    defaults = {
        "score": None,
        "components": {"entropy": 0.0},
        "n_candidates": len(boxes),
        "failed": not boxes,
    }
    return ImageRecord.from_detections(key, det, width=64, height=48, names=NAMES, **{**defaults, **fields})


def auto_label_folder(root: Path, records: list[ImageRecord], **job: object) -> tuple[Path, Path]:
    """``root/data/images/<key>`` image files and ``root/out`` an auto-label output of ``records``;
    ``job``: more settings of the job that wrote it (``t_high`` for two levels)."""
    source = root / "data" / "images"
    for r in records:
        path = source / r.image
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (40, 40, 40)).save(path)
    out = root / "out"
    out.mkdir(parents=True)
    meta = {"weights": str(root / "cal1.pt"), "weights_sha256": "ab" * 32, "source": str(source)}
    (out / MARKER).write_text(json.dumps({**meta, "names": list(NAMES), **job}))
    with RecordWriter.in_folder(out) as writer:
        writer.append(records)
    return source, out
