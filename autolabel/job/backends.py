"""Where the auto-label job's images are decoded and labeled: this process (:class:`LocalBackend`) or a
Ray cluster (:class:`autolabel.job.ray_backend.RayBackend`); chosen with ``backend=`` (``conf/backend/``).

A backend only turns pending images into :class:`Labeled` results, batch by batch, in order. Everything
that writes (records, label files, ledger, exports) stays in the job (:mod:`autolabel.job.runner`), in one
process, so resuming, locking and "never replace a person's label" work the same on every backend. Both
backends label through :func:`label_images`, so the same images give the same records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from autolabel.data.images import iter_batches
from autolabel.formats.yolo import format_yolo_lines
from autolabel.records import ImageRecord
from autolabel.structures import Detections

# (BGR images [(H, W, 3)], their keys) -> per image, auto-labels and extra record fields (uncertainty)
PredictFn = Callable[[Sequence[np.ndarray], Sequence[str]], list[tuple[Detections, dict[str, Any]]]]


@dataclass(frozen=True)
class Labeled:
    """One image's result: its record (no ``label_file`` yet) and its YOLO label text (None if unreadable)."""

    record: ImageRecord
    yolo: str | None


class Backend(Protocol):
    """Labels pending images batch by batch, in the order given.

    make_predict: builds the predictor where the labeling runs (a Ray actor builds its own model).
    """

    def labeled_batches(
        self,
        paths: Sequence[Path],
        keys: Mapping[Path, str],
        *,
        batch: int,
        make_predict: Callable[[], PredictFn],
        names: Sequence[str],
    ) -> Iterator[list[Labeled]]: ...


def label_images(
    predict: PredictFn,
    items: Sequence[tuple[str, np.ndarray | None, str | None]],
    *,
    names: Sequence[str],
) -> list[Labeled]:
    """Label ``(key, BGR image or None, error)`` items: one :class:`Labeled` each (unreadable: an error)."""
    ok = [(key, image) for key, image, _ in items if image is not None]
    outputs = predict([image for _, image in ok], [key for key, _ in ok]) if ok else []
    by_key = dict(zip([key for key, _ in ok], outputs, strict=True))
    out = []
    for key, image, error in items:
        if image is None:
            out.append(Labeled(ImageRecord.unreadable(key, error or "unreadable"), None))
            continue
        det, extra = by_key[key]
        height, width = image.shape[:2]
        record = ImageRecord.from_detections(key, det, width=width, height=height, names=names, **extra)
        out.append(Labeled(record, format_yolo_lines(det.xyxy, det.cls, width=width, height=height)))
    return out


class LocalBackend:
    """This process: images decoded on ``threads`` threads while the model labels the previous batch."""

    def __init__(self, *, threads: int = 2) -> None:
        if threads < 1:
            raise ValueError(f"threads={threads} must be >= 1")
        self.threads = int(threads)

    def labeled_batches(
        self,
        paths: Sequence[Path],
        keys: Mapping[Path, str],
        *,
        batch: int,
        make_predict: Callable[[], PredictFn],
        names: Sequence[str],
    ) -> Iterator[list[Labeled]]:
        predict = make_predict()
        for loaded in iter_batches(paths, batch=batch, threads=self.threads):
            items = [(keys[item.path], item.image, item.error) for item in loaded]
            yield label_images(predict, items, names=names)
