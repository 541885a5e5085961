"""Read images in batches on background threads, so decoding overlaps inference.

A file that cannot be decoded does not stop the stream: it comes back with ``image=None`` and an error
message, and the caller records it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class LoadedImage:
    """One image of a batch: BGR uint8 pixels (H, W, 3), or None with ``error`` set."""

    path: Path
    image: np.ndarray | None
    error: str | None = None


def read_image(path: Path) -> LoadedImage:
    """Decode one file to BGR uint8 (H, W, 3); never raises for a bad file."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        return LoadedImage(path, None, f"cannot read file: {exc.strerror or exc}")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
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
