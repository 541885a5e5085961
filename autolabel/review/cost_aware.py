r"""Budgets in labeling seconds, and the strategy that ranks by expected gain per expected second.

Before anything is labeled the seconds of an image are unknown; :func:`estimated_seconds` takes the
learned error model's expected seconds to review and correct its auto-labels (``components.error_seconds``,
priced with the cost model it was fitted with) when the job recorded them, and otherwise prices the image
as if a person drew every auto-labeled box by hand (at least one), an upper bound, so a seconds budget is
not overspent.

:class:`GainPerSecondSelection` ranks the pool by ``gain / seconds``: by default the image's calibrated
``p_needs_correction``, or its ``score``, or one of its score ``components`` (e.g. the error model's
``error_p``), per expected second of work.
Two images that need a correction equally likely are not worth the same when one takes three times
longer to fix (ComPAS, CVPR 2023: budgets must count time, not images). Under a seconds budget it fills
the budget greedily in that order (an image that no longer fits is passed over, a cheaper later one may
still fit), the usual greedy for a knapsack.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from autolabel.model.efficiency import CostModel
from autolabel.records import ImageRecord
from autolabel.review.selection import budget_size, check_budget, eligible_positions
from autolabel.review.strategy import Selection

# --- tuning constants -------------------------------------------------------------------------------
SECONDS_FLOOR = 0.1  # seconds an image costs at least (a glance), so a zero estimate gives no infinite ratio
COMPONENT = "components."  # a gain named "components.<name>" reads that score component


def estimated_seconds(records: Sequence[ImageRecord], cost: CostModel) -> np.ndarray:
    """(N,) seconds per record: its ``components.error_seconds`` when recorded, else the upper bound
    ``t_image + max(n_boxes, 1) * t_draw`` (see the module docstring)."""
    out = []
    for r in records:
        expected = (r.components or {}).get("error_seconds")
        out.append(
            float(expected) if expected is not None else cost.t_image + max(r.n_boxes, 1) * cost.t_draw
        )
    return np.array(out, dtype=np.float64)


def check_seconds(seconds: float) -> float:
    """A labeling-time budget: a finite number of seconds > 0 (ValueError naming 'seconds' otherwise)."""
    if isinstance(seconds, bool) or not (
        isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0
    ):
        raise ValueError(f"seconds={seconds!r}: a labeling-time budget must be a number of seconds > 0")
    return float(seconds)


def within_seconds(order: np.ndarray, seconds: np.ndarray, budget: float) -> np.ndarray:
    """The longest prefix of ``order`` (positions, best first) whose summed ``seconds`` fit ``budget``."""
    budget = check_seconds(budget)
    spent = np.cumsum(seconds[order])
    return order[: int(np.searchsorted(spent, budget, side="right"))]


def fill_seconds(
    order: np.ndarray, seconds: np.ndarray, budget: float, *, limit: int | None = None
) -> np.ndarray:
    """Positions of ``order`` taken greedily while they fit ``budget`` seconds; one that no longer fits is
    passed over and the next is tried. At most ``limit`` positions (None: no image cap), in ``order``'s order.

    order: (E,) positions into ``seconds`` (N,), best first.
    """
    budget = check_seconds(budget)
    taken, spent = [], 0.0
    for i in order:
        if limit is not None and len(taken) >= limit:
            break
        if spent + seconds[i] <= budget:
            taken.append(int(i))
            spent += float(seconds[i])
    return np.array(taken, dtype=np.int64)


def images_within_seconds(seconds: np.ndarray, budget: float) -> int:
    """The most images ``budget`` seconds can buy: how many of the cheapest fit. (E,) seconds -> count.

    Any selection that fits the budget holds at most this many images, so a strategy asked for this many
    and then cut to the budget loses nothing (the select app's ``seconds=``).
    """
    return int(np.searchsorted(np.cumsum(np.sort(seconds)), check_seconds(budget), side="right"))


class GainPerSecondSelection:
    """The eligible images with the most expected gain per expected labeling second.

    value = gain / max(seconds, SECONDS_FLOOR), highest first; ties in a random order (rng); an image
    without a gain (no score: a failed image with no candidate) comes last.
    gain: the record field read as the gain: ``p_needs_correction`` (calibrated on VAL; needs a
    calibrated job), ``score`` (the image score), or ``components.<name>`` (a score component, e.g.
    ``components.error_p``, the error model's P(needs correction)); higher = more worth labeling.
    seconds per image: :func:`estimated_seconds` with ``cost_model`` (None: the default cost model; the
    config passes the app's ``cost`` group).
    budget: images, an int >= 1 or a fraction in (0, 1] of the eligible pool, or None (no image cap);
    seconds: expected labeling seconds, or None (no time cap); at least one is set, both caps hold.
    Values are the ratios (gain per second).
    """

    def __init__(
        self,
        *,
        budget: int | float | None = None,
        seconds: float | None = None,
        gain: str = "p_needs_correction",
        cost_model: CostModel | None = None,
    ) -> None:
        if budget is None and seconds is None:
            raise ValueError("give a budget in images, in seconds, or both")
        if gain not in ("score", "p_needs_correction") and not (
            gain.startswith(COMPONENT) and len(gain) > len(COMPONENT)
        ):
            raise ValueError(f"gain={gain!r}: choose score, p_needs_correction or components.<name>")
        self.budget = None if budget is None else check_budget(budget)
        self.seconds = None if seconds is None else check_seconds(seconds)
        self.gain, self.cost = gain, cost_model or CostModel()
        self.requires = frozenset({"score", *(["difficulty"] if gain == "p_needs_correction" else [])})

    def gains(self, records: Sequence[ImageRecord]) -> np.ndarray:
        """(N,) each record's gain, nan when it has none."""
        if self.gain.startswith(COMPONENT):
            name = self.gain[len(COMPONENT) :]
            values = [(r.components or {}).get(name) for r in records]
        else:
            values = [getattr(r, self.gain) for r in records]
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)

    def select(self, records: Sequence[ImageRecord], *, rng: np.random.Generator) -> Selection:
        eligible = eligible_positions(records)
        shuffled = eligible[rng.permutation(eligible.size)]  # ties fall in a random order
        gain = self.gains(records)
        missing = [int(i) for i in shuffled if math.isnan(gain[i]) and not records[i].failed]
        if missing:
            raise ValueError(
                f"cannot rank by {self.gain} per second: {len(missing)} images that did not fail have no "
                f"{self.gain!r} (e.g. {records[missing[0]].image!r}; was the job run without uncertainty"
                f"{'' if self.gain == 'score' else ', a calibration or that component'}?)"
            )
        seconds = estimated_seconds(records, self.cost)
        ratio = gain / np.maximum(seconds, SECONDS_FLOOR)
        order = shuffled[np.argsort(-np.nan_to_num(ratio[shuffled], nan=-np.inf), kind="stable")]
        limit = None if self.budget is None else min(budget_size(self.budget, eligible.size), eligible.size)
        if self.seconds is None:
            chosen = order[:limit]
        else:
            chosen = fill_seconds(order, seconds, self.seconds, limit=limit)
        caps = [f"budget {self.budget}"] if self.budget is not None else []
        caps += [f"{self.seconds:g} s"] if self.seconds is not None else []
        reason = (
            f"{self.gain} per expected second: {chosen.size} of {eligible.size} eligible, "
            f"{seconds[chosen].sum():.0f} s expected ({', '.join(caps)})"
        )
        return Selection(indices=chosen, values=ratio[chosen], reason=reason)
