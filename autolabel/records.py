"""The per-image record of the auto-label job (:class:`ImageRecord`) and its append-only JSONL log.

This is the one module that knows the log's file name (:data:`PREDICTIONS`) and its line format. One JSON
object per line and per image::

    {"image": "sub/a.jpg", "width": 256, "height": 256, "n_boxes": 1,
     "boxes": [{"xyxy": [x1, y1, x2, y2], "conf": 0.91, "cls": 3, "label": "broken-arc",
                "probs": [p_0, ..., p_{C-1}]}],
     "score": 1.7, "components": {...}, "n_candidates": 3, "failed": false,
     "p_needs_correction": 0.4, "difficulty": "medium"}

``xyxy`` is in pixels of the original image (2 decimals); ``probs`` is the full vector of ultralytics'
per-class sigmoid scores of the box (6 decimals, not a softmax), and ``conf == max(probs)``,
``cls == argmax(probs)`` exactly. An unreadable image gets ``"error": "<why>"`` and no boxes. The
uncertainty fields (``score`` .. ``failed``) are present when the job ran with uncertainty, the calibrated
ones (``p_needs_correction``, ``difficulty``) when a calibration was given. :meth:`ImageRecord.to_json`
writes exactly the line :meth:`ImageRecord.from_json` read, so old run folders stay readable.

``"embedding"`` (only when the job ran with ``uncertainty.embedding=true``; absent otherwise, so other
lines are unchanged byte for byte) is the image's pooled neck features, L2-normalised: D float16 values,
little-endian, base64-encoded (D = 448 for yolov8n: about 1.2 kB a line). It lives in the line rather than
beside the log so that it is committed, resumed and de-duplicated with its image.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from autolabel.structures import Detections

PREDICTIONS = "predictions.jsonl"  # the job's record log inside its output folder
PROB_DECIMALS = 6
PIXEL_DECIMALS = 2

Band = Literal["easy", "medium", "hard", "failed"]
BANDS: tuple[str, str, str] = ("easy", "medium", "hard")  # calibrated bands, in order of difficulty
FAILED = "failed"  # the band of an image whose auto-labeler kept no box
ALL_BANDS: tuple[str, ...] = get_args(Band)
NO_BAND = "uncalibrated"  # how summaries count an image scored without a calibration (it has no band)

_SCORE_KEYS = ("score", "components", "n_candidates", "failed")
_CALIBRATED_KEYS = ("p_needs_correction", "difficulty")
_KNOWN_KEYS = frozenset(
    {
        "image",
        "width",
        "height",
        "n_boxes",
        "boxes",
        "error",
        *_SCORE_KEYS,
        *_CALIBRATED_KEYS,
        "label_file",
        "embedding",
    }
)
EMBEDDING_DTYPE = np.dtype("<f2")  # how an embedding is stored: little-endian float16


def encode_embedding(vector: np.ndarray) -> str:
    """(D,) floats -> base64 of their little-endian float16 bytes (the log's ``embedding`` value)."""
    return base64.b64encode(np.asarray(vector, dtype=EMBEDDING_DTYPE).tobytes()).decode("ascii")


def decode_embedding(text: str) -> np.ndarray:
    """The (D,) float16 vector of :func:`encode_embedding`'s text."""
    return np.frombuffer(base64.b64decode(text, validate=True), dtype=EMBEDDING_DTYPE)


def json_safe(value: Any) -> Any:
    """``value`` with every float nan (at any depth of dicts and lists) replaced by None, for strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class ImageRecord:
    """What the auto-label job knows of one image.

    detections: the auto-labels (xyxy px (N, 4), conf (N,), cls (N,), probs (N, C)); labels: (N,) class
    names of the boxes. error: why the image could not be read (then no boxes, no size). The uncertainty
    fields (``score``, higher = more uncertain, None when undefined; ``components``; ``n_candidates``;
    ``failed``: no box kept) are present when ``components`` is not None; ``difficulty`` (a :data:`Band`)
    and ``p_needs_correction`` when the job had a calibration. Nobody invents a band: an uncalibrated
    record has ``difficulty`` None. label_file: the YOLO label file the job wrote for the image, relative
    to its output (None in logs older than that field). embedding: (D,) float16, read-only, the image's
    pooled neck features (None when the job ran without them; not compared by ``==``). extra: unknown
    keys of an old line, written back after the known ones.
    """

    image: str
    detections: Detections = field(default_factory=lambda: Detections.empty(0))
    labels: tuple[str, ...] = ()
    width: int | None = None
    height: int | None = None
    error: str | None = None
    score: float | None = None
    components: Mapping[str, float | None] | None = None
    n_candidates: int | None = None
    failed: bool = False
    p_needs_correction: float | None = None
    difficulty: Band | None = None
    label_file: str | None = None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.embedding is not None:
            vector = np.array(self.embedding, dtype=EMBEDDING_DTYPE).reshape(-1)
            vector.setflags(write=False)
            object.__setattr__(self, "embedding", vector)
        if len(self.labels) != len(self.detections):
            raise ValueError(f"{self.image}: {len(self.detections)} boxes but {len(self.labels)} labels")
        if self.difficulty is not None and self.difficulty not in ALL_BANDS:
            raise ValueError(f"{self.image}: difficulty {self.difficulty!r} is not one of {list(ALL_BANDS)}")

    # --- views ---------------------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """The image was read (a person can label it)."""
        return self.error is None

    @property
    def scored(self) -> bool:
        """The record carries uncertainty fields."""
        return self.components is not None

    @property
    def n_boxes(self) -> int:
        return len(self.detections)

    @property
    def band(self) -> Band | None:
        """ "failed" for a failed image, else the calibrated ``difficulty`` (None when uncalibrated)."""
        return FAILED if self.failed else self.difficulty

    @property
    def score_value(self) -> float:
        """``score`` as a float, nan when there is none."""
        return math.nan if self.score is None else float(self.score)

    # --- construction ---------------------------------------------------------------------------------
    @classmethod
    def from_detections(
        cls, image: str, det: Detections, *, width: int, height: int, names: Sequence[str], **fields: Any
    ) -> ImageRecord:
        """The record of a read image; ``fields`` are uncertainty fields (``score``, ``components``...).

        Boxes and probs are rounded as the log stores them, so a record equals its own round trip.
        """
        probs = np.round(det.probs.astype(np.float64), PROB_DECIMALS)
        xyxy = np.round(det.xyxy.astype(np.float64), PIXEL_DECIMALS)
        conf = probs.max(1) if len(det) else np.zeros(0)
        classes = probs.argmax(1) if len(det) else np.zeros(0, np.int64)
        rounded = Detections(xyxy, conf, classes, probs.reshape(len(det), det.num_classes))
        labels = tuple(names[int(c)] for c in classes)
        return cls(
            image=image, detections=rounded, labels=labels, width=int(width), height=int(height), **fields
        )

    @classmethod
    def unreadable(cls, image: str, error: str) -> ImageRecord:
        """The record of an image that could not be read."""
        return cls(image=image, error=error)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRecord:
        """A record from one parsed log line (see the module docstring); ValueError when malformed."""
        image = data.get("image")
        if not isinstance(image, str):
            raise ValueError(f"record has no 'image' string: {str(data)[:80]}")
        boxes = data.get("boxes") or []
        if "n_boxes" in data and data["n_boxes"] != len(boxes):
            raise ValueError(f"{image}: n_boxes {data['n_boxes']} but {len(boxes)} boxes")
        if boxes:
            det = Detections(
                np.array([b["xyxy"] for b in boxes], np.float32),
                np.array([b["conf"] for b in boxes], np.float32),
                np.array([b["cls"] for b in boxes], np.int64),
                np.array([b["probs"] for b in boxes], np.float32),
            )
        else:
            det = Detections.empty(0)
        scored = "components" in data
        return cls(
            image=image,
            detections=det,
            labels=tuple(str(b["label"]) for b in boxes),
            width=data.get("width"),
            height=data.get("height"),
            error=data.get("error"),
            score=data.get("score"),
            components=dict(data["components"]) if scored else None,
            n_candidates=data.get("n_candidates"),
            failed=bool(data.get("failed", False)),
            p_needs_correction=data.get("p_needs_correction"),
            difficulty=data.get("difficulty"),
            label_file=data.get("label_file"),
            embedding=None if data.get("embedding") is None else decode_embedding(data["embedding"]),
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
        )

    def to_json(self) -> dict[str, Any]:
        """The log line of this record, key for key as the job has always written it."""
        out: dict[str, Any] = {"image": self.image}
        if self.error is not None:
            out["error"] = self.error
        if self.width is not None:
            out["width"], out["height"] = int(self.width), int(self.height or 0)
        out["n_boxes"] = self.n_boxes
        out["boxes"] = self._boxes_json()
        if self.scored:
            out.update(
                score=self.score,
                components=dict(self.components or {}),
                n_candidates=self.n_candidates,
                failed=self.failed,
            )
        if self.difficulty is not None:
            out.update(p_needs_correction=self.p_needs_correction, difficulty=self.difficulty)
        if self.label_file is not None:
            out["label_file"] = self.label_file
        if self.embedding is not None:
            out["embedding"] = encode_embedding(self.embedding)
        out.update(self.extra)
        return out

    def _boxes_json(self) -> list[dict[str, Any]]:
        det = self.detections
        probs = np.round(det.probs.astype(np.float64), PROB_DECIMALS)
        return [
            {
                "xyxy": [round(float(v), PIXEL_DECIMALS) for v in det.xyxy[i]],
                "conf": float(probs[i].max()),
                "cls": int(probs[i].argmax()),
                "label": self.labels[i],
                "probs": probs[i].tolist(),
            }
            for i in range(len(det))
        ]

    def detections_for(self, num_classes: int) -> Detections:
        """The auto-labels with ``num_classes`` probability columns (a record without boxes has none)."""
        return self.detections if len(self.detections) else Detections.empty(num_classes)


def read_jsonl(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Every complete line of an append-only JSONL file, parsed (none if the file does not exist).

    A writer killed mid-write can leave a partial last line: it is ignored, and with ``repair=True`` cut
    off the file so that appending continues on a clean line. A bad line anywhere else is an error naming
    the file and line.
    """
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    complete, newline, torn = data.rpartition(b"\n")  # an unterminated last line is a torn write
    rows = []
    for number, line in enumerate(complete.split(b"\n") if newline else [], start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not a JSON record ({exc.msg})") from exc
    if repair and torn:
        with open(path, "r+b") as f:
            f.truncate(len(complete) + len(newline))
    return rows


def unique_records(records: Iterable[ImageRecord]) -> list[ImageRecord]:
    """``records`` with one record per image: the first (file order)."""
    first: dict[str, ImageRecord] = {}
    for record in records:
        first.setdefault(record.image, record)
    return list(first.values())


def read_records(path: str | Path, *, repair: bool = False, unique: bool = True) -> list[ImageRecord]:
    """The complete records of a record log, one per image (none if the file does not exist).

    Torn last lines as in :func:`read_jsonl`; a line that is no image record is an error naming the file
    and line. An image recorded more than once (two jobs once wrote the log at the same time) counts
    once: its first complete record (``unique=False``: every line, duplicates included).
    """
    records = []
    for number, row in enumerate(read_jsonl(path, repair=repair), start=1):
        try:
            records.append(ImageRecord.from_json(row))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: record {number}: not an image record ({exc})") from exc
    return unique_records(records) if unique else records


def read_folder_records(
    folder: str | Path, *, repair: bool = False, unique: bool = True
) -> list[ImageRecord]:
    """The records of an auto-label output folder (see :func:`read_records`)."""
    return read_records(Path(folder) / PREDICTIONS, repair=repair, unique=unique)


class JsonlWriter:
    """Append JSON objects to a file, one a line; each :meth:`append` is flushed and fsynced."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8")

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        text = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
        self._file.write(text)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordWriter(JsonlWriter):
    """Append :class:`ImageRecord`\\ s to a record log (flushed and fsynced per :meth:`append`)."""

    @classmethod
    def in_folder(cls, folder: str | Path) -> RecordWriter:
        """The writer of an auto-label output folder's log."""
        return cls(Path(folder) / PREDICTIONS)

    def append(self, records: Iterable[ImageRecord]) -> None:
        super().append(r.to_json() for r in records)

    def __enter__(self) -> RecordWriter:
        return self
