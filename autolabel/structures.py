"""The small data layer every module speaks: detections, ground truth and pairwise IoU.

Contracts (checked in the constructors):
- boxes are ``xyxy`` in pixels of the original image, float32, shape (N, 4);
- classes are int64, shape (N,);
- ``probs`` holds ultralytics' per-class *sigmoid* scores of each kept box, shape (N, C), float32. The rows
  are not a softmax and need not sum to 1; ``conf == probs.max(1)`` and ``cls == probs.argmax(1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_boxes(xyxy: np.ndarray | list, name: str) -> np.ndarray:
    boxes = np.asarray(xyxy, dtype=np.float32)
    if boxes.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {boxes.shape}")
    return boxes


@dataclass(frozen=True)
class GroundTruth:
    """Human (or simulated-annotator) boxes of one image.

    xyxy: (N, 4) float32 pixels; cls: (N,) int64 class ids.
    """

    xyxy: np.ndarray
    cls: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _as_boxes(self.xyxy, "GroundTruth.xyxy"))
        object.__setattr__(self, "cls", np.asarray(self.cls, dtype=np.int64).reshape(-1))
        if len(self.cls) != len(self.xyxy):
            raise ValueError(f"GroundTruth: {len(self.xyxy)} boxes but {len(self.cls)} classes")

    def __len__(self) -> int:
        return len(self.cls)

    @classmethod
    def empty(cls) -> GroundTruth:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.int64))


@dataclass(frozen=True)
class Detections:
    """Auto-labels of one image, as kept by NMS.

    xyxy: (N, 4) float32 pixels; conf: (N,) float32 in [0, 1]; cls: (N,) int64;
    probs: (N, C) float32 per-class sigmoid scores, ``conf == probs.max(1)``.
    """

    xyxy: np.ndarray
    conf: np.ndarray
    cls: np.ndarray
    probs: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _as_boxes(self.xyxy, "Detections.xyxy"))
        object.__setattr__(self, "conf", np.asarray(self.conf, dtype=np.float32).reshape(-1))
        object.__setattr__(self, "cls", np.asarray(self.cls, dtype=np.int64).reshape(-1))
        probs = np.asarray(self.probs, dtype=np.float32)
        if probs.ndim != 2:
            probs = probs.reshape(len(self.conf), -1)
        object.__setattr__(self, "probs", probs)
        n = len(self.xyxy)
        if not (len(self.conf) == len(self.cls) == len(self.probs) == n):
            raise ValueError(
                f"Detections: lengths differ (xyxy {n}, conf {len(self.conf)}, cls {len(self.cls)}, "
                f"probs {len(self.probs)})"
            )

    def __len__(self) -> int:
        return len(self.conf)

    @property
    def num_classes(self) -> int:
        return self.probs.shape[1]

    def above(self, threshold: float) -> Detections:
        """The detections with ``conf >= threshold``."""
        keep = self.conf >= threshold
        return Detections(self.xyxy[keep], self.conf[keep], self.cls[keep], self.probs[keep])

    @classmethod
    def empty(cls, num_classes: int) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
            np.zeros((0,), np.int64),
            np.zeros((0, num_classes), np.float32),
        )


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two box sets.

    a: (N, 4) xyxy, b: (M, 4) xyxy, any unit as long as both share it. Returns (N, M) float32 in [0, 1];
    boxes of zero area have IoU 0 with everything.
    """
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou.astype(np.float32)


def is_suggestion(conf: np.ndarray, t_high: float | None) -> np.ndarray:
    """(N,) bool: which boxes of confidences ``conf`` (N,) are two-level *suggestions* at ``t_high``
    (``conf < t_high``; None: one level, no suggestion). The one rule for the label job's ``suggestions/``,
    its COCO flag, and the batches' Label Studio and COCO exports."""
    conf = np.asarray(conf, dtype=np.float64).reshape(-1)
    return np.zeros(len(conf), dtype=bool) if t_high is None else conf < float(t_high)
