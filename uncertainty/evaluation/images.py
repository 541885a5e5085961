"""How good is each uncertainty score at finding the images whose auto-labels need correction?

Every method is calibrated on one labeled set (VAL) and measured on another (e.g. POOL with its hidden
truth): AUROC and average precision for "needs correction", the Spearman correlation of the score with the
seconds a person spends correcting the image (the cost model), the correction rate in each difficulty
band, the hard / easy rate ratio and the expected calibration error of ``p_needs_correction``. Failed
images (no kept box) are their own band and are left out of AUROC / AP / ECE / Spearman. When every
scored image (or none) needs a correction the AUROC is undefined: ``note`` says so and the table ranks by
Spearman instead. Per-box figures are in :mod:`uncertainty.evaluation.boxes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

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
from uncertainty.evaluation.boxes import box_table
from uncertainty.image_score import COMPONENTS

Scored = Sequence[tuple[Detections, dict[str, Any]]]


def method_keys() -> dict[str, str]:
    """Method name -> the record key of its image score (``mc`` is the combined MC-dropout score)."""
    return {"mc": "score", **{name: f"components.{name}" for name in COMPONENTS}}


def _failed(scored: Scored) -> np.ndarray:
    return np.array([fields["failed"] for _, fields in scored], dtype=bool)


def spearman(scores: np.ndarray, values: np.ndarray) -> float:
    """Spearman rank correlation of (K,) scores with (K,) values; pairs with a nan dropped.

    nan (undefined) with fewer than 2 pairs or when either side is constant.
    """
    s, v = np.asarray(scores, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"scores and values must be 1-D of equal length, got {s.shape} and {v.shape}")
    ok = ~np.isnan(s) & ~np.isnan(v)
    s, v = s[ok], v[ok]
    if len(s) < 2 or np.all(s == s[0]) or np.all(v == v[0]):
        return math.nan
    return float(spearmanr(s, v).statistic)


def auroc_note(labels: np.ndarray, scored: np.ndarray, split: str) -> str | None:
    """Why the "needs correction" AUROC is undefined on ``split``, in words; None when it is defined.

    labels: (K,) bool needs_correction; scored: (K,) bool, the image has a score (not failed).
    """
    y = np.asarray(labels, dtype=bool)[np.asarray(scored, dtype=bool)]
    name = split.upper()
    if len(y) == 0:
        return f"no {name} image has a score (every one failed): AUROC and Spearman are undefined"
    if y.all() or not y.any():
        subject = (
            f"every {name} image needs at least one correction"
            if y.all()
            else f"no {name} image needs a correction"
        )
        if len(y) < len(scored):
            subject += f" (the {len(y)} with a score)"
        return f"{subject}: AUROC is undefined; ranking by correction seconds instead"
    return None


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
    test_seconds: np.ndarray | None = None,
) -> dict[str, Any]:
    """One method's figures; scores (K,) with nan for failed images, labels (K,) bool.

    test_seconds: (K,) correction seconds of the test images, for ``spearman_seconds`` (nan without).
    """
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
        "spearman_seconds": math.nan if test_seconds is None else spearman(test_scores[ok], test_seconds[ok]),
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
    test_seconds: np.ndarray | None = None,
    split: str = "test",
    extra: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Figures for every method of :func:`method_keys` plus ``random`` (uniform scores from ``seed``).

    test_seconds: (K,) seconds a person spends correcting each test image (``spearman_seconds``);
    split: the test set's name, for ``note``; extra: more methods, name -> (VAL scores (K_val,), test
    scores (K,)), e.g. the learned error model's out-of-fold VAL and held-out test predictions.
    """
    val_failed, test_failed = _failed(val), _failed(test)
    rng = np.random.default_rng(seed)
    results = {}
    methods: dict[str, Any] = {**method_keys(), **dict(extra or {}), "random": None}
    for name, key in methods.items():
        if key is None:
            v, t = rng.random(len(val)), rng.random(len(test))
        elif isinstance(key, tuple):
            v, t = (np.asarray(a, dtype=np.float64) for a in key)
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
            test_seconds=None if test_seconds is None else np.asarray(test_seconds, dtype=np.float64),
        )
    return {
        "n_images": len(test),
        "n_failed": int(test_failed.sum()),
        "needs_correction_rate": float(np.mean(test_labels)) if len(test_labels) else float("nan"),
        "failed_needs_correction_rate": float(np.mean(test_labels[test_failed]))
        if test_failed.any()
        else None,
        "mean_correction_seconds": float(np.mean(test_seconds))
        if test_seconds is not None and len(test)
        else None,
        "note": auroc_note(test_labels, ~test_failed, split),
        "methods": results,
    }


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _cell(value: float, fmt: str = ".3f") -> str:
    return "undefined" if math.isnan(value) else format(value, fmt)


def table(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_methods`' figures, best AUROC first (best Spearman when no
    AUROC is defined); an undefined figure reads "undefined".

    Also for a result read back from ``uncertainty_eval.json``, where an undefined figure is null.
    """
    keys = ("auroc", "average_precision", "ece", "spearman_seconds", "hard_over_easy")
    methods = {name: {**m, **{k: _float(m.get(k)) for k in keys}} for name, m in result["methods"].items()}
    rank_by = "auroc" if any(not math.isnan(m["auroc"]) for m in methods.values()) else "spearman_seconds"
    rows = sorted(methods.items(), key=lambda kv: -np.nan_to_num(kv[1][rank_by], nan=-2))
    header = f"{'method':30s} {'AUROC':>9s} {'AP':>9s} {'ECE':>9s} {'Spearman s':>10s}"
    lines = [f"{header} {'easy':>12s} {'medium':>12s} {'hard':>12s} hard/easy"]
    for name, m in rows:
        cells = []
        for band in ("easy", "medium", "hard"):
            b = m["bands"][band]
            cells.append(f"{_float(b['rate']):.2f} (n={b['n']})" if b["n"] else "- (n=0)")
        lines.append(
            f"{name:30s} {_cell(m['auroc']):>9s} {_cell(m['average_precision']):>9s} {_cell(m['ece']):>9s} "
            f"{_cell(m['spearman_seconds']):>10s} {cells[0]:>12s} {cells[1]:>12s} {cells[2]:>12s} "
            f"{_cell(m['hard_over_easy'], '.2f')}"
        )
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    """What ``python -m uncertainty.evaluate`` prints: the headline, any note, the per-image table and
    the per-box table (when ``result`` has one)."""
    split = result.get("evaluated_on", "test")
    seconds = result.get("mean_correction_seconds")
    lines = [
        f"{result['n_images']} {split} images, {result['n_failed']} failed, "
        f"{_cell(_float(result['needs_correction_rate']), '.2f')} need correction"
        + (f", {seconds:.1f} s to correct on average" if seconds is not None else "")
        + f"; calibrated on {result.get('calibrated_on', 'val')}",
        "Per image: AUROC / AP for 'needs correction', Spearman of the score with the correction seconds "
        "(cost model), correction rate per band",
    ]
    if result.get("note"):
        lines.append(result["note"])
    lines.append(table(result))
    if "boxes" in result:
        lines += ["", box_table(result["boxes"])]
    return "\n".join(lines)
