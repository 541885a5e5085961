"""Where does a gain come from? Each selection and each model's VAL score per image subgroup.

``python -m studies.subgroups runs/gt2_vs_random/shift --field line``

The subgroups are the values of one per-image field of the dataset's ``meta.jsonl`` (the file beside its
``images/`` folder; the demo writes one, with ``line`` ("A" / "B" with ``data=demo_shift``), ``lighting``
and others). For every finished seed of a run:

- how many POOL, GT2 and CONTROL images each subgroup holds (GT2 and CONTROL read from the training views
  CAL2 and CONTROL were trained on), and CONTROL_TIME's where the run trained it;
- per subgroup of POOL, CAL1's mean uncertainty score, auto-labeled boxes and failed share: does the
  score see the subgroup?
- mAP50-95 of CAL1, CONTROL and CAL2 (and of CONTROL_TIME and CAL1_LONG where every seed trained them) on
  the VAL images of each subgroup (the experiment's evaluation, on a subset).

Then the mean over seeds and the paired CAL2 - CONTROL difference with its 95% CI (and CAL2 -
CONTROL_TIME, the same-time control, where the run has it). Writes
``subgroups_<field>.json`` into the run folder and prints a table.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from autolabel.errors import DataError
from autolabel.pipeline import evaluate_weights
from experiments.constants import MODEL_NAMES, OPTIONAL_MODELS, TIME_CONTROL
from experiments.run_folder import RunFolder, SeedFolder, write_json
from experiments.stats import paired_difference, summarize

MODELS = {name: name.lower() for name in MODEL_NAMES}  # model -> folder of its weights (every run has them)


def run_models(seeds: Sequence[SeedFolder]) -> dict[str, str]:
    """Model -> folder of its weights: the three of every run, then each optional model every seed trained."""
    optional = {
        name: name.lower()
        for name in OPTIONAL_MODELS
        if all((s.path / name.lower() / "weights.pt").is_file() for s in seeds)
    }
    return {**MODELS, **optional}


def read_meta(images: Sequence[Path], field: str) -> dict[str, str]:
    """{resolved image path: str(value of ``field``)} from the ``meta.jsonl`` beside the images' folder."""
    metas = {Path(p).resolve().parent.parent / "meta.jsonl" for p in images}
    out: dict[str, str] = {}
    for meta in metas:
        if not meta.is_file():
            raise DataError(f"{meta} is missing: subgroups need the dataset's per-image meta.jsonl")
        for n, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
            row = json.loads(line)
            if field not in row:
                raise DataError(f"{meta} line {n} has no field {field!r}")
            out[str((meta.parent / "images" / row["image"]).resolve())] = str(row[field])
    return out


def counts(images: Sequence[Path], meta: dict[str, str]) -> dict[str, int]:
    """{subgroup: images of it}, for images listed in ``meta``."""
    return dict(Counter(meta[str(Path(p).resolve())] for p in images))


def trained_on(view: Path, exclude: Sequence[Path]) -> list[Path]:
    """The images of a training view folder (symlinks or copies), those in ``exclude`` (GT1) left out."""
    if not view.is_dir():
        raise DataError(f"{view} is missing: the seed has no training view to read its selection from")
    skip = {str(Path(p).resolve()) for p in exclude}
    return [p.resolve() for p in sorted(view.iterdir()) if str(p.resolve()) not in skip]


def pool_scores(seed: SeedFolder, meta: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per subgroup of POOL: mean uncertainty score (failed images left out), mean auto-labeled boxes and
    the share of failed images (no box kept), from CAL1's pool labels."""
    rows: dict[str, list[tuple[float, int, bool]]] = {}
    for r in (r for r in seed.pool_records if r.ok):
        score = float("nan") if r.failed else r.score_value
        rows.setdefault(meta[str(seed.pool_path(r).resolve())], []).append((score, r.n_boxes, r.failed))
    out = {}
    for group, values in rows.items():
        scores, boxes, failed = (np.array(v, dtype=np.float64) for v in zip(*values, strict=True))
        kept = scores[~np.isnan(scores)]
        out[group] = {
            "images": int(boxes.size),
            "mean_score": float(kept.mean()) if kept.size else float("nan"),
            "mean_boxes": float(boxes.mean()),
            "failed_share": float(failed.mean()),
        }
    return out


def seed_subgroups(
    cfg: DictConfig, seed: SeedFolder, field: str, models: dict[str, str] | None = None
) -> dict[str, Any]:
    """One seed: subgroup counts of POOL / GT2 / CONTROL (/ CONTROL_TIME) and VAL mAP50-95 per model and
    subgroup.

    cfg: the run's saved settings (the evaluation's threshold, image size and device); models: model ->
    weights folder (default: the three every run has).
    """
    models = MODELS if models is None else models
    split = seed.manifest
    meta = read_meta([*split.pool, *split.val], field)
    views = seed.cal1 / "data" / "images"
    out: dict[str, Any] = {
        "images": {
            "POOL": counts(split.pool, meta),
            "GT2": counts(trained_on(views / "cal2", split.gt1), meta),
            "CONTROL": counts(trained_on(views / "control", split.gt1), meta),
            **(
                {TIME_CONTROL: counts(trained_on(views / models[TIME_CONTROL], split.gt1), meta)}
                if TIME_CONTROL in models
                else {}
            ),
        },
        "pool": pool_scores(seed, meta),
        "map50_95": {},
    }
    for group in sorted(set(meta[str(p.resolve())] for p in split.val)):
        val = [p for p in split.val if meta[str(p.resolve())] == group]
        truths = [seed.truth(p) for p in val]
        out["map50_95"][group] = {"n_val": len(val)}
        for model, folder in models.items():
            _, evaluation = evaluate_weights(cfg, seed.path / folder / "weights.pt", val, truths)
            out["map50_95"][group][model] = evaluation["map50_95"]
    return out


def subgroups(run_dir: Path, field: str) -> dict[str, Any]:
    """Every finished seed of ``run_dir``; writes and returns ``subgroups_<field>.json``'s content."""
    run = RunFolder(run_dir)
    cfg = run.config()
    finished = [s for s in run.seeds() if s.result() is not None]
    if not finished:
        raise DataError(f"{run_dir} holds no finished seed (no seed_*/result.json)")
    seeds = [s.seed for s in finished]
    models = run_models(finished)
    per_seed = {str(s.seed): seed_subgroups(cfg, s, field, models) for s in finished}
    groups = sorted({g for s in per_seed.values() for g in s["map50_95"]})
    summary: dict[str, Any] = {}
    for g in groups:
        series = {
            m: [s["map50_95"].get(g, {}).get(m, float("nan")) for s in per_seed.values()] for m in models
        }
        kinds = ("POOL", "GT2", "CONTROL", *((TIME_CONTROL,) if TIME_CONTROL in models else ()))
        summary[g] = {
            **{m: summarize(v) for m, v in series.items()},
            "CAL2-CONTROL": paired_difference(series["CAL2"], series["CONTROL"]),
            **(
                {f"CAL2-{TIME_CONTROL}": paired_difference(series["CAL2"], series[TIME_CONTROL])}
                if TIME_CONTROL in models
                else {}
            ),
            "images": {
                k: summarize([s["images"][k].get(g, 0) for s in per_seed.values()])["mean"] for k in kinds
            },
            "pool": {
                k: summarize([s["pool"].get(g, {}).get(k, float("nan")) for s in per_seed.values()])["mean"]
                for k in ("mean_score", "mean_boxes", "failed_share")
            },
        }
    out = {"field": field, "seeds": seeds, "models": list(models), "per_seed": per_seed, "summary": summary}
    write_json(run_dir / f"subgroups_{field}.json", out)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run folder of experiments.gt2_vs_random")
    parser.add_argument("--field", default="line", help="a per-image field of meta.jsonl (default: line)")
    args = parser.parse_args(argv)
    out = subgroups(args.run_dir, args.field)
    print(
        f"{args.field} | pool / GT2 / CONTROL images | pool: mean score, boxes, failed share | "
        "VAL mAP50-95 CAL1 / CONTROL / CAL2 | CAL2 - CONTROL [95% CI]   (means over seeds)"
    )
    for group, s in out["summary"].items():
        img, pool, d = s["images"], s["pool"], s["CAL2-CONTROL"]
        lo, hi = d["ci95"]
        print(
            f"{group} | {img['POOL']:.1f} / {img['GT2']:.1f} / {img['CONTROL']:.1f} | "
            f"{pool['mean_score']:.2f}, {pool['mean_boxes']:.2f}, {pool['failed_share']:.2f} | "
            f"{s['CAL1']['mean']:.3f} / {s['CONTROL']['mean']:.3f} / {s['CAL2']['mean']:.3f} | "
            f"{d['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        )
    if TIME_CONTROL in out["models"]:
        tc = TIME_CONTROL
        print(f"{args.field} | {tc} images | VAL mAP50-95 {tc} | CAL2 - {tc} [95% CI]   (means over seeds)")
        for group, s in out["summary"].items():
            d = s[f"CAL2-{TIME_CONTROL}"]
            lo, hi = d["ci95"]
            print(
                f"{group} | {s['images'][TIME_CONTROL]:.1f} | {s[TIME_CONTROL]['mean']:.3f} | "
                f"{d['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            )
    print(f"({len(out['seeds'])} seeds; written to {args.run_dir / f'subgroups_{args.field}.json'})")


if __name__ == "__main__":
    main()
