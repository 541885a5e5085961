"""A source folder of odd files, for the label job's backends: each must give the same record everywhere.

:func:`make_odd_source` writes it; :data:`UNREADABLE` names the files that must come back as one error
record (and the words of the error), every other file must be labeled.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

# file -> words of its error record; every other file of the folder is an image that must be labeled
UNREADABLE = {
    "corrupt.jpg": "cannot decode image",
    "truncated.jpg": "cannot decode image",  # the first two thirds of a JPEG (OpenCV 5 decodes none of it)
    "empty.png": "cannot decode image",
    "selfloop.jpg": "symbolic links",  # selfloop.jpg -> selfloop.jpg
    "dangling.jpg": "No such file",  # a link to a file that is not there
    "pipe.jpg": "not a regular file",  # a FIFO: reading it would wait forever
    "bomb.png": "cannot decode image",  # a PNG header claiming 10^10 pixels (OpenCV raises)
}


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def make_odd_source(folder: Path, image: Path) -> Path:
    """Write the odd files into ``folder`` (made here), around ``image``, a readable colour picture.

    Readable: the image (``ok.jpg``), an upper-case suffix, a name with a space and a non-ASCII letter,
    grey, 16-bit and RGBA PNGs, a 1x1 image, and a link to ``ok.jpg`` (the same file under two names: two
    records). Unreadable: :data:`UNREADABLE`.
    """
    folder.mkdir(parents=True)
    pixels = cv2.imread(str(image), cv2.IMREAD_COLOR)
    jpeg = cv2.imencode(".jpg", pixels)[1].tobytes()
    (folder / "ok.jpg").write_bytes(jpeg)
    (folder / "UPPER.JPG").write_bytes(jpeg)
    (folder / "näme with space.jpg").write_bytes(jpeg)
    cv2.imwrite(str(folder / "grey.png"), cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "deep16.png"), pixels.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "rgba.png"), cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(folder / "tiny.png"), pixels[:1, :1])
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) * 2 // 3])
    os.symlink("ok.jpg", folder / "link-to-ok.jpg")
    (folder / "corrupt.jpg").write_bytes(b"not an image at all")
    (folder / "empty.png").write_bytes(b"")
    os.symlink("selfloop.jpg", folder / "selfloop.jpg")
    os.symlink("no-such-file.jpg", folder / "dangling.jpg")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "bomb.png").write_bytes(png_header(100_000, 100_000))
    return folder
