"""Missed objects, measured on their own: does an image's miss estimate rank images by what they miss?

Each estimate is one (K,) float per image (the evidence of :mod:`uncertainty.misses`, the error model's
expected misses); the truth is the number of truth boxes no auto-label matched (FN). The measure is the
Spearman correlation of the two over the evaluated images, failed ones included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import spearmanr


def evaluate_misses(estimates: Mapping[str, np.ndarray], missed: np.ndarray) -> dict[str, Any]:
    """Spearman of each (K,) estimate with the (K,) true miss counts; nan when either side is constant.

    Returns n_images, n_missed (all FN), n_images_with_miss and ``spearman`` {name: float}.
    """
    truth = np.asarray(missed, dtype=np.float64)
    out = {}
    for name, values in estimates.items():
        v = np.asarray(values, dtype=np.float64)
        if v.shape != truth.shape:
            raise ValueError(f"estimate {name!r} has shape {v.shape}, the miss counts {truth.shape}")
        constant = len(v) < 2 or np.all(v == v[0]) or np.all(truth == truth[0])
        out[name] = math.nan if constant else float(spearmanr(v, truth).statistic)
    return {
        "n_images": len(truth),
        "n_missed": int(truth.sum()),
        "n_images_with_miss": int((truth > 0).sum()),
        "spearman": out,
    }


def miss_table(misses: Mapping[str, Any]) -> str:
    """Plain text of :func:`evaluate_misses` (or its JSON round trip), best estimate first."""
    lines = [
        f"Missed objects: {misses['n_missed']} in {misses['n_images']} images "
        f"({misses['n_images_with_miss']} with a miss); Spearman of each estimate with the true count",
        f"{'estimate':36s} {'Spearman':>9s}",
    ]
    values = {name: math.nan if v is None else float(v) for name, v in misses["spearman"].items()}
    for name, v in sorted(values.items(), key=lambda kv: -np.nan_to_num(kv[1], nan=-2)):
        lines.append(f"{name:36s} {'undefined' if math.isnan(v) else f'{v:.3f}':>9s}")
    return "\n".join(lines)
