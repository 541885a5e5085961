"""Read images in batches on background threads, so decoding overlaps inference.

A file that cannot be decoded does not stop the stream: it comes back with ``image=None`` and an error
message, and the caller records it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from tqdm import tqdm

T = TypeVar("T")


@dataclass(frozen=True)
class LoadedImage:
    """One image of a batch: BGR uint8 pixels (H, W, 3), or None with ``error`` set."""

    path: Path
    image: np.ndarray | None
    error: str | None = None


def read_image(path: Path) -> LoadedImage:
    """Decode one file to BGR uint8 (H, W, 3); never raises for a bad file.

    Every backend of the label job reads with this function, so an odd file (a symlink loop, a dangling
    link, a FIFO, unreadable or undecodable bytes) gives the same error record everywhere. A file that is
    not a regular file is refused before it is opened: reading a FIFO would wait forever.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return LoadedImage(path, None, "cannot read file: not a regular file")
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        return LoadedImage(path, None, f"cannot read file: {exc.strerror or exc}")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV's limit
        return LoadedImage(path, None, f"cannot decode image: {str(exc).strip().splitlines()[-1]}")
    if image is None:
        return LoadedImage(path, None, "cannot decode image (corrupt, empty or unsupported format)")
    return LoadedImage(path, image)


def iter_batches(
    paths: Sequence[Path], *, batch: int, threads: int = 2, prefetch: int = 2
) -> Iterator[list[LoadedImage]]:
    """Yield ``paths`` as decoded batches of up to ``batch`` images, in order.

    Decoding runs ``prefetch`` batches ahead on ``threads`` threads (cv2 releases the GIL while decoding).
    """
    if batch < 1:
        raise ValueError(f"batch={batch} must be >= 1")
    chunks = [list(paths[i : i + batch]) for i in range(0, len(paths), batch)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending = [pool.map(read_image, chunk) for chunk in chunks[:prefetch]]
        for next_index in range(prefetch, len(chunks) + prefetch):
            current = pending.pop(0)
            if next_index < len(chunks):
                pending.append(pool.map(read_image, chunks[next_index]))
            yield list(current)


def map_batches(
    fn: Callable[[list[np.ndarray], list[Path]], Sequence[T]],
    paths: Sequence[Path],
    *,
    batch: int = 16,
    desc: str = "predict",
) -> list[T]:
    """``fn(images, paths)`` over ``paths`` in decoded batches, results concatenated in order.

    For labeled sets (VAL) that must be clean: an unreadable image is a DataError naming the file.
    """
    from autolabel.errors import DataError

    out: list[T] = []
    with tqdm(total=len(paths), desc=desc, unit="img", leave=False) as bar:
        for loaded in iter_batches(paths, batch=batch):
            bad = [item for item in loaded if item.image is None]
            if bad:
                raise DataError(f"{bad[0].path}: {bad[0].error}")
            out.extend(fn([item.image for item in loaded], [item.path for item in loaded]))
            bar.update(len(loaded))
    return out
