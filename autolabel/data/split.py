"""Split a dataset into VAL / GT1 / POOL, reproducibly from a seed, and keep the split as a manifest.

Sizes are counts (int >= 1) or fractions of the whole dataset (float in (0, 1)). A dataset that ships its
own ``val`` keeps it as VAL and GT1 / POOL are drawn from its ``train`` images. Nothing here reads or
writes a label file: the manifest only lists image paths.

Byte-identical images (same content under different names) stay together, so that no copy of a VAL image
is trained on or measured as POOL: each group of duplicates joins the split of its member drawn first
(a group holding a shipped ``val`` image joins VAL), and a warning names them. A split may then exceed its
size by the extra copies. Without duplicates the split is exactly what the seed draws.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autolabel.errors import DataError
from autolabel.formats.yolo import DatasetSpec, label_path_for

SPLITS = ("val", "gt1", "pool")
MANIFEST_FIELDS = ("image", "split", "seed")
SHOW_GROUPS = 5  # duplicate groups named in the warning

log = logging.getLogger("autolabel.data.split")


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


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def duplicate_groups(paths: Sequence[Path]) -> list[tuple[Path, ...]]:
    """Groups (2 or more) of byte-identical files among ``paths``, each sorted; files missing are skipped.

    Only files that share a size are hashed (sha256), so a set without duplicates costs one stat a file.
    """
    by_size: dict[int, list[Path]] = defaultdict(list)
    for path in paths:
        try:
            by_size[os.stat(path).st_size].append(path)
        except OSError:
            continue
    by_hash: dict[tuple[int, str], list[Path]] = defaultdict(list)
    for size, same in by_size.items():
        if len(same) > 1:
            for path in same:
                digest = _sha256(path)
                if digest is not None:
                    by_hash[size, digest].append(path)
    groups = [tuple(sorted(g)) for g in by_hash.values() if len(g) > 1]
    return sorted(groups)


def _warn_duplicates(spec: DatasetSpec, groups: Sequence[tuple[Path, ...]]) -> None:
    def short(path: Path) -> str:
        return str(path.relative_to(spec.root)) if path.is_relative_to(spec.root) else str(path)

    named = "; ".join(" = ".join(short(p) for p in group) for group in groups[:SHOW_GROUPS])
    more = f"; and {len(groups) - SHOW_GROUPS} more group(s)" if len(groups) > SHOW_GROUPS else ""
    log.warning(
        "%s: %d group(s) of byte-identical images (%d images) under different names; each group is kept "
        "in one split so that no copy of a VAL image is trained on: %s%s",
        spec.yaml_path,
        len(groups),
        sum(len(g) for g in groups),
        named,
        more,
    )


def _units(order: Sequence[Path], groups: Sequence[tuple[Path, ...]]) -> list[tuple[Path, ...]]:
    """``order`` as units to deal out: a duplicate group takes the place of its member drawn first."""
    drawn = set(order)
    group_of = {path: tuple(p for p in group if p in drawn) for group in groups for path in group}
    units, placed = [], set()
    for path in order:
        unit = group_of.get(path, (path,))
        if unit[0] not in placed:
            placed.add(unit[0])
            units.append(unit)
    return units


def _take(units: Sequence[tuple[Path, ...]], n: int) -> tuple[list[Path], list[tuple[Path, ...]]]:
    """The images of the first units that reach ``n`` images (whole units), and the units left."""
    taken: list[Path] = []
    k = 0
    while k < len(units) and len(taken) < n:
        taken.extend(units[k])
        k += 1
    return taken, list(units[k:])


def split_dataset(
    spec: DatasetSpec, *, val: int | float, gt1: int | float, seed: int, group_duplicates: bool = True
) -> Split:
    """Draw VAL, GT1 and POOL from ``spec`` with ``numpy.random.default_rng(seed)``.

    Fractions are of all images (train + shipped val). The same spec, sizes and seed give the same split.
    ``group_duplicates``: keep byte-identical images in one split (see the module docstring); the files
    are read for that, and paths that do not exist are left alone.
    """
    shipped_val = tuple(spec.val) if spec.val else ()
    val_set = set(shipped_val)
    candidates = sorted(p for p in spec.train if p not in val_set)
    total = len(candidates) + len(shipped_val)
    rng = np.random.default_rng(seed)
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    groups = duplicate_groups([*candidates, *shipped_val]) if group_duplicates else []
    if groups:
        _warn_duplicates(spec, groups)
    if shipped_val:
        with_val = {p for g in groups if val_set.intersection(g) for p in g if p not in val_set}
        val_images = tuple(sorted(shipped_val)) + tuple(sorted(with_val))
        units = _units([p for p in order if p not in with_val], groups)
    else:
        n_val = resolve_size(val, total=total, key="split.val")
        if n_val < 1:
            raise DataError(f"split.val={val} gives an empty VAL set for {total} images")
        taken, units = _take(_units(order, groups), n_val)
        val_images = tuple(taken)
    n_gt1 = resolve_size(gt1, total=total, key="split.gt1")
    if n_gt1 < 1:
        raise DataError(f"split.gt1={gt1} gives an empty GT1 set for {total} images")
    gt1_images, pool_units = _take(units, n_gt1)
    if not pool_units:
        raise DataError(
            f"empty pool: {spec.yaml_path} has {total} images; VAL takes {len(val_images)} and "
            f"split.gt1={gt1} takes {n_gt1}, leaving nothing to auto-label. Lower split.gt1 / split.val."
        )
    pool_images = tuple(p for unit in pool_units for p in unit)
    return Split(seed=int(seed), val=val_images, gt1=tuple(gt1_images), pool=pool_images)


def split_labeled(
    spec: DatasetSpec,
    *,
    val: int | float,
    seed: int,
    val_from: Sequence[Path] | None = None,
    group_duplicates: bool = True,
) -> Split:
    """The split of a partly labeled dataset, as the human loop leaves it (``split=labeled``).

    An image is labeled when its YOLO label file exists (an empty file: a person saw no objects). POOL =
    every unlabeled image; VAL = ``val_from`` (the VAL of an earlier run, so successive model cards are
    measured on the same images) or ``val`` drawn from the labeled images (a count, or a fraction of the
    labeled images); GT1 = every other labeled image. A shipped ``val`` split is VAL as in
    :func:`split_dataset`. Raises DataError naming the dataset when a split would be empty or a
    ``val_from`` image is not a labeled image of the dataset.
    """
    shipped_val = tuple(spec.val) if spec.val else ()
    images = sorted(set(spec.train) - set(shipped_val))
    labeled = [p for p in images if label_path_for(p).is_file()]
    pool = tuple(p for p in images if not label_path_for(p).is_file())
    if val_from is not None:
        wanted = [Path(p) for p in val_from]
        missing = [p for p in wanted if p not in set(labeled) | set(shipped_val)]
        if missing:
            raise DataError(
                f"split.val_from: {len(missing)} of its {len(wanted)} VAL images are not labeled images "
                f"of {spec.yaml_path} (e.g. {missing[0]}); was the manifest written for another dataset?"
            )
        val_images = tuple(sorted(set(wanted) | set(shipped_val)))
        gt1_images = tuple(p for p in labeled if p not in set(val_images))
    elif shipped_val:
        val_images, gt1_images = tuple(sorted(shipped_val)), tuple(labeled)
    else:
        n_val = resolve_size(val, total=len(labeled), key="split.val")
        rng = np.random.default_rng(seed)
        order = [labeled[i] for i in rng.permutation(len(labeled))]
        groups = duplicate_groups(order) if group_duplicates else []
        taken, units = _take(_units(order, groups), n_val)
        val_images, gt1_images = tuple(taken), tuple(p for unit in units for p in unit)
    for name, chosen in (("VAL", val_images), ("GT1", gt1_images), ("POOL", pool)):
        if not chosen:
            raise DataError(
                f"{spec.yaml_path}: split=labeled leaves {name} empty ({len(labeled)} labeled and "
                f"{len(pool)} unlabeled images, split.val={val}); a partly labeled dataset needs labeled "
                "images for VAL and GT1 and unlabeled ones for the POOL"
            )
    return Split(seed=int(seed), val=val_images, gt1=gt1_images, pool=pool)


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
