"""How good is each uncertainty score at finding the images whose auto-labels need correction?

Every method is calibrated on one labeled set (VAL) and measured on another (e.g. POOL with its hidden
truth): AUROC and average precision for "needs correction", the correction rate in each difficulty band,
the hard / easy rate ratio and the expected calibration error of ``p_needs_correction``. Failed images
(no kept box) are their own band and are left out of AUROC / AP / ECE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autolabel.structures import Detections
from uncertainty.calibration import (
    DEFAULT_LEVELS,
    DEFAULT_MIN_IMAGES,
    auroc,
    average_precision,
    band_rates,
    calibrate,
    expected_calibration_error,
)
from uncertainty.difficulty import image_scores
from uncertainty.image_score import COMPONENTS

Scored = Sequence[tuple[Detections, dict[str, Any]]]


def method_keys() -> dict[str, str]:
    """Method name -> the record key of its image score (``mc`` is the combined MC-dropout score)."""
    return {"mc": "score", **{name: f"components.{name}" for name in COMPONENTS}}


def _failed(scored: Scored) -> np.ndarray:
    return np.array([fields["failed"] for _, fields in scored], dtype=bool)


def evaluate_method(
    val_scores: np.ndarray,
    val_labels: np.ndarray,
    test_scores: np.ndarray,
    test_labels: np.ndarray,
    test_failed: np.ndarray,
    *,
    levels: tuple[float, float],
    min_images: int,
    require_split: bool = True,
) -> dict[str, Any]:
    """One method's figures; scores (K,) with nan for failed images, labels (K,) bool."""
    calibration = calibrate(
        val_scores, val_labels, levels=levels, min_images=min_images, require_split=require_split
    )
    ok = ~test_failed & ~np.isnan(test_scores)
    difficulty = np.where(test_failed, "failed", calibration.difficulty(test_scores))
    bands = band_rates(difficulty, test_labels)
    easy, hard = bands["easy"]["rate"], bands["hard"]["rate"]
    p = calibration.p_needs_correction(test_scores[ok])
    return {
        "auroc": auroc(test_scores[ok], test_labels[ok]),
        "average_precision": average_precision(test_scores[ok], test_labels[ok]),
        "ece": expected_calibration_error(p, test_labels[ok]) if ok.any() else float("nan"),
        "bands": bands,
        "hard_over_easy": hard / easy if easy and not np.isnan(easy) and not np.isnan(hard) else float("nan"),
        "calibration": calibration.reason,
    }


def evaluate_methods(
    val: Scored,
    val_labels: np.ndarray,
    test: Scored,
    test_labels: np.ndarray,
    *,
    levels: tuple[float, float] = DEFAULT_LEVELS,
    min_images: int = DEFAULT_MIN_IMAGES,
    require_split: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Figures for every method of :func:`method_keys` plus ``random`` (uniform scores from ``seed``)."""
    val_failed, test_failed = _failed(val), _failed(test)
    rng = np.random.default_rng(seed)
    results = {}
    for name, key in {**method_keys(), "random": None}.items():
        if key is None:
            v, t = rng.random(len(val)), rng.random(len(test))
        else:
            v, t = image_scores(val, key), image_scores(test, key)
        results[name] = evaluate_method(
            np.where(val_failed, np.nan, v),
            val_labels,
            np.where(test_failed, np.nan, t),
            test_labels,
            test_failed,
            levels=levels,
            min_images=min_images,
            require_split=require_split,
        )
    return {
        "n_images": len(test),
        "n_failed": int(test_failed.sum()),
        "needs_correction_rate": float(np.mean(test_labels)) if len(test_labels) else float("nan"),
        "failed_needs_correction_rate": float(np.mean(test_labels[test_failed]))
        if test_failed.any()
        else None,
        "methods": results,
    }


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def table(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_methods`' figures, best AUROC first.

    Also for a result read back from ``uncertainty_eval.json``, where an undefined figure is null.
    """
    methods = {
        name: {**m, **{k: _float(m[k]) for k in ("auroc", "average_precision", "ece", "hard_over_easy")}}
        for name, m in result["methods"].items()
    }
    rows = sorted(methods.items(), key=lambda kv: -np.nan_to_num(kv[1]["auroc"], nan=-1))
    header = f"{'method':26s} {'AUROC':>6s} {'AP':>6s} {'ECE':>6s}"
    lines = [f"{header} {'easy':>12s} {'medium':>12s} {'hard':>12s} hard/easy"]
    for name, m in rows:
        cells = []
        for band in ("easy", "medium", "hard"):
            b = m["bands"][band]
            cells.append(f"{b['rate']:.2f} (n={b['n']})" if b["n"] else "- (n=0)")
        lines.append(
            f"{name:26s} {m['auroc']:6.3f} {m['average_precision']:6.3f} {m['ece']:6.3f} "
            f"{cells[0]:>12s} {cells[1]:>12s} {cells[2]:>12s} {m['hard_over_easy']:.2f}"
        )
    return "\n".join(lines)
