"""The auto-label job's YOLO label files: one unique, stable name per image, and a ledger of what it wrote.

Naming rule, for an image whose key (its path under ``source``) is ``sub/x.jpg``:

1. ``labels/sub/x.txt``, ultralytics' own rule, unless another image already holds that name;
2. else ``labels/sub/x.jpg.txt`` (the image's full file name);
3. else ``labels/sub/x.jpg.<k>.txt`` for k = 2, 3, ... (only when file names themselves collide, e.g.
   ``x.png.jpg`` next to ``x.png`` and ``x.jpg``).

Names are compared case-insensitively, as macOS and Windows file systems do. A name, once given, is the
image's for good: images that already have one (in the ledger, or from a record of an older job that had
no ledger) keep it, and images new to the folder take the first free name in the job's order (sorted by
path). So ``x.jpg`` labeled first keeps ``labels/x.txt`` when ``x.png`` arrives later, which gets
``labels/x.png.txt``; in one run of both, ``x.jpg`` sorts first and gets the YOLO-compatible name.

Ledger (``label_files.jsonl``, the job's own bookkeeping): one line per label file decision,
``{"image": key, "file": "labels/sub/x.txt", "sha256": <hex of the content written> | null}``, appended
and fsynced *before* the file is written. ``sha256: null`` means the job found a file there that it had
not written (a person's) and kept it. A file at the target whose hash the ledger never recorded for that
image is a person's work: it is kept, never replaced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autolabel.records import ImageRecord, JsonlWriter, read_jsonl

LEDGER = "label_files.jsonl"
LABEL_DIR = "labels"


def text_sha256(text: str) -> str:
    """sha256 (hex) of ``text`` as UTF-8, i.e. of the bytes a label file with that text holds."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def name_candidates(key: str) -> Iterator[str]:
    """Label file names for image ``key`` (relative to the job's output), in order of preference."""
    image = PurePosixPath(key)
    folder = PurePosixPath(LABEL_DIR) / image.parent
    yield str(folder / f"{image.stem}.txt")
    yield str(folder / f"{image.name}.txt")
    k = 2
    while True:
        yield str(folder / f"{image.name}.{k}.txt")
        k += 1


def legacy_name(key: str) -> str:
    """The name jobs without a ledger gave: ``labels/<key>`` with the suffix replaced by ``.txt``."""
    return str(PurePosixPath(LABEL_DIR) / PurePosixPath(key).with_suffix(".txt"))


def assign_names(keys: Iterable[str], taken: Mapping[str, str]) -> dict[str, str]:
    """The label file of each of ``keys``: its name in ``taken`` (key -> name), else the first free one.

    ``taken`` holds the names already given (they are kept, and reserved). New keys are served in the
    order given. Returns a name for every key in ``keys``.
    """
    used = {name.casefold() for name in taken.values()}
    names: dict[str, str] = {}
    for key in keys:
        if key in taken:
            names[key] = taken[key]
            continue
        name = next(c for c in name_candidates(key) if c.casefold() not in used)
        used.add(name.casefold())
        names[key] = name
    return names


@dataclass
class Ledger:
    """What the job knows of its label files: image key -> name, and every hash it wrote for that image."""

    path: Path
    names: dict[str, str] = field(default_factory=dict)
    written: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, output: Path) -> Ledger:
        """Read ``output/label_files.jsonl`` (none yet: empty); a torn last line is cut off."""
        ledger = cls(Path(output) / LEDGER)
        for entry in read_jsonl(ledger.path, repair=True):
            key = entry["image"]
            ledger.names.setdefault(key, entry["file"])
            if entry.get("sha256"):
                ledger.written.setdefault(key, set()).add(entry["sha256"])
        return ledger

    def is_ours(self, key: str, path: Path) -> bool:
        """Whether ``path`` holds exactly content the job wrote for ``key`` (else a person changed it)."""
        hashes = self.written.get(key)
        return bool(hashes) and file_sha256(path) in hashes

    def append(self, entries: Sequence[dict[str, Any]]) -> None:
        """Record decisions (``image``, ``file``, ``sha256``), fsynced, before any file is written."""
        if not entries:
            return
        with JsonlWriter(self.path) as writer:
            writer.append(entries)
        for entry in entries:
            self.names.setdefault(entry["image"], entry["file"])
            if entry["sha256"]:
                self.written.setdefault(entry["image"], set()).add(entry["sha256"])


def reserved_names(ledger: Ledger, records: Iterable[ImageRecord]) -> dict[str, str]:
    """Names already given: the ledger's, plus those of records written by a job that kept no ledger."""
    taken = dict(ledger.names)
    for record in records:
        key = record.image
        if key not in taken and record.ok:
            taken[key] = record.label_file or legacy_name(key)
    return taken
