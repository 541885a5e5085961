"""Difficulty calibration: map an image's uncertainty score to how often its auto-labels need a correction.

On a validation set, an image *needs correction* (label 1) when its auto-labels have any false positive,
false negative or wrong class. ``calibrate`` fits the correction rate as a non-decreasing function of the
score (scikit-learn's isotonic regression) and cuts three score bands where the fitted rate
crosses ``levels``::

    easy: score < cutoffs[0]      medium: cutoffs[0] <= score < cutoffs[1]      hard: cutoffs[1] <= score

The fitted curve is the isotonic fit at the calibration scores, linearly interpolated between them and
clamped at the ends; a cutoff is where that interpolated curve first reaches its level, so an
image is medium or hard exactly when its ``p_needs_correction`` reaches ``levels[0]`` or ``levels[1]``.

When the fit cannot be trusted (fewer than ``min_images`` scored images, a single outcome, or a flat
curve), the bands fall back to thirds of the scores and ``Calibration.reason`` says why. Images whose
auto-labeler kept no box have a nan score: the fit drops them and ``difficulty`` calls them "failed".

Arrays are 1-D, one entry per image: scores (K,) float (higher = more uncertain), labels (K,) bool or 0/1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from autolabel.records import BANDS, FAILED  # the band names, defined once with the record
from uncertainty.metrics import paired

# --- tuning constants -------------------------------------------------------------------------------
# Correction-rate levels that separate easy | medium | hard: easy < 0.2 <= medium < 0.5 <= hard.
DEFAULT_LEVELS: tuple[float, float] = (0.2, 0.5)
# Fewer scored validation images than this and a fitted curve is too noisy to cut: quantile bands instead.
DEFAULT_MIN_IMAGES = 30
# Fallback band edges as quantiles of the calibration scores (thirds).
FALLBACK_QUANTILES: tuple[float, float] = (1.0 / 3.0, 2.0 / 3.0)

METHODS = ("isotonic", "quantile")


# --- isotonic regression ----------------------------------------------------------------------------
def _isotonic_model(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, IsotonicRegression]:
    """The sorted unique x (U,) and scikit-learn's fit of y on the rank of x among them (0 .. U-1): the
    fit depends only on the order of x, and integer ranks keep scikit-learn from pooling x within 1e-15.
    """
    x, y = _finite_1d(x, "x"), _finite_1d(y, "y")
    w = np.ones_like(x) if weights is None else _finite_1d(weights, "weights")
    if y.shape != x.shape or w.shape != x.shape:
        raise ValueError(f"x, y and weights must have the same length, got {x.shape}, {y.shape}, {w.shape}")
    if np.any(w <= 0):
        raise ValueError("weights must be > 0")
    unique_x, rank = np.unique(x, return_inverse=True)
    model = IsotonicRegression(increasing=True, out_of_bounds="clip")
    return unique_x, model.fit(rank.astype(np.float64), y, sample_weight=w)


def isotonic_fit(
    x: np.ndarray, y: np.ndarray, *, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares non-decreasing fit of y on x (``sklearn.isotonic.IsotonicRegression``).

    x, y: (K,) finite floats (for calibration y is 0/1); weights: (K,) finite and > 0, default all 1.
    Returns (knots_x, knots_y), both (U,) float64: the sorted unique x (points with equal x are pooled
    into their weighted mean first) and the non-decreasing fitted value at each.
    """
    knots_x, model = _isotonic_model(x, y, weights)
    return knots_x, model.predict(np.arange(len(knots_x), dtype=np.float64))


def isotonic_predict(knots_x: np.ndarray, knots_y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate a fitted curve: linear between knots, constant beyond the first and last knot.

    knots_x: (U,) increasing; knots_y: (U,); x: (K,) float. Returns (K,) float64; nan where x is nan
    (and everywhere when there are no knots). ``IsotonicRegression.predict``'s curve, from stored knots.
    """
    kx, ky, x = (np.asarray(a, dtype=np.float64) for a in (knots_x, knots_y, x))
    if kx.shape != ky.shape or kx.ndim != 1:
        raise ValueError(f"knots_x and knots_y must be 1-D of equal length, got {kx.shape} and {ky.shape}")
    if len(kx) == 0:
        return np.full(x.shape, np.nan)
    out = np.interp(x, kx, ky)
    out[np.isnan(x)] = np.nan
    return out


# --- the calibration --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """A fitted score -> difficulty map.

    method: "isotonic" or "quantile" (the fallback); cutoffs: score cutoffs, easy < cutoffs[0] <= medium
    < cutoffs[1] <= hard, -inf / +inf when a band is empty (ties at a cutoff go to the higher band);
    levels: the correction-rate levels asked for (they set the cutoffs only for "isotonic");
    knots_x, knots_y: the fitted curve, interior points of flat runs dropped (empty for "quantile");
    observed_rates: correction rate of (easy, medium, hard) on the calibration set, nan for an empty band;
    n_images: scored images used; base_rate: their overall correction rate (nan with no image);
    reason: one line saying why this method was used.
    """

    method: str
    cutoffs: tuple[float, float]
    levels: tuple[float, float]
    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    observed_rates: tuple[float, float, float]
    n_images: int
    base_rate: float
    reason: str

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")

    def p_needs_correction(self, scores: np.ndarray) -> np.ndarray:
        """Probability that an image's auto-labels need a correction, (K,) float scores -> (K,) float64.

        Isotonic: the fitted curve. Quantile: the rate its band had at fit time (the base rate for a band
        that was empty then). nan score -> nan.
        """
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "isotonic":
            return isotonic_predict(np.array(self.knots_x), np.array(self.knots_y), s)
        rates = np.array([self.base_rate if math.isnan(r) else r for r in self.observed_rates])
        out = rates[_band_index(s, self.cutoffs)]
        out[np.isnan(s)] = np.nan
        return out

    def difficulty(self, scores: np.ndarray) -> np.ndarray:
        """Band of each image: (K,) float scores -> (K,) object array of str.

        "easy" | "medium" | "hard" by the cutoffs, "failed" for a nan score.
        """
        s = np.asarray(scores, dtype=np.float64)
        out = np.array(BANDS, dtype=object)[_band_index(s, self.cutoffs)]
        out[np.isnan(s)] = FAILED
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field, for ``json.dumps(..., allow_nan=False)``.

        +inf / -inf (empty-band cutoffs) become the strings "inf" / "-inf", nan becomes None (an empty
        band's observed rate, the base rate of an empty set); ``from_dict`` reverses both.
        """
        return {
            "method": self.method,
            "cutoffs": [_encode_float(c) for c in self.cutoffs],
            "levels": [_encode_float(v) for v in self.levels],
            "knots_x": [_encode_float(v) for v in self.knots_x],
            "knots_y": [_encode_float(v) for v in self.knots_y],
            "observed_rates": [_encode_float(v) for v in self.observed_rates],
            "n_images": int(self.n_images),
            "base_rate": _encode_float(self.base_rate),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        """Rebuild a Calibration from ``to_dict`` output (or its JSON round trip)."""

        def floats(key: str) -> tuple[float, ...]:
            return tuple(_decode_float(v) for v in d[key])

        c0, c1 = floats("cutoffs")
        l0, l1 = floats("levels")
        r_easy, r_medium, r_hard = floats("observed_rates")
        return cls(
            method=str(d["method"]),
            cutoffs=(c0, c1),
            levels=(l0, l1),
            knots_x=floats("knots_x"),
            knots_y=floats("knots_y"),
            observed_rates=(r_easy, r_medium, r_hard),
            n_images=int(d["n_images"]),
            base_rate=_decode_float(d["base_rate"]),
            reason=str(d["reason"]),
        )


def calibrate(
    scores: np.ndarray,
    needs_correction: np.ndarray,
    *,
    levels: tuple[float, float] = DEFAULT_LEVELS,
    min_images: int = DEFAULT_MIN_IMAGES,
    require_split: bool = True,
) -> Calibration:
    """Fit difficulty bands on a validation set where the truth is known.

    scores: (K,) float, nan for failed images (dropped here), +-inf rejected; needs_correction: (K,)
    bool or 0/1. levels: correction rates (l0, l1) with 0 < l0 < l1 < 1 where medium and hard begin.
    min_images: fewest scored images for an isotonic fit. Isotonic when there are enough images, both
    outcomes occur and the fitted curve is not flat; otherwise quantile bands (thirds of the scores).
    With ``require_split``, isotonic cutoffs that put every scored image of this set into one band also
    fall back to quantile bands (the reason says which band).
    """
    lv = _check_levels(levels)
    if isinstance(min_images, bool) or not isinstance(min_images, int | np.integer) or min_images < 1:
        raise ValueError(f"min_images must be an int >= 1, got {min_images!r}")
    s, y = paired(scores, needs_correction, "scores")
    if np.any(np.isinf(s)):
        raise ValueError("scores must be finite or nan (nan = failed image); got +-inf")
    n = len(s)
    base_rate = float(y.mean()) if n else math.nan
    n_pos = int(y.sum())

    def fallback(reason: str) -> Calibration:
        if n:
            q0, q1 = np.quantile(s, FALLBACK_QUANTILES)
            cutoffs = (float(q0), float(q1))
        else:
            cutoffs = (-math.inf, math.inf)  # nothing to cut: every scored image is "medium"
        return Calibration(
            method="quantile",
            cutoffs=cutoffs,
            levels=lv,
            knots_x=(),
            knots_y=(),
            observed_rates=_observed_rates(s, y, cutoffs),
            n_images=n,
            base_rate=base_rate,
            reason=f"{reason}: quantile bands",
        )

    if n < min_images:
        return fallback(f"only {n} images (< min_images={min_images})")
    if n_pos in (0, n):
        return fallback(f"all {n} images have needs_correction={int(n_pos == n)}")
    # The model's thresholds keep only the two ends of each flat run: the same interpolated curve.
    unique_s, model = _isotonic_model(s, y.astype(np.float64), None)
    kx, ky = unique_s[model.X_thresholds_.astype(np.int64)], model.y_thresholds_
    if ky[0] == ky[-1]:
        return fallback(f"isotonic fit on {n} images is flat (rate {ky[0]:.3g} everywhere)")
    cutoffs = (_crossing(kx, ky, lv[0]), _crossing(kx, ky, lv[1]))
    counts = np.bincount(_band_index(s, cutoffs), minlength=len(BANDS))
    if require_split and (counts > 0).sum() < 2:
        # Bands that do not split the calibration set rank nothing (e.g. a weak model whose every image
        # needs correction would send the whole pool to "hard"): use relative bands instead.
        band = BANDS[int(np.argmax(counts))]
        return fallback(
            f"isotonic fit on {n} images (rate {ky[0]:.2f} to {ky[-1]:.2f}) puts them all in {band}"
        )
    return Calibration(
        method="isotonic",
        cutoffs=cutoffs,
        levels=lv,
        knots_x=tuple(kx.tolist()),
        knots_y=tuple(ky.tolist()),
        observed_rates=_observed_rates(s, y, cutoffs),
        n_images=n,
        base_rate=base_rate,
        reason=f"isotonic fit on {n} images",
    )


# --- helpers ----------------------------------------------------------------------------------------
def _finite_1d(a: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _check_levels(levels: tuple[float, float]) -> tuple[float, float]:
    try:
        l0, l1 = (float(v) for v in levels)
    except (TypeError, ValueError):
        raise ValueError(f"levels must be two numbers (l0, l1), got {levels!r}") from None
    if not 0 < l0 < l1 < 1:
        raise ValueError(f"levels must satisfy 0 < l0 < l1 < 1, got {levels!r}")
    return l0, l1


def _band_index(s: np.ndarray, cutoffs: tuple[float, float]) -> np.ndarray:
    """0 easy, 1 medium, 2 hard (nan scores land in 0; callers overwrite them)."""
    return (s >= cutoffs[0]).astype(np.int64) + (s >= cutoffs[1]).astype(np.int64)


def _observed_rates(s: np.ndarray, y: np.ndarray, cutoffs: tuple[float, float]) -> tuple[float, float, float]:
    band = _band_index(s, cutoffs)
    rates = [float(y[band == b].mean()) if np.any(band == b) else math.nan for b in range(len(BANDS))]
    return rates[0], rates[1], rates[2]


def _crossing(kx: np.ndarray, ky: np.ndarray, level: float) -> float:
    """Smallest x where the interpolated non-decreasing curve reaches level (-inf / +inf outside it)."""
    if ky[0] >= level:
        return -math.inf
    if ky[-1] < level:
        return math.inf
    j = int(np.argmax(ky >= level))  # j >= 1 and ky[j - 1] < level <= ky[j]
    frac = (level - ky[j - 1]) / (ky[j] - ky[j - 1])
    return float(min(kx[j - 1] + frac * (kx[j] - kx[j - 1]), kx[j]))


def _encode_float(v: float) -> float | str | None:
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _decode_float(v: float | str | None) -> float:
    return math.nan if v is None else float(v)  # float("inf") / float("-inf") parse the strings
