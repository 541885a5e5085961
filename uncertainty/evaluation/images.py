"""How good is each uncertainty score at finding the images whose auto-labels need correction?

Every method is calibrated on one labeled set (VAL) and measured on another (e.g. POOL with its hidden
truth): AUROC and average precision for "needs correction", the Spearman correlation of the score with the
seconds a person spends reviewing the image and with the seconds of its fixes alone (the cost model), the
effort captured (:mod:`uncertainty.evaluation.effort`: the share of all fix seconds in the images ranked
first), the correction rate, fix seconds and errors left in each difficulty band, the hard / easy rate
ratio and the expected calibration error of ``p_needs_correction``. Failed images (no kept box) are their
own band; given their miss estimates they are ranked among the others by it for AUROC, AP, Spearman and
effort (``auroc_scored`` and ``spearman_correction_scored`` leave them out), and always left out of the
ECE. When every image (or none) needs a correction the AUROC is undefined: ``note`` says so and the table
ranks by Spearman instead. Per-box figures are in :mod:`uncertainty.evaluation.boxes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from autolabel.records import BANDS, FAILED
from autolabel.structures import Detections
from uncertainty.calibration import DEFAULT_LEVELS, DEFAULT_MIN_IMAGES, calibrate
from uncertainty.difficulty import image_scores
from uncertainty.evaluation.boxes import box_table
from uncertainty.evaluation.effort import (
    band_effort,
    effort_summary,
    effort_table,
    failed_calibration,
    ranking_key,
)
from uncertainty.evaluation.misses import miss_table
from uncertainty.image_score import COMPONENTS
from uncertainty.metrics import auroc, average_precision, band_rates, expected_calibration_error

Scored = Sequence[tuple[Detections, dict[str, Any]]]
# The share of images reviewed first that the table's effort column reports (the headline, 30%).
HEADLINE_SHARE = 0.3


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


@dataclass(frozen=True)
class ImageOutcomes:
    """What the evaluate app knows of the test images beyond "needs correction", (K,) arrays:
    correction_seconds (the fixes alone, cost model), errors (K, 3) wrong-class, FP and FN counts, missed
    the miss estimate each image gets (the error model's expected misses, or the miss evidence)."""

    correction_seconds: np.ndarray
    errors: np.ndarray
    missed: np.ndarray


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
    outcomes: ImageOutcomes | None = None,
    failed_fit: tuple[np.ndarray, np.ndarray] | float | None = None,
    order: np.ndarray | None = None,
) -> dict[str, Any]:
    """One method's figures; scores (K,) with nan where the method gives none (failed images), labels (K,).

    test_seconds: (K,) assisted seconds of the test images (``spearman_seconds``, nan without).
    outcomes: the test images' correction seconds, errors and miss estimates; with ``failed_fit``
    (:func:`uncertainty.evaluation.effort.failed_calibration`) failed images are ranked by their miss
    estimate among the others (:func:`~uncertainty.evaluation.effort.ranking_key`) for AUROC, AP,
    Spearman and the effort captured; without, they are left out (``auroc_scored`` always leaves them out).
    order: (K,) finite scores of every image that rank them for those figures instead (``random``).
    """
    calibration = calibrate(
        val_scores, val_labels, levels=levels, min_images=min_images, require_split=require_split
    )
    scored = ~test_failed & ~np.isnan(test_scores)
    difficulty = np.where(test_failed, "failed", calibration.difficulty(test_scores))
    bands = band_rates(difficulty, test_labels)
    easy, hard = bands["easy"]["rate"], bands["hard"]["rate"]
    p = calibration.p_needs_correction(test_scores[scored])
    if order is not None:
        key = np.asarray(order, dtype=np.float64)
    elif outcomes is not None and failed_fit is not None:
        key = ranking_key(
            test_scores, ~scored, outcomes.missed, calibration=calibration, failed_fit=failed_fit
        )
    else:
        key = np.where(scored, test_scores, np.nan)
    ranked = ~np.isnan(key)
    result = {
        "auroc": auroc(key[ranked], test_labels[ranked]),
        "auroc_scored": auroc(test_scores[scored], test_labels[scored]),
        "average_precision": average_precision(key[ranked], test_labels[ranked]),
        "ece": expected_calibration_error(p, test_labels[scored]) if scored.any() else float("nan"),
        "spearman_seconds": math.nan if test_seconds is None else spearman(key, test_seconds),
        "n_ranked": int(ranked.sum()),
        "bands": bands,
        "hard_over_easy": hard / easy if easy and not np.isnan(easy) and not np.isnan(hard) else float("nan"),
        "calibration": calibration.reason,
    }
    if outcomes is not None:
        result["spearman_correction"] = spearman(key, outcomes.correction_seconds)
        # the same over the scored images alone: what the method itself ranks, failed images aside
        result["spearman_correction_scored"] = spearman(
            np.where(scored, test_scores, np.nan), outcomes.correction_seconds
        )
        result["effort"] = effort_summary(key[ranked], outcomes.correction_seconds[ranked])
        result["band_effort"] = band_effort(
            difficulty, test_labels, outcomes.correction_seconds, outcomes.errors, (*BANDS, FAILED)
        )
    return result


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
    outcomes: ImageOutcomes | None = None,
    val_missed: np.ndarray | None = None,
) -> dict[str, Any]:
    """Figures for every method of :func:`method_keys` plus ``random`` (uniform scores from ``seed``).

    test_seconds: (K,) seconds a person spends correcting each test image (``spearman_seconds``);
    split: the test set's name, for ``note``; extra: more methods, name -> (VAL scores (K_val,), test
    scores (K,)), e.g. the learned error model's out-of-fold VAL and held-out test predictions; outcomes:
    the test images' correction seconds, errors and miss estimates (effort captured, band effort);
    val_missed: (K_val,) miss estimates of the VAL images, to rank failed images (with ``outcomes``).
    A method's scores of failed images are not used: they are ranked by the miss estimate alone, the same
    for every method, so the methods differ only in how they rank the scored images. ``random`` orders
    every image, failed ones too, at random.
    """
    val_failed, test_failed = _failed(val), _failed(test)
    failed_fit = (
        failed_calibration(np.asarray(val_missed)[val_failed], np.asarray(val_labels)[val_failed])
        if val_missed is not None and outcomes is not None
        else None
    )
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
            outcomes=outcomes,
            failed_fit=failed_fit,
            order=t if key is None else None,
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
        "failed_ranked_by": None if failed_fit is None else "miss estimate",
        "note": auroc_note(
            test_labels, np.ones(len(test), bool) if failed_fit is not None else ~test_failed, split
        ),
        "methods": results,
    }


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _cell(value: float, fmt: str = ".3f") -> str:
    return "undefined" if math.isnan(value) else format(value, fmt)


def _effort_at(m: Mapping[str, Any], k: float = HEADLINE_SHARE) -> float:
    """The effort captured at ``k`` of a method's figures (or its JSON round trip), nan without."""
    captured = (m.get("effort") or {}).get("captured") or {}
    value = next((v for key, v in captured.items() if math.isclose(float(key), k)), None)
    return _float(value)


def table(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_methods`' figures, best AUROC first (best Spearman when no
    AUROC is defined); an undefined figure reads "undefined".

    Also for a result read back from ``uncertainty_eval.json``, where an undefined figure is null.
    """
    keys = ("auroc", "average_precision", "ece", "spearman_seconds", "spearman_correction", "hard_over_easy")
    methods = {name: {**m, **{k: _float(m.get(k)) for k in keys}} for name, m in result["methods"].items()}
    rank_by = "auroc" if any(not math.isnan(m["auroc"]) for m in methods.values()) else "spearman_seconds"
    rows = sorted(methods.items(), key=lambda kv: -np.nan_to_num(kv[1][rank_by], nan=-2))
    header = (
        f"{'method':36s} {'AUROC':>9s} {'AP':>9s} {'ECE':>9s} {'Spearman s':>10s} {'Spearman c':>10s} "
        f"{'effort@' + format(HEADLINE_SHARE, '.0%'):>10s}"
    )
    lines = [f"{header} {'easy':>12s} {'medium':>12s} {'hard':>12s} hard/easy"]
    for name, m in rows:
        cells = []
        for band in ("easy", "medium", "hard"):
            b = m["bands"][band]
            cells.append(f"{_float(b['rate']):.2f} (n={b['n']})" if b["n"] else "- (n=0)")
        lines.append(
            f"{name:36s} {_cell(m['auroc']):>9s} {_cell(m['average_precision']):>9s} {_cell(m['ece']):>9s} "
            f"{_cell(m['spearman_seconds']):>10s} {_cell(m['spearman_correction']):>10s} "
            f"{_cell(_effort_at(m)):>10s} {cells[0]:>12s} {cells[1]:>12s} {cells[2]:>12s} "
            f"{_cell(m['hard_over_easy'], '.2f')}"
        )
    return "\n".join(lines)


def band_table(method: Mapping[str, Any], name: str) -> str:
    """Plain text of a method's ``band_effort``: per band what it holds, and leaves if accepted unreviewed."""
    lines = [
        f"Bands of {name}: correction seconds per image, and the errors left (wrong class / FP / FN) and "
        "the share of all correction seconds if the band is accepted without review",
        f"{'band':8s} {'images':>7s} {'rate':>6s} {'s/image':>8s} {'errors left':>18s} {'share of s':>10s}",
    ]
    for band, b in method["band_effort"].items():
        e = b["errors_left"]
        left = f"{e['total']} ({e['wrong_class']}/{e['fp']}/{e['fn']})"
        rate, per_image = (
            ("-", "-")
            if not b["n"]
            else (f"{_float(b['rate']):.2f}", f"{_float(b['seconds_per_image']):.1f}")
        )
        lines.append(
            f"{band:8s} {b['n']:>7d} {rate:>6s} {per_image:>8s} {left:>18s} "
            f"{_cell(_float(b['share_of_seconds']), '.2f'):>10s}"
        )
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    """What ``python -m uncertainty.evaluate`` prints: the headline, any note, the per-image table, the
    effort captured, the bands of the default method, the miss estimates and the per-box table (each when
    ``result`` has it)."""
    split = result.get("evaluated_on", "test")
    seconds = result.get("mean_correction_seconds")
    failed = (
        "failed images ranked by their miss estimate"
        if result.get("failed_ranked_by")
        else "failed images left out of AUROC, AP and Spearman"
    )
    lines = [
        f"{result['n_images']} {split} images, {result['n_failed']} failed, "
        f"{_cell(_float(result['needs_correction_rate']), '.2f')} need correction"
        + (f", {seconds:.1f} s to correct on average" if seconds is not None else "")
        + f"; calibrated on {result.get('calibrated_on', 'val')}; {failed}",
        "Per image: AUROC / AP for 'needs correction', Spearman of the score with the seconds of the review "
        "(s: cost model, all actions) and of the fixes alone (c: relabel, delete, draw), the share of all "
        f"fix seconds in the top {HEADLINE_SHARE:.0%} of images by the score, correction rate per band",
    ]
    if result.get("note"):
        lines.append(result["note"])
    lines.append(table(result))
    methods = result["methods"]
    default = result.get("default_method")
    if any(m.get("effort") for m in methods.values()):
        order = sorted(methods, key=lambda n: -np.nan_to_num(_effort_at(methods[n]), nan=-1))
        lines += ["", "Effort captured: share of all fix seconds in the top k of images by the score"]
        lines.append(effort_table(methods, order=[n for n in order if n != "random"] + ["random"]))
    if default in methods and methods[default].get("band_effort"):
        lines += ["", band_table(methods[default], default)]
    if result.get("misses"):
        lines += ["", miss_table(result["misses"])]
    if "boxes" in result:
        lines += ["", box_table(result["boxes"])]
    return "\n".join(lines)
