"""The batch auto-labeling job: chunked, resumable, one job per folder, safe for human labels.

Layout of ``output``::

    autolabel_job.json        what wrote this folder (weights and their sha256, source, thresholds);
                              a resume must match it
    autolabel_job.lock        held (``flock``) by the running job; a second job on the folder is refused
    the record log            one ImageRecord per image (:mod:`autolabel.records`), appended and fsynced
                              batch by batch: the commit log
    label_files.jsonl         the job's ledger of label files: name and sha256 of what it wrote
    labels/<image>.txt        YOLO labels of each image (class cx cy w h, normalised), written atomically
    annotations.coco.json     COCO JSON of all images (with score and full probs per box), at the end
    classes.txt               class names, one per line, for tools that open YOLO labels
    images.csv                one row per image: its scalar fields (n_boxes, error, label_file, score...)
    summary.json              counts and throughput of the last run

A batch is committed when its records reach the record log; its ledger lines and label files are
written just before, so a kill at any point loses at most the batch in flight and a rerun redoes exactly
that batch. Every reader counts an image once (:func:`autolabel.records.read_records` keeps its first
complete record), and the exports are rebuilt from those records at the end of every run.

Label file names (:mod:`autolabel.job.label_files`): ``sub/x.jpg`` -> ``labels/sub/x.txt`` when no other image
holds that name, as ultralytics expects; when two images of a folder share a stem (``x.jpg``, ``x.png``)
the one labeled first keeps ``labels/sub/x.txt`` and the other gets its full file name,
``labels/sub/x.png.txt`` (then ``x.png.2.txt``, ...). A name once given never changes, and a label file
that the job did not write, or that was changed since (a person's correction), is never replaced: the job
keeps it and says so (``label_files_kept`` in the summary, and a warning).
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from autolabel.atomic_files import write_text_atomic
from autolabel.formats.yolo import list_images
from autolabel.job.backends import Backend, LocalBackend, PredictFn
from autolabel.job.exports import write_exports
from autolabel.job.label_files import LEDGER, Ledger, assign_names, reserved_names, text_sha256
from autolabel.job.lock import LOCK_FILE, OutputLocked, output_lock
from autolabel.job.resume import HASH_KEYS, MARKER, resume_refusal, with_hashes
from autolabel.job.two_level_files import label_text
from autolabel.records import PREDICTIONS, ImageRecord, RecordWriter, read_records, unique_records
from autolabel.structures import Detections

SHOW = 5  # unreadable images and kept label files named on the console; all are in images.csv / the ledger
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)

log = logging.getLogger("autolabel.job.runner")


def plain_predict(predict: Callable[[Sequence[np.ndarray]], list[Detections]]) -> PredictFn:
    """Adapt a ``Detector.predict``-style function (no extra fields) to the job's :data:`PredictFn`."""
    return lambda images, _keys: [(det, {}) for det in predict(images)]


class JobError(RuntimeError):
    """The job cannot start or go on; the message says why and what was kept."""


def check_output_dir(output: Path, source: Path) -> None:
    """Refuse an output folder where auto-labels could replace or pass for human labels, or not be written."""
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
    if output.exists() and not output.is_dir():
        raise JobError(f"output={output} is a file, not a folder: choose a new or empty folder")
    if output.is_dir() and not (output / MARKER).is_file():
        # the lock file alone: another job is just starting here; the lock will tell
        if any(p.name != LOCK_FILE for p in output.iterdir()):
            raise JobError(
                f"output={output} holds files that autolabel did not write (no {MARKER}); it may hold "
                "human labels, so nothing is written there: choose an empty or new folder"
            )
    nearest = next(folder for folder in (output, *output.parents) if folder.exists())
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise JobError(
            f"output={output}: cannot write into {nearest} (read-only for this user or file system); "
            "choose a folder you can write to, or make it writable"
        )


def _check_resume(output: Path, meta: Mapping[str, Any], *, has_records: bool) -> None:
    """Record ``meta`` in the marker, or refuse it when the folder's records came from other settings.

    A folder without committed records takes the new settings (a first try that failed early must not
    block the corrected command). A marker without a content hash of HASH_KEYS (older jobs) is accepted
    with a warning, and the hash is recorded from now on.
    """
    marker = output / MARKER
    if marker.is_file() and has_records:
        try:
            previous = json.loads(marker.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise JobError(f"{marker} is unreadable ({exc}); choose a new output folder") from exc
        refusal = resume_refusal(output, previous, meta)
        if refusal:
            raise JobError(refusal)
        unrecorded = [k for k in HASH_KEYS if meta.get(k) is not None and previous.get(k) is None]
        if not unrecorded:
            return
        log.warning(
            "%s does not record %s (written by an older version): cannot tell whether the weights or "
            "the files beside them changed since; resuming, and recording the sha256 from now on",
            marker,
            " and ".join("the sha256 of its weights" if k == "weights_sha256" else k for k in unrecorded),
        )
    elif marker.is_file():
        log.info("%s: nothing labeled there yet, so its settings are replaced by this run's", marker)
    write_text_atomic(marker, json.dumps(dict(meta), indent=2))


def _write_error(exc: OSError, target: Path, log_path: Path) -> JobError | None:
    """A JobError for a full disk or an unwritable file (None for other errors) that counts what is kept."""
    if exc.errno in FULL_DISK:
        what, fix = "disk full", "free some space and rerun the same command to resume"
    elif exc.errno in NOT_WRITABLE:
        what, fix = f"cannot write ({exc.strerror})", "make the folder writable and rerun the same command"
    else:
        return None
    kept = len(read_records(log_path)) if log_path.is_file() else 0
    return JobError(
        f"{what} while writing {exc.filename or target}: the {kept} images committed to {PREDICTIONS} "
        f"are kept; {fix}"
    )


def _write_label_files(output: Path, ledger: Ledger, files: Sequence[tuple[str, str, str]]) -> list[str]:
    """Write ``(key, name, text)`` label files, ledger first; returns the names kept as a person left them.

    A file already at a name is replaced only when it holds content the job wrote for that image (a batch
    redone after a kill); anything else there is a person's work and is kept.
    """
    entries, pending, kept = [], [], []
    for key, name, text in files:
        path = output / name
        if path.exists() and not ledger.is_ours(key, path):
            entries.append({"image": key, "file": name, "sha256": None})
            kept.append(name)
        else:
            entries.append({"image": key, "file": name, "sha256": text_sha256(text)})
            pending.append((path, text))
    ledger.append(entries)
    for path, text in pending:
        write_text_atomic(path, text)
    return kept


def _report(output: Path, records: Sequence[ImageRecord], kept: Sequence[str], duplicates: int) -> None:
    """Name what a person should know on the console: unreadable images, kept label files, duplicates."""
    errors = [r for r in records if not r.ok]
    if errors:
        named = ", ".join(f"{r.image} ({r.error})" for r in errors[:SHOW])
        more = f" and {len(errors) - SHOW} more" if len(errors) > SHOW else ""
        log.warning(
            "%d image(s) could not be read and have no labels: %s%s; all are listed with their error in %s",
            len(errors),
            named,
            more,
            output / "images.csv",
        )
    if kept:
        more = f" and {len(kept) - SHOW} more" if len(kept) > SHOW else ""
        log.warning(
            "%d label file(s) were already there and not written by this job (a person's work?): kept as "
            "they are, not replaced: %s%s; the job's own labels of those images are in %s",
            len(kept),
            ", ".join(kept[:SHOW]),
            more,
            PREDICTIONS,
        )
    if duplicates:
        log.warning(
            "%s holds %d duplicate record(s) (two jobs on this folder at once?): each image counts once, "
            "and the exports are rebuilt from its first record",
            output / PREDICTIONS,
            duplicates,
        )


def run_label_job(
    *,
    predict: PredictFn | None = None,
    names: Sequence[str],
    source: str | Path,
    output: str | Path,
    meta: Mapping[str, Any],
    batch: int = 16,
    threads: int = 2,
    progress: bool = True,
    backend: Backend | None = None,
    make_predict: Callable[[], PredictFn] | None = None,
) -> dict[str, Any]:
    """Auto-label every image under ``source`` into ``output``; resume where an earlier run stopped.

    predict: (images, keys) -> per image (:class:`Detections`, extra record fields), see :data:`PredictFn`;
    or make_predict, which builds it where the backend labels (a Ray actor). backend: where images are
    decoded and labeled (default: this process, decoding on ``threads`` threads).
    meta: the job's settings, recorded in ``autolabel_job.json``; a rerun must match its RESUME_KEYS.
    When ``meta["weights"]`` names a file, its sha256 is added as ``weights_sha256``;
    ``meta["calibration_files"]``, the paths of the files the calibration was read from, are recorded
    with their sha256 (None for a file that is not there), so removing, adding or replacing one between
    a kill and the rerun is refused.
    Holds the folder's lock throughout: a second job on ``output`` is refused (JobError naming the holder).
    Returns the summary also written to ``summary.json``.
    """
    source, output = Path(source), Path(output)
    if not source.is_dir():
        raise JobError(f"source={source} is not a folder of images")
    images = list_images(source)
    if not images:
        raise JobError(f"source={source} holds no images (looked for .jpg, .png, .bmp, .tif, .webp)")
    check_output_dir(output, source)
    meta = with_hashes(meta)
    if make_predict is None:
        if predict is None:
            raise ValueError("give predict or make_predict")
        make_predict = functools.partial(_given, predict)
    backend = backend or LocalBackend(threads=threads)
    try:
        output.mkdir(parents=True, exist_ok=True)
        with output_lock(output):
            return _run_locked(make_predict, backend, names, source, images, output, meta, batch, progress)
    except OutputLocked as exc:
        raise JobError(str(exc)) from None
    except OSError as exc:
        error = _write_error(exc, output, output / PREDICTIONS)
        if error is None:
            raise
        raise error from exc


def _given(predict: PredictFn) -> PredictFn:
    return predict


def _run_locked(
    make_predict: Callable[[], PredictFn],
    backend: Backend,
    names: Sequence[str],
    source: Path,
    images: Sequence[Path],
    output: Path,
    meta: Mapping[str, Any],
    batch: int,
    progress: bool,
) -> dict[str, Any]:
    log_path = output / PREDICTIONS
    lines = read_records(log_path, repair=True, unique=False)
    committed = unique_records(lines)
    _check_resume(output, meta, has_records=bool(committed))
    done = {r.image for r in committed}
    keys = {path: path.relative_to(source).as_posix() for path in images}
    pending = [path for path in images if keys[path] not in done]
    ledger = Ledger.load(output)
    t_high = meta.get("t_high")  # two levels: labels/ holds the boxes at or above it, suggestions/ the rest
    label_names = assign_names([keys[p] for p in pending], reserved_names(ledger, committed))
    started, n_new, kept = time.perf_counter(), 0, []
    bar = tqdm(
        total=len(images),
        initial=len(images) - len(pending),
        desc="auto-label",
        unit="img",
        disable=not progress,
    )
    writing = output / LEDGER
    try:
        with RecordWriter(log_path) as writer:
            for labeled in backend.labeled_batches(
                pending, keys, batch=batch, make_predict=make_predict, names=names
            ):
                records, files = [], []
                for item in labeled:
                    key = item.record.image
                    if item.yolo is None:  # unreadable: a record with its error, no label file
                        records.append(item.record)
                        continue
                    record = dataclasses.replace(item.record, label_file=label_names[key])
                    records.append(record)
                    text = item.yolo if t_high is None else label_text(record, t_high, num_classes=len(names))
                    files.append((key, label_names[key], text))
                writing = output / LEDGER
                kept += _write_label_files(output, ledger, files)
                writing = log_path
                writer.append(records)
                n_new += len(records)
                bar.update(len(records))
        writing = output / "annotations.coco.json"
        all_records = read_records(log_path)
        suggested = write_exports(output, all_records, names=names, t_high=t_high)
        seconds = time.perf_counter() - started
        errors = [r.image for r in all_records if not r.ok]
        summary = {
            "images": len(all_records),
            "labeled_now": n_new,
            "resumed_from": len(done),
            "errors": len(errors),
            "unreadable": errors[:SHOW],
            "no_boxes": sum(1 for r in all_records if r.ok and r.n_boxes == 0),
            "boxes": sum(r.n_boxes for r in all_records),
            **({"t_high": t_high, "suggestions": suggested} if t_high is not None else {}),
            "label_files_kept": kept,
            "duplicate_records": len(lines) - len(committed),
            "seconds": round(seconds, 3),
            "images_per_s": round(n_new / seconds, 3) if seconds > 0 else None,
        }
        writing = output / "summary.json"
        write_text_atomic(writing, json.dumps(summary, indent=2))
    except OSError as exc:
        error = _write_error(exc, writing, log_path)
        if error is None:
            raise
        raise error from exc
    finally:
        bar.close()
    _report(output, all_records, kept, summary["duplicate_records"])
    return summary
