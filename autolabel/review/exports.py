"""The files a person opens for a batch of picks, each keeping the image's uncertainty apart from the
detector's confidence:

    picks.csv                    the ranked list with the reason for each pick (a spreadsheet view)
    label_studio_tasks.json      Label Studio tasks: predictions (per-region score, model_version, an
                                 image-level score for "Uncertainty sampling") and the uncertainty, band,
                                 failed and p_needs_correction as task data (sortable columns)
    label_studio_config.xml      the labeling config for the classes
    cvat_annotations.xml         CVAT for images 1.1, score and uncertainty declared as label attributes
    annotations.coco.json        COCO with score per box and uncertainty, band, p_needs_correction (FiftyOne)
    labels/<image>.txt           YOLO with the confidence as a sixth column

Image references: Label Studio gets a local-files URL relative to its document root; CVAT, COCO and YOLO
the real image path relative to the common folder of the batch's images.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from autolabel.atomic_files import write_text_atomic
from autolabel.formats.coco import CocoImage, coco_dataset, write_coco
from autolabel.formats.cvat import cvat_xml
from autolabel.formats.label_studio import labeling_config, local_files_url, ls_task
from autolabel.formats.yolo import format_yolo_lines
from autolabel.records import ImageRecord
from autolabel.review.picks import Pick
from autolabel.structures import is_suggestion

CSV_FIELDS = ("rank", "image", "score", "band", "p_needs_correction", "failed", "n_boxes", "value", "seconds")


def batch_root(picks: Sequence[Pick]) -> Path:
    """The deepest folder holding every picked image (names in file exports are relative to it)."""
    return Path(os.path.commonpath([str(Path(p.path).parent) for p in picks]))


def image_facts(record: ImageRecord) -> dict[str, object]:
    """The image-level uncertainty fields every export carries (None where the job did not measure it)."""
    return {
        "uncertainty": record.score,
        "band": record.band,
        "failed": record.failed,
        "p_needs_correction": record.p_needs_correction,
    }


def label_studio_tasks(
    picks: Sequence[Pick],
    records: Mapping[str, ImageRecord],
    *,
    model_version: str,
    document_root: str,
    t_high: float | None = None,
) -> list[dict]:
    """One Label Studio task per pick, in rank order; ``autolabel_image`` is the real image path;
    ``t_high``: the job's two levels (boxes below it are marked as suggestions), None for one level."""
    tasks = []
    for pick in picks:
        task = ls_task(
            records[pick.image],
            image_url=local_files_url(pick.path, document_root),
            model_version=model_version,
            rank=pick.rank,
            t_high=t_high,
        )
        task["data"]["autolabel_image"] = pick.path  # stable across rounds (keys are per auto-label run)
        tasks.append(task)
    return tasks


def write_batch_exports(
    folder: Path,
    picks: Sequence[Pick],
    records: Mapping[str, ImageRecord],
    *,
    names: Sequence[str],
    model_version: str,
    document_root: str,
    t_high: float | None = None,
) -> dict[str, str]:
    """Write every export of the module docstring into ``folder``; returns {export: file name}.

    t_high: the auto-label job's two levels (its ``autolabel_job.json``): Label Studio marks the boxes
    below it as suggestions and the COCO file flags them (``suggestion``); None for one level."""
    chosen = [records[p.image] for p in picks]
    root = batch_root(picks) if picks else folder
    relative = {p.image: Path(p.path).relative_to(root).as_posix() for p in picks}
    with open(folder / "picks.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        writer.writerows([getattr(p, k) for k in CSV_FIELDS] for p in picks)
    tasks = label_studio_tasks(
        picks, records, model_version=model_version, document_root=document_root, t_high=t_high
    )
    write_text_atomic(folder / "label_studio_tasks.json", json.dumps(tasks, indent=1))
    write_text_atomic(folder / "label_studio_config.xml", labeling_config(names))
    write_text_atomic(folder / "cvat_annotations.xml", cvat_xml(chosen, names=names, image_names=relative))
    coco = []
    for r in chosen:
        det = r.detections_for(len(names))  # (0, C) probs for an image without boxes
        coco.append(
            CocoImage(
                file_name=relative[r.image],
                width=int(r.width or 0),
                height=int(r.height or 0),
                xyxy=det.xyxy,
                cls=det.cls,
                score=det.conf,
                probs=det.probs,
                suggestion=None if t_high is None else is_suggestion(det.conf, t_high),
                extra=image_facts(r),
            )
        )
    write_coco(
        folder / "annotations.coco.json", coco_dataset(coco, names=names, description="autolabel batch")
    )
    for r in chosen:
        text = format_yolo_lines(
            r.detections.xyxy,
            r.detections.cls,
            width=int(r.width or 0),
            height=int(r.height or 0),
            conf=r.detections.conf,
        )
        write_text_atomic((folder / "labels" / relative[r.image]).with_suffix(".txt"), text)
    write_text_atomic(folder / "labels" / "classes.txt", "".join(f"{n}\n" for n in names))
    return {
        "list": "picks.csv",
        "label_studio": "label_studio_tasks.json",
        "label_studio_config": "label_studio_config.xml",
        "cvat": "cvat_annotations.xml",
        "coco": "annotations.coco.json",
        "yolo": "labels/",
    }
