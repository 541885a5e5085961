"""Two-level auto-label files: confident boxes as labels, doubtful ones as suggestions apart.

With ``t_high`` set (the label app's ``two_level``; :mod:`autolabel.model.two_level` explains the
workflow and chooses ``t_high`` on VAL for the model card), a box with ``conf >= t_high`` is a *label* and
goes into the image's YOLO file under ``labels/`` as always; a box in ``[threshold, t_high)`` is a
*suggestion*: it goes into the file of the same name under ``suggestions/`` instead (YOLO lines with the
confidence as a sixth column), for a person to accept or pass over, and the COCO export marks every
annotation with ``"suggestion": true | false``. Records keep every box with its confidence either way.

``suggestions/`` is the job's own output, rebuilt from the records at the end of every run like the COCO
file: a file there is not a person's work (unlike ``labels/``, which the job never overwrites when a person
changed it).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from autolabel.atomic_files import write_text_atomic
from autolabel.errors import DataError
from autolabel.formats.yolo import format_yolo_lines
from autolabel.job.label_files import LABEL_DIR
from autolabel.records import ImageRecord
from autolabel.structures import is_suggestion

SUGGESTION_DIR = "suggestions"


def label_text(record: ImageRecord, t_high: float, *, num_classes: int) -> str:
    """The YOLO label text of ``record``'s boxes at or above ``t_high`` (the labels of two levels)."""
    det = record.detections_for(num_classes)
    keep = ~is_suggestion(det.conf, t_high)
    return format_yolo_lines(det.xyxy[keep], det.cls[keep], width=record.width, height=record.height)


def suggestion_name(label_file: str) -> str:
    """``labels/sub/x.txt`` -> ``suggestions/sub/x.txt``: the suggestions beside an image's label file."""
    path = PurePosixPath(label_file)
    parts = path.parts[1:] if path.parts and path.parts[0] == LABEL_DIR else path.parts
    return str(PurePosixPath(SUGGESTION_DIR, *parts))


def write_suggestions(
    output: Path, records: Sequence[ImageRecord], t_high: float, *, num_classes: int
) -> int:
    """Rebuild ``output/suggestions/``: per labeled image with a suggestion, its boxes below ``t_high`` as
    YOLO lines with their confidence. Returns the number of suggested boxes."""
    folder = Path(output) / SUGGESTION_DIR
    if folder.exists():
        shutil.rmtree(folder)
    total = 0
    for record in records:
        if not record.ok or not record.label_file:
            continue
        det = record.detections_for(num_classes)
        doubtful = is_suggestion(det.conf, t_high)
        if not doubtful.any():
            continue
        text = format_yolo_lines(
            det.xyxy[doubtful],
            det.cls[doubtful],
            width=record.width,
            height=record.height,
            conf=det.conf[doubtful],
        )
        write_text_atomic(Path(output) / suggestion_name(record.label_file), text)
        total += int(doubtful.sum())
    return total


def resolve_t_high(setting: bool | float | None, card: Path, conf: float) -> float | None:
    """The label app's ``two_level`` as a threshold: false/None -> None (one level); true -> the model
    card's ``evaluation.two_level.t_high``; a number in [conf, 1] -> itself. DataError names the setting
    or the card."""
    if setting is None or setting is False:
        return None
    if setting is True:
        two = {}
        if card.is_file():
            two = json.loads(card.read_text()).get("evaluation", {}).get("two_level") or {}
        if two.get("t_high") is None:
            raise DataError(
                f"two_level=true takes t_high from the model card, but {card} has no "
                "evaluation.two_level.t_high (retrain with autolabel.train, or give two_level=<t_high>)"
            )
        value = float(two["t_high"])
    elif isinstance(setting, int | float):
        value = float(setting)
    else:
        raise DataError(f"two_level must be false, true or a confidence in [conf, 1], got {setting!r}")
    if not (math.isfinite(value) and float(conf) <= value <= 1.0):
        raise DataError(
            f"two_level={value} must lie in [conf, 1] = [{conf}, 1]: boxes below conf are not kept"
        )
    return value
