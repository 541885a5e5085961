"""Write a small auto-label output folder for the Label Studio screenshot demo (no model, no training).

    python scripts/label_studio_demo_data.py ROOT [--n 12]

Writes ROOT/data/images/*.png (160 x 120, gray with drawn squares and discs) and ROOT/out, an auto-label
output (the job marker and records) as ``autolabel.label`` writes it, with varied scores, bands and
p_needs_correction, ready for ``python -m autolabel.select labels=ROOT/out``. Prints ROOT/out.
Like ``tests/autolabel/loop_data.py``, but with larger images that look like something in thumbnails.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from autolabel.job.runner import MARKER
from autolabel.records import ImageRecord, RecordWriter
from autolabel.structures import Detections

NAMES = ("square", "disc")
W, H = 160, 120


def boxes_for(rng: np.random.Generator, k: int) -> list[tuple[float, float, float, float, int, float]]:
    """``k`` non-overlapping-ish boxes (x1, y1, x2, y2, cls, conf) on a W x H image."""
    out = []
    for i in range(k):
        side = float(rng.integers(26, 44))
        x1 = 8 + i * (W - 16) / max(k, 1) + rng.uniform(0, 8)
        y1 = rng.uniform(8, H - side - 8)
        out.append((x1, y1, x1 + side, y1 + side, int(rng.integers(0, 2)), float(rng.uniform(0.3, 0.98))))
    return out


def draw(path: Path, boxes: list, rng: np.random.Generator) -> None:
    """A noisy gray image with each box drawn as its class's shape."""
    noise = rng.normal(70, 12, (H, W)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(noise).convert("RGB")
    pen = ImageDraw.Draw(img)
    for x1, y1, x2, y2, cls, _ in boxes:
        fill = (200, 180, 60) if cls == 0 else (90, 170, 220)
        (pen.rectangle if cls == 0 else pen.ellipse)((x1, y1, x2, y2), fill=fill, outline=(20, 20, 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def record(key: str, boxes: list, score: float, band: str, p: float) -> ImageRecord:
    """The record of one image, built as ``loop_data.record`` does, with a calibrated band."""
    xyxy = np.array([b[:4] for b in boxes], np.float32).reshape(-1, 4)
    cls = np.array([b[4] for b in boxes], np.int64)
    conf = np.array([b[5] for b in boxes], np.float32)
    probs = np.zeros((len(boxes), len(NAMES)), np.float32)
    probs[np.arange(len(boxes)), cls] = conf
    det = Detections(xyxy, conf, cls, probs)
    failed = band == "failed"
    fields = {"score": score, "components": {"entropy": score}, "n_candidates": len(boxes) + 1}
    fields |= {"failed": failed, "difficulty": band, "p_needs_correction": p}  # calibrated: failed is a band
    return ImageRecord.from_detections(key, det, width=W, height=H, names=NAMES, **fields)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--n", type=int, default=12)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    source, out = args.root / "data" / "images", args.root / "out"
    if out.exists():
        raise SystemExit(f"{out} exists: pick a new ROOT")
    records = []
    scores = rng.permutation(np.linspace(0.15, 2.4, args.n)) + rng.uniform(-0.05, 0.05, args.n)
    for i in range(args.n):
        score = float(np.round(scores[i], 3))
        band = "easy" if score < 0.8 else "medium" if score < 1.6 else "hard"
        k = int(rng.integers(1, 4))
        if i % 5 == 4:  # every fifth image: the auto-labeler kept no box
            band, k = "failed", 0
        boxes = boxes_for(rng, k)
        p = float(np.round(min(0.97, 0.1 + score / 3 + rng.uniform(-0.05, 0.05)), 3))
        key = f"line_{'ab'[i % 2]}/img_{i:03d}.png"
        draw(source / key, boxes, rng)
        records.append(record(key, boxes, score, band, p))
    out.mkdir(parents=True)
    meta = {"weights": str(args.root / "demo.pt"), "weights_sha256": "cd" * 32, "source": str(source)}
    (out / MARKER).write_text(json.dumps({**meta, "names": list(NAMES)}))
    with RecordWriter.in_folder(out) as writer:
        writer.append(records)
    print(out)


if __name__ == "__main__":
    main()
