"""Import what people labeled into human label files, never overwriting one unless told to.

A reviewed image (:class:`~autolabel.formats.reviewed.ReviewedImage`, from any annotation tool's reader) is
mapped back to the real image file through the batch it was sent in (:mod:`autolabel.review.picks`): first
by its key, then by its file name when a format only knows file names (then the name must be unique in the
batch). Its labels are written as a YOLO label file beside the image, by ultralytics' ``images/`` ->
``labels/`` rule, so the dataset becomes partly labeled and ``split=labeled`` trains on it.

Nothing is written before every entry has been mapped and checked: an entry whose image is in no batch,
or whose size disagrees with the image file, stops the import with an error naming it. An existing label
file with other content is a *conflict*: kept as it is and reported, unless ``overwrite=True``. Every
imported entry is logged (``reviews.jsonl``: lead time, whether the reviewer changed the prediction, the
edit counts) for the cost fit and the uncertainty evaluation on real outcomes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.atomic_files import write_text_atomic
from autolabel.formats.reviewed import ExportError, ReviewedImage
from autolabel.formats.yolo import format_yolo_lines, image_size
from autolabel.model.matching import match_detections
from autolabel.records import JsonlWriter, json_safe
from autolabel.review.picks import Pick
from autolabel.structures import Detections, GroundTruth

REVIEWS = "reviews.jsonl"  # the import log: one row per imported entry
SHOW = 5  # entries named in an error


@dataclass
class ImportReport:
    """What an import did, image keys per outcome.

    written: new label files; overwritten: replaced (only with ``overwrite``); unchanged: the same labels
    were there already; conflicts: a different human label file exists and was kept; duplicates: a second
    entry for an image already imported in this run (the first wins).
    """

    written: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.__dict__.items()}


def match_to_batch(reviewed: Sequence[ReviewedImage], picks: Sequence[Pick]) -> list[Pick]:
    """The pick of each reviewed image, by key, else by real path, else by unique file name.

    Raises ExportError listing the entries whose image is in no batch, or whose file name matches several.
    """
    by_key = {**{p.path: p for p in picks}, **{p.image: p for p in picks}}
    by_name: dict[str, list[Pick]] = {}
    for p in picks:
        by_name.setdefault(Path(p.image).name, []).append(p)
    found, missing, ambiguous = [], [], []
    for entry in reviewed:
        pick = by_key.get(entry.image)
        if pick is None:
            named = by_name.get(Path(entry.image).name, [])
            if len(named) > 1:
                ambiguous.append(f"{entry.image} ({entry.source})")
                continue
            pick = named[0] if named else None
        if pick is None:
            missing.append(f"{entry.image} ({entry.source})" if entry.source else entry.image)
            continue
        found.append(pick)
    if missing:
        raise ExportError(
            f"{len(missing)} labeled images are not in the batch that was sent for labeling "
            f"({len(picks)} images): {', '.join(missing[:SHOW])}; import the export with the select "
            "output folders it came from (batches=[...])"
        )
    if ambiguous:
        raise ExportError(
            f"{len(ambiguous)} labeled images match several images of the batch by file name: "
            f"{', '.join(ambiguous[:SHOW])}; export with full paths (Label Studio JSON keeps them)"
        )
    return found


def class_ids(entry: ReviewedImage, names: Sequence[str]) -> np.ndarray:
    """(N,) int64 ids of ``entry.labels`` in ``names``; ExportError naming unknown classes."""
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(entry.labels) - set(index))
    if unknown:
        raise ExportError(
            f"{entry.image} ({entry.source}): classes {unknown} are not among this project's classes "
            f"{list(names)}; is the export from another project?"
        )
    return np.array([index[label] for label in entry.labels], dtype=np.int64)


def edit_counts(
    entry: ReviewedImage, names: Sequence[str], *, iou_threshold: float = 0.5
) -> dict[str, int] | None:
    """What the reviewer did to the prediction shown: kept, relabeled, deleted, drawn boxes (None if unknown).

    The saved labels are matched to the shown prediction as the experiment matches auto-labels to the
    truth: a shown box matched with its class was kept (verified), matched with another class relabeled,
    unmatched deleted; a saved box no shown box matched was drawn.
    """
    if entry.shown_xyxy is None or entry.shown_labels is None:
        return None
    shown = ReviewedImage(entry.image, entry.shown_xyxy, entry.shown_labels)
    cls = class_ids(shown, names)
    det = Detections(
        shown.xyxy,
        np.ones(len(shown), np.float32),
        cls,
        np.eye(len(names), dtype=np.float32)[cls].reshape(len(shown), len(names)),
    )
    truth = GroundTruth(entry.xyxy, class_ids(entry, names))
    match = match_detections(det, truth, iou_threshold=iou_threshold)
    kept = int(match.tp.sum())
    relabeled = int(match.wrong_class.sum())
    return {
        "kept": kept,
        "relabeled": relabeled,
        "deleted": int(len(shown) - kept - relabeled),
        "drawn": int(len(entry) - kept - relabeled),
    }


def import_reviewed(
    reviewed: Sequence[ReviewedImage],
    picks: Sequence[Pick],
    *,
    names: Sequence[str],
    log_path: Path,
    overwrite: bool = False,
    tool: str = "",
) -> ImportReport:
    """Write each reviewed image's labels beside its image (see the module docstring); log every entry.

    names: the project's classes, index = class id. log_path: the ``reviews.jsonl`` to append to.
    """
    targets = match_to_batch(reviewed, picks)
    prepared = []
    for entry, pick in zip(reviewed, targets, strict=True):
        ids = class_ids(entry, names)
        width, height = image_size(Path(pick.path))
        if (entry.width, entry.height) not in ((None, None), (width, height)):
            raise ExportError(
                f"{entry.image} ({entry.source}): the tool says {entry.width}x{entry.height} pixels, the "
                f"image file {pick.path} is {width}x{height}; boxes would land in the wrong place"
            )
        text = format_yolo_lines(entry.xyxy, ids, width=width, height=height)
        prepared.append((entry, pick, text))
    report = ImportReport()
    seen: set[str] = set()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows: list[Mapping[str, Any]] = []
    for entry, pick, text in prepared:
        label_file = Path(pick.label_file)
        if pick.image in seen:
            status = "duplicate"
        elif not label_file.exists():
            status = "written"
        elif label_file.read_text(encoding="utf-8") == text:
            status = "unchanged"
        else:
            status = "overwritten" if overwrite else "conflict"
        seen.add(pick.image)
        if status in ("written", "overwritten"):
            write_text_atomic(label_file, text)
        buckets = {
            "written": report.written,
            "overwritten": report.overwritten,
            "unchanged": report.unchanged,
            "conflict": report.conflicts,
            "duplicate": report.duplicates,
        }
        buckets[status].append(pick.image)
        rows.append(
            json_safe(
                {
                    "image": pick.image,
                    "path": pick.path,
                    "label_file": str(label_file),
                    "status": status,
                    "n_boxes": len(entry),
                    "per_class": dict(Counter(entry.labels)),
                    "lead_time": entry.lead_time,
                    "changed": entry.changed,
                    "edits": edit_counts(entry, names),
                    "score": pick.score,
                    "band": pick.band,
                    "p_needs_correction": pick.p_needs_correction,
                    "n_auto_boxes": pick.n_boxes,
                    "source": entry.source,
                    "tool": tool,
                    "imported_at": now,
                    "extra": dict(entry.extra),
                }
            )
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with JsonlWriter(log_path) as writer:
        writer.append(rows)
    return report
