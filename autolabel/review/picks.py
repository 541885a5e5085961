"""Ranks on demand: choose the next images a person labels from an auto-label output folder.

The chosen images are a *batch* (:class:`Pick` rows in ``picks.jsonl``, best first): each row names the
image by its key in the job's records and by the real file it resolves to (the job may have labeled a
folder of symlinks), and says why it was picked (its score, band, components, the strategy's value).
Annotation-tool exports are built from a batch, and imports map the tool's tasks back through it, so a
label always lands beside the real image (its YOLO label file, by ultralytics' ``images/`` ->
``labels/`` rule) and never in the auto-label folder.

Budgets: a number of images (the strategy's own ``budget``) or labeling seconds under the cost model,
each image priced by :func:`autolabel.review.cost_aware.estimated_seconds` (the error model's expected
correction seconds when the job recorded them, else an upper bound).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.formats.reviewed import ExportError
from autolabel.formats.yolo import label_path_for
from autolabel.job.runner import MARKER as JOB_MARKER
from autolabel.model.efficiency import CostModel
from autolabel.records import ImageRecord, JsonlWriter, json_safe, read_jsonl
from autolabel.review.cost_aware import estimated_seconds, within_seconds
from autolabel.review.strategy import Selection, Strategy, call_select

PICKS = "picks.jsonl"  # the batch: one Pick per line, best first


@dataclass(frozen=True)
class Pick:
    """One chosen image.

    rank: 1 = label first. image: the record's key (relative to the job's source). path: the real image
    file (absolute, symlinks resolved). label_file: where its human label goes (YOLO, beside the image).
    value: what the strategy ranked it by (nan for random draws). seconds: estimated labeling seconds.
    """

    rank: int
    image: str
    path: str
    label_file: str
    score: float | None
    band: str | None
    p_needs_correction: float | None
    failed: bool
    n_boxes: int
    value: float | None
    seconds: float
    components: Mapping[str, float | None] | None = None

    def to_json(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def read_job(folder: Path) -> dict[str, Any]:
    """The settings an auto-label output folder was written with (its ``autolabel_job.json``)."""
    marker = folder / JOB_MARKER
    if not marker.is_file():
        raise ExportError(f"{folder}: not an auto-label output folder (no {JOB_MARKER} in it)")
    return json.loads(marker.read_text())


def job_source(folder: Path) -> Path:
    """The image folder an auto-label output folder was made from."""
    return Path(read_job(folder)["source"])


def candidates(
    records: Sequence[ImageRecord],
    *,
    source: Path,
    include: Sequence[str] = (),
    image_list: Iterable[str] | None = None,
    skip_labeled: bool = True,
) -> tuple[list[ImageRecord], dict[str, int]]:
    """The records a person could label next, and how many were left out and why.

    include: subfolders (key prefixes such as ``"line_b/"``) to choose from; empty = all. image_list: keys
    to choose from (None = all). skip_labeled: leave out images whose human label file already exists.
    Unreadable images are left out. Raises ExportError when an ``image_list`` key is not in the records.
    """
    left_out = {"unreadable": 0, "not_included": 0, "not_listed": 0, "labeled": 0}
    wanted = None if image_list is None else {k.strip() for k in image_list if k.strip()}
    if wanted is not None:
        unknown = sorted(wanted - {r.image for r in records})
        if unknown:
            raise ExportError(
                f"image_list names {len(unknown)} images the auto-label job did not record "
                f"(e.g. {unknown[0]!r}); keys are paths relative to {source}"
            )
    prefixes = tuple(p.strip("/") + "/" for p in include)
    kept = []
    for record in records:
        if not record.ok:
            left_out["unreadable"] += 1
        elif prefixes and not record.image.startswith(prefixes):
            left_out["not_included"] += 1
        elif wanted is not None and record.image not in wanted:
            left_out["not_listed"] += 1
        elif skip_labeled and label_path_for((source / record.image).resolve()).is_file():
            left_out["labeled"] += 1
        else:
            kept.append(record)
    return kept, left_out


def choose(
    records: Sequence[ImageRecord],
    strategy: Strategy,
    *,
    rng: np.random.Generator,
    seconds: float | None,
    cost: CostModel,
) -> tuple[Selection, np.ndarray]:
    """The strategy's selection, cut to a seconds budget when ``seconds`` is given; and (N,) estimates."""
    selection = call_select(strategy, records, rng=rng)
    estimate = estimated_seconds(records, cost)
    if seconds is None:
        return selection, estimate
    keep = within_seconds(np.arange(len(selection)), estimate[selection.indices], float(seconds))
    reason = f"{selection.reason}; cut to {keep.size} images within {seconds:g} s of estimated labeling"
    return Selection(selection.indices[keep], selection.values[keep], reason), estimate


def picks_of(
    records: Sequence[ImageRecord], selection: Selection, estimate: np.ndarray, *, source: Path
) -> list[Pick]:
    """One :class:`Pick` per selected record, in selection order."""
    out = []
    for rank, (i, value) in enumerate(zip(selection.indices, selection.values, strict=True), start=1):
        record = records[int(i)]
        path = (source / record.image).resolve()
        out.append(
            Pick(
                rank=rank,
                image=record.image,
                path=str(path),
                label_file=str(label_path_for(path)),
                score=record.score,
                band=record.band,
                p_needs_correction=record.p_needs_correction,
                failed=record.failed,
                n_boxes=record.n_boxes,
                value=None if math.isnan(value) else float(value),
                seconds=float(estimate[int(i)]),
                components=None if record.components is None else dict(record.components),
            )
        )
    return out


def write_picks(folder: Path, picks: Sequence[Pick]) -> Path:
    """``folder/picks.jsonl``, one pick per line, best first (replaced whole)."""
    path = folder / PICKS
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with JsonlWriter(tmp) as writer:
        writer.append(p.to_json() for p in picks)
    tmp.replace(path)
    return path


def read_picks(folder: str | Path) -> list[Pick]:
    """The batch in ``folder`` (a select output); ExportError naming the folder when there is none."""
    path = Path(folder) / PICKS
    if not path.is_file():
        raise ExportError(f"{folder}: no {PICKS}; give the output folder of `python -m autolabel.select`")
    return [Pick(**row) for row in read_jsonl(path)]
