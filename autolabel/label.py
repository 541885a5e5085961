"""``python -m autolabel.label weights=PATH source=DIR output=DIR``: the batch auto-labeling job.

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
from autolabel.job import run_label_job
from autolabel.train import label_meta

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
    source = Path(cfg.source).expanduser()
    meta = label_meta(detector, source)
    summary = run_label_job(
        predict=detector.predict,
        names=detector.names,
        source=source,
        output=Path(cfg.output).expanduser(),
        meta=meta,
        batch=cfg.batch,
        threads=cfg.threads,
        progress=cfg.progress,
    )
    log.info("auto-labeled %s: %s", source, summary)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
