"""The MC-dropout samples of one image: a plain record of arrays, free of torch, that scoring reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autolabel.structures import Detections


@dataclass(frozen=True)
class MCSamples:
    """MC dropout samples of one image (made by :mod:`uncertainty.mc_dropout`).

    candidates: the deterministic pass's boxes after NMS at ``candidate_conf`` (N boxes, ``conf`` order);
    probs: (T, N, C) per-class sigmoid scores of each box in each pass; boxes: (T, N, 4) xyxy pixels of the
    original image (nan where a pass missed, IoU mode); hits: (T, N) bool, pass t still detects box n
    (its top score >= ``conf`` in anchor mode; an IoU match in IoU mode); image_hw: the original image's
    (height, width) in pixels, None when unknown (the error model's box-size features need it);
    embedding: (D,) float32, the image's pooled neck features from the same deterministic pass
    (:func:`uncertainty.mc_dropout.pool_neck_features`), None unless asked for.
    """

    candidates: Detections
    probs: np.ndarray
    boxes: np.ndarray
    hits: np.ndarray
    image_hw: tuple[int, int] | None = None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
