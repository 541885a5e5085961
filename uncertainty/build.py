"""Build the uncertainty labeler from the Hydra ``uncertainty`` group, and load / save its calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.detector import Detector
from uncertainty.calibration import Calibration
from uncertainty.labeler import UncertaintyLabeler
from uncertainty.mc_dropout import MCDropout

CALIBRATION_FILE = "calibration.json"


def build_labeler(
    detector: Detector, cfg: DictConfig, calibration: Calibration | None = None
) -> UncertaintyLabeler:
    """MC dropout + scorer for ``detector`` at its current (operating) ``conf``."""
    mc = cfg.mc
    dropout = MCDropout(
        detector,
        passes=mc.passes,
        p=mc.p,
        branches=tuple(mc.branches),
        matching=mc.matching,
        seed=mc.seed,
        candidate_conf=detector.conf * mc.candidate_factor,
    )
    return UncertaintyLabeler(detector, mc=dropout, scorer=instantiate(cfg.scorer), calibration=calibration)


def settings(cfg: DictConfig) -> dict[str, Any]:
    """The uncertainty settings a label job records (a resumed job must share them)."""
    if not cfg.enabled:
        return {"enabled": False}
    return OmegaConf.to_container(cfg, resolve=True)


def save_calibration(calibration: Calibration, folder: str | Path) -> Path:
    path = Path(folder) / CALIBRATION_FILE
    path.write_text(json.dumps(calibration.to_dict(), indent=2))
    return path


def load_calibration(weights: str | Path) -> Calibration | None:
    """The calibration saved beside ``weights`` by ``autolabel.train``, if any."""
    path = Path(weights).parent / CALIBRATION_FILE
    return Calibration.from_dict(json.loads(path.read_text())) if path.is_file() else None
