"""``python -m autolabel.label weights=PATH source=DIR output=DIR``: the batch auto-labeling job.

With ``uncertainty=single_pass`` (default; ``mc_dropout`` adds T dropout passes of the head) every record
also gets uncertainty fields, and, when ``calibration.json`` sits beside the weights, ``p_needs_correction``
and ``difficulty``.

Rerunning the same command after an interruption resumes where it stopped (see :mod:`autolabel.job.runner`).
``two_level=true`` writes two-level auto-labels: boxes at or above the model card's ``t_high`` in ``labels/``,
the doubtful ones below it in ``suggestions/`` (:mod:`autolabel.job.two_level_files`).
``backend=ray`` labels on Ray Data (:mod:`autolabel.job.ray_backend`); the records are the same.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from autolabel.cli import clear_errors
from autolabel.job.stages import UncertaintyStage
from autolabel.job.two_level_files import resolve_t_high
from autolabel.model.detector import Detector
from autolabel.pipeline import CARD_FILE, FALLBACK_CONF, label_folder, operating_threshold
from autolabel.settings_check import check_label_settings

log = logging.getLogger("autolabel.label")


@hydra.main(version_base="1.3", config_path="../conf", config_name="label")
@clear_errors
def main(cfg: DictConfig) -> dict:
    check_label_settings(cfg)  # before anything is written
    weights = Path(cfg.weights).expanduser()  # checked to be a file by check_label_settings
    conf = cfg.conf if cfg.conf is not None else operating_threshold(weights)
    card = weights.parent / CARD_FILE
    conf_source = (
        "conf= on the command line" if cfg.conf is not None else f"the operating threshold of {card}"
    )
    if conf is None:
        conf = FALLBACK_CONF
        conf_source = f"the default: no operating threshold in {card}"
        log.warning("no model card beside %s: using conf=%s (set conf=... to choose)", weights, conf)
    detector = Detector(
        weights, imgsz=cfg.imgsz, conf=float(conf), iou=cfg.iou, max_det=cfg.max_det, device=cfg.device
    )
    t_high = resolve_t_high(cfg.two_level, card, float(conf))
    stage: UncertaintyStage = instantiate(cfg.uncertainty)
    calibration = stage.load_calibration(weights)
    if calibration is None and "difficulty" in stage.provides:
        log.warning("no calibration beside %s: scores without difficulty bands", weights)
    source, output = Path(cfg.source).expanduser(), Path(cfg.output).expanduser()
    summary = label_folder(
        cfg.uncertainty,
        stage,
        detector,
        calibration,
        source=source,
        output=output,
        batch=cfg.batch,
        threads=cfg.threads,
        progress=cfg.progress,
        backend=instantiate(cfg.backend),
        calibration_files=stage.calibration_files(weights),
        conf_source=conf_source,
        t_high=t_high,
    )
    log.info("auto-labeled %s: %s", source, summary)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
