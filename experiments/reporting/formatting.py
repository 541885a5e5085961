"""Number and table formatting for the experiment report (see :mod:`experiments.report`).

mAP-type numbers and precision / recall are fractions in [0, 1]: prose shows them in points (x100,
1 decimal), tables with 3 decimals; boosts are ratios shown as "1.23x". Any None / nan prints as "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from experiments.reporting.plots import ci_bounds, number


def format_number(value: object, *, scale: float, digits: int, unit: str = "", signed: bool = False) -> str:
    """``value`` x ``scale`` with ``digits`` decimals and ``unit``; "n/a" for None / nan, "inf" for inf."""
    x = number(value)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return ("+inf" if signed else "inf") if x > 0 else "-inf"
    return f"{x * scale:{'+' if signed else ''}.{digits}f}{unit}"


points = partial(format_number, scale=100.0, digits=1)  # a fraction in points (x100), for prose
decimal = partial(format_number, scale=1.0, digits=3)  # a fraction, for tables
ratio = partial(format_number, scale=1.0, digits=2, unit="x")  # a boost or boost difference: "1.23x"
count = partial(format_number, scale=1.0, digits=1)  # a mean count or seconds


def table_fmt(metric: str) -> Callable[..., str]:
    """The table formatter of a metric: ratios for boosts, 3 decimals for the rest."""
    return ratio if metric == "boost" else decimal


def n_values(stat: Mapping | None) -> int:
    """How many seeds a statistic is over (0 when unknown)."""
    n = number((stat or {}).get("n"))
    return int(n) if math.isfinite(n) else 0


def cell(stat: Mapping | None, fmt: Callable[..., str], *, signed: bool = False, spread: bool = True) -> str:
    """ "mean ± std [lo, hi]" of a statistic; "(one seed)" in place of a CI when n < 2."""
    if not stat:
        return "n/a"
    text = fmt(stat.get("mean"), signed=signed)
    if n_values(stat) < 2:
        return f"{text} (one seed)" if text != "n/a" else text
    if spread:
        text += f" ± {fmt(stat.get('std'))}"
    lo, hi = ci_bounds(stat)
    return f"{text} [{fmt(lo, signed=signed)}, {fmt(hi, signed=signed)}]"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table (pipes in cells escaped), followed by a blank line."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows), ""]


def get(tree: Mapping | None, *keys: str) -> object:
    """``tree[k0][k1]...``, None where any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(tree, Mapping):
            return None
        tree = tree.get(key)
    return tree


def seed_mean(items: Sequence[Mapping], *keys: str) -> float:
    """Mean of ``item[k0][k1]...`` over the items where it is a number, nan where it is in none."""
    values = [number(get(item, *keys)) for item in items]
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def mean_count(items: Sequence[Mapping], *keys: str) -> str:
    """:func:`seed_mean` formatted with one decimal."""
    return count(seed_mean(items, *keys))


def hours(items: Sequence[Mapping], key: str) -> str:
    """Mean hand-labeling hours of ``item[key]["label_seconds"]``, 2 decimals."""
    seconds = seed_mean(items, key, "label_seconds")
    return "n/a" if math.isnan(seconds) else f"{seconds / 3600:.2f}"


# selection class (as metrics.json stores it) -> (short name, what GT2 is)
RULES = {
    "DifficultySelection": ("difficulty", "pool images rated medium, hard or failed"),
    "TopKSelection": ("top score", "the pool images with the highest uncertainty score"),
    "BoxCountSelection": ("most boxes", "the pool images with the most auto-labeled boxes; no uncertainty"),
    "RandomSelection": ("random", "a random pool draw; no uncertainty"),
    "OracleSelection": ("oracle", "the pool images ranked by the hidden truth: a ceiling, not a strategy"),
}
RULES["difficulty"] = RULES["DifficultySelection"]


def rule_name(rule: str) -> str:
    """The short name of a selection rule as metrics.json stores it (its class name); unknown ones as is."""
    return RULES[rule][0] if rule in RULES else rule
