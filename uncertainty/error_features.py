"""Features of the learned error model: per auto-labeled box, and per image for the boxes it misses.

Both are pure functions of one image's MC samples (:class:`uncertainty.samples.MCSamples`) and the
operating threshold ``conf``. Of the N candidates (NMS at the candidate threshold), the K with
``conf >= threshold`` are the auto-labels a person sees ("kept"); the others are near misses, which is how
a missed object shows. Feature names are fixed tuples; ``mc=False`` leaves out every feature computed from
the T dropout passes, so the error model can be fitted with and without what MC dropout adds.

Per kept box, (K, F) float64 (MetaDetect-style: score, class-score entropy, size, overlapping candidates):

================================  ==============================================================
conf, second_score                the top and second class score of the deterministic pass
single_label_doubt                1 - P(the auto-label is right) from them (``scores.label_doubt``)
single_bernoulli_entropy          Bernoulli entropy of those two scores, scaled to [0, 1]
log_area                          log of the box area over the image area
log_aspect                        abs(log(width / height))
border                            distance to the nearest image border over the image's short side
max_iou_kept, max_iou_near        highest IoU with another auto-label, with a near miss
n_overlap                         candidates with IoU >= 0.3 with this box
log_kept, log_near                log(1 + auto-labels in the image), log(1 + near misses)
class_<c>                         one-hot predicted class (C columns)
mc_*  (mc=True)                   mean top-class score over T passes, and the MC components of
                                  :func:`uncertainty.image_score.box_components`: label_doubt,
                                  label_doubt_spread, label_bald, bernoulli_entropy,
                                  bernoulli_mutual_information, score_variance, box_spread,
                                  detection_flip
================================  ==============================================================

Per image, (G,) float64, for the expected number of missed objects: log_kept, log_near, the highest and the
summed near-miss score, the lowest and mean auto-label score, failed (no auto-label), and the miss
evidence below (near misses down to ``MISS_FLOOR_FACTOR`` of the
threshold that no auto-label covers: their summed and highest score, their count); with ``mc=True`` the
summed and highest near-miss detection flip, the mean box spread of the auto-labels and the MC miss
evidence (the counted near misses' summed pass-mean score and lift rate).

Miss evidence (part of the image features, and measured on its own by the evaluate app): what the detector
leaves of an object it missed is a *near miss*, a candidate scored between a floor (``MISS_FLOOR_FACTOR``
of the threshold) and the operating threshold. The near misses that stand for an object the auto-labels do
not already cover are those that overlap no auto-label and no higher-scoring such near miss at IoU >=
``MISS_OVERLAP_IOU`` (class-agnostic: one object, one count). Per image: ``miss_evidence``, the sum of
their scores (if the scores were calibrated, the expected number of objects among them), ``miss_count``,
``miss_max``; with MC, ``mc_miss_evidence`` (their summed mean top-class score over the passes) and
``mc_miss_flip`` (summed share of passes that lift them over the threshold). These are evidence, not
counts: the error model's Poisson regression turns them into expected misses.

Flip test-time augmentation (the functions at the end of this module), measured by the evaluate app
(``tta=true``) and not computed by the label job: it runs the backbone once more per image, against a job
meant to cost little more than a predict. The detector runs once more on the mirrored image
(:func:`uncertainty.evaluation.tta.flipped_candidates`); its candidates, mirrored back into the original
image's pixels, are compared with the original pass (CALD, Yu et al. 2022; Elezi et al. 2022: a detection
the augmented view does not repeat is doubtful, an object the augmented view finds and the original does
not is a likely miss).

Per kept box, (K,) float64 in [0, 1] (:func:`tta_box_measures`):

==================  ==========================================================================
tta_doubt           1 - the mean of the box's score and the score the flipped view gives it (the
                    same-class flipped candidate with IoU >= ``MATCH_IOU``, 0 when there is none)
tta_disagreement    1 - the highest IoU with a same-class flipped candidate
==================  ==========================================================================

Per image, (3,) float64 (:func:`tta_miss_features`, names ``TTA_MISS``): the flipped candidates down to
the floor that overlap no auto-label at IoU >= ``MATCH_IOU`` (class-agnostic), and none of them a stronger
one (one object, one count), stand for objects the auto-labels miss in the flipped view's eyes:

====================  ========================================================================
tta_miss_evidence     the sum of their flipped scores
tta_found             how many of them reach the operating threshold (found flipped, not kept)
tta_both_evidence     the mean of ``tta_miss_evidence`` and the original pass's miss evidence
                      (:func:`uncertainty.error_features.miss_features`): the two views averaged
====================  ========================================================================
"""

from __future__ import annotations

import numpy as np

from autolabel.structures import Detections, box_iou
from uncertainty.image_score import box_components
from uncertainty.samples import MCSamples

# IoU at which another candidate counts as overlapping a box (duplicates and neighbours both show here).
OVERLAP_IOU = 0.3

# IoU at or above which a near miss is taken for the same object as an auto-label or a stronger near miss.
MISS_OVERLAP_IOU = 0.5
# The miss evidence's floor as a fraction of the operating threshold: near misses down to it count.
MISS_FLOOR_FACTOR = 0.25

MISS_FEATURES = ("miss_evidence", "miss_count", "miss_max")
MC_MISS_FEATURES = ("mc_miss_evidence", "mc_miss_flip")

SINGLE_BOX = (
    "conf",
    "second_score",
    "single_label_doubt",
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
    "label_doubt",
    "label_doubt_spread",
    "label_bald",
    "bernoulli_entropy",
    "bernoulli_mutual_information",
    "score_variance",
    "box_spread",
    "detection_flip",
)
MC_BOX = ("mc_mean_top", *(f"mc_{name}" for name in MC_COMPONENTS))
SINGLE_IMAGE = (
    "log_kept",
    "log_near",
    "near_max",
    "near_sum",
    "kept_min",
    "kept_mean",
    "failed",
    *MISS_FEATURES,
)
MC_IMAGE = ("mc_near_flip_sum", "mc_near_flip_max", "mc_kept_spread", *MC_MISS_FEATURES)


def box_feature_names(num_classes: int, *, mc: bool, tta: bool = False) -> tuple[str, ...]:
    """Column names of :func:`box_features` for ``num_classes`` (C >= 1) classes; with ``tta`` the
    flip-TTA measures (``TTA_BOX``, which the evaluate app appends) follow."""
    names = (*SINGLE_BOX, *(f"class_{c}" for c in range(num_classes)), *(MC_BOX if mc else ()))
    return (*names, *(TTA_BOX if tta else ()))


def image_feature_names(*, mc: bool, tta: bool = False) -> tuple[str, ...]:
    """Names of the entries of :func:`image_features`; with ``tta``, ``TTA_MISS``
    follow (appended by the evaluate app)."""
    return (*SINGLE_IMAGE, *(MC_IMAGE if mc else ()), *(TTA_MISS if tta else ()))


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
        comps["single_label_doubt"],
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
    misses = miss_features(samples, threshold=conf, floor=conf * MISS_FLOOR_FACTOR, mc=mc)
    values += list(misses[: len(MISS_FEATURES)])
    if mc:
        comps = components if components is not None else box_components(samples, conf=conf)
        flip = comps.get("detection_flip", np.zeros(0))[~kept]
        spread = comps.get("box_spread", np.zeros(0))[kept]
        values += [flip.sum(), flip.max() if len(flip) else 0.0, spread.mean() if len(spread) else 0.0]
        values += list(misses[len(MISS_FEATURES) :])
    return np.asarray(values, dtype=np.float64)


def counted_near_misses(
    conf: np.ndarray,
    xyxy: np.ndarray,
    *,
    threshold: float,
    floor: float,
    overlap_iou: float = MISS_OVERLAP_IOU,
) -> np.ndarray:
    """(N,) bool: the candidates that count as evidence of a missed object (module docstring, "Miss
    evidence").

    conf: (N,) top-class scores of the candidates; xyxy: (N, 4) their boxes, pixels. Candidates with
    conf >= ``threshold`` are the auto-labels; near misses are those in [``floor``, ``threshold``).
    """
    c = np.asarray(conf, dtype=np.float64)
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    if c.ndim != 1 or len(c) != len(boxes):
        raise ValueError(f"conf (N,) and xyxy (N, 4) must agree, got {c.shape} and {boxes.shape}")
    kept = c >= threshold
    near = (~kept) & (c >= floor)
    counted = np.zeros(len(c), dtype=bool)
    if not near.any():
        return counted
    iou = box_iou(boxes, boxes)
    covered = iou[:, kept].max(axis=1) >= overlap_iou if kept.any() else np.zeros(len(c), bool)
    for i in np.flatnonzero(near)[np.argsort(-c[near], kind="stable")]:
        if covered[i] or (counted & (iou[i] >= overlap_iou)).any():
            continue
        counted[i] = True
    return counted


def miss_features(samples: MCSamples, *, threshold: float, floor: float, mc: bool = True) -> np.ndarray:
    """(G,) float64 miss evidence of one image: ``MISS_FEATURES``, then ``MC_MISS_FEATURES`` with ``mc``.

    samples: the image's MC samples (candidates down to at least ``floor``); threshold: the operating
    confidence. A pass that missed a near miss (IoU mode, nan boxes) counts as a score of 0 for it.
    """
    cand = samples.candidates
    counted = counted_near_misses(cand.conf, cand.xyxy, threshold=threshold, floor=floor)
    scores = cand.conf[counted].astype(np.float64)
    values = [scores.sum(), float(counted.sum()), scores.max() if len(scores) else 0.0]
    if mc:
        top = np.take_along_axis(samples.probs, cand.cls[None, :, None], axis=2)[..., 0]  # (T, N)
        top = np.nan_to_num(top.astype(np.float64))[:, counted]
        lifted = samples.hits[:, counted]
        values += [top.mean(0).sum() if top.size else 0.0, lifted.mean(0).sum() if lifted.size else 0.0]
    return np.asarray(values, dtype=np.float64)


def miss_feature_names(*, mc: bool) -> tuple[str, ...]:
    """Names of :func:`miss_features`' entries."""
    return (*MISS_FEATURES, *(MC_MISS_FEATURES if mc else ()))


# Flip test-time augmentation (module docstring, last section).
# IoU at which a flipped candidate is taken for the same object as a box of the original pass.
MATCH_IOU = 0.5
TTA_BOX = ("tta_doubt", "tta_disagreement")
TTA_MISS = ("tta_miss_evidence", "tta_found", "tta_both_evidence")


def mirror(detections: Detections, width: float) -> Detections:
    """``detections`` mirrored left-right in an image ``width`` pixels wide: x -> width - x (N boxes)."""
    xyxy = detections.xyxy.copy()
    xyxy[:, 0], xyxy[:, 2] = width - detections.xyxy[:, 2], width - detections.xyxy[:, 0]
    return Detections(xyxy, detections.conf, detections.cls, detections.probs)


def tta_box_measures(kept: Detections, flipped: Detections, *, floor: float) -> dict[str, np.ndarray]:
    """``TTA_BOX`` measures of the K auto-labels ``kept`` given the flipped view's candidates (mirrored
    back), each (K,) float64 in [0, 1], higher = more doubtful. Flipped candidates below ``floor`` are
    ignored."""
    k = len(kept)
    view = flipped.above(floor)
    if k == 0 or len(view) == 0:
        return {"tta_doubt": 1.0 - kept.conf.astype(np.float64) / 2.0, "tta_disagreement": np.ones(k)}
    iou = box_iou(kept.xyxy, view.xyxy).astype(np.float64)
    iou[kept.cls[:, None] != view.cls[None, :]] = 0.0  # (K, M), same class only
    best = iou.argmax(1)
    matched = iou[np.arange(k), best] >= MATCH_IOU
    flipped_conf = np.where(matched, view.conf[best].astype(np.float64), 0.0)
    return {
        "tta_doubt": 1.0 - (kept.conf.astype(np.float64) + flipped_conf) / 2.0,
        "tta_disagreement": 1.0 - iou.max(1),
    }


def uncovered(kept_xyxy: np.ndarray, conf: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """(M,) bool: the M candidates (conf (M,), xyxy (M, 4)) that overlap none of ``kept_xyxy`` (K, 4) and no
    higher-scored uncovered candidate at IoU >= ``MATCH_IOU`` (greedy, by score)."""
    conf = np.asarray(conf, np.float64)
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    out = np.zeros(len(conf), bool)
    if len(conf) == 0:
        return out
    covered = np.zeros(len(conf), bool)
    if len(kept_xyxy):
        covered = box_iou(xyxy, kept_xyxy).max(1) >= MATCH_IOU
    iou = box_iou(xyxy, xyxy)
    for i in np.argsort(-conf, kind="stable"):
        if not covered[i] and not (out & (iou[i] >= MATCH_IOU)).any():
            out[i] = True
    return out


def tta_miss_features(
    kept: Detections, flipped: Detections, *, threshold: float, floor: float, miss_evidence: float
) -> np.ndarray:
    """(3,) float64 ``TTA_MISS`` of one image.

    kept: the auto-labels (conf >= ``threshold``); flipped: the flipped view's candidates, mirrored back;
    floor: the lowest flipped score counted; miss_evidence: the original pass's summed miss evidence.
    """
    view = flipped.above(floor)
    free = uncovered(kept.xyxy, view.conf, view.xyxy)
    scores = view.conf[free].astype(np.float64)
    evidence = float(scores.sum())
    return np.array(
        [evidence, float((scores >= threshold).sum()), (evidence + float(miss_evidence)) / 2.0], np.float64
    )
