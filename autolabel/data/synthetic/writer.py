"""Writing generated datasets (the demo, the shapes set): build once, reuse, replace atomically.

A generated set is a folder in YOLO layout (``images/``, ``labels/``, ``data.yaml``, ``meta.jsonl``) plus a
marker file (``demo.json``, ``shapes.json``) that records the generator's parameters. :func:`generate_once`
reuses a folder whose marker records the same parameters, and otherwise builds the set in a temporary
sibling folder and renames it into place, so an interrupted run never leaves half a dataset behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml


def label_text(objects: Sequence[Mapping[str, Any]], size: int) -> str:
    """YOLO label lines (``cls cx cy w h``, normalised) of objects with ``cls`` and integer-pixel ``xyxy``.

    size: the side of the square image in pixels; ``xyxy`` is [x0, y0, x1, y1], x1/y1 exclusive.
    """
    lines = []
    for o in objects:
        x0, y0, x1, y1 = o["xyxy"]
        cx, cy, w, h = (x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size, (y1 - y0) / size
        lines.append(f"{o['cls']} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines)


# (image index) -> (BGR image (S, S, 3) uint8, objects with ``cls`` and integer-pixel ``xyxy``, image meta)
RenderFn = Callable[[int], tuple[np.ndarray, list[dict], dict]]


def write_yolo_set(
    root: Path, final: Path, *, render: RenderFn, n_images: int, size: int, names: Sequence[str], kind: str
) -> None:
    """Fill the empty folder ``root`` with a generated set: ``images/00000.jpg`` ... (JPEG quality 95),
    ``labels/00000.txt`` ..., ``meta.jsonl`` (one line per image: its meta and objects) and ``data.yaml``
    naming ``final`` as its path. kind names the set in errors ("demo", "shapes")."""
    (root / "images").mkdir()
    (root / "labels").mkdir()
    with open(root / "meta.jsonl", "w", encoding="utf-8") as meta_f:
        for i in range(n_images):
            img, objects, meta = render(i)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for {kind} image {i}")
            (root / "images" / f"{i:05d}.jpg").write_bytes(buf.tobytes())
            (root / "labels" / f"{i:05d}.txt").write_text(label_text(objects, size), encoding="utf-8")
            meta_f.write(json.dumps({"image": f"{i:05d}.jpg", **meta, "objects": objects}) + "\n")
    data = {"path": str(final), "train": "images", "names": dict(enumerate(names))}
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= minimum, or a ValueError that names the argument (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def generate_once(
    out_dir: str | Path,
    params: Mapping[str, Any],
    write: Callable[[Path, Path], None],
    *,
    marker: str,
    optional_keys: Iterable[str] = (),
) -> Path:
    """Write a generated set into out_dir (unless it is there already) and return its data.yaml.

    write(tmp, final) fills the empty folder ``tmp`` (data.yaml, which names ``final`` as its path, and the
    marker file among the rest). A folder whose marker holds the same ``params`` (and the same values, or
    absence, of ``optional_keys``) is reused as is; another set of the same kind is replaced atomically. A
    non-empty out_dir without the marker raises ValueError: it is not ours to overwrite. Processes
    asking for a set at once (the seeds of a multirun) take turns on an ``flock`` of its parent folder,
    so the set is built once and never replaced while another reads it.
    """
    out = Path(out_dir).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a file system without directory locks: unlocked, as before
            fcntl.flock(fd, fcntl.LOCK_EX)
        return _generate_once(out, params, write, marker=marker, optional_keys=optional_keys)
    finally:
        os.close(fd)  # releases the lock


def _generate_once(
    out: Path,
    params: Mapping[str, Any],
    write: Callable[[Path, Path], None],
    *,
    marker: str,
    optional_keys: Iterable[str],
) -> Path:
    kind = Path(marker).stem
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"out_dir {out} exists and is not a directory")
        if (out / marker).is_file():
            try:
                old = json.loads((out / marker).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {}
            same = all(old.get(k) == params.get(k) for k in {*params, *optional_keys})
            if same and (out / "data.yaml").is_file():
                return out / "data.yaml"
        elif any(out.iterdir()):
            raise ValueError(
                f"out_dir {out} exists and is not a {kind} dataset (no {marker}); refusing to overwrite it"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write(tmp, out)
        os.chmod(tmp, 0o755)
        if out.exists():
            old_dir = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(out, old_dir)
            os.replace(tmp, out)
            shutil.rmtree(old_dir, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "data.yaml"
