"""The auto-label job's predict function with uncertainty: MC dropout, image scores, calibrated difficulty."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from autolabel.model.detector import Detector
from autolabel.structures import Detections
from uncertainty.calibration import Calibration
from uncertainty.error_features import error_features
from uncertainty.error_model import FittedErrorModel
from uncertainty.image_score import ImageScorer, box_components_batch
from uncertainty.mc_dropout import MCDropout
from uncertainty.samples import MCSamples


def image_seed(key: str) -> int:
    """A stable per-image seed from its key (the path relative to the source), so resumes score alike."""
    return zlib.crc32(key.encode("utf-8"))


class UncertaintyLabeler:
    """Callable as the job's ``predict``: (images, keys) -> per image (auto-labels, uncertainty fields).

    The auto-labels are the deterministic pass's boxes at ``detector.conf``; the fields are those of
    :meth:`ImageScorer.record_fields`. With a fitted ``error_model`` the image ``score`` is its image score
    (``FittedErrorModel.image_score``: expected fix seconds by default), and ``components`` gain
    ``error_p`` (P(needs correction)), ``error_seconds`` (expected review seconds),
    ``error_correction_seconds`` (expected seconds of the fixes) and ``error_missed`` (expected misses).
    With a calibration, ``p_needs_correction`` and ``difficulty`` (easy / medium / hard, or failed).
    With ``mc.embedding``, ``embedding``: the image's pooled neck features from the same pass.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        mc: MCDropout,
        scorer: ImageScorer,
        calibration: Calibration | None = None,
        error_model: FittedErrorModel | None = None,
    ) -> None:
        self.detector, self.mc, self.scorer, self.calibration = detector, mc, scorer, calibration
        self.error_model = error_model

    def samples(self, images: Sequence[np.ndarray], keys: Sequence[str]) -> list[MCSamples]:
        return self.mc.predict(images, seeds=[image_seed(k) for k in keys])

    def fields_batch(
        self, batch: Sequence[MCSamples], components: Sequence[dict[str, np.ndarray]] | None = None
    ) -> list[dict[str, Any]]:
        """The record fields of each image's samples (one error-model call for the whole batch).

        components: each image's :func:`~uncertainty.image_score.box_components` when already computed.
        """
        conf = self.detector.conf
        if components is None:
            components = box_components_batch(batch, conf=conf)
        pairs = list(zip(batch, components, strict=True))
        out = [self.scorer.record_fields(s, conf=conf, components=c) for s, c in pairs]
        model = self.error_model
        if model is not None and batch:
            pred = model.predict(
                [error_features(s, conf=conf, mc=model.mc_features, components=c) for s, c in pairs]
            )
            chosen, fixes = model.image_score(pred), pred.correction_seconds(model.seconds)
            for i, fields in enumerate(out):
                p = float(pred.p_needs_correction[i])
                fields["components"]["error_p"] = round(p, 6)
                fields["components"]["error_seconds"] = round(float(pred.expected_seconds[i]), 6)
                fields["components"]["error_correction_seconds"] = round(float(fixes[i]), 6)
                fields["components"]["error_missed"] = round(float(pred.expected_missed[i]), 6)
                fields["score"] = round(float(chosen[i]), 6)
        if self.calibration is not None and out:
            scores = np.array([np.nan if f["score"] is None else f["score"] for f in out], dtype=np.float64)
            p_needs = self.calibration.p_needs_correction(scores)
            bands = self.calibration.difficulty(scores)
            for fields, p, band in zip(out, p_needs, bands, strict=True):
                fields["p_needs_correction"] = None if np.isnan(p) else round(float(p), 6)
                fields["difficulty"] = "failed" if fields["failed"] else str(band)
        return out

    def fields(self, samples: MCSamples) -> dict[str, Any]:
        return self.fields_batch([samples])[0]

    def __call__(self, images: Sequence[np.ndarray], keys: Sequence[str]) -> list[tuple[Detections, dict]]:
        """Per image, the auto-labels and the record fields (with ``embedding`` when MC dropout gives one)."""
        batch = self.samples(images, keys)
        conf = self.detector.conf
        out = []
        for s, fields in zip(batch, self.fields_batch(batch), strict=True):
            if s.embedding is not None:
                fields["embedding"] = s.embedding
            out.append((s.candidates.above(conf), fields))
        return out
