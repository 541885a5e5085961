"""Writing files so that no reader sees a half-written one and a crash loses nothing finished: the file
safety the formats, the job, the human loop and the experiment's run folders share."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` via a temp file in the same folder and ``os.replace``.

    A reader never sees a half-written file; a crash leaves the old file (or none). Creates parent folders.
    """
    path = Path(path)
    tmp = write_temp_beside(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_temp_beside(path: Path, text: str) -> str:
    """UTF-8 ``text`` in a new, fsynced temp file in ``path``'s folder (created); returns the temp's path.

    The caller moves it into place (``os.replace``, or ``os.link`` to create a file only once).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; labels are shared data
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    return tmp


def create_text_once(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless that file exists; True when this call wrote it.

    Atomic: of jobs racing to create one file exactly one wins, and none reads it half-written (the text
    goes to a temp file first, then is hard-linked to ``path``, which fails when ``path`` exists).
    """
    tmp = write_temp_beside(Path(path), text)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
