"""The uncertainty stage a label job runs with: its protocol, the plain stage, and the picklable factory.

The ``uncertainty`` config group builds an :class:`UncertaintyStage` with Hydra (MC dropout in
:mod:`uncertainty.stage`, or :class:`PlainLabels` for ``uncertainty=none``), so the job never imports
:mod:`uncertainty`. :class:`PredictorFactory` rebuilds detector and stage where the labeling runs (here,
or in a Ray actor); :func:`uncertainty_settings` is what a job folder records of the group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hydra.utils import instantiate

from autolabel.job.runner import PredictFn, plain_predict
from autolabel.model.detector import Detector
from autolabel.model.efficiency import CostModel
from autolabel.structures import GroundTruth


class UncertaintyStage(Protocol):
    """What the ``uncertainty`` config group builds: how a job scores images and fits difficulty bands.

    provides: record fields its records carry ("boxes", and "score", "difficulty" with uncertainty);
    selection strategies state what they require, and the loops check it before training.
    """

    provides: frozenset[str]

    def calibrate(
        self,
        detector: Detector,
        images: Sequence[Path],
        truths: Sequence[GroundTruth],
        *,
        batch: int,
        cost: CostModel | None = None,
    ) -> tuple[Any, dict[str, Any]] | None:
        """(calibration, its model-card summary) fitted on labeled ``images``, or None (no bands).

        cost: the cost model's seconds, for a stage that predicts correction time."""

    def predictor(self, detector: Detector, calibration: Any = None) -> PredictFn:
        """The job's predict function for ``detector`` at its ``conf``."""

    def save_calibration(self, calibration: Any, folder: Path) -> Path: ...

    def load_calibration(self, weights: Path) -> Any:
        """The calibration saved beside ``weights``, or None."""

    def calibration_files(self, weights: Path) -> tuple[Path, ...]:
        """The files beside ``weights`` that ``load_calibration`` reads, whether they exist or not."""

    def plot(self, output: Path, calibration: Any) -> Path | None:
        """A picture of a finished job's scores, or None."""


class PlainLabels:
    """``uncertainty=none``: plain auto-labels, no scores, no bands."""

    provides = frozenset({"boxes"})

    def calibrate(
        self,
        detector: Detector,
        images: Sequence[Path],
        truths: Sequence[GroundTruth],
        *,
        batch: int,
        cost: CostModel | None = None,
    ) -> None:
        return None

    def predictor(self, detector: Detector, calibration: Any = None) -> PredictFn:
        return plain_predict(detector.predict)

    def save_calibration(self, calibration: Any, folder: Path) -> Path:
        raise TypeError("plain auto-labels have no calibration")

    def load_calibration(self, weights: Path) -> None:
        return None

    def calibration_files(self, weights: Path) -> tuple[Path, ...]:
        return ()

    def plot(self, output: Path, calibration: Any) -> None:
        return None


@dataclass(frozen=True)
class PredictorFactory:
    """Builds the job's predictor where the labeling runs: here, or in a Ray actor on another machine.

    Holds only what it takes to rebuild the detector and the uncertainty stage (picklable): the weights'
    path, the detector's settings, the ``uncertainty`` group as a plain dict, and the calibration.
    """

    weights: str
    imgsz: int
    conf: float
    iou: float
    max_det: int
    device: str
    uncertainty: Mapping[str, Any]
    calibration: Any = None

    @classmethod
    def of(cls, detector: Detector, uncertainty: Mapping[str, Any], calibration: Any) -> PredictorFactory:
        return cls(
            weights=str(detector.weights),
            imgsz=detector.imgsz,
            conf=detector.conf,
            iou=detector.iou,
            max_det=detector.max_det,
            device=detector.requested_device,
            uncertainty=dict(uncertainty),
            calibration=calibration,
        )

    def __call__(self) -> PredictFn:
        detector = Detector(
            self.weights,
            imgsz=self.imgsz,
            conf=self.conf,
            iou=self.iou,
            max_det=self.max_det,
            device=self.device,
        )
        stage: UncertaintyStage = instantiate(self.uncertainty)
        return stage.predictor(detector, self.calibration)


# uncertainty keys added since older folders were made, at the value those folders' jobs ran with
UNCERTAINTY_ADDED_KEYS = {"embedding": False}


def uncertainty_settings(group: Mapping[str, Any]) -> dict[str, Any]:
    """The ``uncertainty`` settings a label job and a run folder record (a resume must match them).

    The group's keys without ``_target_``, flagged ``enabled`` when there are any: the shape the job
    has always recorded (the group used to hold an ``enabled`` flag), so older folders still resume.
    A key of :data:`UNCERTAINTY_ADDED_KEYS` at its old value is left out, for the same reason.
    """
    rest = {
        k: v
        for k, v in dict(group).items()
        if k not in ("_target_", "enabled")
        and not (k in UNCERTAINTY_ADDED_KEYS and v == UNCERTAINTY_ADDED_KEYS[k])
    }
    return {"enabled": True, **rest} if rest else {"enabled": False}
