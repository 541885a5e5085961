"""Split a dataset into VAL / GT1 / POOL, reproducibly from a seed, and keep the split as a manifest.

Sizes are counts (int >= 1) or fractions of the whole dataset (float in (0, 1)). A dataset that ships its
own ``val`` keeps it as VAL and GT1 / POOL are drawn from its ``train`` images. Nothing here reads or
writes a label file: the manifest only lists image paths.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autolabel.yolo_format import DataError, DatasetSpec

SPLITS = ("val", "gt1", "pool")
MANIFEST_FIELDS = ("image", "split", "seed")


@dataclass(frozen=True)
class Split:
    """Image paths of each split (absolute, in manifest order) and the seed that drew them."""

    seed: int
    val: tuple[Path, ...]
    gt1: tuple[Path, ...]
    pool: tuple[Path, ...]

    def __getitem__(self, name: str) -> tuple[Path, ...]:
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)

    def sizes(self) -> dict[str, int]:
        return {name: len(self[name]) for name in SPLITS}


def resolve_size(size: int | float, *, total: int, key: str) -> int:
    """A count (int >= 0) or a fraction of ``total`` (float in (0, 1)) -> a count; ``key`` names it."""
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise DataError(f"{key}={size!r}: expected a count (int) or a fraction (float in (0, 1))")
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise DataError(f"{key}={size}: a fraction must lie in (0, 1); use an int for a count")
        return int(round(size * total))
    if size < 0:
        raise DataError(f"{key}={size}: a count must be >= 0")
    return int(size)


def split_dataset(spec: DatasetSpec, *, val: int | float, gt1: int | float, seed: int) -> Split:
    """Draw VAL, GT1 and POOL from ``spec`` with ``numpy.random.default_rng(seed)``.

    Fractions are of all images (train + shipped val). The same spec, sizes and seed give the same split.
    """
    shipped_val = tuple(spec.val) if spec.val else ()
    val_set = set(shipped_val)
    candidates = sorted(p for p in spec.train if p not in val_set)
    total = len(candidates) + len(shipped_val)
    rng = np.random.default_rng(seed)
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    if shipped_val:
        val_images = tuple(sorted(shipped_val))
    else:
        n_val = resolve_size(val, total=total, key="split.val")
        if n_val < 1:
            raise DataError(f"split.val={val} gives an empty VAL set for {total} images")
        val_images, order = tuple(order[:n_val]), order[n_val:]
    n_gt1 = resolve_size(gt1, total=total, key="split.gt1")
    if n_gt1 < 1:
        raise DataError(f"split.gt1={gt1} gives an empty GT1 set for {total} images")
    if n_gt1 >= len(order):
        raise DataError(
            f"empty pool: {spec.yaml_path} has {total} images; VAL takes {len(val_images)} and "
            f"split.gt1={gt1} takes {n_gt1}, leaving nothing to auto-label. Lower split.gt1 / split.val."
        )
    return Split(seed=int(seed), val=val_images, gt1=tuple(order[:n_gt1]), pool=tuple(order[n_gt1:]))


def write_manifest(split: Split, path: str | Path) -> Path:
    """One CSV row per image: ``image`` (absolute path), ``split`` (val / gt1 / pool), ``seed``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(MANIFEST_FIELDS)
        for name in SPLITS:
            writer.writerows((str(image), name, split.seed) for image in split[name])
    os.replace(tmp, path)
    return path


def read_manifest(path: str | Path) -> Split:
    """Read a manifest written by :func:`write_manifest`; errors name the file and row."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest not found: {path}")
    groups: dict[str, list[Path]] = {name: [] for name in SPLITS}
    seeds: set[str] = set()
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != MANIFEST_FIELDS:
            raise DataError(f"{path}: header must be {','.join(MANIFEST_FIELDS)}, got {reader.fieldnames}")
        for row_no, row in enumerate(reader, start=2):
            if row["split"] not in groups:
                raise DataError(f"{path}:{row_no}: unknown split {row['split']!r}")
            groups[row["split"]].append(Path(row["image"]))
            seeds.add(row["seed"])
    if len(seeds) != 1:
        raise DataError(f"{path}: expected one seed, found {sorted(seeds)}")
    return Split(seed=int(seeds.pop()), **{name: tuple(groups[name]) for name in SPLITS})
