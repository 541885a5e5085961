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
from autolabel.formats.label_studio import SAME_BOX_PX, is_suggestion_region
from autolabel.formats.reviewed import ExportError, ReviewedImage
from autolabel.formats.yolo import format_yolo_lines, image_size
from autolabel.records import JsonlWriter, json_safe
from autolabel.review.picks import Pick
from autolabel.structures import box_iou

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


def box_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of (N, 4) and (M, 4) xyxy pixel boxes, 1.0 where two boxes agree within SAME_BOX_PX
    in every coordinate (so an unchanged box of zero area, IoU 0 by definition, still counts as kept)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    iou = box_iou(a, b).astype(np.float64)
    same = np.abs(a[:, None, :] - b[None, :, :]).max(-1, initial=0.0) <= SAME_BOX_PX
    return np.where(same, 1.0, iou)


def pair_reviewed_boxes(
    shown: ReviewedImage,
    saved: ReviewedImage,
    *,
    iou_threshold: float = 0.5,
) -> np.ndarray:
    """(N,) int64: for each of the N boxes of ``saved``, the index of the box of ``shown`` (M boxes) it
    comes from, or -1 (drawn). Boxes are pixels; ``ids`` are region ids (None: unknown). Two steps, each
    box in at most one pair:

    1. By id: a saved box whose id is a shown region's id comes from that region (Label Studio keeps the
       id of a region the reviewer kept, moved or relabeled). Of two saved boxes with one id, the first.
    2. By geometry, regardless of class, among the boxes left: the pair of highest overlap
       (:func:`box_overlap`) first, then the next, while the overlap is >= ``iou_threshold``. The class
       only breaks exact ties (a same-class pair first), then the lower shown index, the lower saved one:
       a relabeled box pairs with its own region, not with a neighbour of its new class.
    """
    pairs = np.full(len(saved), -1, dtype=np.int64)
    shown_free = np.ones(len(shown), dtype=bool)
    by_id = {rid: i for i, rid in reversed(list(enumerate(shown.ids or ()))) if rid is not None}
    for j, rid in enumerate(saved.ids or ()):
        i = by_id.get(rid) if rid is not None else None
        if i is not None and shown_free[i]:
            pairs[j], shown_free[i] = i, False
    overlap = box_overlap(shown.xyxy, saved.xyxy)  # (M, N)
    rows, cols = np.nonzero(overlap >= iou_threshold)
    other = np.array([shown.labels[i] != saved.labels[j] for i, j in zip(rows, cols, strict=True)], bool)
    for k in np.lexsort((cols, rows, other, -overlap[rows, cols])):  # highest overlap first
        i, j = rows[k], cols[k]
        if shown_free[i] and pairs[j] < 0:
            pairs[j], shown_free[i] = i, False
    return pairs


def edit_counts(
    entry: ReviewedImage, names: Sequence[str], *, iou_threshold: float = 0.5
) -> dict[str, int] | None:
    """What the reviewer did to the prediction shown: kept, relabeled, deleted, drawn boxes (None if unknown).

    The saved boxes are paired with the shown ones (:func:`pair_reviewed_boxes`: by region id, then by
    geometry regardless of class). A pair that still overlaps by ``iou_threshold`` was kept (same class)
    or relabeled (another class); a box moved off its object, and every unpaired box, counts as the
    person's work the experiment charges for it: a shown box deleted, a saved box drawn. When the shown
    prediction marked two-level suggestions (region ids ``s<i>``, see ``ls_prediction`` in
    :mod:`autolabel.formats.label_studio`), ``suggested`` and ``suggestions_kept`` count them and those
    of them kept or relabeled.
    """
    if entry.shown_xyxy is None or entry.shown_labels is None:
        return None
    shown = ReviewedImage(entry.image, entry.shown_xyxy, entry.shown_labels, ids=entry.shown_ids)
    class_ids(shown, names)  # both sides' classes are the project's (an ExportError names others)
    class_ids(entry, names)
    pairs = pair_reviewed_boxes(shown, entry, iou_threshold=iou_threshold)
    overlap = box_overlap(entry.shown_xyxy, entry.xyxy)
    kept = relabeled = 0
    accepted = set()
    for j, i in enumerate(pairs.tolist()):
        if i >= 0 and overlap[i, j] >= iou_threshold:
            same = shown.labels[i] == entry.labels[j]
            kept, relabeled = kept + same, relabeled + (not same)
            accepted.add(i)
    counts = {
        "kept": kept,
        "relabeled": relabeled,
        "deleted": len(shown) - kept - relabeled,
        "drawn": len(entry) - kept - relabeled,
    }
    suggested = {i for i, rid in enumerate(shown.ids or ()) if is_suggestion_region(rid)}
    if suggested:  # a two-level prediction: of its suggestions, how many the person kept (or relabeled)
        counts |= {"suggested": len(suggested), "suggestions_kept": len(suggested & accepted)}
    return counts


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
