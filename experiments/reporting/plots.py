"""Figures of the CAL1 / CONTROL / CAL2 experiment report (matplotlib, Agg backend, bundled DejaVu font).

Every function draws one PNG at ``DPI`` and returns its path. Inputs are the summary statistics of
:mod:`experiments.report` (``S = {"mean", "std", "ci95": [lo, hi], "n", "values"}``); a None, nan or
missing number is drawn as nothing (no bar, no error bar, no dot), never as 0. Error bars are the 95% CI
around the mean (asymmetric when the CI is); a statistic without a CI (one seed) gets no error bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402

from experiments.constants import MODEL_NAMES as MODELS  # noqa: E402
from uncertainty.evaluation.plots import score_histogram  # noqa: E402

DPI = 100
MODEL_COLOURS = {"CAL1": "#9e9e9e", "CONTROL": "#1e88e5", "CAL2": "#8e24aa"}
SAMPLE_BANDS: tuple[str, ...] = ("easy", "medium", "hard", "failed")
SAMPLES_PER_ROW = 4
# Box colours of the samples grid, cycled over class names in order of first appearance.
BOX_COLOURS = ("#ffeb3b", "#00e5ff", "#ff4081", "#76ff03", "#ff9100", "#d500f9")


@dataclass(frozen=True)
class SampleImage:
    """One pool image and its auto-labels, for the samples grid.

    path: image file; boxes_xyxy: (N, 4) float pixels of that image; labels: N class names;
    confs: (N,) float in [0, 1]; score: the image's uncertainty score, None when it has none (failed).
    """

    path: Path
    boxes_xyxy: np.ndarray
    labels: Sequence[str]
    confs: np.ndarray
    score: float | None


def number(value: object) -> float:
    """``value`` as a float; None, non-numbers and missing values become nan (inf stays inf)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def ci_bounds(stat: Mapping | None) -> tuple[float, float]:
    """(lo, hi) of a statistic's ``ci95``, nan where it has none."""
    ci = (stat or {}).get("ci95")
    if not isinstance(ci, Sequence) or len(ci) != 2:
        return math.nan, math.nan
    return number(ci[0]), number(ci[1])


def _mean_err(stats: Sequence[Mapping | None]) -> tuple[np.ndarray, np.ndarray]:
    """Means (K,) and error-bar extents (2, K) (below, above the mean; 0 where there is no CI)."""
    means = np.array([number((s or {}).get("mean")) for s in stats], dtype=float)
    bounds = np.array([ci_bounds(s) for s in stats], dtype=float).reshape(-1, 2)
    err = np.stack([means - bounds[:, 0], bounds[:, 1] - means])
    err[~np.isfinite(err)] = 0.0
    return np.where(np.isfinite(means), means, np.nan), np.clip(err, 0.0, None)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def per_class_pr(models: Mapping[str, Mapping], classes: Sequence[str], path: str | Path) -> Path:
    """Grouped bars of per-class precision (left) and recall (right) for each model, mean over seeds.

    models: ``summary["models"]``; each model's ``per_class[name]["precision" | "recall"]`` is an S.
    """
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.6 * len(classes) + 4), 4), sharey=True)
    x = np.arange(len(classes))
    width = 0.8 / len(MODELS)
    for ax, metric in zip(axes, ("precision", "recall"), strict=True):
        for i, model in enumerate(MODELS):
            per_class = (models.get(model) or {}).get("per_class") or {}
            means, err = _mean_err([(per_class.get(c) or {}).get(metric) for c in classes])
            ax.bar(
                x + (i - (len(MODELS) - 1) / 2) * width,
                means,
                width,
                yerr=err,
                capsize=2,
                color=MODEL_COLOURS[model],
                label=model,
            )
        ax.set_xticks(x, classes, rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{metric} per class (mean, 95% CI)")
    axes[0].set_ylabel("value at the operating threshold")
    axes[0].legend(fontsize=8)
    return _save(fig, path)


def boost_and_map(models: Mapping[str, Mapping], path: str | Path) -> Path:
    """Efficiency boost (left) and mAP50-95 (right) per model: mean bar, CI error bar, one dot per seed.

    models: ``summary["models"]``; ``values`` of each S are the per-seed values in seed order, so the
    thin grey lines join one seed's three models (the comparison is paired by seed).
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    x = np.arange(len(MODELS))
    for ax, metric, label in zip(
        axes, ("boost", "map50_95"), ("efficiency boost (x)", "mAP50-95"), strict=True
    ):
        stats = [(models.get(m) or {}).get(metric) for m in MODELS]
        means, err = _mean_err(stats)
        means = np.where(np.isinf(means), np.nan, means)
        ax.bar(x, means, 0.6, yerr=err, capsize=4, color=[MODEL_COLOURS[m] for m in MODELS], alpha=0.6)
        seeds = [[number(v) for v in (s or {}).get("values") or []] for s in stats]
        if len({len(v) for v in seeds}) == 1 and seeds[0]:
            ax.plot(x, np.array(seeds, dtype=float), color="#616161", linewidth=0.6, alpha=0.6)
        for i, values in enumerate(seeds):
            v = np.array(values, dtype=float)
            v = v[np.isfinite(v)]
            ax.scatter(np.full(len(v), x[i]), v, s=14, color="black", zorder=3)
        if metric == "boost":
            ax.axhline(1.0, color="black", linestyle=":", linewidth=1)
        ax.set_xticks(x, MODELS)
        ax.set_title(f"{label}: mean, 95% CI, seeds")
    return _save(fig, path)


def pool_score_histogram(
    pool_scores: Mapping[str, Sequence[tuple[float | None, str]]], path: str | Path
) -> Path:
    """Histogram of pool image scores over all seeds, stacked by band; the title counts failed images.

    pool_scores: per seed, a list of (image score or None, band in easy | medium | hard | failed).
    """
    pairs = [pair for seed_pairs in pool_scores.values() for pair in seed_pairs]
    scores = [number(score) for score, _ in pairs]
    bands = [band for _, band in pairs]
    title = f"Pool image scores, {len(pool_scores)} seed(s) pooled"
    return score_histogram(scores, bands, path, title=title)


def _read_rgb(path: Path) -> np.ndarray | None:
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except OSError:
        return None


def _draw_sample(ax: plt.Axes, sample: SampleImage, colours: dict[str, str]) -> None:
    image = _read_rgb(Path(sample.path))
    score = number(sample.score)
    ax.set_title(f"score {score:.3f}" if math.isfinite(score) else "score n/a", fontsize=8)
    if image is None:
        ax.text(0.5, 0.5, "unreadable image", ha="center", va="center", fontsize=7, transform=ax.transAxes)
        return
    ax.imshow(image, interpolation="nearest")
    boxes = np.asarray(sample.boxes_xyxy, dtype=float).reshape(-1, 4)
    confs = np.asarray(sample.confs, dtype=float).reshape(-1)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        label = str(sample.labels[i]) if i < len(sample.labels) else "?"
        colour = colours.setdefault(label, BOX_COLOURS[len(colours) % len(BOX_COLOURS)])
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=1.2))
        text = f"{label} {confs[i]:.2f}" if i < len(confs) else label
        ax.text(x1, y1, text, color="black", fontsize=5, va="bottom", backgroundcolor=colour, clip_on=True)


def samples_grid(samples: Mapping[str, Sequence[SampleImage]], path: str | Path) -> Path:
    """One row per band (easy, medium, hard, failed), up to ``SAMPLES_PER_ROW`` images with their boxes.

    samples: band -> images; a band without images gets a row saying so.
    """
    fig, axes = plt.subplots(
        len(SAMPLE_BANDS),
        SAMPLES_PER_ROW,
        figsize=(2.2 * SAMPLES_PER_ROW, 2.3 * len(SAMPLE_BANDS)),
        squeeze=False,
    )
    colours: dict[str, str] = {}
    for row, band in zip(axes, SAMPLE_BANDS, strict=True):
        band_samples = list(samples.get(band) or [])[:SAMPLES_PER_ROW]
        for col, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(band_samples):
                _draw_sample(ax, band_samples[col], colours)
            else:
                ax.axis("off")
        row[0].set_ylabel(band, fontsize=10)
        if not band_samples:
            row[0].axis("on")
            row[0].set_frame_on(False)
            row[0].text(0.0, 0.5, "no images", fontsize=8, va="center", transform=row[0].transAxes)
    return _save(fig, path)


def rounds_curve(strategies: Mapping[str, Mapping], path: str | Path) -> Path:
    """mAP50-95 against labeled images and against hand-labeling hours per strategy: mean line and 95%
    CI band over seeds.

    strategies: name -> {"labeled": (R,) image counts, "hours": (R,) hours added to GT1 (optional),
    "map50_95": R statistics S}.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, key, label in zip(
        axes, ("labeled", "hours"), ("labeled images", "hand-labeling hours added (cost model)"), strict=True
    ):
        for name, curve in strategies.items():
            x = np.array([number(n) for n in curve.get(key) or []], dtype=float)
            stats = list(curve.get("map50_95") or [])[: len(x)]
            x = x[: len(stats)]
            if not len(x) or not np.isfinite(x).all():
                continue
            means = np.array([number((s or {}).get("mean")) for s in stats], dtype=float)
            bounds = np.array([ci_bounds(s) for s in stats], dtype=float).reshape(-1, 2)
            (line,) = ax.plot(x, means, marker="o", label=name)
            has_ci = np.isfinite(bounds).all(axis=1)
            if has_ci.any():
                ax.fill_between(
                    x, bounds[:, 0], bounds[:, 1], where=has_ci, alpha=0.2, color=line.get_color()
                )
        ax.set_xlabel(label)
        if ax.lines:
            ax.legend()
    axes[0].set_ylabel("mAP50-95 on VAL")
    fig.suptitle("Labeling rounds: mean and 95% CI over seeds")
    return _save(fig, path)
