"""Labeling rounds across seeds: mean and 95% CI of the metrics per round and strategy, the paired
difference uncertainty - random per round, and the label savings per labeled image and per hand-labeling
hour (:func:`label_savings`). Input: one :func:`experiments.rounds.run_rounds` result per seed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from experiments.rounds import ROUND_METRICS, STRATEGIES
from experiments.stats import paired_difference, summarize


def label_savings(
    spent: Sequence[float],
    uncertainty: Sequence[float],
    random_final: float,
    random_spent: float,
    *,
    unit: str = "labeled images",
) -> dict[str, Any]:
    """How much labeling the uncertainty curve needed to reach random's final mAP.

    spent: (R+1,) labeling spent after each round, in ``unit`` (labeled images, round 0 = GT1 only; or
    hours added to GT1, round 0 = 0); uncertainty: (R+1,) its mean mAP50-95; random_final / random_spent:
    random's last mean mAP50-95 and its labeling spent, same unit. The crossing is interpolated linearly
    between rounds. ``fraction`` = 1 - added_needed / added_by_random (the share of random's added labeling
    saved; None when the curve never reaches the target), ``fraction_needed`` its complement, ``needed``
    the spent value at the crossing; what round 0 holds (GT1) counts for neither.
    """
    x = np.asarray(spent, dtype=float)
    y = np.asarray(uncertainty, dtype=float)
    base, added_by_random = x[0], float(random_spent) - float(x[0])
    needed = math.nan
    if np.isfinite(random_final) and added_by_random > 0 and np.isfinite(x).all():
        for i in range(len(x)):
            if np.isfinite(y[i]) and y[i] >= random_final:
                if i == 0 or not np.isfinite(y[i - 1]) or y[i] == y[i - 1]:
                    needed = float(x[i])
                else:  # crossing between rounds i-1 and i
                    step = (random_final - y[i - 1]) / (y[i] - y[i - 1])
                    needed = float(x[i - 1] + step * (x[i] - x[i - 1]))
                break
    target = f"random's final mAP50-95 {random_final:.3f} ({random_spent:.4g} {unit})"
    if not (np.isfinite(x).all() and np.isfinite(random_spent)):
        return {
            "unit": unit,
            "fraction": None,
            "fraction_needed": None,
            "needed": None,
            "explanation": f"Not known in {unit}: rounds saved before their labeling seconds were recorded.",
        }
    if math.isnan(needed):
        return {
            "unit": unit,
            "fraction": None,
            "fraction_needed": None,
            "needed": None,
            "explanation": f"The uncertainty strategy did not reach {target} within the rounds run.",
        }
    added = needed - base
    return {
        "unit": unit,
        "fraction": round(1.0 - added / added_by_random, 4),
        "fraction_needed": round(added / added_by_random, 4),
        "needed": round(needed, 4),
        "explanation": (
            f"The uncertainty strategy reached {target} at {needed:.4g} {unit}: {added:.4g} added to GT1 "
            f"against random's {added_by_random:.4g}, {added / added_by_random:.0%} of them (interpolated "
            "between rounds, on the mean curves)."
        ),
    }


def cumulative_hours(curve: Sequence[Mapping[str, Any]]) -> list[float]:
    """(R+1,) hand-labeling hours added to GT1 after each round of one curve (round 0 = 0); NaN from the
    first round without ``added_seconds`` (rounds saved before the field existed)."""
    out, total = [], 0.0
    for r in curve:
        seconds = r.get("added_seconds")
        total += math.nan if seconds is None else float(seconds)
        out.append(total / 3600.0)
    return out


def summarize_rounds(per_seed: Sequence[Mapping[str, Sequence[Mapping]]], budget: int) -> dict[str, Any]:
    """Rounds of every seed -> the report's ``rounds`` entry (mean / CI per round, label savings).

    per_seed: one :func:`run_rounds` result per seed, all with the same number of rounds.
    ``paired_map50_95``: per round, :func:`~experiments.stats.paired_difference` of uncertainty - random
    mAP50-95 over seeds (round 0 is CAL1 for both, so its difference is 0).
    """
    strategies: dict[str, Any] = {}
    for strategy in STRATEGIES:
        curves = [seed[strategy] for seed in per_seed]
        n_rounds = min(len(c) for c in curves)
        strategies[strategy] = {
            "labeled": [float(np.mean([c[r]["labeled"] for c in curves])) for r in range(n_rounds)],
            "added_boxes": [float(np.mean([c[r]["added_boxes"] for c in curves])) for r in range(n_rounds)],
            "hours": [float(np.mean([cumulative_hours(c)[r] for c in curves])) for r in range(n_rounds)],
            **{
                metric: [summarize([_number(c[r][metric]) for c in curves]) for r in range(n_rounds)]
                for metric in ROUND_METRICS
            },
        }
    unc, rnd = strategies["uncertainty"], strategies["random"]
    n_paired = min(len(seed[s]) for seed in per_seed for s in STRATEGIES)
    paired = [
        paired_difference(
            [_number(seed["uncertainty"][r]["map50_95"]) for seed in per_seed],
            [_number(seed["random"][r]["map50_95"]) for seed in per_seed],
        )
        for r in range(n_paired)
    ]
    savings = label_savings(
        unc["labeled"],
        [_number(s["mean"]) for s in unc["map50_95"]],
        _number(rnd["map50_95"][-1]["mean"]),
        rnd["labeled"][-1],
    )
    hour_savings = label_savings(
        unc["hours"],
        [_number(s["mean"]) for s in unc["map50_95"]],
        _number(rnd["map50_95"][-1]["mean"]),
        rnd["hours"][-1],
        unit="labeling hours",
    )
    return {
        "budget": budget,
        "seeds": len(per_seed),
        "strategies": strategies,
        "paired_map50_95": paired,
        "label_savings": savings,
        "hour_savings": hour_savings,
    }


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)
