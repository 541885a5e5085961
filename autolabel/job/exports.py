"""The auto-label job's exports, rebuilt from its records at the end of every run.

``annotations.coco.json`` (COCO, with score and probs per box; unreadable images left out), ``classes.txt``
and ``images.csv`` (one row per image with its scalar fields). Records are de-duplicated by image first.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autolabel.atomic_files import write_text_atomic
from autolabel.formats.coco import CocoImage, coco_dataset, write_coco
from autolabel.job.two_level_files import is_suggestion, write_suggestions
from autolabel.records import ImageRecord, unique_records


def write_exports(
    output: Path, records: Sequence[ImageRecord], *, names: Sequence[str], t_high: float | None = None
) -> int:
    """Write the COCO JSON, classes.txt and images.csv from all records (error records are left out of COCO).

    ``records`` are de-duplicated by image first, so an image recorded twice is exported once. With
    ``t_high`` (two levels, :mod:`autolabel.job.two_level_files`) each COCO annotation says whether it is a
    suggestion, and ``suggestions/`` is rebuilt. Returns the number of suggested boxes (0 for one level).
    """
    records = unique_records(records)
    images = []
    for record in records:
        if not record.ok:
            continue
        det = record.detections_for(len(names))
        images.append(
            CocoImage(
                file_name=record.image,
                width=record.width,
                height=record.height,
                xyxy=det.xyxy,
                cls=det.cls,
                score=det.conf,
                probs=det.probs,
                suggestion=None if t_high is None else is_suggestion(det.conf, t_high),
            )
        )
    write_coco(output / "annotations.coco.json", coco_dataset(images, names=names))
    write_text_atomic(output / "classes.txt", "".join(f"{name}\n" for name in names))
    write_image_table(output / "images.csv", records)
    return 0 if t_high is None else write_suggestions(output, records, t_high, num_classes=len(names))


NOT_TABLED = frozenset({"embedding"})  # record keys left out of images.csv (a vector, not a fact to read)


def _scalar_fields(record: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for key, value in record.items():
        if key in NOT_TABLED:
            continue
        if isinstance(value, dict):
            row.update({f"{key}.{k}": v for k, v in value.items() if not isinstance(v, (dict, list))})
        elif not isinstance(value, list):
            row[key] = value
    return row


def write_image_table(path: Path, records: Sequence[ImageRecord]) -> None:
    """One CSV row per record with its scalar fields (nested dicts flattened as ``key.sub``)."""
    rows = [_scalar_fields(r.to_json()) for r in records]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
