"""The batch auto-labeling job: chunked, resumable, safe for human labels.

Layout of ``output``::

    autolabel_job.json        what wrote this folder (weights, source, thresholds); resume must match it
    the record log            one ImageRecord per image (:mod:`autolabel.records`), appended and fsynced
                              batch by batch: the commit log
    labels/<image>.txt        YOLO labels of each image (class cx cy w h, normalised), written atomically
    annotations.coco.json     COCO JSON of all images (with score and full probs per box), at the end
    classes.txt               class names, one per line, for tools that open YOLO labels
    images.csv                one row per image: its scalar fields (n_boxes, error, score, difficulty...)
    summary.json              counts and throughput of the last run

A batch is committed when its records reach the record log; its label files are written just
before, so a kill at any point loses at most the batch in flight and a rerun redoes exactly that batch.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from autolabel.coco import CocoImage, coco_dataset, write_coco
from autolabel.images import iter_batches
from autolabel.records import PREDICTIONS, ImageRecord, RecordWriter, read_folder_records
from autolabel.structures import Detections
from autolabel.yolo_format import list_images, write_yolo_labels

MARKER = "autolabel_job.json"
RESUME_KEYS = ("weights", "source", "names", "conf", "iou", "imgsz", "uncertainty")

# (BGR images [(H, W, 3)], their keys) -> per image, auto-labels and extra record fields (uncertainty)
PredictFn = Callable[[Sequence[np.ndarray], Sequence[str]], list[tuple[Detections, dict[str, Any]]]]


def plain_predict(predict: Callable[[Sequence[np.ndarray]], list[Detections]]) -> PredictFn:
    """Adapt a ``Detector.predict``-style function (no extra fields) to the job's :data:`PredictFn`."""
    return lambda images, _keys: [(det, {}) for det in predict(images)]


class JobError(RuntimeError):
    """The job cannot start or go on; the message says why and what was kept."""


def check_output_dir(output: Path, source: Path) -> None:
    """Refuse an output folder where auto-labels could overwrite or pass for human labels."""
    output, source = output.resolve(), source.resolve()
    if output == source or source in output.parents or output in source.parents:
        raise JobError(
            f"output={output} overlaps source={source}: auto-labels must live apart from the images "
            "and their human labels; choose a separate folder"
        )
    for folder in (output, *output.parents):
        if folder.name == "labels" and (folder.parent / "images").is_dir():
            raise JobError(
                f"output={output} is inside {folder}, a dataset's human label folder; "
                "auto-labels never go there, choose another folder"
            )
    if output.is_dir() and any(output.iterdir()) and not (output / MARKER).is_file():
        raise JobError(
            f"output={output} holds files that autolabel did not write (no {MARKER}); it may hold human "
            "labels, so nothing is written there: choose an empty or new folder"
        )


def _check_resume(output: Path, meta: Mapping[str, Any]) -> None:
    marker = output / MARKER
    if not marker.is_file():
        marker.write_text(json.dumps(dict(meta), indent=2))
        return
    previous = json.loads(marker.read_text())
    changed = [key for key in RESUME_KEYS if previous.get(key) != meta.get(key)]
    if changed:
        diffs = ", ".join(f"{k}: {previous.get(k)!r} -> {meta.get(k)!r}" for k in changed)
        raise JobError(
            f"output={output} was written by a job with other settings ({diffs}); "
            "rerun with the same settings to resume, or choose a new output folder"
        )


def _disk_full(exc: OSError, done: int, output: Path) -> JobError:
    return JobError(
        f"disk full while writing to {output}: the {done} images committed to {PREDICTIONS} are kept; "
        "free some space and rerun the same command to resume"
    )


def write_exports(output: Path, records: Sequence[ImageRecord], *, names: Sequence[str]) -> None:
    """Write the COCO JSON and classes.txt from all records (error records are left out of COCO)."""
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
            )
        )
    write_coco(output / "annotations.coco.json", coco_dataset(images, names=names))
    (output / "classes.txt").write_text("".join(f"{name}\n" for name in names))
    write_image_table(output / "images.csv", records)


def _scalar_fields(record: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for key, value in record.items():
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


def run_label_job(
    *,
    predict: PredictFn,
    names: Sequence[str],
    source: str | Path,
    output: str | Path,
    meta: Mapping[str, Any],
    batch: int = 16,
    threads: int = 2,
    progress: bool = True,
) -> dict[str, Any]:
    """Auto-label every image under ``source`` into ``output``; resume where an earlier run stopped.

    predict: (images, keys) -> per image (:class:`Detections`, extra record fields), see :data:`PredictFn`.
    meta: the job's settings, recorded in ``autolabel_job.json``; a rerun must match its RESUME_KEYS.
    Returns the summary also written to ``summary.json``.
    """
    source, output = Path(source), Path(output)
    if not source.is_dir():
        raise JobError(f"source={source} is not a folder of images")
    images = list_images(source)
    if not images:
        raise JobError(f"source={source} holds no images (looked for .jpg, .png, .bmp, .tif, .webp)")
    check_output_dir(output, source)
    output.mkdir(parents=True, exist_ok=True)
    _check_resume(output, meta)
    done = {r.image for r in read_folder_records(output, repair=True)}
    keys = {path: path.relative_to(source).as_posix() for path in images}
    pending = [path for path in images if keys[path] not in done]
    label_root = output / "labels"
    started, n_new = time.perf_counter(), 0
    bar = tqdm(
        total=len(images),
        initial=len(images) - len(pending),
        desc="auto-label",
        unit="img",
        disable=not progress,
    )
    try:
        with RecordWriter.in_folder(output) as writer:
            for loaded in iter_batches(pending, batch=batch, threads=threads):
                ok = [item for item in loaded if item.image is not None]
                outputs = predict([item.image for item in ok], [keys[item.path] for item in ok]) if ok else []
                by_path = {item.path: result for item, result in zip(ok, outputs, strict=True)}
                records = []
                for item in loaded:
                    key = keys[item.path]
                    if item.image is None:
                        records.append(ImageRecord.unreadable(key, item.error or "unreadable"))
                        continue
                    det, extra = by_path[item.path]
                    height, width = item.image.shape[:2]
                    record = ImageRecord.from_detections(
                        key, det, width=width, height=height, names=names, **extra
                    )
                    write_yolo_labels(
                        (label_root / key).with_suffix(".txt"), det.xyxy, det.cls, width=width, height=height
                    )
                    records.append(record)
                writer.append(records)
                n_new += len(records)
                bar.update(len(records))
        all_records = read_folder_records(output)
        write_exports(output, all_records, names=names)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise _disk_full(exc, len(done) + n_new, output) from exc
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    summary = {
        "images": len(all_records),
        "labeled_now": n_new,
        "resumed_from": len(done),
        "errors": sum(1 for r in all_records if not r.ok),
        "no_boxes": sum(1 for r in all_records if r.ok and r.n_boxes == 0),
        "boxes": sum(r.n_boxes for r in all_records),
        "seconds": round(seconds, 3),
        "images_per_s": round(n_new / seconds, 3) if seconds > 0 else None,
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
