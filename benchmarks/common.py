"""Shared by the benchmarks: weights to measure with when none are given."""

from __future__ import annotations

from pathlib import Path


def untrained_weights(folder: Path, num_classes: int) -> Path:
    """A randomly initialised yolov8n with ``num_classes`` classes, saved as a .pt (nothing downloaded)."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    import autolabel.detector  # noqa: F401  (configures ultralytics offline first)

    model = YOLO("yolov8n.yaml")
    model.model = DetectionModel("yolov8n.yaml", nc=num_classes, verbose=False)
    path = folder / "untrained.pt"
    model.save(str(path))
    return path
