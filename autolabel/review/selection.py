r"""Who gets labeled next: GT2 by difficulty or top score, the random CONTROL, and what a selection holds.

Records are the auto-label job's :class:`~autolabel.records.ImageRecord`\ s: a strategy reads ``score``
(higher = more uncertain; None when the image failed), ``band`` (easy / medium / hard / failed, None when
the job ran without a calibration) and ``ok`` (False for images that could not be read). An image that
could not be read is never eligible: a person cannot label what cannot be opened.

Every strategy follows :class:`autolabel.review.strategy.Strategy`: ``select(records, *, rng) -> Selection``,
plus the inputs it names in its signature (``truth``: a record's hidden truth, which only an experiment
has), and ``requires``, the record fields it reads. The loops call any of them through
:func:`autolabel.review.strategy.call_select` without knowing which they hold; strategies are built from
``conf/selection/*.yaml`` with Hydra's ``_target_``. A ``Selection`` keeps the value each image was chosen
by (modAL's ``(indices, values)``) and a one-line ``reason``, so a report can show why an image was picked.

Ranking (top-k, and the difficulty selection under a budget) is by score, highest first. A failed image
(no box kept) is ranked by its own score, which is its near-miss evidence (the detection flips of the
candidates just below the operating threshold); one with no candidate at all has no score and comes last.
``failed_first=True`` puts every failed image first instead (it spent most of a demo budget on failed
images, many of them empty: docs/results_log.md). Ties fall in a random order drawn from ``rng``. Same
records and same rng seed -> same Selection.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from autolabel.records import ALL_BANDS, FAILED, NO_BAND, ImageRecord
from autolabel.review.strategy import Selection

# --- tuning constants -------------------------------------------------------------------------------
# GT2 by default: every image whose auto-labels likely need a correction, and those with none at all.
GT2_BANDS: tuple[str, ...] = ("medium", "hard", FAILED)


# --- record fields ----------------------------------------------------------------------------------
def eligible_positions(records: Sequence[ImageRecord], exclude: Sequence[int] = ()) -> np.ndarray:
    """(E,) int64: positions of the records that can be labeled (read), ``exclude`` left out."""
    skip = {int(i) for i in exclude}
    return np.array([i for i, r in enumerate(records) if r.ok and i not in skip], dtype=np.int64)


def _is_failed(record: ImageRecord) -> bool:
    return record.band == FAILED


def _check_bands(bands: Sequence[str], *, name: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(str(b) for b in bands))  # order kept, duplicates dropped
    unknown = [b for b in chosen if b not in ALL_BANDS]
    if unknown:
        raise ValueError(f"{name} has unknown band names {unknown}; expected some of {list(ALL_BANDS)}")
    if not chosen:
        raise ValueError(f"{name} must name at least one band of {list(ALL_BANDS)}")
    return chosen


def budget_size(budget: int | float, pool: int) -> int:
    """Images a budget buys from a pool of ``pool``: an int as is, a fraction rounded half up (>= 1)."""
    if isinstance(budget, float):
        return max(1, math.floor(budget * pool + 0.5)) if pool else 0
    return budget


def check_budget(budget: int | float) -> int | float:
    """An int >= 1 (images) or a float in (0, 1] (fraction of the eligible pool)."""
    if isinstance(budget, bool):
        raise ValueError(f"budget must be an int >= 1 or a fraction in (0, 1], got {budget!r}")
    if isinstance(budget, (float, np.floating)):
        if not 0.0 < budget <= 1.0:
            raise ValueError(f"budget as a fraction must be in (0, 1], got {budget}")
        return float(budget)
    try:
        size = operator.index(budget)
    except TypeError:
        raise ValueError(f"budget must be an int >= 1 or a fraction in (0, 1], got {budget!r}") from None
    if size < 1:
        raise ValueError(f"budget must be an int >= 1 or a fraction in (0, 1], got {budget}")
    return size


def rank_by_score(
    records: Sequence[ImageRecord],
    candidates: np.ndarray,
    *,
    rng: np.random.Generator,
    failed_first: bool = False,
) -> np.ndarray:
    """``candidates`` reordered by score, highest first (no score last); ties in a random order.

    failed_first: put every failed image before the rest (ordered by score among themselves).
    Raises ValueError naming 'score' when a candidate that did not fail has no score (the job ran
    without uncertainty), since ranking it would silently be random.
    """
    shuffled = candidates[rng.permutation(candidates.size)]
    failed = np.array([_is_failed(records[i]) for i in shuffled], dtype=bool)
    scores = np.array([records[i].score_value for i in shuffled], dtype=np.float64)
    unscored = ~failed & np.isnan(scores)
    if unscored.any():
        image = records[shuffled[unscored][0]].image
        raise ValueError(
            f"cannot rank by score: {int(unscored.sum())} images that did not fail have no 'score' "
            f"(e.g. {image!r}; was the job run without uncertainty?); use RandomSelection"
        )
    # lexsort sorts by the last key first and is stable, so shuffled order breaks the remaining ties.
    first = ~failed if failed_first else np.zeros(failed.size, dtype=bool)
    order = np.lexsort((-np.nan_to_num(scores, nan=-np.inf), first))
    return shuffled[order]


def _selection(
    records: Sequence[ImageRecord], chosen: np.ndarray, reason: str, *, by_score: bool
) -> Selection:
    values = (
        np.array([records[i].score_value for i in chosen], dtype=np.float64)
        if by_score
        else np.full(chosen.size, math.nan)
    )
    return Selection(indices=chosen, values=values, reason=reason)


# --- strategies -------------------------------------------------------------------------------------
class DifficultySelection:
    """GT2: every eligible image whose difficulty is in ``bands``, optionally capped at ``budget``.

    bands: names from easy, medium, hard, failed (default medium, hard, failed). budget: None (the
    whole bands), an int >= 1 (images) or a float in (0, 1] (fraction of the eligible pool, rounded half
    up); under a cap the highest scores are kept (see the module docstring for failed images and
    ``failed_first``). Records need ``difficulty`` (the job must have run with a calibration): ValueError
    otherwise.
    """

    requires = frozenset({"score", "difficulty"})

    def __init__(
        self,
        *,
        bands: Sequence[str] = GT2_BANDS,
        budget: int | float | None = None,
        failed_first: bool = False,
    ) -> None:
        self.bands = _check_bands(bands, name="bands")
        self.budget = None if budget is None else check_budget(budget)
        self.failed_first = bool(failed_first)

    def select(self, records: Sequence[ImageRecord], *, rng: np.random.Generator) -> Selection:
        eligible = eligible_positions(records)
        bands = [records[i].band for i in eligible]
        missing = [int(i) for i, band in zip(eligible, bands, strict=True) if band is None]
        if missing:
            raise ValueError(
                f"{len(missing)} records have no 'difficulty' (e.g. {records[missing[0]].image!r}): "
                "the job ran without a calibration; use TopKSelection or RandomSelection"
            )
        unknown = sorted({str(b) for b in bands} - set(ALL_BANDS))
        if unknown:
            raise ValueError(
                f"records' difficulty has unknown band names {unknown}; expected {list(ALL_BANDS)}"
            )
        in_bands = eligible[np.array([b in self.bands for b in bands], dtype=bool)]
        ranked = rank_by_score(records, in_bands, rng=rng, failed_first=self.failed_first)
        label = f"difficulty in {{{', '.join(self.bands)}}}"
        size = None if self.budget is None else budget_size(self.budget, eligible.size)
        if size is None:
            reason = f"{label}: {ranked.size} of {eligible.size} eligible"
        elif size >= ranked.size:
            reason = (
                f"{label}: {ranked.size} of {eligible.size} eligible "
                f"(budget {self.budget} covers all {ranked.size} in those bands)"
            )
        else:
            ranked = ranked[:size]
            reason = (
                f"{label}: {ranked.size} of {in_bands.size} in those bands ({eligible.size} eligible), "
                f"capped at budget {self.budget}: {_order_words(self.failed_first)}"
            )
        return _selection(records, ranked, reason, by_score=True)


class TopKSelection:
    """The ``budget`` eligible images with the highest score; ties broken by rng.

    budget: int >= 1 (images) or float in (0, 1] (fraction of the eligible pool, rounded half up).
    failed_first: every failed image before the scored ones (default: failed images by their own score).
    Records need ``score`` on every image that did not fail: ValueError otherwise.
    """

    requires = frozenset({"score"})

    def __init__(self, *, budget: int | float, failed_first: bool = False) -> None:
        self.budget = check_budget(budget)
        self.failed_first = bool(failed_first)

    def select(self, records: Sequence[ImageRecord], *, rng: np.random.Generator) -> Selection:
        eligible = eligible_positions(records)
        ranked = rank_by_score(records, eligible, rng=rng, failed_first=self.failed_first)
        size = budget_size(self.budget, eligible.size)
        n_failed = sum(_is_failed(records[i]) for i in ranked[:size])
        if size >= eligible.size:
            reason = f"top score: all {eligible.size} eligible (budget {self.budget} covers the pool)"
        else:
            reason = f"top score: {size} of {eligible.size} eligible (budget {self.budget})"
        reason += f", {n_failed} failed; {_order_words(self.failed_first)}"
        return _selection(records, ranked[:size], reason, by_score=True)


def _order_words(failed_first: bool) -> str:
    return "failed first, then highest score" if failed_first else "highest score first"


class RandomSelection:
    """``budget`` eligible images drawn uniformly at random without replacement (values are nan).

    budget: int >= 1 (images) or float in (0, 1] (fraction of the eligible pool, rounded half up).
    """

    requires: frozenset[str] = frozenset()

    def __init__(self, *, budget: int | float) -> None:
        self.budget = check_budget(budget)

    def select(self, records: Sequence[ImageRecord], *, rng: np.random.Generator) -> Selection:
        eligible = eligible_positions(records)
        size = budget_size(self.budget, eligible.size)
        if size >= eligible.size:
            chosen = rng.permutation(eligible)
            reason = f"random: all {eligible.size} eligible (budget {self.budget} covers the pool)"
        else:
            chosen = rng.choice(eligible, size=size, replace=False)
            reason = f"random: {size} of {eligible.size} eligible (budget {self.budget})"
        return _selection(records, chosen, reason, by_score=False)


class BoxCountSelection:
    """The ``budget`` eligible images with the most auto-labeled boxes; ties broken by rng.

    A baseline with no uncertainty in it: ``experiments.score_check`` found the pooled score tracks the
    box count, and this rule tells whether the score adds anything to counting boxes.
    budget: int >= 1 (images) or float in (0, 1] (fraction of the eligible pool, rounded half up).
    Values are the box counts.
    """

    requires = frozenset({"boxes"})

    def __init__(self, *, budget: int | float) -> None:
        self.budget = check_budget(budget)

    def select(self, records: Sequence[ImageRecord], *, rng: np.random.Generator) -> Selection:
        return top_by_value(
            records,
            lambda r: r.n_boxes,
            budget=self.budget,
            rng=rng,
            label="most boxes",
        )


def top_by_value(
    records: Sequence[ImageRecord],
    value: Callable[[ImageRecord], float],
    *,
    budget: int | float,
    rng: np.random.Generator,
    label: str,
) -> Selection:
    """The ``budget`` eligible records with the highest ``value(record)``; ties in a random order.

    budget: as checked by ``check_budget``. Values are the chosen records' values; ``label`` starts the
    reason, e.g. "most boxes: 125 of 418 eligible (budget 0.3)".
    """
    eligible = eligible_positions(records)
    shuffled = eligible[rng.permutation(eligible.size)]
    values = np.array([value(records[i]) for i in shuffled], dtype=np.float64)
    order = np.argsort(-values, kind="stable")[: budget_size(budget, eligible.size)]  # stable: shuffle ties
    reason = f"{label}: {order.size} of {eligible.size} eligible (budget {budget})"
    return Selection(indices=shuffled[order], values=values[order], reason=reason)


# --- the control and reports ------------------------------------------------------------------------
def random_control(
    records: Sequence[ImageRecord], *, size: int, exclude: Sequence[int] = (), rng: np.random.Generator
) -> Selection:
    """CONTROL: ``size`` eligible images drawn uniformly at random, without replacement.

    The draw is from the whole eligible pool, so it MAY overlap GT2: the control is what random labeling
    of the same budget would have chosen. Pass GT2's indices as ``exclude`` for a disjoint control.
    exclude: positions in ``records`` to leave out. Values are nan.
    Raises ValueError naming 'size' when size < 0 or larger than the pool left to draw from.
    """
    try:
        size = operator.index(size)
    except TypeError:
        raise ValueError(f"size must be an int >= 0, got {size!r}") from None
    excluded = {int(i) for i in exclude}
    pool = eligible_positions(records, exclude=excluded)
    if not 0 <= size <= pool.size:
        raise ValueError(
            f"size must be between 0 and the {pool.size} eligible images left to draw from "
            f"({len(records)} records, {len(excluded)} excluded), got {size}"
        )
    chosen = rng.choice(pool, size=size, replace=False)
    overlap = f"excluding {len(excluded)} given" if excluded else "may overlap GT2"
    reason = f"random control: {size} of {pool.size} eligible ({overlap})"
    return _selection(records, chosen, reason, by_score=False)


def cost_matched_control(
    records: Sequence[ImageRecord],
    *,
    seconds: Sequence[float],
    target: float,
    exclude: Sequence[int] = (),
    rng: np.random.Generator,
) -> Selection:
    """CONTROL matched on labeling time: random eligible images until their cost is closest to ``target``.

    What an annotator with a fixed time budget labels when working through the pool in random order.
    seconds: (N,) hand-labeling seconds of each record (e.g. images x t_image + boxes x t_draw from the
    hidden truth); target: the seconds to match (GT2's), >= 0. The eligible images (minus ``exclude``)
    are shuffled and the shortest prefix whose cumulative seconds is closest to ``target`` is kept.
    Values are nan.
    Raises ValueError naming 'seconds' or 'target' when they do not fit the records.
    """
    cost = np.asarray(seconds, dtype=np.float64).reshape(-1)
    if cost.size != len(records):
        raise ValueError(f"seconds must hold one value per record ({len(records)}), got {cost.size}")
    if not (math.isfinite(target) and target >= 0):
        raise ValueError(f"target must be a finite number of seconds >= 0, got {target!r}")
    pool = eligible_positions(records, exclude=exclude)
    if not np.all(np.isfinite(cost[pool]) & (cost[pool] >= 0)):
        raise ValueError("seconds must be finite and >= 0 for every eligible record")
    order = rng.permutation(pool)
    spent = np.concatenate([[0.0], np.cumsum(cost[order])])  # (E+1,): seconds of the first k images
    k = int(np.argmin(np.abs(spent - target)))  # first of equally close prefixes: the shortest
    reason = (
        f"random control matched on hand-labeling time: {k} of {pool.size} eligible, "
        f"{spent[k]:.0f} s against GT2's {target:.0f} s"
    )
    return _selection(records, order[:k], reason, by_score=False)


def composition(records: Sequence[ImageRecord], selection: Selection) -> dict:
    """What a selection holds: ``n`` images, ``bands``: {band: count}, ``mean_score`` (None if no score).

    Bands are listed easy, medium, hard, failed (those present), then :data:`~autolabel.records.NO_BAND`
    for images without a difficulty. ``mean_score`` averages the chosen images' scores, failed images (no
    score) left out.
    """
    chosen = [records[int(i)] for i in selection.indices]
    counts = Counter(r.band or NO_BAND for r in chosen)
    order = [*ALL_BANDS, NO_BAND]
    bands = {
        b: counts[b] for b in sorted(counts, key=lambda b: (order.index(b) if b in order else len(order), b))
    }
    scores = np.array([r.score_value for r in chosen if not _is_failed(r)], dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    return {
        "n": len(chosen),
        "bands": bands,
        "mean_score": float(scores.mean()) if scores.size else None,
    }
