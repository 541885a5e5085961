"""One job at a time per output folder: an exclusive ``flock`` on ``output/autolabel_job.lock``.

The kernel releases a ``flock`` when its holder's file is closed, which happens when the process exits
for any reason (``kill -9`` included), so the lock of a killed job never blocks a resume; the file itself
stays, holding the last holder's pid, host and start time. A job refused by a live lock reads them from
there to say who holds the folder. POSIX only (``fcntl``); on network file systems ``flock`` is as good as
the server's lock support.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_FILE = "autolabel_job.lock"


class OutputLocked(RuntimeError):
    """Another live process holds the folder's lock; ``holder`` is what it recorded (may be empty)."""

    def __init__(self, folder: Path, holder: dict[str, Any]) -> None:
        self.folder, self.holder = folder, holder
        if holder:
            who = f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}"
        else:
            who = "a process that has not yet recorded its pid"
        super().__init__(
            f"output={folder} is in use by another label job ({who}); two jobs on one folder would label "
            "every image twice. Wait for it to finish (or stop it), then rerun to resume; "
            "or choose another output folder"
        )


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def output_lock(folder: str | Path) -> Iterator[dict[str, Any]]:
    """Hold ``folder``'s lock for the ``with`` block, or raise :class:`OutputLocked` at once.

    ``folder`` must exist. Yields the holder record written into the lock file (pid, host, started).
    """
    folder = Path(folder)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise OutputLocked(folder, _read_holder(fd)) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
        yield holder
    finally:
        os.close(fd)  # releases the lock
