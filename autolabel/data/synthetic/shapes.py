"""A tiny, easy synthetic detection set: large filled shapes on a mildly noisy gray background, YOLO layout.

Made for tests and quick looks (``data=shapes``, used by ``experiment=smoke``): a nano model trained from
scratch for a few epochs learns it, so the smoke experiment's models score well above zero and differ.
Each image holds 0 to ``max_objects`` non-overlapping shapes (an image is empty with probability
``_P_EMPTY``). Most shapes are large (a quarter to two fifths of the image side) and far brighter or darker
than the background; a ``hard_share`` of them form a hard tail: small and of low contrast, so that the
uncertainty scores of a trained model are not all equal. Same seed, same bytes; image i depends only on
(seed, i, image_size, classes, hard_share, max_objects), so a smaller n_images gives a byte-identical prefix.

Layout written by :func:`generate_shapes` (as the demo's, see :mod:`autolabel.data.synthetic.demo`)::

    out_dir/images/00000.jpg ...   out_dir/labels/00000.txt ...   (YOLO ``cls cx cy w h``, normalised)
    out_dir/data.yaml              (path, train: images, names)   out_dir/meta.jsonl, out_dir/shapes.json

``meta.jsonl`` (one line per image, same object order as the label file): ``image``, ``background`` (gray
level), ``noise_sigma`` (gray levels), ``n_objects``, ``tail`` ("hard" when the image holds a hard-tail
shape, else "easy") and ``objects``: ``cls``, ``name``, ``xyxy`` (int px, x1/y1 exclusive), ``size_px``,
``contrast`` (signed gray levels: > 0 brighter than the background) and ``hard``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from autolabel.data.synthetic.writer import check_int, generate_once, write_yolo_set

SHAPES: tuple[str, ...] = ("square", "disc", "triangle")  # the shapes this generator can draw
GENERATOR_VERSION = 1
_P_EMPTY = 0.15  # share of images with no object
_EASY_SIDE = (0.25, 0.42)  # side of a shape as a fraction of the image side
_HARD_SIDE = (0.09, 0.14)
_EASY_CONTRAST = (70.0, 100.0)  # gray levels between a shape and the background
_HARD_CONTRAST = (16.0, 28.0)
_BACKGROUND = (100.0, 155.0)  # gray level of the background
_NOISE_SIGMA = (3.0, 7.0)  # pixel noise, gray levels
_GRADIENT = 20.0  # largest gray-level ramp across the image (a mild lighting gradient)
_GAP = 2  # pixels kept free between two shapes' boxes
_TRIES = 30  # random placements tried per shape before it is left out


def _mask(name: str, side: int) -> np.ndarray:
    """(side, side) bool mask of a shape that touches all four sides of its box."""
    if name == "square":
        return np.ones((side, side), dtype=bool)
    if name == "disc":
        c = (np.arange(side) + 0.5 - side / 2) ** 2
        return c[:, None] + c[None, :] <= (side / 2) ** 2
    canvas = np.zeros((side, side), dtype=np.uint8)  # triangle, pointing up
    points = np.array([[0, side - 1], [side - 1, side - 1], [(side - 1) // 2, 0]], dtype=np.int32)
    cv2.fillPoly(canvas, [points], 1)
    return canvas.astype(bool)


def _free(box: tuple[int, int, int, int], taken: list[tuple[int, int, int, int]]) -> bool:
    x0, y0, x1, y1 = box
    return all(
        x1 + _GAP <= a or a1 + _GAP <= x0 or y1 + _GAP <= b or b1 + _GAP <= y0 for a, b, a1, b1 in taken
    )


def render_shapes_image(
    index: int,
    *,
    image_size: int = 128,
    seed: int = 0,
    classes: Sequence[str] = ("square", "disc"),
    hard_share: float = 0.15,
    max_objects: int = 3,
) -> tuple[np.ndarray, list[dict], dict]:
    """Render shapes image ``index``, a pure function of its arguments.

    classes: the shape drawn for each class id (names from :data:`SHAPES`).
    Returns the (image_size, image_size, 3) uint8 BGR image (gray), its objects (dicts with ``cls``,
    ``xyxy`` = [x0, y0, x1, y1] integer pixels, x1/y1 exclusive, and the meta fields) and the image meta.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    size = image_size
    background = float(rng.uniform(*_BACKGROUND))
    sigma = float(rng.uniform(*_NOISE_SIGMA))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * np.arange(size)[None, :] + np.sin(angle) * np.arange(size)[:, None]) / size
    img = background + rng.uniform(0, _GRADIENT) * (ramp - ramp.mean())
    n = 0 if rng.random() < _P_EMPTY else int(rng.integers(1, max_objects + 1))
    objects: list[dict] = []
    taken: list[tuple[int, int, int, int]] = []
    for _ in range(n):
        cls = int(rng.integers(len(classes)))
        hard = bool(rng.random() < hard_share)
        side = max(6, round(float(rng.uniform(*(_HARD_SIDE if hard else _EASY_SIDE))) * size))
        contrast = float(rng.uniform(*(_HARD_CONTRAST if hard else _EASY_CONTRAST)))
        contrast *= 1.0 if rng.random() < 0.5 else -1.0
        for _ in range(_TRIES):
            x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, 2))
            box = (x0, y0, x0 + side, y0 + side)
            if _free(box, taken):
                break
        else:
            continue
        taken.append(box)
        img[y0 : y0 + side, x0 : x0 + side] += contrast * _mask(classes[cls], side)
        objects.append(
            {
                "cls": cls,
                "name": classes[cls],
                "xyxy": list(box),
                "size_px": side,
                "contrast": round(contrast, 1),
                "hard": hard,
            }
        )
    img += rng.normal(0.0, sigma, (size, size))
    gray = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    meta = {
        "background": round(background, 1),
        "noise_sigma": round(sigma, 2),
        "n_objects": len(objects),
        "tail": "hard" if any(o["hard"] for o in objects) else "easy",
    }
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), objects, meta


def _write_dataset(root: Path, final: Path, params: dict) -> None:
    options = {k: params[k] for k in ("image_size", "seed", "classes", "hard_share", "max_objects")}
    write_yolo_set(
        root,
        final,
        render=lambda i: render_shapes_image(i, **options),
        n_images=params["n_images"],
        size=params["image_size"],
        names=params["classes"],
        kind="shapes",
    )
    (root / "shapes.json").write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")


def check_classes(classes: Sequence[str]) -> list[str]:
    """The class names as a list: at least one, no repeats, each a shape of :data:`SHAPES`."""
    if isinstance(classes, str):
        raise ValueError(f"classes must be a list of shape names, got {classes!r}")
    names = [str(c) for c in classes]
    unknown = [c for c in names if c not in SHAPES]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"classes must be distinct names from {list(SHAPES)}, got {names}")
    return names


def generate_shapes(
    out_dir: str | Path,
    *,
    n_images: int = 64,
    image_size: int = 128,
    seed: int = 0,
    classes: Sequence[str] = ("square", "disc"),
    hard_share: float = 0.15,
    max_objects: int = 3,
) -> Path:
    """Write the shapes set under out_dir and return the path of its data.yaml.

    n_images >= 1 square images of image_size >= 32 px; classes: shape names of :data:`SHAPES`, one per
    class id; hard_share in [0, 1]: the probability that a shape is small and of low contrast;
    max_objects >= 1. A set with the same parameters is reused; another is replaced atomically; a non-empty
    out_dir that is not a shapes set (no shapes.json) raises ValueError.
    """
    if isinstance(hard_share, bool) or not isinstance(hard_share, (int, float, np.integer, np.floating)):
        raise ValueError(f"hard_share must be a number in [0, 1], got {hard_share!r}")
    if not 0.0 <= float(hard_share) <= 1.0:
        raise ValueError(f"hard_share must be in [0, 1], got {hard_share}")
    params = {
        "generator_version": GENERATOR_VERSION,
        "n_images": check_int("n_images", n_images, 1),
        "image_size": check_int("image_size", image_size, 32),
        "seed": check_int("seed", seed, 0),
        "classes": check_classes(classes),
        "hard_share": float(hard_share),
        "max_objects": check_int("max_objects", max_objects, 1),
    }
    return generate_once(
        out_dir, params, lambda tmp, final: _write_dataset(tmp, final, params), marker="shapes.json"
    )
