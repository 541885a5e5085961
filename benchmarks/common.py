"""Shared by the benchmarks: weights to measure with when none are given."""

from __future__ import annotations

from pathlib import Path


def untrained_weights(folder: Path, num_classes: int) -> Path:
    """A randomly initialised yolov8n with ``num_classes`` classes, saved as a .pt (nothing downloaded)."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    import autolabel.model.detector  # noqa: F401  (configures ultralytics offline first)

    model = YOLO("yolov8n.yaml")
    model.model = DetectionModel("yolov8n.yaml", nc=num_classes, verbose=False)
    path = folder / "untrained.pt"
    model.save(str(path))
    return path


def uncertainty_stage(*overrides: str):
    """The ``uncertainty`` stage the label app builds by default (``conf/label.yaml``), with ``overrides``
    of its keys (e.g. ``uncertainty.mc.passes=4``)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    conf_dir = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        cfg = compose(config_name="label", overrides=["weights=x", "source=x", "output=x", *overrides])
    return instantiate(cfg.uncertainty)
