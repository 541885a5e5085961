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

Ranges, for scaling to [0, 1] (see ``uncertainty.pooling.component_scale``): label doubt [0, 1], its spread
[0, 0.5] and BALD [0, ln 2]; Bernoulli entropy and MI
[0, min(C, 2) ln 2]; row-normalised entropy and MI [0, log C]; margin [0, 1]; least confidence
[0, 1 - 1/C]; score_variance [0, 0.5]; box_spread [0, 1]; detection_inconsistency [0, 1].

Modules: :mod:`~uncertainty.scores.base` (distributions, entropies, checks),
:mod:`~uncertainty.scores.class_scores` (row-normalised and Bernoulli scores, box spread, the single-pass
baselines), :mod:`~uncertainty.scores.label_doubt` (the per-box default). Every score is importable from
here.
"""

from uncertainty.scores.base import (
    BERNOULLI_CLASSES,
    MIN_BOX_AREA,
    NORMALISE_EPS,
    binary_entropy,
    entropy,
    normalise,
)
from uncertainty.scores.class_scores import (
    bernoulli_entropy,
    bernoulli_mutual_information,
    box_spread,
    detection_inconsistency,
    least_confidence,
    margin,
    mutual_information,
    one_minus_conf,
    predictive_entropy,
    score_variance,
    single_bernoulli_entropy,
    single_entropy,
    single_least_confidence,
    single_margin,
)
from uncertainty.scores.label_doubt import (
    label_bald,
    label_doubt,
    label_doubt_spread,
    label_doubt_terms,
    label_probability,
    single_label_doubt,
)

__all__ = [
    "BERNOULLI_CLASSES",
    "MIN_BOX_AREA",
    "NORMALISE_EPS",
    "bernoulli_entropy",
    "bernoulli_mutual_information",
    "binary_entropy",
    "box_spread",
    "detection_inconsistency",
    "entropy",
    "label_bald",
    "label_doubt",
    "label_doubt_spread",
    "label_doubt_terms",
    "label_probability",
    "least_confidence",
    "margin",
    "mutual_information",
    "normalise",
    "one_minus_conf",
    "predictive_entropy",
    "score_variance",
    "single_bernoulli_entropy",
    "single_entropy",
    "single_label_doubt",
    "single_least_confidence",
    "single_margin",
]
