"""Per-seed results -> the experiment's ``metrics.json``: means, spreads, 95% CIs and paired differences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from experiments.constants import MODEL_NAMES as MODELS
from experiments.constants import OPTIONAL_MODELS, PAIRS
from experiments.stats import paired_difference, summarize

OVERALL = ("map50_95", "map50", "precision", "recall", "boost")
PER_CLASS = ("precision", "recall", "ap50", "ap50_95", "boost")
PAIRED_OVERALL = ("map50_95", "map50", "boost")
PAIRED_CLASS = ("ap50_95", "boost")


def _value(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _series(results: Sequence[Mapping], model: str, metric: str, cls: str | None = None) -> list[float]:
    out = []
    for r in results:
        m = r["models"][model]
        out.append(_value(m["per_class"][cls][metric] if cls else m[metric]))
    return out


def reported_models(results: Sequence[Mapping]) -> tuple[str, ...]:
    """CAL1, CONTROL, CAL2 and each optional model (the same-time control, the no-new-labels baseline) that
    every seed trained."""
    optional = [m for m in OPTIONAL_MODELS if results and all(m in r["models"] for r in results)]
    return (*MODELS, *optional)


def summary(results: Sequence[Mapping], classes: Sequence[str]) -> dict[str, Any]:
    """``models`` (every figure summarised over seeds) and ``paired`` (a - b per seed, summarised)."""
    models = {}
    present = reported_models(results)
    for model in present:
        entry = {metric: summarize(_series(results, model, metric)) for metric in OVERALL}
        entry["per_class"] = {
            cls: {metric: summarize(_series(results, model, metric, cls)) for metric in PER_CLASS}
            for cls in classes
        }
        models[model] = entry
    paired = {}
    for a, b in (pair for pair in PAIRS if set(pair) <= set(present)):
        entry = {m: paired_difference(_series(results, a, m), _series(results, b, m)) for m in PAIRED_OVERALL}
        entry["per_class"] = {
            cls: {
                m: paired_difference(_series(results, a, m, cls), _series(results, b, m, cls))
                for m in PAIRED_CLASS
            }
            for cls in classes
        }
        paired[f"{a}-{b}"] = entry
    return {"models": models, "paired": paired}


def ordering(results: Sequence[Mapping], metric: str = "map50_95") -> dict[str, Any]:
    """How often CAL1 < CONTROL < CAL2 held, per seed, in ``metric``."""
    held = [
        _value(r["models"][MODELS[0]][metric])
        < _value(r["models"][MODELS[1]][metric])
        < _value(r["models"][MODELS[2]][metric])
        for r in results
    ]
    return {"metric": metric, "seeds_holding": int(np.sum(held)), "seeds": len(held)}


def stage_totals(results: Sequence[Mapping]) -> dict[str, float]:
    """Seconds per stage summed over seeds, plus ``total`` and ``per_seed_mean``."""
    totals: dict[str, float] = {}
    for r in results:
        for stage, seconds in r["stage_seconds"].items():
            totals[stage] = round(totals.get(stage, 0.0) + float(seconds), 2)
    total = round(sum(totals.values()), 2)
    return {**totals, "total": total, "per_seed_mean": round(total / max(len(results), 1), 2)}
