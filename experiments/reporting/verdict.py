"""The report's plain-language verdict: one sentence per paired difference, and the CAL1 < CONTROL < CAL2
ordering. A difference is called significant only when its stored flag says so *and* its 95% CI excludes 0
on the stated side (the statistics' shapes: :mod:`experiments.reporting.markdown`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from experiments.constants import BASELINE, TIME_CONTROL
from experiments.reporting.formatting import get, n_values, points, ratio
from experiments.reporting.plots import MODELS, ci_bounds, number

METRIC_NAMES = {
    "map50_95": "mAP50-95",
    "map50": "mAP50",
    "precision": "precision",
    "recall": "recall",
    "boost": "efficiency boost",
    "ap50_95": "AP50-95",
}
# how a verdict sentence names a model that its short name does not explain
LONG_NAMES = {
    BASELINE: "CAL1 trained as long again on GT1 alone",
    TIME_CONTROL: "CONTROL_TIME (random images, GT2's labeling time)",
}


def significant_direction(stat: Mapping) -> str | None:
    """ "a>b" / "a<b" when the stored flag says significant and the CI agrees, else None."""
    lo, hi = ci_bounds(stat)
    if stat.get("significant") is not True:
        return None
    if stat.get("direction") == "a>b" and lo > 0:
        return "a>b"
    if stat.get("direction") == "a<b" and hi < 0:
        return "a<b"
    return None


def verdict_sentence(pair: str, metric: str, stat: Mapping | None) -> str:
    """One plain-language sentence on the paired difference ``stat`` (a P) of ``pair`` = "A-B"."""
    a, b = (LONG_NAMES.get(m, m) for m in pair.split("-"))
    name = METRIC_NAMES[metric]
    fmt = ratio if metric == "boost" else points
    unit = "" if metric == "boost" else " points"
    mean = number((stat or {}).get("mean"))
    if not stat or math.isnan(mean):
        return f"{a} vs {b} in {name}: n/a (no paired values)."
    delta = f"{fmt(mean, signed=True)}{unit}"
    n = n_values(stat)
    lo, hi = ci_bounds(stat)
    if n < 2:
        return f"{a} vs {b} in {name}: {delta} (one seed: no confidence interval), so no significance claim."
    if math.isnan(lo) or math.isnan(hi):
        return f"{a} vs {b} in {name}: {delta} ({n} seeds, no confidence interval), so no significance claim."
    ci = f"95% CI {fmt(lo, signed=True)} to {fmt(hi, signed=True)}, {n} seeds"
    direction = significant_direction(stat)
    if direction == "a>b":
        return f"{a} beats {b} in {name} by {delta} ({ci}): significant."
    if direction == "a<b":
        return f"{a} is worse than {b} in {name} by {delta} ({ci}): significant."
    note = " (its stored flag says significant, but the CI includes 0)" if stat.get("significant") else ""
    return f"{a} vs {b} in {name}: {delta} ({ci}): not significant{note}."


def ordering_sentence(metrics: Mapping, metric: str) -> str:
    """Whether CAL1 < CONTROL < CAL2 held in the means and in how many seeds."""
    fmt = ratio if metric == "boost" else points
    means = [number(get(metrics, "summary", "models", m, metric, "mean")) for m in MODELS]
    shown = ", ".join(f"{m} {fmt(v)}" for m, v in zip(MODELS, means, strict=True))
    if any(math.isnan(v) for v in means):
        in_means = "cannot be checked in the means"
    else:
        in_means = "holds" if means[0] < means[1] < means[2] else "does not hold"
        in_means += " in the means"
    held = defined = 0
    for seed in (metrics.get("per_seed") or {}).values():
        v = [number(get(seed, "models", m, metric)) for m in MODELS]
        if not any(math.isnan(x) for x in v):
            defined += 1
            held += v[0] < v[1] < v[2]
    return (
        f"Ordering CAL1 < CONTROL < CAL2 in {METRIC_NAMES[metric]}: {in_means} ({shown}); "
        f"holds in {held} of {defined} seeds with all three values."
    )
