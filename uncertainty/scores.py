"""Per-box uncertainty scores: pure numpy functions on class scores and boxes; higher = more uncertain.

Shapes (the data contract of DESIGN.md):
- ``probs``: (N, C) float, ultralytics' per-class *sigmoid* scores of N boxes, each entry in [0, 1]; the
  rows are not a distribution and need not sum to 1.
- ``mc_probs``: (T, N, C), the same scores over T stochastic (MC dropout) passes of one image.
- ``mc_boxes``: (T, N, 4) float, ``xyxy`` pixels of each box in each pass.
- ``hits``: (T, N) bool, whether pass t still detects box n. A missed pass is a recorded miss: its class
  scores and box are ignored (they may hold anything, NaN included) and it raises
  ``detection_inconsistency``. ``hits=None`` means every pass hit.
T >= 1, N >= 0 and C >= 1 (one class is an ordinary case). N == 0 gives (0,) outputs. Every score
returns (N,) float64. Entropies use the natural log (nats).

Bernoulli scores (entropy and BALD, ``bernoulli_*``): ultralytics trains each class score as an
independent sigmoid, so the model's own distribution for a box is C independent Bernoulli variables,
"class c is present here" with probability p_c. Objectness is part of it: (0.30, 0.01) is a doubtful box,
(0.95, 0.03) a sure one, and the Bernoulli entropy says so where a row-normalised distribution does not.
Per box the scores sum over its ``BERNOULLI_CLASSES`` = 2 classes with the largest pass-mean score (all C
when C == 1): the top class carries "is it an object of this class" and the runner-up "or of another";
the remaining classes are left out because with C = 80 their many small scores (0.005 each is still
0.03 nats) would sum to more than the top class's entropy and drown it. Each class's Bernoulli entropy
H_b(p) = -p ln p - (1 - p) ln(1 - p) lies in [0, ln 2], so with K = min(C, 2) classes:
- ``bernoulli_entropy``: sum_k H_b(mean_t p_tk), in [0, K ln 2], the total uncertainty;
- ``bernoulli_mutual_information`` (BALD): sum_k [H_b(mean_t p_tk) - mean_t H_b(p_tk)], in
  [0, bernoulli_entropy], the part that comes from the passes disagreeing (each term >= 0 by concavity);
- ``single_bernoulli_entropy``: the same entropy on one deterministic pass.
All are 0 for certain predictions (every score 0 or 1). What they cannot see: two classes both at 0.99
(the model claims both); the row-normalised scores below can, so they stay as alternatives. Nor are they
monotone for a kept box: H_b(p) falls as p falls below 0.5, so at a low operating threshold a box at 0.10
scores as surer than one at 0.45. They stay as named alternatives; the per-box default is the doubt of
``label_doubt`` below, 1 - P(the auto-label is right), which is monotone.

Label doubt (``label_doubt``, ``label_doubt_spread``, ``label_bald``, ``single_label_doubt``; the per-box
default): an auto-label says "an object of class ``label`` is here", and from the box's sigmoid scores
the probability that it is right is::

    r = P(an object is there) * P(it is of class label | an object is there)
      = (1 - (1 - p_l) (1 - p_o)) * p_l / (p_l + p_o)  =  p_l (1 - p_l p_o / (p_l + p_o))

with p_l the score of the labeled class and p_o the largest score of any other class (0 when C == 1, so
r = p_l; 0 / 0 = 0). r is increasing in p_l and decreasing in p_o on all of [0, 1]^2
(d r / d p_l = 1 - p_l p_o (p_l + 2 p_o) / (p_l + p_o)^2 > 0), so the doubt 1 - r ranks a kept box at 0.10
above one at 0.45 above one at 0.90 over the whole [threshold, 1] range. Class confusion adds doubt:
(0.9, 0.9) gives r = 0.50, (0.9, 0.01) r = 0.89. Only the runner-up enters, for the reason
``BERNOULLI_CLASSES`` gives. Over T passes each pass gives r_t, and ``label_doubt`` = 1 - mean_t r_t in
[0, 1] (zero hits -> 1); ``label_doubt_spread`` = std_t r_t in [0, 0.5] (zero hits -> 0.5);
``label_bald`` = H_b(mean_t r_t) - mean_t H_b(r_t), the mutual information of "the auto-label is right"
with the dropout masks, in [0, ln 2] (zero hits -> ln 2). The spread and BALD are 0 when the passes agree
and measure disagreement, not doubt: they are not monotone in r (at a fixed logit noise BALD is largest
near r = 0.5). ``labels`` (N,) int is the class of each auto-label (``Detections.cls``); None takes the
argmax of the pass-mean scores.

Row-normalised scores (``predictive_entropy``, ``mutual_information``, ``margin``, ``least_confidence`` and
their ``single_*`` baselines): each sigmoid row is turned into a class distribution,
``q = p / p.sum(-1)``; a row that sums to <= ``eps`` (no evidence for any class) becomes uniform. They
measure class confusion only and discard objectness: (0.30, 0.01) and (0.95, 0.03) score alike. With
C == 1 the distribution is always (1,): they carry no information (0 for any box a pass hits).
``score_variance`` and
``one_minus_conf`` work on the raw sigmoid scores, as ultralytics' ``conf`` does.

MC statistics average only over the passes that hit. A box with zero hits gets the maximal value of each
score (stated per function): nothing supports the box, so it must rank as most uncertain.

Ranges, for scaling to [0, 1] (see ``uncertainty.pooling.component_scale``): label doubt [0, 1], its spread
[0, 0.5] and BALD [0, ln 2]; Bernoulli entropy and MI
[0, min(C, 2) ln 2]; row-normalised entropy and MI [0, log C]; margin [0, 1]; least confidence
[0, 1 - 1/C]; score_variance [0, 0.5]; box_spread [0, 1]; detection_inconsistency [0, 1].
"""

from __future__ import annotations

import numpy as np

# A sigmoid row whose sum is at most this carries no class evidence and is normalised to uniform.
NORMALISE_EPS = 1e-12
# Classes per box that the Bernoulli scores sum over: the top class and the runner-up (module docstring).
BERNOULLI_CLASSES = 2
# Box areas below this (pixels^2) count as degenerate; their spread is computed against this floor.
MIN_BOX_AREA = 1e-12


# ---------------------------------------------------------------- distributions


def normalise(probs: np.ndarray, *, eps: float = NORMALISE_EPS) -> np.ndarray:
    """Turn nonnegative class scores into a distribution over the last axis.

    probs: (..., C) nonnegative scores (sigmoid rows). Returns (..., C) float64 whose rows sum to 1:
    ``p / p.sum(-1)``, or uniform ``1 / C`` where the row sums to <= ``eps``.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim < 1 or p.shape[-1] < 1:
        raise ValueError(f"probs must have shape (..., C) with C >= 1, got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probs must be finite and nonnegative")
    total = p.sum(axis=-1, keepdims=True)
    empty = total <= eps
    return np.where(empty, 1.0 / p.shape[-1], p / np.where(empty, 1.0, total))


def entropy(dist: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats of distributions over the last axis, with 0 log 0 = 0.

    dist: (..., C), rows already summing to 1 (use ``normalise`` first; this function does not).
    Returns (...) float64 in [0, log C] (clipped there against float noise).
    """
    q = np.asarray(dist, dtype=np.float64)
    if q.ndim < 1 or q.shape[-1] < 1:
        raise ValueError(f"dist must have shape (..., C) with C >= 1, got {q.shape}")
    plogp = q * np.log(np.where(q > 0, q, 1.0))
    return np.clip(-plogp.sum(axis=-1), 0.0, np.log(q.shape[-1]))


def binary_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in nats of Bernoulli variables with success probabilities ``probs``, elementwise.

    probs: any shape, values in [0, 1]. Returns the same shape, float64, in [0, ln 2]; 0 at 0 and 1.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    q = 1.0 - p
    h = -(p * np.log(np.where(p > 0, p, 1.0)) + q * np.log(np.where(q > 0, q, 1.0)))
    return np.clip(h, 0.0, np.log(2.0))


# ---------------------------------------------------------------- validation and hit-weighted means


def _check_scores(values: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
        raise ValueError(f"{name} must hold sigmoid scores in [0, 1] (on hit passes)")


def _check_hits(hits: np.ndarray | None, shape: tuple[int, int], name: str = "hits") -> np.ndarray:
    if hits is None:
        return np.ones(shape, dtype=bool)
    h = np.asarray(hits)
    if h.shape != shape:
        raise ValueError(f"{name} must have shape (T, N) = {shape}, got {h.shape}")
    if h.dtype != bool:
        if not (np.issubdtype(h.dtype, np.integer) and np.all((h == 0) | (h == 1))):
            raise ValueError(f"{name} must be a bool array of shape (T, N), got dtype {h.dtype}")
        h = h.astype(bool)
    return h


def _mc_inputs(mc_probs: np.ndarray, hits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Validated (T, N, C) float64 scores and (T, N) bool hits (None: all hit); missed entries are zeroed so
    they cannot leak. ValueError on a bad shape, or a hit score outside [0, 1]."""
    p = np.asarray(mc_probs, dtype=np.float64)
    if p.ndim != 3 or p.shape[0] < 1 or p.shape[2] < 1:
        raise ValueError(f"mc_probs must have shape (T, N, C) with T >= 1 and C >= 1, got {p.shape}")
    h = _check_hits(hits, p.shape[:2])
    p = np.where(h[..., None], p, 0.0)
    _check_scores(p, "mc_probs")
    return p, h


def _single_input(probs: np.ndarray) -> np.ndarray:
    """Validated (N, C) float64 sigmoid scores of one pass; ValueError on a bad shape or value."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"probs must have shape (N, C) with C >= 1, got {p.shape}")
    _check_scores(p, "probs")
    return p


def _hit_mean(values: np.ndarray, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over hit passes: values (T, N, K), hits (T, N) -> ((N, K) mean, (N,) hit count).

    Boxes with zero hits get a mean of 0 (callers overwrite them with their maximal value).
    """
    count = hits.sum(axis=0)
    total = np.where(hits[..., None], values, 0.0).sum(axis=0)
    return total / np.maximum(count, 1)[:, None], count


def _mean_dist(p: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pass distributions (T, N, C), their hit mean (N, C) and the hit count (N,)."""
    q = normalise(p)
    mean_q, count = _hit_mean(q, h)
    return q, mean_q, count


def _margin_of(dist: np.ndarray) -> np.ndarray:
    if dist.shape[-1] == 1:  # one class: the runner-up has probability 0
        return np.clip(1.0 - dist[..., 0], 0.0, 1.0)
    top = np.partition(dist, dist.shape[-1] - 2, axis=-1)
    return np.clip(1.0 - (top[..., -1] - top[..., -2]), 0.0, 1.0)


def _least_confidence_of(dist: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - dist.max(axis=-1), 0.0, 1.0 - 1.0 / dist.shape[-1])


# ---------------------------------------------------------------- MC scores: (T, N, C) -> (N,)


def predictive_entropy(mc_probs: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """Entropy of the mean distribution over hit passes, H(mean_t q_t), in nats.

    mc_probs: (T, N, C) sigmoid scores; hits: optional (T, N) bool. Returns (N,) in [0, log C];
    zero hits -> log C.
    """
    p, h = _mc_inputs(mc_probs, hits)
    _, mean_q, count = _mean_dist(p, h)
    return np.where(count > 0, entropy(mean_q), np.log(p.shape[2]))


def mutual_information(mc_probs: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """BALD: H(mean_t q_t) - mean_t H(q_t) over hit passes, in nats; the disagreement between passes.

    mc_probs: (T, N, C) sigmoid scores; hits: optional (T, N) bool. Returns (N,) in [0, log C] (float noise
    clipped at 0); 0 when all hit passes agree, so 0 for T == 1 or a single hit; zero hits -> log C.
    """
    p, h = _mc_inputs(mc_probs, hits)
    q, mean_q, count = _mean_dist(p, h)
    expected, _ = _hit_mean(entropy(q)[..., None], h)
    mi = np.clip(entropy(mean_q) - expected[:, 0], 0.0, np.log(p.shape[2]))
    return np.where(count > 0, mi, np.log(p.shape[2]))


def margin(mc_probs: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """One minus the gap between the two most likely classes of the mean distribution over hit passes.

    mc_probs: (T, N, C) sigmoid scores; hits: optional (T, N) bool. Returns (N,) in [0, 1]; zero hits -> 1.
    """
    p, h = _mc_inputs(mc_probs, hits)
    _, mean_q, count = _mean_dist(p, h)
    return np.where(count > 0, _margin_of(mean_q), 1.0)


def least_confidence(mc_probs: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """One minus the largest probability of the mean distribution over hit passes.

    mc_probs: (T, N, C) sigmoid scores; hits: optional (T, N) bool. Returns (N,) in [0, 1 - 1/C];
    zero hits -> 1 - 1/C.
    """
    p, h = _mc_inputs(mc_probs, hits)
    _, mean_q, count = _mean_dist(p, h)
    return np.where(count > 0, _least_confidence_of(mean_q), 1.0 - 1.0 / p.shape[2])


def score_variance(mc_probs: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """Standard deviation over hit passes of the top-class sigmoid score (population std, ddof=0).

    The class is fixed per box: the argmax of the mean *raw sigmoid* scores over hit passes (the class
    ultralytics would report), so a class swap between passes shows up as spread. mc_probs: (T, N, C);
    hits: optional (T, N) bool. Returns (N,) in [0, 0.5]; 0 for a single hit; zero hits -> 0.5.
    """
    p, h = _mc_inputs(mc_probs, hits)
    mean_p, count = _hit_mean(p, h)
    top = mean_p.argmax(axis=1)  # (N,)
    score = p[:, np.arange(p.shape[1]), top][..., None]  # (T, N, 1)
    mean_s, _ = _hit_mean(score, h)
    var, _ = _hit_mean((score - mean_s[None]) ** 2, h)
    std = np.clip(np.sqrt(var[:, 0]), 0.0, 0.5)
    return np.where(count > 0, std, 0.5)


# ---------------------------------------------------------------- Bernoulli scores: (T, N, C) -> (N,)


def _top_class_scores(mc_p: np.ndarray, mean_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``BERNOULLI_CLASSES`` classes with the largest pass-mean score, per box.

    mc_p (T, N, C), mean_p (N, C) -> ((T, N, K) per-pass scores, (N, K) mean scores), K = min(C, 2).
    """
    k = min(BERNOULLI_CLASSES, mean_p.shape[1])
    top = np.argsort(-mean_p, axis=1, kind="stable")[:, :k]  # (N, K)
    return np.take_along_axis(mc_p, top[None], axis=2), np.take_along_axis(mean_p, top, axis=1)


def bernoulli_entropy(mc_probs: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """Summed Bernoulli entropy of the pass-mean scores of each box's top two classes, in nats.

    sum_k H_b(mean_t p_tk) over hit passes (module docstring). mc_probs: (T, N, C) sigmoid scores, C >= 1;
    hits: optional (T, N) bool. Returns (N,) in [0, min(C, 2) ln 2]; zero hits -> min(C, 2) ln 2.
    """
    p, h = _mc_inputs(mc_probs, hits)
    mean_p, count = _hit_mean(p, h)
    _, top_mean = _top_class_scores(p, mean_p)
    top = min(BERNOULLI_CLASSES, p.shape[2]) * np.log(2.0)
    return np.where(count > 0, binary_entropy(top_mean).sum(axis=1), top)


def bernoulli_mutual_information(mc_probs: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """BALD of the Bernoulli variables of each box's top two classes, in nats.

    sum_k [H_b(mean_t p_tk) - mean_t H_b(p_tk)] over hit passes (module docstring). mc_probs: (T, N, C)
    sigmoid scores, C >= 1; hits: optional (T, N) bool. Returns (N,) in [0, ``bernoulli_entropy``]; 0 when
    all hit passes agree (so for T == 1 or a single hit); zero hits -> min(C, 2) ln 2.
    """
    p, h = _mc_inputs(mc_probs, hits)
    mean_p, count = _hit_mean(p, h)
    top_p, top_mean = _top_class_scores(p, mean_p)
    total = binary_entropy(top_mean)  # (N, K)
    expected, _ = _hit_mean(binary_entropy(top_p), h)  # (N, K)
    mi = np.clip(total - expected, 0.0, None).sum(axis=1)  # each term >= 0 up to float noise
    top = min(BERNOULLI_CLASSES, p.shape[2]) * np.log(2.0)
    return np.where(count > 0, np.minimum(mi, total.sum(axis=1)), top)


# ---------------------------------------------------------------- MC localisation and detection


def box_spread(mc_boxes: np.ndarray, *, hits: np.ndarray | None = None) -> np.ndarray:
    """Scale-free localisation spread: mean over the 4 coordinates of the std over hit passes, divided by
    the square root of the area of the mean box.

    mc_boxes: (T, N, 4) xyxy pixels; hits: optional (T, N) bool. Returns (N,) unitless in [0, 1] (clipped:
    1 means a spread as large as the box itself). 0 when all hit passes agree (and for a single hit); a
    degenerate mean box with spread gives 1; zero hits -> 1.0. Multiplying all coordinates by a constant
    leaves it unchanged.
    """
    b = np.asarray(mc_boxes, dtype=np.float64)
    if b.ndim != 3 or b.shape[0] < 1 or b.shape[2] != 4:
        raise ValueError(f"mc_boxes must have shape (T, N, 4) with T >= 1, got {b.shape}")
    h = _check_hits(hits, b.shape[:2])
    b = np.where(h[..., None], b, 0.0)
    if not np.all(np.isfinite(b)):
        raise ValueError("mc_boxes must be finite (on hit passes)")
    mean_box, count = _hit_mean(b, h)  # (N, 4)
    var, _ = _hit_mean((b - mean_box[None]) ** 2, h)
    std = np.sqrt(var).mean(axis=1)  # (N,)
    area = np.clip(mean_box[:, 2] - mean_box[:, 0], 0.0, None) * np.clip(
        mean_box[:, 3] - mean_box[:, 1], 0.0, None
    )
    spread = np.where(std > 0, std / np.sqrt(np.maximum(area, MIN_BOX_AREA)), 0.0)
    return np.where(count > 0, np.clip(spread, 0.0, 1.0), 1.0)


def detection_inconsistency(hits: np.ndarray) -> np.ndarray:
    """Fraction of passes that miss each box, 1 - (hit rate over T).

    hits: (T, N) bool with T >= 1. Returns (N,) in [0, 1]; a box found by every pass scores 0.
    """
    h = np.asarray(hits)
    if h.ndim != 2 or h.shape[0] < 1:
        raise ValueError(f"hits must have shape (T, N) with T >= 1, got {h.shape}")
    h = _check_hits(h, h.shape)
    return 1.0 - h.mean(axis=0, dtype=np.float64)


# ---------------------------------------------------------------- single-pass baselines: (N, C) -> (N,)


def single_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in nats of one deterministic pass's normalised scores.

    probs: (N, C) sigmoid scores. Returns (N,) in [0, log C]; equals ``predictive_entropy`` with T == 1.
    """
    return entropy(normalise(_single_input(probs)))


def single_margin(probs: np.ndarray) -> np.ndarray:
    """One minus the gap between the two largest normalised scores of one deterministic pass.

    probs: (N, C) sigmoid scores. Returns (N,) in [0, 1]; equals ``margin`` with T == 1.
    """
    return _margin_of(normalise(_single_input(probs)))


def single_least_confidence(probs: np.ndarray) -> np.ndarray:
    """One minus the largest normalised score of one deterministic pass.

    probs: (N, C) sigmoid scores. Returns (N,) in [0, 1 - 1/C]; equals ``least_confidence`` with T == 1.
    """
    return _least_confidence_of(normalise(_single_input(probs)))


def single_bernoulli_entropy(probs: np.ndarray) -> np.ndarray:
    """Summed Bernoulli entropy of the top two classes' scores of one deterministic pass, in nats.

    probs: (N, C) sigmoid scores, C >= 1. Returns (N,) in [0, min(C, 2) ln 2]; equals
    ``bernoulli_entropy`` with T == 1.
    """
    p = _single_input(probs)
    return bernoulli_entropy(p[None])


def one_minus_conf(probs: np.ndarray) -> np.ndarray:
    """One minus ultralytics' ``conf``, the largest raw (unnormalised) sigmoid score: the stock baseline.

    probs: (N, C) sigmoid scores. Returns (N,) in [0, 1].
    """
    return 1.0 - _single_input(probs).max(axis=1)


# ---------------------------------------------------------------- label doubt: the per-box default


def label_probability(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """P(the auto-label is right) from its class scores: (..., N, C) sigmoid scores, (N,) int labels.

    Returns (..., N) float64 in [0, 1] (module docstring, "Label doubt"): p_l (1 - p_l p_o / (p_l + p_o)),
    p_o the largest other class score (0 for C == 1).
    """
    p = np.asarray(probs, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != p.shape[-2:-1] or (lab.size and (lab.min() < 0 or lab.max() >= p.shape[-1])):
        raise ValueError(f"labels must be (N,) class ids < C for scores of shape {p.shape}, got {lab.shape}")
    index = np.broadcast_to(lab[:, None], (*p.shape[:-1], 1))
    p_label = np.take_along_axis(p, index, axis=-1)[..., 0]
    if p.shape[-1] == 1:
        return np.clip(p_label, 0.0, 1.0)
    others = p.copy()
    np.put_along_axis(others, index, -np.inf, axis=-1)
    p_other = others.max(axis=-1)
    total = p_label + p_other
    share = np.divide(p_label * p_other, total, out=np.zeros_like(total), where=total > 0)
    return np.clip(p_label * (1.0 - share), 0.0, 1.0)


def _labels(mean_p: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    return mean_p.argmax(axis=1) if labels is None else np.asarray(labels, dtype=np.int64)


def _pass_probabilities(
    mc_probs: np.ndarray, hits: np.ndarray | None, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r (T, N) per pass, hits (T, N), hit count (N,)) of validated MC scores."""
    p, h = _mc_inputs(mc_probs, hits)
    mean_p, count = _hit_mean(p, h)
    return label_probability(p, _labels(mean_p, labels)), h, count


def label_doubt_terms(
    mc_probs: np.ndarray, *, hits: np.ndarray | None = None, labels: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """``label_doubt``, ``label_doubt_spread`` and ``label_bald`` in one pass over the scores (the label job
    computes all three per image): (T, N, C) -> {name: (N,)}, each as its own function documents."""
    r, h, count = _pass_probabilities(mc_probs, hits, labels)
    mean_r, _ = _hit_mean(r[..., None], h)
    var, _ = _hit_mean((r[..., None] - mean_r[None]) ** 2, h)
    expected, _ = _hit_mean(binary_entropy(r)[..., None], h)
    mi = np.clip(binary_entropy(mean_r[:, 0]) - expected[:, 0], 0.0, np.log(2.0))
    found = count > 0
    return {
        "label_doubt": np.where(found, np.clip(1.0 - mean_r[:, 0], 0.0, 1.0), 1.0),
        "label_doubt_spread": np.where(found, np.clip(np.sqrt(var[:, 0]), 0.0, 0.5), 0.5),
        "label_bald": np.where(found, mi, np.log(2.0)),
    }


def label_doubt(
    mc_probs: np.ndarray, *, hits: np.ndarray | None = None, labels: np.ndarray | None = None
) -> np.ndarray:
    """1 - mean over hit passes of P(the auto-label is right): (T, N, C) -> (N,) in [0, 1]; zero hits -> 1."""
    return label_doubt_terms(mc_probs, hits=hits, labels=labels)["label_doubt"]


def label_doubt_spread(
    mc_probs: np.ndarray, *, hits: np.ndarray | None = None, labels: np.ndarray | None = None
) -> np.ndarray:
    """Std over hit passes of P(the auto-label is right): (T, N, C) -> (N,) in [0, 0.5]; zero hits -> 0.5."""
    return label_doubt_terms(mc_probs, hits=hits, labels=labels)["label_doubt_spread"]


def label_bald(
    mc_probs: np.ndarray, *, hits: np.ndarray | None = None, labels: np.ndarray | None = None
) -> np.ndarray:
    """BALD of "the auto-label is right" over hit passes, in nats: (T, N, C) -> (N,) in [0, ln 2].

    H_b(mean_t r_t) - mean_t H_b(r_t); 0 when the passes agree (so for T == 1); zero hits -> ln 2.
    """
    return label_doubt_terms(mc_probs, hits=hits, labels=labels)["label_bald"]


def single_label_doubt(probs: np.ndarray, *, labels: np.ndarray | None = None) -> np.ndarray:
    """1 - P(the auto-label is right) of one deterministic pass: (N, C) -> (N,) in [0, 1].

    Equals ``label_doubt`` with T == 1.
    """
    p = _single_input(probs)
    return 1.0 - label_probability(p, _labels(p, labels))
