"""Do two run folders of the experiment hold the same results? Timings aside, byte for byte.

``python -m studies.same_results runs/gt2_vs_random/a runs/gt2_vs_random/b`` compares ``metrics.json``
with every timing field (``stage_seconds``, ``seconds``) left out, and each seed's ``selection.json``
byte for byte; it prints each difference and exits 1 when there is one. Made to check that a refactor
changed no number: run the same command (same seed) before and after, then compare.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.run_folder import METRICS_FILE, RunFolder

TIMING_KEYS = frozenset({"stage_seconds", "seconds", "this_run"})


def without_timings(tree: Any) -> Any:
    """``tree`` with every key of :data:`TIMING_KEYS` removed, at any depth."""
    if isinstance(tree, dict):
        return {k: without_timings(v) for k, v in tree.items() if k not in TIMING_KEYS}
    if isinstance(tree, list):
        return [without_timings(v) for v in tree]
    return tree


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON trees differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{path}{key}: only in {'b' if key not in a else 'a'}")
            else:
                out += differences(a[key], b[key], f"{path}{key}.")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}{i}.")
        ]
    return [] if a == b else [f"{path.rstrip('.')}: {a!r} != {b!r}"]


def compare_runs(a: Path, b: Path) -> list[str]:
    """Every difference between two run folders' results (timings aside); empty when the same."""
    out = [
        f"{METRICS_FILE}: {d}"
        for d in differences(without_timings(RunFolder(a).metrics()), without_timings(RunFolder(b).metrics()))
    ]
    seeds_a = {s.seed: s for s in RunFolder(a).seeds()}
    seeds_b = {s.seed: s for s in RunFolder(b).seeds()}
    for seed in sorted(set(seeds_a) | set(seeds_b)):
        if seed not in seeds_a or seed not in seeds_b:
            out.append(f"seed_{seed}: only in {'b' if seed not in seeds_a else 'a'}")
            continue
        one, two = (s.path / "selection.json" for s in (seeds_a[seed], seeds_b[seed]))
        if one.read_bytes() != two.read_bytes():
            sel = differences(json.loads(one.read_text()), json.loads(two.read_text()))
            out += [f"seed_{seed}/selection.json: {d}" for d in sel] or [f"seed_{seed}/selection.json: bytes"]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    found = compare_runs(args.a, args.b)
    for line in found:
        print(line)
    print(f"{len(found)} difference(s) between {args.a} and {args.b} (timings aside)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
