"""Per-box scores to one image score: pooling over boxes, weighted combination of score components.

Shapes: per-box values are (N,) float, one value per box of one image, higher = more uncertain. An image
with no boxes (N == 0) pools to ``nan``: the caller flags it as failed rather than as certain.

Scaling before combining: the components of ``uncertainty.scores`` live on different ranges, so
``combine`` expects them already divided by ``component_scale(name, num_classes)``, which brings each into
[0, 1] for C >= 1 classes. A component whose bound is 0 for this C (the row-normalised entropy, MI and
least confidence of one class, identically 0) gets the divisor 1.

==============================================================  ===============
component                                                       divisor
==============================================================  ===============
label_bald                                                      ln 2
label_doubt_spread                                              0.5
bernoulli_entropy, bernoulli_mutual_information,                min(C, 2) ln 2
single_bernoulli_entropy
predictive_entropy, mutual_information, single_entropy          log C (nats)
least_confidence, single_least_confidence                       1 - 1/C
score_variance                                                  0.5
margin, single_margin, box_spread, detection_inconsistency,     1
one_minus_conf, label_doubt, single_label_doubt
==============================================================  ===============
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from uncertainty.scores import BERNOULLI_CLASSES

# Pooling methods ``pool`` knows; "softmax" is a soft maximum (the most uncertain boxes dominate).
POOLING_METHODS = ("max", "mean", "sum", "softmax")
# Softmax temperature in units of the scores: for scores in [0, 1], 0.1 lets a box 0.1 above another weigh
# e (about 2.7) times as much; smaller approaches max, larger approaches mean.
DEFAULT_TEMPERATURE = 0.1

# Divisor bringing each per-box component into [0, 1], as a function of the number of classes C.
COMPONENT_SCALES: dict[str, Callable[[int], float]] = {
    "label_doubt": lambda c: 1.0,  # 1 - P(the auto-label is right)
    "single_label_doubt": lambda c: 1.0,
    "label_doubt_spread": lambda c: 0.5,  # std of values in [0, 1] <= 0.5
    "label_bald": lambda c: math.log(2),  # MI of one binary outcome <= ln 2
    "bernoulli_entropy": lambda c: min(c, BERNOULLI_CLASSES) * math.log(2),  # ln 2 per summed class
    "bernoulli_mutual_information": lambda c: min(c, BERNOULLI_CLASSES) * math.log(2),  # MI <= entropy
    "single_bernoulli_entropy": lambda c: min(c, BERNOULLI_CLASSES) * math.log(2),
    "predictive_entropy": math.log,  # entropy of C classes <= log C
    "mutual_information": math.log,  # MI <= predictive entropy <= log C
    "single_entropy": math.log,
    "least_confidence": lambda c: 1.0 - 1.0 / c,  # max of a C-class distribution >= 1/C
    "single_least_confidence": lambda c: 1.0 - 1.0 / c,
    "score_variance": lambda c: 0.5,  # std of values in [0, 1] <= 0.5
    "margin": lambda c: 1.0,
    "single_margin": lambda c: 1.0,
    "box_spread": lambda c: 1.0,  # clipped to [0, 1] in scores.box_spread
    "detection_inconsistency": lambda c: 1.0,
    "one_minus_conf": lambda c: 1.0,
}


def component_scale(name: str, num_classes: int) -> float:
    """The divisor that brings component ``name`` into [0, 1] for ``num_classes`` (C >= 1) classes.

    The component's upper bound for C classes, or 1 where that bound is 0 (the component is then 0).
    """
    if name not in COMPONENT_SCALES:
        raise KeyError(f"unknown component {name!r}; known: {sorted(COMPONENT_SCALES)}")
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    bound = float(COMPONENT_SCALES[name](int(num_classes)))
    return bound if bound > 0 else 1.0


def _check_method(method: str, temperature: float) -> None:
    if method not in POOLING_METHODS:
        raise ValueError(f"unknown pooling method {method!r}; expected one of {POOLING_METHODS}")
    if method == "softmax" and not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature!r}")


def pool(values: np.ndarray, *, method: str = "max", temperature: float = DEFAULT_TEMPERATURE) -> float:
    """Pool the per-box scores of one image into one image score.

    values: (N,) float. method: "max", "mean", "sum" or "softmax", the soft maximum
    ``sum(v * softmax(v / temperature))``, which lies between mean and max, tends to max as
    temperature -> 0 and to mean as temperature -> inf. N == 0 -> nan. NaN values propagate.
    """
    _check_method(method, temperature)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must have shape (N,), got {v.shape}")
    if v.size == 0:
        return math.nan
    if method == "max":
        return float(v.max())
    if method == "sum":
        return float(v.sum())
    # Rounding can put a float mean a hair above the max; clipping keeps max >= softmax >= mean exact.
    mean = float(np.clip(v.mean(), v.min(), v.max()))
    if method == "mean":
        return mean
    z = v / temperature
    weights = np.exp(z - z.max())  # shifted: the same softmax, without overflow
    soft = float((v * weights).sum() / weights.sum())
    return float(np.clip(soft, mean, v.max())) if math.isfinite(soft) else soft


def combine(components: Mapping[str, np.ndarray], *, weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of per-box components: sum_k w_k c_k / sum_k w_k over the components with w_k > 0.

    components: name -> (N,) float, all the same N, already on a common scale (see ``component_scale``).
    weights: name -> weight >= 0, at least one > 0. Components with weight 0, or with no weight, are
    ignored; a component with weight > 0 must be present (KeyError naming it). Returns (N,) float64.
    """
    for name, w in weights.items():
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"weight of {name!r} must be finite and >= 0, got {w!r}")
    used = {name: float(w) for name, w in weights.items() if w > 0}
    if not used:
        raise ValueError(f"at least one weight must be > 0, got {dict(weights)}")
    missing = [name for name in used if name not in components]
    if missing:
        raise KeyError(f"weighted component(s) missing: {missing}; given: {sorted(components)}")
    arrays = {name: np.asarray(components[name], dtype=np.float64) for name in used}
    lengths = {name: a.shape for name, a in arrays.items()}
    first = next(iter(arrays.values()))
    if any(a.ndim != 1 or a.shape != first.shape for a in arrays.values()):
        raise ValueError(f"weighted components must all have the same shape (N,), got {lengths}")
    total = sum(w * arrays[name] for name, w in used.items())
    return total / sum(used.values())


@dataclass(frozen=True)
class Pooling:
    """A pooling strategy, Hydra-instantiable (``_target_: uncertainty.pooling.Pooling``).

    Calling it on (N,) per-box values returns ``pool(values, method=..., temperature=...)``.
    The method and temperature are checked at construction, so a bad config fails early.
    """

    method: str = "max"
    temperature: float = DEFAULT_TEMPERATURE

    def __post_init__(self) -> None:
        _check_method(self.method, self.temperature)

    def __call__(self, values: np.ndarray) -> float:
        return pool(values, method=self.method, temperature=self.temperature)
