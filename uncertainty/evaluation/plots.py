"""Plots of uncertainty results (matplotlib, Agg backend: no display, no downloaded fonts)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

BAND_COLOURS = {"easy": "#4caf50", "medium": "#ff9800", "hard": "#e53935"}
UNCALIBRATED = ("no band", "#9e9e9e")  # images scored without a calibration


def score_histogram(
    scores: Sequence[float | None],
    difficulty: Sequence[str | None],
    path: str | Path,
    *,
    cutoffs: tuple[float, float] | None = None,
    title: str = "Image uncertainty scores",
) -> Path:
    """A stacked histogram of image scores coloured by difficulty band; the title counts failed images.

    difficulty: each image's band (easy, medium, hard, failed), None for an image scored without a
    calibration (drawn grey as "no band").
    """
    s = np.array([np.nan if v is None else v for v in scores], dtype=float)
    d = np.array([UNCALIBRATED[0] if v is None else str(v) for v in difficulty])
    finite = ~np.isnan(s)
    bins = np.linspace(s[finite].min(), s[finite].max() + 1e-9, 31) if finite.any() else np.linspace(0, 1, 31)
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = dict(BAND_COLOURS)
    if (d == UNCALIBRATED[0]).any():
        colours[UNCALIBRATED[0]] = UNCALIBRATED[1]
    data = [s[finite & (d == band)] for band in colours]
    ax.hist(data, bins=bins, stacked=True, color=list(colours.values()), label=list(colours))
    for cut in cutoffs or ():
        if np.isfinite(cut):
            ax.axvline(cut, color="black", linestyle="--", linewidth=1)
    n_failed = int((d == "failed").sum())
    ax.set_title(f"{title} ({finite.sum()} scored, {n_failed} failed)")
    ax.set_xlabel("image score (higher = more uncertain)")
    ax.set_ylabel("images")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        if exc.filename is None:  # a failed write (a full disk) does not say which file: name it
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    finally:
        plt.close(fig)
    return path
