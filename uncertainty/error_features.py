"""Features of the learned error model: per auto-labeled box, and per image for the boxes it misses.

Both are pure functions of one image's MC samples (:class:`uncertainty.samples.MCSamples`) and the
operating threshold ``conf``. Of the N candidates (NMS at the candidate threshold), the K with
``conf >= threshold`` are the auto-labels a person sees ("kept"); the others are near misses, which is how
a missed object shows. Feature names are fixed tuples; ``mc=False`` leaves out every feature computed from
the T dropout passes, so the error model can be fitted with and without what MC dropout adds.

Per kept box, (K, F) float64 (MetaDetect-style: score, class-score entropy, size, overlapping candidates):

================================  ==============================================================
conf, second_score                the top and second class score of the deterministic pass
single_bernoulli_entropy          Bernoulli entropy of those two scores, scaled to [0, 1]
log_area                          log of the box area over the image area
log_aspect                        abs(log(width / height))
border                            distance to the nearest image border over the image's short side
max_iou_kept, max_iou_near        highest IoU with another auto-label, with a near miss
n_overlap                         candidates with IoU >= 0.3 with this box
log_kept, log_near                log(1 + auto-labels in the image), log(1 + near misses)
class_<c>                         one-hot predicted class (C columns)
mc_*  (mc=True)                   mean top-class score over T passes, and the MC components of
                                  :func:`uncertainty.image_score.box_components`: bernoulli_entropy,
                                  bernoulli_mutual_information, score_variance, box_spread,
                                  detection_flip
================================  ==============================================================

Per image, (G,) float64, for the expected number of missed objects: log_kept, log_near, the highest and the
summed near-miss score, the lowest and mean auto-label score, failed (no auto-label); with ``mc=True`` the
summed and highest near-miss detection flip and the mean box spread of the auto-labels.
"""

from __future__ import annotations

import numpy as np

from autolabel.structures import box_iou
from uncertainty.image_score import box_components
from uncertainty.samples import MCSamples

# IoU at which another candidate counts as overlapping a box (duplicates and neighbours both show here).
OVERLAP_IOU = 0.3

SINGLE_BOX = (
    "conf",
    "second_score",
    "single_bernoulli_entropy",
    "log_area",
    "log_aspect",
    "border",
    "max_iou_kept",
    "max_iou_near",
    "n_overlap",
    "log_kept",
    "log_near",
)
MC_COMPONENTS = (
    "bernoulli_entropy",
    "bernoulli_mutual_information",
    "score_variance",
    "box_spread",
    "detection_flip",
)
MC_BOX = ("mc_mean_top", *(f"mc_{name}" for name in MC_COMPONENTS))
SINGLE_IMAGE = ("log_kept", "log_near", "near_max", "near_sum", "kept_min", "kept_mean", "failed")
MC_IMAGE = ("mc_near_flip_sum", "mc_near_flip_max", "mc_kept_spread")


def box_feature_names(num_classes: int, *, mc: bool) -> tuple[str, ...]:
    """Column names of :func:`box_features` for ``num_classes`` (C >= 1) classes."""
    return (*SINGLE_BOX, *(f"class_{c}" for c in range(num_classes)), *(MC_BOX if mc else ()))


def image_feature_names(*, mc: bool) -> tuple[str, ...]:
    """Names of the entries of :func:`image_features`."""
    return (*SINGLE_IMAGE, *(MC_IMAGE if mc else ()))


def without_mc(features: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One image's features computed with ``mc=True``, cut to those of ``mc=False`` (a column prefix)."""
    box_x, image_x = features
    return box_x[:, : box_x.shape[1] - len(MC_BOX)], image_x[: len(SINGLE_IMAGE)]


def _max_or_zero(a: np.ndarray, axis: int) -> np.ndarray:
    return a.max(axis) if a.shape[axis] else np.zeros(a.shape[1 - axis])


def error_features(
    samples: MCSamples, *, conf: float, mc: bool = True, components: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(box features (K, F), image features (G,)) of one image (``box_features``, ``image_features``)."""
    comps = box_components(samples, conf=conf) if components is None else components
    return box_features(samples, conf=conf, mc=mc, components=comps), image_features(
        samples, conf=conf, mc=mc, components=comps
    )


def box_features(
    samples: MCSamples, *, conf: float, mc: bool = True, components: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """(K, F) features of the K auto-labels (candidates with conf >= ``conf``), in candidate order.

    F = len(:func:`box_feature_names`). Needs ``samples.image_hw`` for the size features. components:
    :func:`uncertainty.image_score.box_components` of ``samples`` when already computed.
    """
    if samples.image_hw is None:
        raise ValueError(
            "MCSamples.image_hw is None: the error model's box-size features need the image size"
        )
    cand = samples.candidates
    n_classes = cand.num_classes
    kept = cand.conf >= conf
    near = ~kept
    k = int(kept.sum())
    names = box_feature_names(n_classes, mc=mc)
    if k == 0:
        return np.zeros((0, len(names)))
    h, w = (float(v) for v in samples.image_hw)
    xyxy = cand.xyxy.astype(np.float64)
    bw = np.maximum(xyxy[:, 2] - xyxy[:, 0], 1e-3)
    bh = np.maximum(xyxy[:, 3] - xyxy[:, 1], 1e-3)
    border = np.minimum.reduce([xyxy[:, 0], xyxy[:, 1], w - xyxy[:, 2], h - xyxy[:, 3]]) / min(h, w)
    iou = box_iou(cand.xyxy, cand.xyxy).astype(np.float64)
    np.fill_diagonal(iou, 0.0)
    sorted_probs = np.sort(cand.probs.astype(np.float64), axis=1)
    second = sorted_probs[:, -2] if n_classes > 1 else np.zeros(len(cand))
    comps = box_components(samples, conf=conf) if components is None else components
    columns = [
        cand.conf.astype(np.float64),
        second,
        comps["single_bernoulli_entropy"],
        np.log(bw * bh / (h * w)),
        np.abs(np.log(bw / bh)),
        np.clip(border, 0.0, 1.0),
        _max_or_zero(iou[:, kept], 1),
        _max_or_zero(iou[:, near], 1),
        (iou >= OVERLAP_IOU).sum(1).astype(np.float64),
        np.full(len(cand), np.log1p(k)),
        np.full(len(cand), np.log1p(int(near.sum()))),
    ]
    columns += list(np.eye(n_classes)[cand.cls].T)
    if mc:
        top = np.take_along_axis(samples.probs, cand.cls[None, :, None], axis=2)[..., 0]  # (T, N)
        columns.append(top.mean(0) if len(top) else cand.conf.astype(np.float64))
        columns += [comps[name] for name in MC_COMPONENTS]
    return np.stack(columns, axis=1)[kept].astype(np.float64)


def image_features(
    samples: MCSamples, *, conf: float, mc: bool = True, components: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """(G,) features of one image for the expected number of objects its auto-labels miss."""
    cand = samples.candidates
    kept = cand.conf >= conf
    near_conf = cand.conf[~kept].astype(np.float64)
    kept_conf = cand.conf[kept].astype(np.float64)
    values = [
        np.log1p(int(kept.sum())),
        np.log1p(len(near_conf)),
        near_conf.max() if len(near_conf) else 0.0,
        near_conf.sum(),
        kept_conf.min() if len(kept_conf) else 1.0,
        kept_conf.mean() if len(kept_conf) else 1.0,
        float(not kept.any()),
    ]
    if mc:
        comps = components if components is not None else box_components(samples, conf=conf)
        flip = comps.get("detection_flip", np.zeros(0))[~kept]
        spread = comps.get("box_spread", np.zeros(0))[kept]
        values += [flip.sum(), flip.max() if len(flip) else 0.0, spread.mean() if len(spread) else 0.0]
    return np.asarray(values, dtype=np.float64)
