"""Drawing primitives of the synthetic weld-surface demo set (composed by
:mod:`autolabel.data.synthetic.demo`).

Conventions: images are float32 gray levels (H, W) in about [0, 255]; points are float (N, 2) arrays of
``(x, y)`` pixel coordinates; ``s`` is the length scale (``image_size / 256``, times a per-object shrink).
Each defect is drawn as a :class:`Shape`: a darkness mask and an optional bright-rim mask on a padded
canvas (so that objects crossing the border can be measured and dropped when mostly outside).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel anti-aliased drawing
_AA = cv2.LINE_AA
_THIN_GAIN = {1: 1.6, 2: 1.15, 3: 1.0}  # a 1-px anti-aliased, blurred stroke shows about half its contrast


def smooth_noise(rng: np.random.Generator, n: int, corr: float) -> np.ndarray:
    """(n,) float64 smooth 1-D noise with unit-ish amplitude, correlated over about ``corr`` samples."""
    m = max(2, int(n / max(corr, 1e-3)) + 2)
    return np.interp(np.linspace(0.0, m - 1.0, n), np.arange(m), rng.standard_normal(m))


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, np.float64) * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return xx, yy


@dataclass(frozen=True)
class Bead:
    """The weld bead: a near-horizontal band through ``(cx, cy)`` at angle ``theta`` (rad), of wavy
    half-width ``hw * (1 + a1 sin(2 pi t / l1 + p1) + a2 sin(2 pi t / l2 + p2))`` px along its axis ``t``."""

    cx: float
    cy: float
    theta: float
    hw: float
    wobble: tuple[float, float, float, float, float, float]

    def halfwidth(self, t: np.ndarray) -> np.ndarray:
        a1, l1, p1, a2, l2, p2 = self.wobble
        return self.hw * (1 + a1 * np.sin(2 * np.pi * t / l1 + p1) + a2 * np.sin(2 * np.pi * t / l2 + p2))

    def point(self, t: np.ndarray, s: np.ndarray) -> np.ndarray:
        """(N, 2) image points at axis coordinate ``t`` and signed offset ``s`` across the bead (px)."""
        c, sn = np.cos(self.theta), np.sin(self.theta)
        t, s = np.broadcast_arrays(np.asarray(t, np.float64), np.asarray(s, np.float64))
        return np.stack([self.cx + t * c - s * sn, self.cy + t * sn + s * c], axis=-1).reshape(-1, 2)

    def local(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c, sn = np.float32(np.cos(self.theta)), np.float32(np.sin(self.theta))
        dx, dy = x - np.float32(self.cx), y - np.float32(self.cy)
        return dx * c + dy * sn, dy * c - dx * sn


def random_bead(rng: np.random.Generator, size: int) -> Bead:
    wob = (rng.uniform(0.02, 0.08), rng.uniform(0.4, 1.2) * size, rng.uniform(0, 6.3))
    wob2 = (rng.uniform(0.0, 0.04), rng.uniform(0.08, 0.2) * size, rng.uniform(0, 6.3))
    return Bead(
        cx=size / 2,
        cy=size * rng.uniform(0.32, 0.68),
        theta=np.radians(rng.uniform(-10, 10)),
        hw=size * rng.uniform(0.10, 0.155),
        wobble=wob + wob2,
    )


def render_background(rng: np.random.Generator, size: int, bead: Bead) -> np.ndarray:
    """(size, size) float32 steel surface: brushed streaks, mottling, a bright rippled weld bead."""
    s = size / 256
    m = int(size * 1.45) + 2
    noise = rng.standard_normal((m, m), dtype=np.float32)
    streak = cv2.GaussianBlur(noise, (0, 0), sigmaX=rng.uniform(6, 16) * s, sigmaY=rng.uniform(0.5, 1.0) * s)
    streak *= 1.0 / (float(streak.std()) + 1e-6)
    rot = cv2.getRotationMatrix2D((m / 2, m / 2), float(rng.normal(0, 6)), 1.0)
    rot[:, 2] -= (m - size) / 2
    streak = cv2.warpAffine(streak, rot, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mottle = cv2.resize(rng.standard_normal((6, 6)).astype(np.float32), (size, size), cv2.INTER_CUBIC)

    xx, yy = _grid(size)
    t, sd = bead.local(xx, yy)
    u = sd / bead.halfwidth(t).astype(np.float32)
    inside = np.clip(1 - u * u, 0, 1)
    lam = rng.uniform(5, 10) * s
    phase = (t + rng.uniform(0.3, 0.9) * bead.hw * u * u) * np.float32(2 * np.pi / lam)
    ripple = np.cos(phase) * np.sqrt(inside) * np.float32(rng.uniform(3, 9))
    crown = np.sqrt(inside) * np.float32(rng.uniform(15, 35))
    toe = np.exp(-(((np.abs(u) - 1) * bead.hw / (2.0 * s)) ** 2)) * np.float32(rng.uniform(4, 14))
    img = np.float32(rng.uniform(105, 150)) + crown + ripple - toe
    img += streak * (1 - 0.7 * inside) * np.float32(rng.uniform(3, 8))
    img += mottle * np.float32(rng.uniform(2, 6))
    return img.astype(np.float32)


def finish(rng: np.random.Generator, img: np.ndarray, *, light_strength: float, noise_sigma: float) -> tuple:
    """Apply lighting, blur and sensor noise; returns ((H, W) uint8 image, lighting kind)."""
    size = img.shape[0]
    xx, yy = _grid(size)
    if rng.random() < 0.5:
        kind, a = "linear", rng.uniform(0, 2 * np.pi)
        g = ((xx - size / 2) * np.cos(a) + (yy - size / 2) * np.sin(a)) * np.float32(1.4 / size)
    else:
        kind, (x0, y0) = "radial", rng.uniform(-0.1, 1.1, 2) * size
        g = np.float32(0.35) - ((xx - x0) ** 2 + (yy - y0) ** 2) * np.float32(1.0 / size**2)
    img = img * np.clip(1 + np.float32(light_strength) * g, 0.35, 1.6)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 0.9) * size / 256)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise_sigma)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), kind


class Canvas:
    """Padded uint8 drawing canvases for one image of ``size`` px (``pad`` px on each side)."""

    def __init__(self, size: int, pad: int) -> None:
        self.size, self.pad, self.n = size, pad, size + 2 * pad

    def new(self) -> np.ndarray:
        return np.zeros((self.n, self.n), np.uint8)

    def line(self, m: np.ndarray, pts: np.ndarray, thick: int = 1) -> None:
        cv2.polylines(m, [_fixed(np.asarray(pts) + self.pad)], False, 255, max(1, int(thick)), _AA, _SHIFT)

    def fill(self, m: np.ndarray, pts: np.ndarray) -> None:
        cv2.fillPoly(m, [_fixed(np.asarray(pts) + self.pad)], 255, _AA, _SHIFT)

    def ellipse(self, m: np.ndarray, c, axes, angle_deg: float, thick: int = -1) -> None:
        cc = tuple(int(v) for v in _fixed(np.asarray(c, np.float64) + self.pad).ravel())
        ax = tuple(max(1, int(round(a * (1 << _SHIFT)))) for a in axes)
        cv2.ellipse(m, cc, ax, float(angle_deg), 0, 360, 255, thick, _AA, _SHIFT)


def soft(m: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 canvas -> float32 mask blurred by ``sigma`` px and scaled to peak 1."""
    f = m.astype(np.float32) * np.float32(1 / 255)
    if sigma > 0.05:
        f = cv2.GaussianBlur(f, (0, 0), sigma)
    peak = float(f.max())
    return f / peak if peak > 0 else f


@dataclass
class Shape:
    """One drawn defect: darkness (peak 1) and optional bright rim (peak 1, scaled by rim_gain)."""

    dark: np.ndarray
    rim: np.ndarray | None = None
    rim_gain: float = 0.0
    variant: str = "plain"
    confusable: bool = False
    gain: float = 1.0  # contrast multiplier compensating thin (1-2 px) strokes


def _blob(rng: np.random.Generator, c: np.ndarray, a: float, b: float, ang: float, irr: float) -> np.ndarray:
    """(K, 2) polygon of an ellipse with semi-axes a, b (px) at angle ang (rad), radially perturbed."""
    k = int(rng.integers(14, 22))
    phi = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = a * b / np.sqrt((b * np.cos(phi)) ** 2 + (a * np.sin(phi)) ** 2)
    harm = sum(rng.normal(0, 0.5) * np.cos(h * phi + rng.uniform(0, 6.3)) for h in (2, 3, 4, 5))
    r = r * np.clip(1 + irr * harm, 0.45, 1.6)
    x, y = r * np.cos(phi), r * np.sin(phi)
    return np.stack([x * np.cos(ang) - y * np.sin(ang), x * np.sin(ang) + y * np.cos(ang)], 1) + c


def bite_edge(rng: np.random.Generator, cv: Canvas, bead: Bead, s: float) -> Shape:
    """Undercut: an irregular dark groove running along one toe of the bead."""
    length = rng.uniform(28, 85) * s
    t0 = rng.uniform(-0.5 * cv.size, 0.5 * cv.size - length)
    n = max(8, int(length / 2))
    t = np.linspace(t0, t0 + length, n)
    side = 1.0 if rng.random() < 0.5 else -1.0
    mid = side * (bead.halfwidth(t) + rng.uniform(-1.0, 1.5) * s) + smooth_noise(rng, n, 6) * 0.8 * s
    w0 = rng.uniform(2.2, 5.0) * s
    w = (
        w0
        * np.clip(0.8 + 0.35 * smooth_noise(rng, n, 5), 0.35, None)
        * np.sin(np.linspace(0, np.pi, n)) ** 0.5
    )
    w += 0.6 * s
    dark = cv.new()
    cv.fill(dark, np.concatenate([bead.point(t, mid + w / 2), bead.point(t, mid - w / 2)[::-1]]))
    shape = Shape(soft(dark, 0.7 * s))
    if rng.random() < 0.4:
        rim = cv.new()
        cv.line(rim, bead.point(t[2:-2], mid[2:-2] + side * (w[2:-2] / 2 + 1.3 * s)))
        shape.rim, shape.rim_gain, shape.variant = soft(rim, 0.6 * s), rng.uniform(0.3, 0.6), "bright-rim"
    return shape


def _walk(
    rng: np.random.Generator, n: int, step: float, heading: float, curv: float, jag: float
) -> np.ndarray:
    h = heading + smooth_noise(rng, n, 3) * 0.12 + rng.normal(0, jag, n) + curv * step * np.arange(n)
    return np.concatenate([[[0.0, 0.0]], np.cumsum(step * np.stack([np.cos(h), np.sin(h)], 1), 0)])


def crack(
    rng: np.random.Generator, cv: Canvas, s: float, c: np.ndarray, *, tiny: bool, curved: bool
) -> Shape:
    """Thin jagged dark polyline (random walk with small turns), fairly straight, any orientation."""
    length = rng.uniform(5, 10) * s if tiny else rng.uniform(14, 80) * s
    step = max(0.8, (1.0 if tiny else 1.8) * s)
    n = max(4, int(length / step))
    curv = (1 if rng.random() < 0.5 else -1) * rng.uniform(0.012, 0.028) / s if curved else 0.0
    pts = _walk(rng, n, step, rng.uniform(0, 2 * np.pi), curv, 0.0 if tiny else 0.3)
    pts += c - pts.mean(0)
    # 2-3 px: a nano model trained briefly at 256 px does not learn 1-px strokes on this texture
    dark, thick = cv.new(), 1 if tiny else 2 if rng.random() < 0.6 else 3
    cv.line(dark, pts, thick)
    variant = "curved" if curved else "tiny" if tiny else "plain"
    if not tiny and rng.random() < 0.25:
        k = int(rng.integers(n // 4, 3 * n // 4 + 1))
        d = pts[min(k + 1, n)] - pts[k]
        head = np.arctan2(d[1], d[0]) + (1 if rng.random() < 0.5 else -1) * rng.uniform(0.4, 1.0)
        br = _walk(rng, max(3, int(n * rng.uniform(0.15, 0.4))), step, head, 0.0, 0.3) + pts[k]
        cv.line(dark, br, 1)
        variant += "+branch"
    return Shape(soft(dark, 0.5 * s), variant=variant, confusable=curved, gain=_THIN_GAIN[thick])


def slag(rng: np.random.Generator, cv: Canvas, s: float, c: np.ndarray, ang: float, *, round_: bool) -> Shape:
    """Irregular elongated dark blob (perturbed polygon or overlapping ellipses) with mottled inside."""
    dark = cv.new()
    if round_:
        a = rng.uniform(4.5, 9) * s
        cv.fill(dark, _blob(rng, c, a, a * rng.uniform(0.75, 0.95), ang, 0.1))
        variant = "round"
    elif rng.random() < 0.5:
        a = rng.uniform(8, 24) * s
        cv.fill(dark, _blob(rng, c, a, a * rng.uniform(0.25, 0.55), ang, 0.28))
        variant = "polygon"
    else:
        a, b = rng.uniform(8, 24) * s, rng.uniform(3, 7) * s
        for _ in range(int(rng.integers(2, 5))):
            off = rng.uniform(-0.6, 0.6) * a
            cc = c + off * np.array([np.cos(ang), np.sin(ang)]) + rng.normal(0, 0.3 * b, 2)
            axes = (a * rng.uniform(0.3, 0.6), b * rng.uniform(0.6, 1.0))
            cv.ellipse(dark, cc, axes, np.degrees(ang + rng.normal(0, 0.25)))
        variant = "ellipses"
    f = soft(dark, 0.6 * s)
    tex = cv2.resize(rng.standard_normal((cv.n // 6, cv.n // 6)).astype(np.float32), (cv.n, cv.n))
    f *= np.clip(0.8 + 0.2 * tex, 0.4, 1.0)
    return Shape(f / max(float(f.max()), 1e-6), variant=variant, confusable=round_)


def broken_arc(rng: np.random.Generator, cv: Canvas, s: float, c: np.ndarray, *, flat: bool) -> Shape:
    """Short smooth dark arc (part of a circle), sometimes dashed; ``flat`` = low curvature."""
    length = rng.uniform(16, 55) * s
    rad = rng.uniform(70, 130) * s if flat else rng.uniform(10, 30) * s
    span = min(length / rad, np.radians(200))
    a0 = rng.uniform(0, 2 * np.pi)
    n = max(6, int(span * rad / 1.5))
    a = a0 + np.linspace(0, span, n)
    mid = a0 + span / 2
    pts = c - rad * np.array([np.cos(mid), np.sin(mid)]) + rad * np.stack([np.cos(a), np.sin(a)], 1)
    dark, thick = cv.new(), 3 if rng.random() < 0.6 else 2
    dashed = rng.random() < 0.45 and n >= 12
    if dashed:
        cuts = np.sort(rng.choice(np.arange(3, n - 3), size=int(rng.integers(1, 3)), replace=False))
        gap = max(1, int(n * rng.uniform(0.05, 0.12)))
        for lo, hi in zip(np.r_[0, cuts + gap], np.r_[cuts, n], strict=True):
            if hi - lo >= 2:
                cv.line(dark, pts[lo:hi], thick)
    else:
        cv.line(dark, pts, thick)
    variant = ("flat" if flat else "curved") + ("+dashed" if dashed else "")
    return Shape(soft(dark, 0.5 * s), variant=variant, confusable=flat, gain=_THIN_GAIN[thick])


def air_hole(
    rng: np.random.Generator, cv: Canvas, s: float, c: np.ndarray, r: float, *, irregular: bool
) -> Shape:
    """Round dark pore of radius r px with a soft edge and (mostly) a faint bright rim."""
    dark = cv.new()
    if irregular:
        cv.fill(dark, _blob(rng, c, r, r * rng.uniform(0.7, 0.85), rng.uniform(0, np.pi), 0.12))
    else:
        cv.ellipse(dark, c, (r, r), 0.0)
    shape = Shape(soft(dark, 0.22 * r + 0.3 * s), variant="irregular" if irregular else "round")
    shape.confusable = irregular
    if rng.random() < 0.8:
        rim = cv.new()
        cv.ellipse(rim, c, (r + 1.0 * s, r + 1.0 * s), 0.0, thick=1)
        shape.rim, shape.rim_gain = soft(rim, 0.6 * s), rng.uniform(0.2, 0.45)
    return shape


def unfused(rng: np.random.Generator, cv: Canvas, bead: Bead, s: float) -> Shape:
    """Lack of fusion: long straight dark line parallel to the bead with a bright parallel edge."""
    length = rng.uniform(40, 100) * s
    t0 = rng.uniform(-0.5 * cv.size, 0.5 * cv.size - length)
    side = 1.0 if rng.random() < 0.5 else -1.0
    off = side * rng.uniform(0.1, 0.75) * bead.hw
    n = max(6, int(length / 3))
    t = np.linspace(t0, t0 + length, n)
    dark, rim, thick = cv.new(), cv.new(), 2 if rng.random() < 0.5 else 3
    cv.line(dark, bead.point(t, off + smooth_noise(rng, n, 8) * 0.3 * s), thick)
    cv.line(rim, bead.point(t[1:-1], off + side * rng.uniform(2.0, 3.2) * s), 1)
    return Shape(soft(dark, 0.5 * s), soft(rim, 0.5 * s), rng.uniform(0.4, 0.8), gain=_THIN_GAIN[thick])


# ---- clutter: drawn straight into the image, never labeled ---------------------------------------------


def clutter(rng: np.random.Generator, img: np.ndarray, kind: str) -> None:
    """Add one unlabeled distractor of ``kind`` (scratch, grinding, stain, spatter) to img in place."""
    size = img.shape[0]
    s = size / 256
    cv = Canvas(size, 0)
    m = cv.new()
    p = rng.uniform(0.05, 0.95, 2) * size
    if kind == "scratch":
        length, ang = rng.uniform(40, 200) * s, rng.uniform(0, np.pi)
        pts = _walk(rng, max(4, int(length / 4)), 4, ang, rng.normal(0, 0.002), 0.01)
        cv.line(m, pts + p - pts.mean(0), 1)
        amp = rng.uniform(6, 20) if rng.random() < 0.7 else -rng.uniform(5, 11)
        img += amp * soft(m, 0.5 * s)
    elif kind == "grinding":
        rad, a0, span = rng.uniform(60, 160) * s, rng.uniform(0, 2 * np.pi), rng.uniform(0.15, 0.4)
        for i in range(int(rng.integers(5, 14))):
            rr = rad + i * rng.uniform(1.5, 3.5) * s
            a = a0 + rng.uniform(-0.05, 0.05) + np.linspace(0, span * rng.uniform(0.6, 1.0), 12)
            cv.line(
                m, p + rr * np.stack([np.cos(a), np.sin(a)], 1) - rad * np.array([np.cos(a0), np.sin(a0)])
            )
        img += (rng.uniform(8, 18) if rng.random() < 0.75 else -rng.uniform(5, 10)) * soft(m, 0.6 * s)
    elif kind == "stain":
        for _ in range(int(rng.integers(1, 4))):
            ax = rng.uniform(10, 35, 2) * s
            cv.ellipse(m, p + rng.normal(0, 10 * s, 2), ax, rng.uniform(0, 180))
        img -= rng.uniform(8, 25) * soft(m, rng.uniform(6, 14) * s)
    else:  # spatter: small bright balls with a dark shadow
        shadow = cv.new()
        for _ in range(int(rng.integers(1, 7))):
            q, r = p + rng.normal(0, 15 * s, 2), rng.uniform(1.2, 3.5) * s
            cv.ellipse(shadow, q + 0.8 * s, (r + 0.8 * s, r + 0.8 * s), 0.0)
            cv.ellipse(m, q, (r, r), 0.0)
        img -= rng.uniform(8, 18) * soft(shadow, 0.8 * s)
        img += rng.uniform(20, 40) * soft(m, 0.5 * s)
