"""Built-in demo dataset: synthetic steel weld-surface images with six defect classes, in YOLO format.

The classes follow Superb AI's steel-pipe weld study. Images are grayscale (stored as 3-channel BGR JPEG)
and carry deliberate difficulty structure: per-object contrast levels, tiny defects, unlabeled clutter
(scratches, grinding marks, stains, spatter), confusable pairs (air-hole vs slag-inclusion, crack vs
broken-arc), touching/overlapping defects, uneven class frequencies, empty images and a per-image
difficulty that shifts all of these. The generator's hidden attributes go to ``meta.jsonl``.

Layout written by :func:`generate_demo`::

    out_dir/images/00000.jpg ...   out_dir/labels/00000.txt ...   (YOLO ``cls cx cy w h``, normalised)
    out_dir/data.yaml              (path, train: images, names)   out_dir/meta.jsonl, out_dir/demo.json

``meta.jsonl`` (analysis only, one line per image, same object order as the label file): ``image``,
``difficulty`` (intended, 0 = easy .. 1 = hard), ``lighting``/``lighting_strength``, ``noise_sigma`` (gray
levels), ``clutter_count``/``clutter_kinds``, ``n_objects`` and ``objects``: ``cls``, ``name``, ``xyxy``
(int px, x1/y1 exclusive), ``contrast_level`` (clear/subtle/low), ``contrast`` (peak darkening in gray
levels before lighting and blur), ``size_px`` (longer box side), flags ``tiny``, ``low_contrast``,
``confusable``, ``overlapping`` (box IoU > 0 with another box), ``variant`` and a heuristic ``hardness``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from autolabel.data.synthetic import demo_draw as dd
from autolabel.data.synthetic.writer import check_int, generate_once, write_yolo_set
from autolabel.structures import box_iou

CLASS_NAMES: tuple[str, ...] = ("bite-edge", "crack", "slag-inclusion", "broken-arc", "air-hole", "unfused")
GENERATOR_VERSION = 3

BITE, CRACK, SLAG, ARC, HOLE, UNFUSED = range(6)
# Relative weights of defect *events*; an air-hole event may yield a cluster of several holes.
_EVENT_WEIGHTS = np.array([13, 25, 18, 7, 14, 7], dtype=np.float64)
_EVENT_P = _EVENT_WEIGHTS / _EVENT_WEIGHTS.sum()
_CLUTTER_KINDS = ("scratch", "grinding", "stain", "spatter")
_CLUTTER_P = (0.35, 0.2, 0.25, 0.2)
_MAX_OBJECTS = 8
_P_EMPTY = 0.10
_MIN_INSIDE = 0.6  # objects with less of their drawn mass inside the image are not drawn at all
_MASK_THR = 0.3  # box = extent of the drawn mask above this fraction of its peak


def _contrast(rng: np.random.Generator, d: float, tiny: bool, noise_sigma: float) -> tuple[str, float]:
    """Per-object contrast level and peak darkening in gray levels; harder images shift to subtle/low."""
    p_clear, p_low = 0.85 - 0.5 * d, 0.03 + 0.24 * d
    u = rng.random()
    level = "clear" if u < p_clear else "low" if u > 1 - p_low and not tiny else "subtle"
    lo, hi = {"clear": (38, 70), "subtle": (20, 32), "low": (10, 17)}[level]
    return level, max(float(rng.uniform(lo, hi)), 1.8 * noise_sigma)


def _in_bead(rng: np.random.Generator, bead: dd.Bead, size: int, spread: float) -> np.ndarray:
    t = rng.uniform(-0.42, 0.42) * size
    return bead.point(t, rng.uniform(-spread, spread) * bead.halfwidth(np.array([t])))[0]


def _anywhere(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.uniform(0.06, 0.94, 2) * size


def _shapes_for_event(
    rng: np.random.Generator, cls: int, cv: dd.Canvas, bead: dd.Bead, s: float, d: float, slags: list
) -> list[tuple[int, dd.Shape, bool]]:
    """Draw one defect event; returns [(class id, shape, tiny)] (several for an air-hole cluster)."""
    size = cv.size
    if cls == BITE:
        return [(cls, dd.bite_edge(rng, cv, bead, s), False)]
    if cls == UNFUSED:
        return [(cls, dd.unfused(rng, cv, bead, s), False)]
    if cls == SLAG:
        c = _in_bead(rng, bead, size, 0.55)
        shape = dd.slag(rng, cv, s, c, bead.theta + rng.normal(0, 0.25), round_=rng.random() < 0.2)
        slags.append((c, s))
        return [(cls, shape, False)]
    if cls == CRACK:
        tiny = rng.random() < 0.06 + 0.2 * d
        if slags and not tiny and rng.random() < 0.35:  # a crack crossing a slag inclusion
            c0, s0 = slags[int(rng.integers(len(slags)))]
            c, variant = c0 + rng.normal(0, 4 * s0, 2), "crosses-slag"
        else:
            c, variant = (_in_bead(rng, bead, size, 0.9) if rng.random() < 0.55 else _anywhere(rng, size)), ""
        shape = dd.crack(rng, cv, s, c, tiny=tiny, curved=not tiny and rng.random() < 0.2)
        shape.variant += "+" + variant if variant else ""
        return [(cls, shape, tiny)]
    if cls == ARC:
        if rng.random() < 0.5:
            t = rng.uniform(-0.42, 0.42) * size
            off = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.2) * bead.halfwidth(np.array([t]))
            c = bead.point(t, off)[0]
        else:
            c = _anywhere(rng, size)
        return [(cls, dd.broken_arc(rng, cv, s, c, flat=rng.random() < 0.25), False)]
    # air-hole: single or a cluster of touching/nearby pores, sometimes next to a slag inclusion
    if slags and rng.random() < 0.2:
        c0, s0 = slags[int(rng.integers(len(slags)))]
        c = c0 + rng.normal(0, 1, 2) / 1.4 * rng.uniform(14, 24) * s0
    else:
        c = _in_bead(rng, bead, size, 0.8) if rng.random() < 0.75 else _anywhere(rng, size)
    n = int(rng.integers(2, 6)) if rng.random() < 0.45 else 1
    out, centers, radii = [], [], []
    for _ in range(n):
        tiny = rng.random() < 0.12 + 0.3 * d
        r = rng.uniform(2.2, 4.0) * s if tiny else rng.uniform(3.5, 8.0) * s
        if centers:
            j = int(rng.integers(len(centers)))
            a = rng.uniform(0, 2 * np.pi)
            c = centers[j] + (radii[j] + r) * rng.uniform(0.85, 2.2) * np.array([np.cos(a), np.sin(a)])
        centers.append(c)
        radii.append(r)
        shape = dd.air_hole(rng, cv, s, c, r, irregular=rng.random() < 0.2)
        shape.variant += "+cluster" if n > 1 else ""
        out.append((cls, shape, tiny))
    return out


def _box(mask: np.ndarray, size: int) -> tuple[int, int, int, int] | None:
    """Tight xyxy pixel box (x1, y1 exclusive) of mask >= _MASK_THR, widened to at least 3 px."""
    ys, xs = np.nonzero(mask >= _MASK_THR)
    if len(xs) == 0:
        return None
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    for lo, hi in ((0, 2), (1, 3)):
        while box[hi] - box[lo] < 3:
            if box[lo] > 0:
                box[lo] -= 1
            if box[hi] - box[lo] < 3 and box[hi] < size:
                box[hi] += 1
    return box[0], box[1], box[2], box[3]


def render_demo_image(
    index: int, *, image_size: int = 256, seed: int = 0, shift_share: float = 0.0
) -> tuple[np.ndarray, list[dict], dict]:
    """Render demo image ``index``, a pure function of (seed, index, image_size, shift_share).

    shift_share: the probability that the image comes from the second imaging line (``line`` "B" in the
    meta), which shows the same kind of scene with inverted gray levels (defects bright on a dark
    background, as a radiograph displayed as a positive). The line is drawn from its own random stream,
    so the share changes no line-A image.
    Returns the (image_size, image_size, 3) uint8 BGR image, its objects (dicts with ``cls`` and
    ``xyxy`` = [x0, y0, x1, y1] integer pixels, x1/y1 exclusive, plus hidden attributes) and image meta.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    line_b = shift_share > 0 and np.random.default_rng([seed, index, 1]).random() < shift_share
    size, scale = image_size, image_size / 256
    # Intended per-image difficulty, 0 = easy. Beta(1, 3) (mean 0.25) rather than uniform: most images
    # are learnable by a nano model trained from scratch on ~180 images, and a long tail stays hard.
    d = float(rng.beta(1.0, 3.0))
    light = float(rng.uniform(0.05, 0.25) + 0.45 * d * rng.random())
    sigma = float(rng.uniform(1.5, 3.0) + 6.0 * d * rng.random())
    bead = dd.random_bead(rng, size)
    img = dd.render_background(rng, size, bead)

    cv = dd.Canvas(size, int(40 * scale) + 8)
    events = [] if rng.random() < _P_EMPTY else list(rng.choice(6, size=1 + rng.poisson(1.3), p=_EVENT_P))
    objects: list[dict] = []
    slags: list = []
    for cls in events:
        s = scale * (1 - 0.3 * d * rng.random())  # harder images: somewhat smaller defects
        for c, shape, tiny in _shapes_for_event(rng, int(cls), cv, bead, s, d, slags):
            if len(objects) >= _MAX_OBJECTS:
                break
            full = shape.dark if shape.rim is None else np.maximum(shape.dark, shape.rim)
            crop = full[cv.pad : cv.pad + size, cv.pad : cv.pad + size]
            box = _box(crop, size)
            if box is None or crop.sum() < _MIN_INSIDE * full.sum():
                continue
            level, contrast = _contrast(rng, d, tiny, sigma)
            contrast *= shape.gain
            img -= np.float32(contrast) * shape.dark[cv.pad : cv.pad + size, cv.pad : cv.pad + size]
            if shape.rim is not None:
                rim = shape.rim[cv.pad : cv.pad + size, cv.pad : cv.pad + size]
                img += np.float32(contrast * shape.rim_gain) * rim
            w, h = box[2] - box[0], box[3] - box[1]
            objects.append(
                {
                    "cls": c,
                    "name": CLASS_NAMES[c],
                    "xyxy": list(box),
                    "contrast_level": level,
                    "contrast": round(contrast, 1),
                    "size_px": max(w, h),
                    "tiny": tiny,
                    "low_contrast": level == "low",
                    "confusable": shape.confusable,
                    "variant": shape.variant,
                }
            )

    kinds = [
        str(k) for k in rng.choice(_CLUTTER_KINDS, size=min(8, rng.poisson(0.4 + 3.5 * d)), p=_CLUTTER_P)
    ]
    for kind in kinds:
        dd.clutter(rng, img, kind)
    gray, light_kind = dd.finish(rng, img, light_strength=light, noise_sigma=sigma)
    if line_b:
        gray = 255 - gray

    iou = box_iou(np.array([o["xyxy"] for o in objects]), np.array([o["xyxy"] for o in objects]))
    np.fill_diagonal(iou, 0)
    for o, row in zip(objects, iou, strict=True):
        o["overlapping"] = bool((row > 0).any())
        hard = {"clear": 0.0, "subtle": 0.5, "low": 1.0}[o["contrast_level"]]
        o["hardness"] = round(
            min(1.0, 0.5 * hard + 0.2 * o["tiny"] + 0.15 * o["confusable"] + 0.15 * o["overlapping"]), 3
        )
    meta = {
        "difficulty": round(d, 4),
        "lighting": light_kind,
        "lighting_strength": round(light, 4),
        "noise_sigma": round(sigma, 3),
        "clutter_count": len(kinds),
        "clutter_kinds": kinds,
        "bead_angle_deg": round(float(np.degrees(bead.theta)), 2),
        "n_objects": len(objects),
        "line": "B" if line_b else "A",
    }
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), objects, meta


def _write_dataset(root: Path, final: Path, params: dict) -> None:
    size, seed = params["image_size"], params["seed"]
    share = params.get("shift_share", 0.0)
    write_yolo_set(
        root,
        final,
        render=lambda i: render_demo_image(i, image_size=size, seed=seed, shift_share=share),
        n_images=params["n_images"],
        size=size,
        names=CLASS_NAMES,
        kind="demo",
    )
    (root / "demo.json").write_text(json.dumps({**params, "class_names": list(CLASS_NAMES)}, indent=1) + "\n")


def _check_share(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"shift_share must be a number in [0, 1), got {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"shift_share must be in [0, 1), got {value}")
    return float(value)


def generate_demo(
    out_dir: str | Path,
    *,
    n_images: int = 774,
    image_size: int = 256,
    seed: int = 0,
    shift_share: float = 0.0,
) -> Path:
    """Write the demo set under out_dir and return the path of its data.yaml.

    n_images >= 1 square images of image_size >= 64 px; image i depends only on (seed, i, image_size,
    shift_share), so a smaller n_images gives a byte-identical prefix. shift_share in [0, 1): the expected
    share of images from the second imaging line (see :func:`render_demo_image`); 0 = one line only.
    An existing demo set with the same parameters is reused as is; a different one is replaced atomically
    (built in a temporary sibling folder, then renamed into place). A non-empty out_dir that is not a demo
    set (no demo.json) raises ValueError.
    """
    params = {
        "generator_version": GENERATOR_VERSION,
        "n_images": check_int("n_images", n_images, 1),
        "image_size": check_int("image_size", image_size, 64),
        "seed": check_int("seed", seed, 0),
    }
    share = _check_share(shift_share)
    if share:  # recorded only when used, so the one-line sets made before it existed stay valid
        params["shift_share"] = share
    return generate_once(
        out_dir,
        params,
        lambda tmp, final: _write_dataset(tmp, final, params),
        marker="demo.json",
        optional_keys=("shift_share",),  # a set made with a share differs from one made without
    )
