"""Build a small real image set with boxes from the sample data of the ``deepforest`` wheel (PyPI).

The wheel ships aerial RGB images of NEON sites with hand-drawn tree-crown boxes (Pascal VOC XML). This
script reads them straight from the wheel (no install, none of deepforest's dependencies), cuts the images
into square tiles and writes ultralytics' YOLO layout, one class ``tree``, for ``data=yolo data.path=...``::

    pip download --no-deps deepforest==2.1.0 -d /tmp/deepforest
    python scripts/deepforest_trees.py /tmp/deepforest/deepforest-2.1.0-py3-none-any.whl /data/trees
    python -m autolabel.train data=yolo data.path=/data/trees/data.yaml

Tiles are ``--tile`` pixels; the strip at the right and bottom that makes no full tile is dropped, so no
two tiles overlap. A box cut by a tile edge is kept (clipped) when at least ``--min-visible`` of its area
lies in the tile, and dropped otherwise (a sliver of a crown at the edge is left unlabeled, as an
annotator of the tile would likely leave it). Boxes of other names than ``Tree`` are not read.
"""

from __future__ import annotations

import argparse
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None  # the largest sample is 2299 x 2472 pixels, below PIL's limit anyway
SCENES = (  # (image, its VOC annotations) inside the wheel: the tree-crown samples
    ("2019_YELL_2_528000_4978000_image_crop2.png", "2019_YELL_2_528000_4978000_image_crop2.xml"),
    ("2019_YELL_2_541000_4977000_image_crop.png", "2019_YELL_2_541000_4977000_image_crop.xml"),
    ("OSBS_029.png", "OSBS_029.xml"),
)
MIN_SIDE = 2.0  # pixels: a clipped box narrower than this is dropped (the reader refuses zero-area boxes)


def voc_boxes(xml_text: str, name: str = "Tree") -> np.ndarray:
    """(M, 4) float xyxy pixel boxes of the objects called ``name`` in a Pascal VOC annotation."""
    root = ET.fromstring(xml_text)
    rows = []
    for obj in root.iter("object"):
        if obj.findtext("name") != name:
            continue
        b = obj.find("bndbox")
        rows.append([float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def tile_boxes(boxes: np.ndarray, x0: int, y0: int, tile: int, min_visible: float) -> np.ndarray:
    """(K, 4) boxes of one tile in its own pixels: clipped, kept when min_visible of the area is inside."""
    clipped = np.clip(boxes - [x0, y0, x0, y0], 0, tile)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    w, h = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    keep = (w >= MIN_SIDE) & (h >= MIN_SIDE) & (w * h >= min_visible * np.maximum(area, 1e-9))
    return clipped[keep]


def yolo_lines(boxes: np.ndarray, size: int) -> str:
    """YOLO label text, class 0, normalised centre and size, for (K, 4) xyxy boxes of a square image."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 / size, (boxes[:, 1] + boxes[:, 3]) / 2 / size
    w, h = (boxes[:, 2] - boxes[:, 0]) / size, (boxes[:, 3] - boxes[:, 1]) / size
    return "".join(f"0 {a:.6f} {b:.6f} {c:.6f} {d:.6f}\n" for a, b, c, d in zip(cx, cy, w, h, strict=True))


def build(wheel: Path, out: Path, *, tile: int, min_visible: float) -> tuple[int, int]:
    """Write ``out/images/*.png``, ``out/labels/*.txt`` and ``out/data.yaml``; returns (tiles, boxes)."""
    (out / "images").mkdir(parents=True, exist_ok=False)
    (out / "labels").mkdir()
    n_tiles = n_boxes = 0
    with zipfile.ZipFile(wheel) as z:
        for image_name, xml_name in SCENES:
            image = Image.open(io.BytesIO(z.read(f"deepforest/data/{image_name}"))).convert("RGB")
            boxes = voc_boxes(z.read(f"deepforest/data/{xml_name}").decode("utf-8"))
            width, height = image.size
            stem = Path(image_name).stem
            for y0 in range(0, height - tile + 1, tile):
                for x0 in range(0, width - tile + 1, tile):
                    name = f"{stem}_{x0:05d}_{y0:05d}"
                    image.crop((x0, y0, x0 + tile, y0 + tile)).save(out / "images" / f"{name}.png")
                    kept = tile_boxes(boxes, x0, y0, tile, min_visible)
                    (out / "labels" / f"{name}.txt").write_text(yolo_lines(kept, tile))
                    n_tiles, n_boxes = n_tiles + 1, n_boxes + len(kept)
    (out / "data.yaml").write_text(f"path: {out.resolve()}\ntrain: images\nnames:\n  0: tree\n")
    return n_tiles, n_boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the deepforest wheel (pip download --no-deps deepforest)")
    parser.add_argument("output", type=Path, help="a new folder for the YOLO dataset")
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels (default 256)")
    parser.add_argument("--min-visible", type=float, default=0.5, help="share of a cut box kept (0.5)")
    args = parser.parse_args()
    tiles, boxes = build(args.wheel, args.output, tile=args.tile, min_visible=args.min_visible)
    print(f"{tiles} tiles, {boxes} tree boxes -> {args.output / 'data.yaml'}")


if __name__ == "__main__":
    main()
