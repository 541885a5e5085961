"""The Markdown report of the CAL1 / CONTROL / CAL2 experiment and its PNG figures
(:mod:`experiments.reporting.plots`).

Per seed three detectors are trained and evaluated on the same VAL set: CAL1 (GT1), CONTROL (GT1 + a
random pool draw) and CAL2 (GT1 + GT2, the pool images the uncertainty estimate rated medium / hard /
failed). The report leads with a plain-language verdict on CAL2 vs CONTROL, computed only from the paired
statistics' ``significant`` / ``direction`` fields and checked against their CI: a difference is called
significant only when the flag says so *and* its 95% CI excludes 0 on the stated side.

Input: the metrics dict (the caller also saves it as metrics.json). S and P are statistics over seeds::

    S = {"mean": f, "std": f, "ci95": [lo, hi], "n": int, "values": [f per seed]}   # nan / None when n < 2
    P = S | {"significant": bool, "direction": "a>b" | "a<b" | "not significant"}   # of a - b, paired

    metrics = {
      "experiment": {"name": str, "seeds": [int], "selection": str, "train_mode": "scratch" | "warm",
                     "control": "size" | "cost", "epochs": int, "dataset": str},
      "classes": [str],                                           # C class names
      "per_seed": {"<seed>": {
          "models": {"CAL1" | "CONTROL" | "CAL2": {
              "map50": f, "map50_95": f, "precision": f, "recall": f, "boost": f,
              "operating_threshold": f, "n_train_images": int, "n_train_boxes": int,
              "repeats": {"map50_95" | "map50": [f per training repeat]},  # only with train_repeats > 1
              "per_class": {name: {"precision", "recall", "ap50", "ap50_95", "boost": f | None}}}},
          "selection": {"gt2": {"n": int, "bands": {band: int}, "boxes": int, "class_boxes": {name: int},
                                "label_seconds": f},  # drawing every box by hand, cost model
                        "control": {same keys}, "pool_bands": {band: int}, "reason": str},
          "stage_seconds": {stage: f}}},
      "summary": {
          "models": {model: {"map50_95" | "map50" | "precision" | "recall" | "boost": S, "per_class":
                             {name: {"precision" | "recall" | "ap50" | "ap50_95" | "boost": S}}}},
          "paired": {"CAL2-CONTROL" | "CAL2-CAL1" | "CONTROL-CAL1": {
              "map50_95" | "map50" | "boost": P, "per_class": {name: {"ap50_95" | "boost": P}}}}},
      "rounds": None | {"budget": int, "strategies": {"uncertainty" | "random": {
                            "labeled": [int per round], "hours": [f per round],  # hours added to GT1
                            "map50_95": [S per round]}},
                        "paired_map50_95": [P per round],  # uncertainty - random, paired by seed
                        "label_savings" | "hour_savings": {"fraction": f | None, "explanation": str}},
      "training_noise": None | {"repeats": int, "models": int, "map50_95_std" | "map50_std": f | None},
      "stage_seconds": {"total": f, stage: f},
    }

Bands are easy | medium | hard | failed. mAP-type numbers and precision / recall are fractions in [0, 1]:
the prose shows them in points (x100, 1 decimal), tables with 3 decimals; boosts are ratios shown as
"1.23x". Any None / nan prints as "n/a".

``python -m experiments.report RUN_FOLDER`` (:mod:`experiments.report`) writes both from a run folder's
finished seeds.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from experiments.constants import BASELINE, OPTIONAL_MODELS, TIME_CONTROL
from experiments.constants import PAIRS as PAIR_NAMES
from experiments.reporting import plots
from experiments.reporting.formatting import (
    RULES,
    cell,
    count,
    decimal,
    format_number,
    get,
    hours,
    mean_count,
    n_values,
    rule_name,
    seed_mean,
    table,
    table_fmt,
)
from experiments.reporting.plots import MODELS, SAMPLE_BANDS, SampleImage, ci_bounds, number
from experiments.reporting.verdict import (
    METRIC_NAMES,
    ordering_sentence,
    significant_direction,
    verdict_sentence,
)

__all__ = ["SampleImage", "verdict_sentence", "write_report"]

PAIRS: tuple[str, ...] = tuple(f"{a}-{b}" for a, b in PAIR_NAMES)
TRAIN_KEYS = ("n_train_images", "n_train_boxes", "operating_threshold")
FIGURES = ("per_class_pr.png", "boost.png", "pool_scores.png", "samples.png", "rounds.png")


# --- sections ---------------------------------------------------------------------------------------
def _setup(metrics: Mapping) -> list[str]:
    exp = metrics.get("experiment") or {}
    seeds = list(exp.get("seeds") or (metrics.get("per_seed") or {}).keys())
    rule = exp.get("selection", "n/a")
    if rule in RULES:
        rule = f"{rule_name(rule)} (GT2 = {RULES[rule][1]})"
    one = (
        " One seed: no confidence intervals, so nothing below is a significance claim."
        if len(seeds) < 2
        else ""
    )
    seed_list = ", ".join(map(str, seeds)) or "none"
    matched = "as many images as GT2"
    if exp.get("control") == "cost":
        matched = "the same hand-labeling time as GT2 (cost model)"
    time_control, models = "", get(metrics, "summary", "models") or {}
    baseline = ""
    if BASELINE in models:
        baseline = (
            f", and {BASELINE} is CAL1 trained as long again on GT1 alone (CAL2's recipe and number of "
            "optimizer steps, no new labels: what CAL2 and CONTROL gain over it is the labels' share)"
        )
    if TIME_CONTROL in models:
        time_control = (
            f" {TIME_CONTROL} is trained on GT1 plus random pool images until GT2's hand-labeling seconds "
            "(cost model) are spent: the same labeling time, the headline comparison."
        )
    return [
        f"# Experiment report: {exp.get('name', 'unnamed')}",
        "",
        f"Dataset {exp.get('dataset', 'n/a')}; {len(seeds)} seed(s) ({seed_list}); selection rule {rule}; "
        f"train mode {exp.get('train_mode', 'n/a')}; {exp.get('epochs', 'n/a')} epochs. "
        f"Per seed, CAL1 is trained on GT1, CONTROL on GT1 plus a random pool draw with {matched}, CAL2 "
        f"on GT1 plus GT2{baseline}.{time_control}{_repeats(metrics)} All are evaluated on the same VAL "
        "set, so differences are paired by seed. "
        f"Intervals are 95% confidence intervals over seeds.{one}",
        "",
    ]


def _repeats(metrics: Mapping) -> str:
    """The setup's sentence on training repeats ("" when each model was trained once)."""
    noise = metrics.get("training_noise")
    if not noise:
        return ""
    std = noise.get("map50_95_std")
    measured = f"{100 * std:.1f} points" if std is not None else "n/a"
    return (
        f" Every model but CAL1 is trained {noise['repeats']} times with other training seeds and its "
        f"figures are the means: one training moves mAP50-95 by {measured} (std between a model's "
        f"repeats, pooled over {noise['models']} models). The intervals below are over the seeds' means; "
        "`python -m studies.repeat_noise` checks whether a seed's repeats vary independently."
    )


def _verdict(metrics: Mapping) -> list[str]:
    paired = get(metrics, "summary", "paired") or {}
    lines = ["## Verdict", ""]
    headline = f"CAL2-{TIME_CONTROL}"
    verdicts = [(headline, "map50_95"), (headline, "boost")] if headline in paired else []
    verdicts += [("CAL2-CONTROL", "map50_95"), ("CAL2-CONTROL", "boost"), ("CAL2-CAL1", "map50_95")]
    verdicts += [
        (p, "map50_95")
        for p in (f"CAL2-{BASELINE}", f"{TIME_CONTROL}-{BASELINE}", f"CONTROL-{BASELINE}")
        if p in paired
    ]
    for pair, metric in verdicts:
        lines.append(f"- {verdict_sentence(pair, metric, get(paired, pair, metric))}")
    lines += [f"- {ordering_sentence(metrics, m)}" for m in ("map50_95", "boost")]
    return [*lines, ""]


def _figure(drawn: Collection[str], name: str, alt: str) -> list[str]:
    """The Markdown embedding figure ``name`` when it was drawn, else nothing."""
    return [f"![{alt}]({name})", ""] if name in drawn else []


def _overall(metrics: Mapping, drawn: Collection[str]) -> list[str]:
    models = get(metrics, "summary", "models") or {}
    cols = ("map50_95", "map50", "precision", "recall", "boost")
    shown = [*MODELS, *(m for m in OPTIONAL_MODELS if m in models)]
    rows = [[m, *(cell(get(models, m, c), table_fmt(c)) for c in cols)] for m in shown]
    lines = ["## Overall (VAL, mean ± std [95% CI] over seeds)", ""]
    lines += table(["model", *(METRIC_NAMES[c] for c in cols)], rows)
    per_seed = list((metrics.get("per_seed") or {}).values())
    train = []
    for m in shown:
        images, boxes, threshold = (seed_mean(per_seed, "models", m, k) for k in TRAIN_KEYS)
        train.append([m, count(images), count(boxes), decimal(threshold)])
    header = ["model", "train images (mean)", "train boxes (mean)", "operating threshold (mean)"]
    return [*lines, *table(header, train), *_figure(drawn, "boost.png", "Boost and mAP50-95 per model")]


def _paired(metrics: Mapping) -> list[str]:
    paired = get(metrics, "summary", "paired") or {}
    rows = []
    optional = set(OPTIONAL_MODELS)
    for pair in (p for p in PAIRS if p in paired or not optional & set(p.split("-"))):
        for metric in ("map50_95", "map50", "boost"):
            stat = get(paired, pair, metric) or {}
            fmt = table_fmt(metric)
            lo, hi = ci_bounds(stat)
            has_ci = n_values(stat) >= 2 and not (math.isnan(lo) or math.isnan(hi))
            ci = f"[{fmt(lo, signed=True)}, {fmt(hi, signed=True)}]" if has_ci else "n/a"
            direction = significant_direction(stat)
            sig = ("yes (a<b)" if direction == "a<b" else "yes (a>b)") if direction else "no"
            row = [pair, METRIC_NAMES[metric], fmt(stat.get("mean"), signed=True), fmt(stat.get("std"))]
            rows.append([*row, ci, str(n_values(stat)), sig if has_ci else "n/a"])
    return [
        "## Paired differences (a - b, per seed)",
        "",
        *table(["a-b", "metric", "mean", "std", "95% CI", "seeds", "significant"], rows),
    ]


def _per_class(metrics: Mapping, drawn: Collection[str]) -> list[str]:
    classes = list(metrics.get("classes") or [])
    models = get(metrics, "summary", "models") or {}
    paired = get(metrics, "summary", "paired", "CAL2-CONTROL", "per_class") or {}
    lines = ["## Per class (mean [95% CI] over seeds)", ""]
    for metric in ("ap50_95", "boost"):
        fmt = table_fmt(metric)
        rows = []
        for c in classes:
            cells = [cell(get(models, m, "per_class", c, metric), fmt, spread=False) for m in MODELS]
            diff = get(paired, c, metric)
            mark = " (significant)" if significant_direction(diff or {}) else ""
            rows.append([c, *cells, cell(diff, fmt, signed=True, spread=False) + mark])
        lines += [f"{METRIC_NAMES[metric]}:", "", *table(["class", *MODELS, "CAL2 - CONTROL"], rows)]
    return [*lines, *_figure(drawn, "per_class_pr.png", "Per-class precision and recall per model")]


def _selected(metrics: Mapping, drawn: Collection[str]) -> list[str]:
    sel = [s.get("selection") or {} for s in (metrics.get("per_seed") or {}).values()]
    lines = ["## What was selected (mean over seeds)", ""]
    rule = rule_name(str(get(metrics, "experiment", "selection") or "the"))
    bands = [s["pool_bands"] for s in sel if s.get("pool_bands")]  # a band no image fell in is absent: 0
    pool = [
        [b, count(sum(p.get(b, 0) for p in bands) / len(bands)) if bands else "n/a"] for b in SAMPLE_BANDS
    ]
    lines += ["Pool composition by band:", "", *table(["band", "pool images"], pool)]
    columns = {"gt2": "GT2", "control": "CONTROL", "control_time": TIME_CONTROL}
    keys = [k for k in columns if k != "control_time" or (sel and all(k in s for s in sel))]
    rows = [
        ["images", *(mean_count(sel, k, "n") for k in keys)],
        ["boxes", *(mean_count(sel, k, "boxes") for k in keys)],
        ["hand-label hours (cost model)", *(hours(sel, k) for k in keys)],
    ]
    rows += [[f"band: {b}", *(mean_count(sel, k, "bands", b) for k in keys)] for b in SAMPLE_BANDS]
    classes = list(metrics.get("classes") or [])
    rows += [[f"boxes of {c}", *(mean_count(sel, k, "class_boxes", c) for k in keys)] for c in classes]
    lines += [
        f"GT2 ({rule} selection) vs the random controls:",
        "",
        *table(["", *map(columns.get, keys)], rows),
    ]
    reasons = sorted({str(s["reason"]) for s in sel if s.get("reason")})
    lines += [f"Selection note: {r}" for r in reasons] + ([""] if reasons else [])
    lines += _figure(drawn, "pool_scores.png", "Pool image scores by band, all seeds")
    return [*lines, *_figure(drawn, "samples.png", "Sample pool images per band with their auto-labels")]


def _rounds(rounds: Mapping, drawn: Collection[str]) -> list[str]:
    strategies = rounds.get("strategies") or {}
    lines = ["## Rounds", "", f"Budget per round: {rounds.get('budget', 'n/a')} images.", ""]
    n_rounds = max((len(s.get("labeled") or []) for s in strategies.values()), default=0)
    header = ["round", *(f"{name}: {col}" for name in strategies for col in ("labeled", "hours", "mAP50-95"))]
    paired = list(rounds.get("paired_map50_95") or [])
    header += ["uncertainty - random (paired)", "significant"] if paired else []
    rows = []
    for r in range(n_rounds):
        row = [str(r)]
        for s in strategies.values():
            labeled, stats = list(s.get("labeled") or []), list(s.get("map50_95") or [])
            hours = [number(h) for h in s.get("hours") or []]
            row.append(str(labeled[r]) if r < len(labeled) else "n/a")
            row.append(f"{hours[r]:.2f}" if r < len(hours) and math.isfinite(hours[r]) else "n/a")
            row.append(cell(stats[r], decimal, spread=False) if r < len(stats) else "n/a")
        if paired:
            stat = paired[r] if r < len(paired) else {}
            significant = "yes" if significant_direction(stat) else "no"
            row += [cell(stat, decimal, signed=True, spread=False), significant]
        rows.append(row)
    lines += table(header, rows)
    for key, title, what in (
        ("label_savings", "Label savings per image", "fewer labeled pool images than random"),
        ("hour_savings", "Label savings per hour", "fewer hand-labeling hours than random (cost model)"),
    ):
        if key not in rounds:
            continue
        savings = rounds.get(key) or {}
        fraction = number(savings.get("fraction"))
        saved = "n/a" if math.isnan(fraction) else f"{fraction * 100:.0f}% {what}"
        lines += [f"{title}: {saved}. {savings.get('explanation', '')}".rstrip(), ""]
    return [*lines, *_figure(drawn, "rounds.png", "mAP50-95 vs labeled images and hours per strategy")]


def _time(metrics: Mapping) -> list[str]:
    per_seed = [s.get("stage_seconds") or {} for s in (metrics.get("per_seed") or {}).values()]
    stages = list(dict.fromkeys(k for s in per_seed for k in s))
    rows = []
    for stage in stages:
        v = np.array([number(s.get(stage)) for s in per_seed], dtype=float)
        v = v[np.isfinite(v)]
        stats = (v.mean(), v.min(), v.max()) if v.size else (math.nan,) * 3
        rows.append([stage, *map(count, stats)])
    lines = ["## Time (seconds)", "", *table(["stage", "mean per seed", "min", "max"], rows)]
    overall = metrics.get("stage_seconds") or {}
    total = number(overall.get("total"))
    lines.append(f"Total: {count(total)} s ({format_number(total, scale=1 / 60, digits=1)} min).")
    others = [f"{k} {count(v)} s" for k, v in overall.items() if k != "total"]
    return [*lines, *([f"Other stages: {', '.join(others)}."] if others else []), ""]


# --- entry point ------------------------------------------------------------------------------------
def summary_lines(metrics: Mapping) -> list[str]:
    """The report's text without its figures: setup, verdict, overall and paired tables (for
    :mod:`experiments.results_doc`, which gathers many runs into one document; headings one level down)."""
    lines = [*_setup(metrics), *_verdict(metrics), *_overall(metrics, ()), *_paired(metrics)]
    return [("#" + line) if line.startswith("#") else line for line in lines]


def _has_per_class(metrics: Mapping) -> bool:
    models = get(metrics, "summary", "models") or {}
    return any(
        math.isfinite(number(get(models, m, "per_class", c, k, "mean")))
        for m in MODELS
        for c in metrics.get("classes") or []
        for k in ("precision", "recall")
    )


def _has_model_stats(metrics: Mapping) -> bool:
    models = get(metrics, "summary", "models") or {}
    return any(
        math.isfinite(number(get(models, m, k, "mean"))) for m in MODELS for k in ("boost", "map50_95")
    )


def write_report(
    metrics: Mapping,
    out_dir: str | Path,
    *,
    pool_scores: Mapping[str, Sequence[tuple[float | None, str]]] | None = None,
    samples: Mapping[str, Sequence[SampleImage]] | None = None,
) -> Path:
    """Write ``report.md`` and its PNG figures into ``out_dir`` (created if needed); returns the report path.

    metrics: the dict of the module docstring. pool_scores: per seed (str), one (image score or None,
    band) pair per pool image. samples: band (easy | medium | hard | failed) -> a few pool images with
    their auto-labels. A figure whose input is missing is neither drawn nor linked, and a stale file of
    that name left in ``out_dir`` by an earlier report is removed so that folder and report agree.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    models = get(metrics, "summary", "models") or {}
    rounds = metrics.get("rounds")
    strategies = get(rounds, "strategies")
    paths = {name: out_dir / name for name in FIGURES}
    for path in paths.values():
        path.unlink(missing_ok=True)
    if _has_per_class(metrics):
        plots.per_class_pr(models, list(metrics.get("classes") or []), paths["per_class_pr.png"])
    if _has_model_stats(metrics):
        plots.boost_and_map(models, paths["boost.png"])
    if pool_scores and any(pool_scores.values()):
        plots.pool_score_histogram(pool_scores, paths["pool_scores.png"])
    if samples and any(samples.get(band) for band in SAMPLE_BANDS):
        plots.samples_grid(samples, paths["samples.png"])
    if strategies:
        plots.rounds_curve(strategies, paths["rounds.png"])
    drawn = {name for name, path in paths.items() if path.is_file()}
    lines = [*_setup(metrics), *_verdict(metrics), *_overall(metrics, drawn), *_paired(metrics)]
    lines += [*_per_class(metrics, drawn), *_selected(metrics, drawn)]
    if rounds:
        lines += _rounds(rounds, drawn)
    lines += _time(metrics)
    report = out_dir / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return report
