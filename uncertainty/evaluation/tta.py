"""Flip test-time augmentation in the evaluate app (``tta=true``): the flipped pass and what it adds.

The detector runs once more on each mirrored image (candidates down to the miss floor); the measures of
:mod:`uncertainty.error_features` compare that view with the original one, per box (``tta_doubt``,
``tta_disagreement``, beside ``1 - conf`` in the per-box table) and per image (miss estimates beside the
original pass's miss evidence, and the error model refitted with both as features).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autolabel.data.images import map_batches
from autolabel.model.detector import Detector
from autolabel.structures import Detections
from uncertainty.error_features import (
    MISS_FLOOR_FACTOR,
    TTA_BOX,
    TTA_MISS,
    image_feature_names,
    mirror,
    tta_box_measures,
    tta_miss_features,
)
from uncertainty.error_model import Features
from uncertainty.evaluation.boxes import BoxScored
from uncertainty.mc_dropout import MCDropout


def flipped_candidates(
    detector: Detector, paths: Sequence[Path], *, batch: int = 16, desc: str = "flip"
) -> list[Detections]:
    """Per image of ``paths``: the detector's candidates on the left-right mirrored image (NMS at
    ``MISS_FLOOR_FACTOR`` of its ``conf``), mirrored back into the original image's pixels."""
    single = MCDropout(detector, passes=1, p=0.0, candidate_conf=detector.conf * MISS_FLOOR_FACTOR)

    def run(images: list[np.ndarray], _paths: list[Path]) -> list[Detections]:
        samples = single.predict([np.ascontiguousarray(im[:, ::-1]) for im in images])
        return [mirror(s.candidates, im.shape[1]) for s, im in zip(samples, images, strict=True)]

    return map_batches(run, paths, batch=batch, desc=desc)


def tta_features(
    scored: Sequence[BoxScored], flipped: Sequence[Detections], *, threshold: float
) -> list[Features]:
    """Per image, the flip-TTA columns: (box (K_i, len(TTA_BOX)), image (len(TTA_MISS),)), float64.

    scored: :func:`uncertainty.evaluation.boxes.score_paths_with_boxes` of the images (auto-labels first);
    flipped: :func:`flipped_candidates` of the same images; threshold: the operating confidence.
    """
    column = image_feature_names(mc=True).index("miss_evidence")
    out = []
    for (kept, _, _, (_, image_x)), view in zip(scored, flipped, strict=True):
        boxes = tta_box_measures(kept, view, floor=threshold * MISS_FLOOR_FACTOR)
        box_x = np.stack([boxes[name] for name in TTA_BOX], axis=1).reshape(len(kept), len(TTA_BOX))
        image = tta_miss_features(
            kept,
            view,
            threshold=threshold,
            floor=threshold * MISS_FLOOR_FACTOR,
            miss_evidence=float(image_x[column]),
        )
        out.append((box_x, image))
    return out


def with_tta(features: Sequence[Features], tta: Sequence[Features]) -> list[Features]:
    """Each image's error-model features with its flip-TTA columns appended (box and image)."""
    return [
        (np.concatenate([bx, tx], axis=1), np.concatenate([ix, ti]))
        for (bx, ix), (tx, ti) in zip(features, tta, strict=True)
    ]


def tta_measures(tta: Sequence[Features]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({box measure: (B,) over all auto-labels}, {miss estimate: (K,) per image}) of :func:`tta_features`."""
    boxes = {
        name: np.concatenate([np.zeros(0), *(bx[:, i] for bx, _ in tta)]) for i, name in enumerate(TTA_BOX)
    }
    images = {name: np.array([ix[i] for _, ix in tta], np.float64) for i, name in enumerate(TTA_MISS)}
    return boxes, images
