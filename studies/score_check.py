"""Does the uncertainty score rank the right pool images? Checked against the hidden truth, no training.

``python -m studies.score_check runs/gt2_vs_random/demo [--fraction 0.3]``

For every seed of a finished run, CAL1's auto-labels of POOL (``cal1/pool_labels/``) are
matched to the pool's hidden truth (IoU >= 0.5, :mod:`autolabel.model.matching`). Per image:

- ``errors``: what a person must fix, FP + FN + wrong class;
- ``fix_seconds``: the cost model's seconds to correct the auto-labels (t_verify per TP, t_relabel per
  wrong class, t_delete per FP, t_draw per FN; t_image left out);
- ``n_truth`` / ``n_pred``: boxes in the truth / in the auto-labels.

Then, per seed, how well each ranking finds the images that need fixing: Spearman's rank correlation
with ``errors``, and the share of all ``errors`` that the top ``fraction`` of the pool holds (a random
pick holds ``fraction`` of them on average). Rankings compared: the uncertainty ``score`` (failed images
with no score last), ``n_pred`` (the auto-labels' box count: a ranking with no uncertainty in it) and
``errors`` itself (the best any ranking can do). Writes ``score_check.json`` into the run folder.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate

from autolabel.errors import DataError
from autolabel.model.efficiency import CostModel, action_seconds
from experiments.run_folder import RunFolder, SeedFolder, write_json
from studies.oracle import truth_counts

RANKINGS = ("score", "n_pred", "errors")


def rank_average(x: Sequence[float]) -> np.ndarray:
    """(N,) float64 ranks 1..N of ``x``, ties sharing their average rank."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size, dtype=np.float64)
    ranks[order] = np.arange(1, v.size + 1, dtype=np.float64)
    for value in np.unique(v[~np.isnan(v)]):
        tied = v == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two (N,) arrays (average ranks for ties); nan if either is constant."""
    ra, rb = rank_average(a), rank_average(b)
    if ra.size != rb.size:
        raise ValueError(f"a and b must have the same length, got {ra.size} and {rb.size}")
    if ra.size < 2 or np.all(ra == ra[0]) or np.all(rb == rb[0]):
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def top_share(ranking: Sequence[float], target: Sequence[float], fraction: float) -> float:
    """Share of ``sum(target)`` held by the top ``fraction`` of images by ``ranking`` (highest first).

    ranking, target: (N,) floats; nan in ``ranking`` ranks last. Ties are broken by position (stable),
    so a constant ranking takes the first images. Returns nan when ``sum(target)`` is 0.
    """
    r = np.nan_to_num(np.asarray(ranking, dtype=np.float64), nan=-np.inf)
    t = np.asarray(target, dtype=np.float64)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = int(math.floor(fraction * r.size + 0.5))
    total = float(t.sum())
    if total == 0:
        return math.nan
    top = np.argsort(-r, kind="stable")[:k]
    return float(t[top].sum() / total)


def pool_errors(seed: SeedFolder, cost: CostModel) -> dict[str, np.ndarray]:
    """Per pool image (records of readable images) of one seed: score, n_pred, n_truth, errors,
    fix_seconds."""
    num_classes = len(seed.names)
    rows = []
    for r in (r for r in seed.pool_records if r.ok):
        counts = truth_counts(r, seed.record_truth(r), num_classes)
        n_truth, n_pred, _, wc, fp, fn = (float(c) for c in counts)
        _, fix = action_seconds(counts, cost)
        rows.append((r.score_value, n_pred, n_truth, fp + fn + wc, float(fix)))
    columns = np.array(rows, dtype=np.float64).reshape(-1, 5).T
    return dict(zip(("score", "n_pred", "n_truth", "errors", "fix_seconds"), columns, strict=True))


def check_seed(seed: SeedFolder, cost: CostModel, fraction: float) -> dict[str, Any]:
    """The figures of one seed (see the module docstring)."""
    v = pool_errors(seed, cost)
    score_or_last = np.nan_to_num(v["score"], nan=-np.inf)
    return {
        "n_images": int(v["errors"].size),
        "mean_errors": float(v["errors"].mean()),
        "spearman_errors": {
            "score": spearman(score_or_last, v["errors"]),
            "n_pred": spearman(v["n_pred"], v["errors"]),
        },
        "spearman_score_n_truth": spearman(score_or_last, v["n_truth"]),
        "spearman_score_n_pred": spearman(score_or_last, v["n_pred"]),
        "top_share_errors": {name: top_share(v[name], v["errors"], fraction) for name in RANKINGS},
        "top_share_truth_boxes": {name: top_share(v[name], v["n_truth"], fraction) for name in RANKINGS},
    }


def score_check(run_dir: Path, fraction: float = 0.3) -> dict[str, Any]:
    """Every seed folder of ``run_dir``; writes and returns ``score_check.json``'s content."""
    run = RunFolder(run_dir)
    cost: CostModel = instantiate(run.config().cost)
    seeds = [s for s in run.seeds() if s.pool_labels.is_dir()]
    if not seeds:
        raise DataError(f"{run_dir} holds no seed with CAL1 pool labels")
    per_seed = {s.path.name: check_seed(s, cost, fraction) for s in seeds}
    out = {"fraction": fraction, "per_seed": per_seed}
    write_json(run_dir / "score_check.json", out)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run folder of experiments.gt2_vs_random")
    parser.add_argument("--fraction", type=float, default=0.3, help="top share of the pool (default 0.3)")
    args = parser.parse_args(argv)
    out = score_check(args.run_dir, args.fraction)
    f = out["fraction"]
    print(f"share of the pool's errors (FP + FN + wrong class) in the top {f:.0%} of images, by ranking:")
    print("seed     | score | n_pred | errors (best) | rho(score, errors) | rho(n_pred, errors)")
    for seed, s in out["per_seed"].items():
        top, rho = s["top_share_errors"], s["spearman_errors"]
        print(
            f"{seed:8} | {top['score']:.3f} | {top['n_pred']:.3f}  | {top['errors']:.3f}         | "
            f"{rho['score']:+.3f}             | {rho['n_pred']:+.3f}"
        )
    print(f"(a random {f:.0%} of the pool holds {f:.3f} of the errors on average)")


if __name__ == "__main__":
    main()
