"""``uncertainty=mc_dropout``: the uncertainty stage of the pipeline (see
:class:`autolabel.job.stages.UncertaintyStage`), built by Hydra from ``conf/uncertainty/mc_dropout.yaml``.

It owns MC dropout's settings, the image scorer, the error model's settings and the calibration
settings, and gives the pipeline what it needs: a calibrated labeler for the auto-label job, the fit on
VAL (:class:`StageFit`: the learned error model, cross-fitted, and the difficulty bands calibrated on
its out-of-fold predictions), the files beside the weights and the score histogram.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autolabel.errors import DataError
from autolabel.model.detector import Detector
from autolabel.model.efficiency import CostModel
from autolabel.structures import GroundTruth
from uncertainty.calibration import Calibration
from uncertainty.difficulty import fit_difficulty, fit_error_difficulty, plot_job_scores, summarize
from uncertainty.error_model import (
    ERROR_MODEL_FILE,
    ErrorModel,
    FittedErrorModel,
    load_error_model,
    save_error_model,
)
from uncertainty.image_score import ImageScorer
from uncertainty.labeler import UncertaintyLabeler
from uncertainty.mc_dropout import MCDropout

CALIBRATION_FILE = "calibration.json"  # beside the weights, written by the train pipeline
log = logging.getLogger("uncertainty.stage")


@dataclass(frozen=True)
class StageFit:
    """What the stage fits on VAL: the difficulty bands and, when configured, the learned error model."""

    calibration: Calibration
    error_model: FittedErrorModel | None = None


class MCDropoutStage:
    """MC dropout in the Detect head, one score per image, difficulty bands calibrated on VAL.

    mc: ``passes``, ``p``, ``branches``, ``matching``, ``seed``, ``candidate_factor`` (see the config);
    scorer: per-box components -> pooled score (the image score when there is no error model);
    error_model: the learned error model's settings, or None; calibration: ``levels``, ``min_images``,
    ``require_split``; embedding: records also carry each image's pooled neck features (read by the
    diversity strategies, :mod:`autolabel.review.diversity`), from the same forward pass.
    """

    def __init__(
        self,
        *,
        mc: Mapping[str, Any],
        scorer: ImageScorer,
        calibration: Mapping[str, Any],
        error_model: ErrorModel | None = None,
        embedding: bool = False,
    ) -> None:
        if error_model is not None and error_model.tta_features:
            raise ValueError(
                "uncertainty.error_model.tta_features=true: the label job computes no flip-TTA features; "
                "`python -m uncertainty.evaluate tta=true` measures them"
            )
        self.mc, self.scorer, self.error_model = dict(mc), scorer, error_model
        self.embedding = bool(embedding)
        self.provides = frozenset({"boxes", "score", "difficulty", *(["embedding"] if embedding else [])})
        self.levels = tuple(float(v) for v in calibration["levels"])
        self.min_images = int(calibration["min_images"])
        self.require_split = bool(calibration["require_split"])

    def labeler(self, detector: Detector, fit: StageFit | Calibration | None = None) -> UncertaintyLabeler:
        """MC dropout + scorer (+ the fitted error model) for ``detector`` at its current ``conf``."""
        if isinstance(fit, Calibration):
            fit = StageFit(fit)
        mc = self.mc
        dropout = MCDropout(
            detector,
            passes=mc["passes"],
            p=mc["p"],
            branches=tuple(mc["branches"]),
            matching=mc["matching"],
            seed=mc["seed"],
            candidate_conf=detector.conf * mc["candidate_factor"],
            embedding=self.embedding,
        )
        return UncertaintyLabeler(
            detector,
            mc=dropout,
            scorer=self.scorer,
            calibration=None if fit is None else fit.calibration,
            error_model=None if fit is None else fit.error_model,
        )

    predictor = labeler

    def calibrate(
        self,
        detector: Detector,
        images: Sequence[Path],
        truths: Sequence[GroundTruth],
        *,
        batch: int,
        cost: CostModel | None = None,
    ) -> tuple[StageFit, dict[str, Any]]:
        """The fit on labeled ``images`` (VAL) and the model card's summary of it.

        cost: the seconds the error model prices its expected correction time with (default CostModel()).
        """
        if self.error_model is not None:
            fitted, calibration, summary = fit_error_difficulty(
                self.labeler(detector),
                self.error_model,
                images,
                truths,
                cost=cost or CostModel(),
                levels=self.levels,
                min_images=self.min_images,
                require_split=self.require_split,
                batch=batch,
            )
            log.info("difficulty calibration: %s", calibration.reason)
            return StageFit(calibration, fitted), summary
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
        return StageFit(calibration), summarize(calibration, scored, needs)

    def save_calibration(self, fit: StageFit, folder: str | Path) -> Path:
        return save_calibration(fit, folder)

    def load_calibration(self, weights: str | Path) -> StageFit | None:
        """The fit saved beside ``weights``; its bands are on the scale of the score it was fitted with, so
        a stage with an error model refuses a fit without one, and the other way round."""
        fit = load_calibration(weights)
        if fit is not None and (fit.error_model is None) != (self.error_model is None):
            folder = Path(weights).parent
            if self.error_model is not None:
                raise FileNotFoundError(
                    f"{folder / ERROR_MODEL_FILE}: uncertainty.error_model is set but these weights were "
                    "calibrated without one; retrain them, or set uncertainty/error_model=none"
                )
            raise DataError(
                f"{folder}: these weights were calibrated with a learned error model ({ERROR_MODEL_FILE}) "
                "and uncertainty/error_model=none was asked for; drop that override, or retrain"
            )
        return fit

    def calibration_files(self, weights: str | Path) -> tuple[Path, ...]:
        """The files beside ``weights`` that :meth:`load_calibration` reads (there or not): a label job
        records their sha256 and refuses to resume when one was removed, added or replaced."""
        folder = Path(weights).parent
        return (folder / CALIBRATION_FILE, folder / ERROR_MODEL_FILE)

    def plot(self, output: Path, fit: StageFit | None) -> Path | None:
        return plot_job_scores(output, None if fit is None else fit.calibration)


def save_calibration(fit: StageFit, folder: str | Path) -> Path:
    """Write ``calibration.json`` (and ``error_model.joblib`` when there is one) into ``folder``."""
    path = Path(folder) / CALIBRATION_FILE
    path.write_text(json.dumps(fit.calibration.to_dict(), indent=2))
    if fit.error_model is not None:
        save_error_model(fit.error_model, folder)
    return path


def load_calibration(weights: str | Path) -> StageFit | None:
    """The fit saved beside ``weights`` by the train pipeline, if any."""
    path = Path(weights).parent / CALIBRATION_FILE
    if not path.is_file():
        return None
    return StageFit(Calibration.from_dict(json.loads(path.read_text())), load_error_model(weights))
