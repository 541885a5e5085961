"""How many seeds and training repeats does a comparison need? Training noise against the seeds' own spread.

``python -m studies.repeat_noise runs/gt2_vs_random/<name> [--pair CAL2 CONTROL]`` reads a run trained with
``experiment.train_repeats`` >= 2 and prints, for the paired difference a - b (mAP50-95 points):

- per seed, the difference of each repeat (repeat r of a against repeat r of b: the same training seed)
  and of the repeats' means;
- the mean and 95% CI over seeds with one repeat (repeat 0 alone: what a run without repeats measures)
  and with all of them;
- the split of the per-seed variance of the difference: training noise ``2 s_t^2 / k`` (``s_t``: the pooled
  std between one model's repeats, :func:`experiments.repeats.pooled_repeat_std`; two models, k repeats
  each) and the rest, what the seeds' data draws vary (``var_u``);
- the expected 95% CI half-width for other numbers of seeds n and repeats k:
  ``t(n - 1) * sqrt((var_u + 2 s_t^2 / k) / n)``.

The model behind it: d_seed = delta + u_seed + e_seed, with e the training noise of the two models,
independent between repeats. A planning aid: with a handful of seeds every variance here is itself
uncertain. The last line checks that independence (:func:`repeat_independence`): the seed means must
vary at least as much as the spread of a seed's own repeats implies; when they vary much less, the
repeats are not independent, the plan overstates the noise of a mean, and the t interval over the seed
means (which treats only the seeds as independent) is the one to read.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from autolabel.errors import DataError
from experiments.constants import MODEL_NAMES, TIME_CONTROL
from experiments.repeats import pooled_repeat_std
from experiments.run_folder import RunFolder
from experiments.stats import paired_difference, t_critical

PLAN_SEEDS = (5, 10, 20)
PLAN_REPEATS = (1, 2, 4)


def repeat_differences(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """(k,) a - b per repeat (repeat r of one model against repeat r of the other), in points."""
    if len(a) != len(b):
        raise DataError(f"the two models have {len(a)} and {len(b)} training repeats; they must match")
    return 100.0 * (np.asarray(a, dtype=float) - np.asarray(b, dtype=float))


def noise_split(per_seed_means: Sequence[float], s_t: float, repeats: int) -> dict[str, float]:
    """Split the variance over seeds of the per-seed mean differences (points^2).

    per_seed_means: (S,) the seeds' differences, each a mean over ``repeats`` repeats; s_t: the pooled
    within-model std (points). Returns ``var_total`` (sample variance over seeds), ``var_training`` (2 s_t^2
    / k) and ``var_u`` (the rest, floored at 0).
    """
    total = float(np.var(np.asarray(per_seed_means, dtype=float), ddof=1))
    training = 2.0 * s_t**2 / repeats
    return {"var_total": total, "var_training": training, "var_u": max(total - training, 0.0)}


def ci_half_width(var_u: float, s_t: float, *, seeds: int, repeats: int) -> float:
    """Expected 95% CI half-width (points) of the mean difference over ``seeds`` seeds of ``repeats``
    repeats each: t(n - 1) sqrt((var_u + 2 s_t^2 / k) / n)."""
    return t_critical(seeds - 1) * math.sqrt((var_u + 2.0 * s_t**2 / repeats) / seeds)


def repeat_independence(per_seed: Sequence[Sequence[float]]) -> dict[str, float] | None:
    """Are a seed's repeats independent draws? per_seed: (S, k) paired differences per seed and repeat.

    Returns ``within_var`` (the pooled variance between a seed's repeats, S (k - 1) degrees of freedom),
    ``implied_var`` (``within_var / k``: the least a seed mean varies over seeds if its repeats are
    independent), ``observed_var`` (the seed means' variance, S - 1 degrees of freedom), ``f`` (implied /
    observed) and ``p`` (one-sided, F distribution: so small a spread of the means by chance), and
    ``r`` (correlation of repeat 0 with repeat 1 over seeds, k = 2 only, else nan). None for fewer than
    two seeds or repeats, or no spread in the means.
    """
    d = np.asarray(per_seed, dtype=float)
    if d.ndim != 2 or d.shape[0] < 2 or d.shape[1] < 2:
        return None
    seeds, k = d.shape
    within = float(np.var(d, axis=1, ddof=1).mean())
    observed = float(np.var(d.mean(axis=1), ddof=1))
    if observed == 0.0:
        return None
    f = within / k / observed
    r = float(np.corrcoef(d[:, 0], d[:, 1])[0, 1]) if k == 2 else math.nan
    p = float(stats.f.sf(f, seeds * (k - 1), seeds - 1))
    return {"within_var": within, "implied_var": within / k, "observed_var": observed, "f": f, "p": p, "r": r}


def study(results: Sequence[Mapping[str, Any]], a: str, b: str) -> dict[str, Any]:
    """The figures above from the seeds' ``result.json`` (each model with its ``repeats``)."""
    rows, groups = [], []
    for result in results:
        models = result["models"]
        if a not in models or b not in models:
            raise DataError(f"seed {result['seed']} has no {a if a not in models else b}")
        if "repeats" not in models[a] or "repeats" not in models[b]:
            raise DataError(
                f"seed {result['seed']}: {a} and {b} were trained once (no 'repeats'); "
                "run the experiment with experiment.train_repeats=2 or more"
            )
        diffs = repeat_differences(models[a]["repeats"]["map50_95"], models[b]["repeats"]["map50_95"])
        rows.append({"seed": int(result["seed"]), "repeats": diffs.tolist(), "mean": float(diffs.mean())})
        groups += [models[a]["repeats"]["map50_95"], models[b]["repeats"]["map50_95"]]
    k = min(len(r["repeats"]) for r in rows)
    s_t, n_models = pooled_repeat_std(groups)
    s_t = 100.0 * (s_t or 0.0)
    means = [r["mean"] for r in rows]
    split = noise_split(means, s_t, k) if len(rows) > 1 else None
    plan = {}
    if split is not None:
        plan = {
            f"{n} seeds x {reps} repeats": ci_half_width(split["var_u"], s_t, seeds=n, repeats=reps)
            for n in PLAN_SEEDS
            for reps in PLAN_REPEATS
        }
    return {
        "pair": f"{a}-{b}",
        "per_seed": rows,
        "repeat0": paired_difference([r["repeats"][0] for r in rows], [0.0] * len(rows)),
        "all_repeats": paired_difference(means, [0.0] * len(rows)),
        "training_std": s_t,
        "models_pooled": n_models,
        "repeats": k,
        "split": split,
        "plan": plan,
        "independence": repeat_independence([r["repeats"][:k] for r in rows]),
    }


def lines(out: Mapping[str, Any]) -> list[str]:
    """The printed report of :func:`study`."""

    def ci(s: Mapping[str, Any]) -> str:
        return f"{s['mean']:+.2f} (95% CI {s['ci95'][0]:+.2f} to {s['ci95'][1]:+.2f}, n {s['n']})"

    text = [f"{out['pair']}, mAP50-95 points, {out['repeats']} training repeats"]
    for row in out["per_seed"]:
        each = ", ".join(f"{d:+.2f}" for d in row["repeats"])
        text.append(f"  seed {row['seed']}: repeats {each}; mean {row['mean']:+.2f}")
    text.append(f"  repeat 0 alone (a run without repeats): {ci(out['repeat0'])}")
    text.append(f"  mean of the repeats: {ci(out['all_repeats'])}")
    text.append(
        f"  training noise: std {out['training_std']:.2f} points between one model's repeats "
        f"(pooled over {out['models_pooled']} models)"
    )
    if out["split"]:
        s = out["split"]
        text.append(
            f"  variance over seeds {s['var_total']:.2f}: training {s['var_training']:.2f}, "
            f"the seeds' own {s['var_u']:.2f} (points^2)"
        )
        text.append(
            "  expected 95% CI half-width: " + "; ".join(f"{k} {v:.1f}" for k, v in out["plan"].items())
        )
    check = out.get("independence")
    if check:
        corr = "" if math.isnan(check["r"]) else f", repeat 0 vs 1 r = {check['r']:+.2f}"
        text.append(
            f"  repeats independent? the seed means vary {check['observed_var']:.2f}, at least "
            f"{check['implied_var']:.2f} expected from a seed's own repeats (F = {check['f']:.1f}, "
            f"p = {check['p']:.4f}{corr}); a small p: they are not, the plan above overstates the noise"
        )
    return text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Training noise against the seeds' spread, and a plan.")
    parser.add_argument("run_folder", type=Path, help="runs/gt2_vs_random/<experiment.name>")
    parser.add_argument(
        "--pair",
        nargs=2,
        metavar=("A", "B"),
        help="models compared (default CAL2 and CONTROL_TIME where the run trained it, else CONTROL)",
    )
    args = parser.parse_args(argv)
    run = RunFolder(args.run_folder)
    results = [s.result() for s in run.finished_seeds()]
    if not results:
        raise DataError(f"{args.run_folder} holds no finished seed (no seed_<k>/result.json)")
    a, b = args.pair or (
        MODEL_NAMES[2],
        TIME_CONTROL if all(TIME_CONTROL in r["models"] for r in results) else MODEL_NAMES[1],
    )
    print("\n".join(lines(study(results, a, b))))


if __name__ == "__main__":
    main()
