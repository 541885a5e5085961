"""The auto-label job's predict function with uncertainty: MC dropout, image scores, calibrated difficulty."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from autolabel.detector import Detector
from autolabel.structures import Detections
from uncertainty.calibration import Calibration
from uncertainty.image_score import ImageScorer
from uncertainty.mc_dropout import MCDropout
from uncertainty.samples import MCSamples


def image_seed(key: str) -> int:
    """A stable per-image seed from its key (the path relative to the source), so resumes score alike."""
    return zlib.crc32(key.encode("utf-8"))


class UncertaintyLabeler:
    """Callable as the job's ``predict``: (images, keys) -> per image (auto-labels, uncertainty fields).

    The auto-labels are the deterministic pass's boxes at ``detector.conf``; the fields are those of
    :meth:`ImageScorer.record_fields`, plus ``p_needs_correction`` and ``difficulty`` (easy / medium /
    hard, or failed) when a calibration is given.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        mc: MCDropout,
        scorer: ImageScorer,
        calibration: Calibration | None = None,
    ) -> None:
        self.detector, self.mc, self.scorer, self.calibration = detector, mc, scorer, calibration

    def samples(self, images: Sequence[np.ndarray], keys: Sequence[str]) -> list[MCSamples]:
        return self.mc.predict(images, seeds=[image_seed(k) for k in keys])

    def fields(self, samples: MCSamples) -> dict[str, Any]:
        fields = self.scorer.record_fields(samples, conf=self.detector.conf)
        if self.calibration is not None:
            score = np.array([np.nan if fields["score"] is None else fields["score"]])
            p = float(self.calibration.p_needs_correction(score)[0])
            fields["p_needs_correction"] = None if np.isnan(p) else round(p, 6)
            fields["difficulty"] = (
                "failed" if fields["failed"] else str(self.calibration.difficulty(score)[0])
            )
        return fields

    def __call__(self, images: Sequence[np.ndarray], keys: Sequence[str]) -> list[tuple[Detections, dict]]:
        return [(s.candidates.above(self.detector.conf), self.fields(s)) for s in self.samples(images, keys)]
