"""``uncertainty=mc_dropout``: the uncertainty stage of the pipeline (see
:class:`autolabel.pipeline.UncertaintyStage`), built by Hydra from ``conf/uncertainty/mc_dropout.yaml``.

It owns MC dropout's settings, the image scorer and the calibration settings, and gives the pipeline
what it needs: a calibrated labeler for the auto-label job, the difficulty fit on VAL, the calibration
file beside the weights and the score histogram.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autolabel.detector import Detector
from autolabel.structures import GroundTruth
from uncertainty.calibration import Calibration
from uncertainty.difficulty import fit_difficulty, plot_job_scores, summarize
from uncertainty.image_score import ImageScorer
from uncertainty.labeler import UncertaintyLabeler
from uncertainty.mc_dropout import MCDropout

CALIBRATION_FILE = "calibration.json"  # beside the weights, written by the train pipeline
log = logging.getLogger("uncertainty.stage")


class MCDropoutStage:
    """MC dropout in the Detect head, one score per image, difficulty bands calibrated on VAL.

    mc: ``passes``, ``p``, ``branches``, ``matching``, ``seed``, ``candidate_factor`` (see the config);
    scorer: per-box components -> image score; calibration: ``levels``, ``min_images``, ``require_split``.
    """

    provides = frozenset({"boxes", "score", "difficulty"})

    def __init__(self, *, mc: Mapping[str, Any], scorer: ImageScorer, calibration: Mapping[str, Any]) -> None:
        self.mc, self.scorer = dict(mc), scorer
        self.levels = tuple(float(v) for v in calibration["levels"])
        self.min_images = int(calibration["min_images"])
        self.require_split = bool(calibration["require_split"])

    def labeler(self, detector: Detector, calibration: Calibration | None = None) -> UncertaintyLabeler:
        """MC dropout + scorer for ``detector`` at its current (operating) ``conf``."""
        mc = self.mc
        dropout = MCDropout(
            detector,
            passes=mc["passes"],
            p=mc["p"],
            branches=tuple(mc["branches"]),
            matching=mc["matching"],
            seed=mc["seed"],
            candidate_conf=detector.conf * mc["candidate_factor"],
        )
        return UncertaintyLabeler(detector, mc=dropout, scorer=self.scorer, calibration=calibration)

    predictor = labeler

    def calibrate(
        self, detector: Detector, images: Sequence[Path], truths: Sequence[GroundTruth], *, batch: int
    ) -> tuple[Calibration, dict[str, Any]]:
        """Difficulty bands fitted on labeled ``images`` (VAL) and the model card's summary of the fit."""
        calibration, scored, needs = fit_difficulty(
            self.labeler(detector),
            images,
            truths,
            levels=self.levels,
            min_images=self.min_images,
            require_split=self.require_split,
            batch=batch,
        )
        log.info("difficulty calibration: %s", calibration.reason)
        return calibration, summarize(calibration, scored, needs)

    def save_calibration(self, calibration: Calibration, folder: str | Path) -> Path:
        return save_calibration(calibration, folder)

    def load_calibration(self, weights: str | Path) -> Calibration | None:
        return load_calibration(weights)

    def plot(self, output: Path, calibration: Calibration | None) -> Path | None:
        return plot_job_scores(output, calibration)


def save_calibration(calibration: Calibration, folder: str | Path) -> Path:
    path = Path(folder) / CALIBRATION_FILE
    path.write_text(json.dumps(calibration.to_dict(), indent=2))
    return path


def load_calibration(weights: str | Path) -> Calibration | None:
    """The calibration saved beside ``weights`` by the train pipeline, if any."""
    path = Path(weights).parent / CALIBRATION_FILE
    return Calibration.from_dict(json.loads(path.read_text())) if path.is_file() else None
