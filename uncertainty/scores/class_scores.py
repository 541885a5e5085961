"""Per-box scores from class scores and boxes: the row-normalised and Bernoulli families, score variance,
box spread, detection inconsistency and their single-pass baselines (shapes: :mod:`uncertainty.scores`).

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
``label_doubt`` (:mod:`uncertainty.scores.label_doubt`), 1 - P(the auto-label is right), which is monotone.

Row-normalised scores (``predictive_entropy``, ``mutual_information``, ``margin``, ``least_confidence`` and
their ``single_*`` baselines): each sigmoid row is turned into a class distribution,
``q = p / p.sum(-1)``; a row that sums to <= ``eps`` (no evidence for any class) becomes uniform. They
measure class confusion only and discard objectness: (0.30, 0.01) and (0.95, 0.03) score alike. With
C == 1 the distribution is always (1,): they carry no information (0 for any box a pass hits).
``score_variance`` and
``one_minus_conf`` work on the raw sigmoid scores, as ultralytics' ``conf`` does.

MC statistics average only over the passes that hit. A box with zero hits gets the maximal value of each
score (stated per function): nothing supports the box, so it must rank as most uncertain.

"""

from __future__ import annotations

import numpy as np

from uncertainty.scores.base import (
    BERNOULLI_CLASSES,
    MIN_BOX_AREA,
    _check_hits,
    _hit_mean,
    _least_confidence_of,
    _margin_of,
    _mc_inputs,
    _mean_dist,
    _single_input,
    binary_entropy,
    entropy,
    normalise,
)

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
