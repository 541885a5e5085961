"""Labels that come back from an annotation tool: :class:`ReviewedImage`, one per reviewed image.

Every reader of an annotation tool's export (Label Studio JSON or YOLO, COCO, CVAT XML) returns these, and
the importer (:mod:`autolabel.review.human_labels`) writes them into a human-labels folder. Class names,
not ids, travel here: each tool numbers classes its own way (Label Studio's YOLO export alphabetically), so
ids are assigned only against the project's own class list when the labels are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autolabel.errors import DataError


class ExportError(DataError):
    """An annotation tool's export that cannot be read; the message names the file and the entry."""


@dataclass(frozen=True, eq=False)
class ReviewedImage:
    """The labels a person saved for one image.

    image: the image's key, its path relative to the pool root as the auto-label job recorded it
    ("sub/a.jpg"); for exports that only know a file name, the file name. xyxy: (N, 4) float64 pixels
    of the original image; labels: (N,) class names. width, height: the image size in pixels the tool
    reported (None when the format has none). lead_time: seconds the reviewer spent (Label Studio's
    ``lead_time``), None when unknown. changed: whether the saved labels differ from the prediction the
    reviewer was shown (None when the export holds no such snapshot). source: where in the export the
    entry came from ("task 12, annotation 40"), for messages. extra: format-specific facts kept for the
    review log (annotator, timestamps). shown_xyxy (M, 4) pixels and shown_labels (M,): the prediction
    the reviewer was shown (None when the export holds no snapshot); the importer counts the edits from
    them. ids (N,) and shown_ids (M,): each box's region id in the tool (None for a box without one, or
    the whole tuple None when the format has no ids); a saved box the tool derived from a shown region
    keeps that region's id, so the importer pairs them by id before geometry. ``eq=False``: arrays have
    no single truth value.
    """

    image: str
    xyxy: np.ndarray
    labels: tuple[str, ...]
    width: int | None = None
    height: int | None = None
    lead_time: float | None = None
    changed: bool | None = None
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    shown_xyxy: np.ndarray | None = None
    shown_labels: tuple[str, ...] | None = None
    ids: tuple[str | None, ...] | None = None
    shown_ids: tuple[str | None, ...] | None = None

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        labels = tuple(str(label) for label in self.labels)
        if len(labels) != len(xyxy):
            raise ValueError(f"{self.image}: {len(xyxy)} boxes but {len(labels)} labels")
        if not np.isfinite(xyxy).all() or (xyxy[:, 2:] < xyxy[:, :2]).any():
            raise ValueError(f"{self.image}: boxes must be finite xyxy with x2 >= x1 and y2 >= y1")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "labels", labels)
        if (self.shown_xyxy is None) != (self.shown_labels is None):
            raise ValueError(f"{self.image}: shown_xyxy and shown_labels come together")
        if self.shown_xyxy is not None:
            shown = np.asarray(self.shown_xyxy, dtype=np.float64).reshape(-1, 4)
            shown_labels = tuple(str(label) for label in self.shown_labels or ())
            if len(shown_labels) != len(shown):
                raise ValueError(f"{self.image}: {len(shown)} shown boxes but {len(shown_labels)} labels")
            object.__setattr__(self, "shown_xyxy", shown)
            object.__setattr__(self, "shown_labels", shown_labels)
        for name, n in (("ids", len(labels)), ("shown_ids", len(self.shown_labels or ()))):
            value = getattr(self, name)
            if value is None:
                continue
            value = tuple(None if v is None else str(v) for v in value)
            if len(value) != n or (name == "shown_ids" and self.shown_labels is None):
                raise ValueError(f"{self.image}: {len(value)} {name} for {n} boxes")
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class ReadReport:
    """What a reader skipped or noticed in one export (none of it is an error), for the import summary.

    source: the export read; n_entries: its entries (tasks, label files). unlabeled: entries no one saved
    an annotation for, skipped because they are *not* "no objects". conflicts: images with several saved
    annotations, naming the one taken. ignored_regions: regions that are no box (polygons, choices...);
    rotated: rotated boxes imported as their axis-aligned bounding box. duplicates: images met in more than
    one entry (each entry is returned; the importer keeps the first).
    """

    source: str
    n_entries: int = 0
    unlabeled: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    ignored_regions: int = 0
    rotated: int = 0
    duplicates: list[str] = field(default_factory=list)


def check_class_names(used: Iterable[str], names: Sequence[str], source: object) -> None:
    """ExportError naming the unknown class names among ``used``, the known ``names`` and ``source``."""
    unknown = sorted(set(used) - set(names))
    if unknown:
        raise ExportError(
            f"{source}: class names {unknown} are not among this project's classes {list(names)}; "
            "is it an export from another project?"
        )
