"""``python -m autolabel.label weights=PATH source=DIR output=DIR``: the batch auto-labeling job.

With ``uncertainty=mc_dropout`` (default) every record also gets MC-dropout uncertainty fields, and,
when ``calibration.json`` sits beside the weights, ``p_needs_correction`` and ``difficulty``.

Rerunning the same command after an interruption resumes where it stopped (see :mod:`autolabel.job`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from autolabel.cli import clear_errors
from autolabel.detector import Detector, ModelError
from autolabel.job import plain_predict, run_label_job
from autolabel.settings_check import check_label_settings
from autolabel.train import label_meta
from uncertainty.build import CALIBRATION_FILE, build_labeler, load_calibration
from uncertainty.difficulty import plot_job_scores

log = logging.getLogger("autolabel.label")
FALLBACK_CONF = 0.25


def operating_threshold(weights: Path) -> float | None:
    """The operating threshold recorded in the model card beside ``weights``, if there is one."""
    card = weights.parent / "model_card.json"
    if not card.is_file():
        return None
    return json.loads(card.read_text()).get("evaluation", {}).get("operating_threshold")


@hydra.main(version_base="1.3", config_path="../conf", config_name="label")
@clear_errors
def main(cfg: DictConfig) -> dict:
    check_label_settings(cfg)  # before anything is written
    weights = Path(cfg.weights).expanduser()
    if not weights.is_file():
        raise ModelError(f"weights={weights}: file not found")
    conf = cfg.conf if cfg.conf is not None else operating_threshold(weights)
    if conf is None:
        conf = FALLBACK_CONF
        log.warning("no model card beside %s: using conf=%s (set conf=... to choose)", weights, conf)
    detector = Detector(
        weights, imgsz=cfg.imgsz, conf=float(conf), iou=cfg.iou, max_det=cfg.max_det, device=cfg.device
    )
    source, output = Path(cfg.source).expanduser(), Path(cfg.output).expanduser()
    calibration = None
    if cfg.uncertainty.enabled:
        calibration = load_calibration(weights)
        if calibration is None:
            log.warning("no %s beside %s: scores without difficulty bands", CALIBRATION_FILE, weights)
        predict = build_labeler(detector, cfg.uncertainty, calibration)
    else:
        predict = plain_predict(detector.predict)
    meta = label_meta(detector, source, cfg.uncertainty)
    summary = run_label_job(
        predict=predict,
        names=detector.names,
        source=source,
        output=output,
        meta=meta,
        batch=cfg.batch,
        threads=cfg.threads,
        progress=cfg.progress,
    )
    plot_job_scores(output, calibration)
    log.info("auto-labeled %s: %s", source, summary)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
