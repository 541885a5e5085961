"""One uncertainty score per image from its MC samples, and the fields the auto-label job records.

Per box (N candidates of the deterministic pass, NMS at ``candidate_conf``; "kept" = conf >= the
operating threshold, the boxes a person will see), each component scaled into [0, 1]
(:func:`uncertainty.pooling.component_scale`):
- the doubt that the auto-label is right, 1 - P(right) over T passes (the default with ``1 - conf``;
  monotone in the box's scores, any C >= 1), with its MC spread and BALD (see :mod:`uncertainty.scores`);
- class and objectness uncertainty over T passes: the Bernoulli entropy and mutual information (BALD) of
  the top two classes' sigmoid scores (not monotone for a kept box below 0.5), the row-normalised
  predictive entropy, mutual information, margin and least confidence (class confusion only), the std of
  the top score (see :mod:`uncertainty.scores`);
- localisation: box spread (std of the T boxes over the square root of the mean box's area);
- detection flip: the fraction of passes in which the box changes side of the operating threshold
  (a kept box dropping below it, a near miss rising above it). Near misses are how a missed object shows.
Single-pass baselines (label doubt, Bernoulli entropy, entropy, margin, least confidence, 1 - conf of
the deterministic pass) come along for comparison.

Combination: a kept box's uncertainty is the weighted mean of its components (``weights``); a near miss's
is its detection flip alone (it has no class a person sees). The image ``score`` pools these over all
candidates (``pooling``: max, mean, sum or a soft maximum). An image with no kept box is ``failed``; one
with no candidate at all has score nan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autolabel.structures import Detections
from uncertainty import scores
from uncertainty.pooling import Pooling, combine, component_scale
from uncertainty.samples import MCSamples

MC_CLASS = (
    "bernoulli_entropy",
    "bernoulli_mutual_information",
    "predictive_entropy",
    "mutual_information",
    "margin",
    "least_confidence",
    "score_variance",
)
LABEL_DOUBT = ("label_doubt", "label_doubt_spread", "label_bald")
SINGLE_PASS = (
    "single_label_doubt",
    "single_bernoulli_entropy",
    "single_entropy",
    "single_margin",
    "single_least_confidence",
    "one_minus_conf",
)
FLIP = "detection_flip"
COMPONENTS = (*LABEL_DOUBT, *MC_CLASS, "box_spread", FLIP, *SINGLE_PASS)
DEFAULT_WEIGHTS = {"label_doubt": 1.0, "one_minus_conf": 1.0}  # as conf/uncertainty/mc_dropout.yaml


def box_components(samples: MCSamples, *, conf: float) -> dict[str, np.ndarray]:
    """Every per-box component, each (N,) in [0, 1], for the N candidates of ``samples``."""
    cand = samples.candidates
    n_classes = cand.num_classes
    kept = cand.conf >= conf
    observed = ~np.isnan(samples.boxes[..., 0])  # (T, N): False where an IoU-mode pass missed the box
    out: dict[str, np.ndarray] = {}
    for name in MC_CLASS:
        out[name] = getattr(scores, name)(samples.probs, hits=observed) / component_scale(name, n_classes)
    terms = scores.label_doubt_terms(samples.probs, hits=observed, labels=cand.cls)
    for name in LABEL_DOUBT:
        out[name] = terms[name] / component_scale(name, n_classes)
    out["box_spread"] = scores.box_spread(np.nan_to_num(samples.boxes), hits=observed)
    flips = samples.hits != kept[None, :]  # (T, N) pass t puts box n on the other side of the threshold
    out[FLIP] = flips.mean(0) if flips.size else np.zeros(len(cand))
    out["single_label_doubt"] = scores.single_label_doubt(cand.probs, labels=cand.cls)
    for name in SINGLE_PASS[1:]:
        out[name] = getattr(scores, name)(cand.probs) / component_scale(name, n_classes)
    return {name: np.clip(np.asarray(v, np.float64), 0.0, 1.0) for name, v in out.items()}


def box_components_batch(batch: Sequence[MCSamples], *, conf: float) -> list[dict[str, np.ndarray]]:
    """:func:`box_components` of each image in ``batch``, computed over all their boxes at once.

    The components are per box, so the values are those of one call per image; one call over the
    concatenated (T, sum N, C) arrays costs about a third of the per-image calls (numpy's overhead per
    call dominates at a few boxes an image). Images with another T or C than the first are done alone.
    """
    if len(batch) < 2:
        return [box_components(s, conf=conf) for s in batch]
    shape = (batch[0].probs.shape[0], batch[0].probs.shape[2])
    same = [s.probs.shape[0] == shape[0] and s.probs.shape[2] == shape[1] for s in batch]
    if not all(same):
        return [box_components(s, conf=conf) for s in batch]
    joined = MCSamples(
        Detections(
            np.concatenate([s.candidates.xyxy for s in batch]),
            np.concatenate([s.candidates.conf for s in batch]),
            np.concatenate([s.candidates.cls for s in batch]),
            np.concatenate([s.candidates.probs for s in batch]).reshape(-1, shape[1]),
        ),
        np.concatenate([s.probs for s in batch], axis=1),
        np.concatenate([s.boxes for s in batch], axis=1),
        np.concatenate([s.hits for s in batch], axis=1),
    )
    comps = box_components(joined, conf=conf)
    cuts = np.cumsum([len(s.candidates) for s in batch])[:-1]
    parts = {name: np.split(values, cuts) for name, values in comps.items()}
    return [{name: parts[name][i] for name in comps} for i in range(len(batch))]


@dataclass(frozen=True)
class ImageScorer:
    """Per-box components -> one image score (see the module docstring); Hydra-instantiable.

    weights: component name -> weight for kept boxes (>= 0); pooling: how box values become one value.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    pooling: Pooling = field(default_factory=lambda: Pooling(method="sum"))

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"weights: unknown components {sorted(unknown)}; known: {list(COMPONENTS)}")
        object.__setattr__(self, "weights", {k: float(v) for k, v in self.weights.items()})

    def box_uncertainty(self, components: Mapping[str, np.ndarray], kept: np.ndarray) -> np.ndarray:
        """(N,) per-box uncertainty: the weighted components for kept boxes, the detection flip otherwise."""
        combined = combine(components, weights=self.weights) if len(kept) else np.zeros(0)
        return np.where(kept, combined, components[FLIP])

    def record_fields(
        self, samples: MCSamples, *, conf: float, components: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, Any]:
        """``score``, ``components`` (each pooled over its boxes), ``n_candidates`` and ``failed``.

        components: :func:`box_components` of ``samples`` at ``conf`` when the caller has them already.
        """
        comps = box_components(samples, conf=conf) if components is None else components
        kept = samples.candidates.conf >= conf
        per_box = self.box_uncertainty(comps, kept)
        pooled = {
            name: self.pooling(values if name == FLIP else values[kept]) for name, values in comps.items()
        }
        return {
            "score": _json_float(self.pooling(per_box)),
            "components": {name: _json_float(v) for name, v in pooled.items()},
            "n_candidates": int(len(kept)),
            "failed": bool(not kept.any()),
        }


def _json_float(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)
