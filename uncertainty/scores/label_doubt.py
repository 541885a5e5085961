"""Label doubt, the per-box default: 1 - P(the auto-label is right), with its MC spread and BALD.

``label_doubt``, ``label_doubt_spread``, ``label_bald``, ``single_label_doubt``: an auto-label says "an object
of class ``label`` is here", and from the box's sigmoid scores the probability that it is right is::

    r = P(an object is there) * P(it is of class label | an object is there)
      = (1 - (1 - p_l) (1 - p_o)) * p_l / (p_l + p_o)  =  p_l (1 - p_l p_o / (p_l + p_o))

with p_l the score of the labeled class and p_o the largest score of any other class (0 when C == 1, so r =
p_l; 0 / 0 = 0). r is increasing in p_l and decreasing in p_o on all of [0, 1]^2 (d r / d p_l = 1 - p_l p_o
(p_l + 2 p_o) / (p_l + p_o)^2 > 0), so the doubt 1 - r ranks a kept box at 0.10 above one at 0.45 above one at
0.90 over the whole [threshold, 1] range. Class confusion adds doubt: (0.9, 0.9) gives r = 0.50, (0.9, 0.01) r
= 0.89. Only the runner-up enters, for the reason ``BERNOULLI_CLASSES`` gives
(:mod:`uncertainty.scores.class_scores`). Over T passes each pass gives r_t, and ``label_doubt`` = 1 - mean_t
r_t in [0, 1] (zero hits -> 1); ``label_doubt_spread`` = std_t r_t in [0, 0.5] (zero hits -> 0.5);
``label_bald`` = H_b(mean_t r_t) - mean_t H_b(r_t), the mutual information of "the auto-label is right" with
the dropout masks, in [0, ln 2] (zero hits -> ln 2). The spread and BALD are 0 when the passes agree and
measure disagreement, not doubt: they are not monotone in r (at a fixed logit noise BALD is largest near r =
0.5). ``labels`` (N,) int is the class of each auto-label (``Detections.cls``); None takes the argmax of the
pass-mean scores.

Shapes: :mod:`uncertainty.scores`.
"""

from __future__ import annotations

import numpy as np

from uncertainty.scores.base import _hit_mean, _mc_inputs, _single_input, binary_entropy

# ---------------------------------------------------------------- label doubt: the per-box default


def label_probability(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """P(the auto-label is right) from its class scores: (..., N, C) sigmoid scores, (N,) int labels.

    Returns (..., N) float64 in [0, 1] (module docstring): p_l (1 - p_l p_o / (p_l + p_o)),
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
