"""What a selection strategy returns (:class:`Selection`) and how the loops call one (:func:`call_select`).

A strategy (:class:`Strategy`) has ``select(records, *, rng) -> Selection`` plus the keyword inputs it
names in its signature (``truth``: a record's hidden truth, which only an experiment has) and ``requires``,
the record fields it reads. The loops call every strategy through :func:`call_select`, never by its name.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from autolabel.records import ImageRecord


@dataclass(frozen=True)
class Selection:
    """The images chosen from a list of records, and why.

    indices: (K,) int64, positions in the records list, in selection order (best first when ranked).
    values: (K,) float64, the value each was chosen by: its score; nan for random draws and unscored images.
    reason: one line for reports, e.g. "difficulty in {medium, hard, failed}: 180 of 419 eligible".
    Both arrays are read-only.
    """

    indices: np.ndarray
    values: np.ndarray
    reason: str

    def __post_init__(self) -> None:
        indices = np.array(self.indices, dtype=np.int64).reshape(-1)
        values = np.array(self.values, dtype=np.float64).reshape(-1)
        if indices.shape != values.shape:
            raise ValueError(
                f"indices and values must have one entry per image, got {indices.shape} and {values.shape}"
            )
        indices.setflags(write=False)
        values.setflags(write=False)
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return int(self.indices.size)


class Strategy(Protocol):
    """A selection strategy as the loops see it.

    requires: record fields the strategy reads (some of "boxes", "score", "difficulty"; none for a
    random draw); a loop checks them against what its uncertainty stage provides before anything is
    trained, and labels the pool only for a strategy that reads it.
    select: the chosen records; extra keyword inputs it names in its signature (``truth``) are passed by
    :func:`call_select`.
    """

    requires: frozenset[str]

    def select(self, records: Sequence[ImageRecord], *, rng: np.random.Generator) -> Selection: ...


def call_select(
    strategy: Strategy, records: Sequence[ImageRecord], *, rng: np.random.Generator, **inputs: Any
) -> Selection:
    """``strategy.select`` with the ``inputs`` its signature names (others are not passed).

    Raises ValueError naming the input when the strategy asks for one the caller cannot give.
    """
    params = inspect.signature(strategy.select).parameters
    wanted = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n != "rng"]
    missing = [n for n in wanted if n not in inputs and params[n].default is inspect.Parameter.empty]
    if missing:
        raise ValueError(
            f"{type(strategy).__name__} needs {', '.join(missing)}, which this loop cannot give "
            f"(it gives {', '.join(sorted(inputs)) or 'nothing more'})"
        )
    return strategy.select(records, rng=rng, **{n: inputs[n] for n in wanted if n in inputs})
