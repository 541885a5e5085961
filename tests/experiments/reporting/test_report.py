"""The experiment report: verdict from the paired statistics, tables, figures linked iff drawn."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from experiments.reporting.markdown import SampleImage, write_report

CLASSES = ["bite-edge", "porosity", "crack"]
MODELS = ("CAL1", "CONTROL", "CAL2")
FIGURES = {"per_class_pr.png", "boost.png", "pool_scores.png", "samples.png", "rounds.png"}


def stat(values) -> dict:
    """An S over seeds; the CI is mean ± 2 std (a stand-in for the caller's) and absent for one seed."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        return {
            "mean": mean,
            "std": math.nan,
            "ci95": [math.nan, math.nan],
            "n": len(v),
            "values": v.tolist(),
        }
    std = float(v.std(ddof=1))
    h = 2 * std
    return {"mean": mean, "std": std, "ci95": [mean - h, mean + h], "n": len(v), "values": v.tolist()}


def paired(values) -> dict:
    """A P: an S plus significance read off its CI (as the caller's statistics would)."""
    s = stat(values)
    lo, hi = s["ci95"]
    sig = bool(lo > 0 or hi < 0)
    return {**s, "significant": sig, "direction": ("a>b" if lo > 0 else "a<b") if sig else "not significant"}


def make_metrics(
    *, n_seeds: int = 3, cal2_gain: float = 0.05, gain_spread: float = 0.005, rounds: bool = True
):
    """Synthetic metrics: CAL1 < CONTROL < CAL2, CAL2 - CONTROL = cal2_gain ± gain_spread per seed."""
    rng = np.random.default_rng(0)
    seeds = list(range(n_seeds))
    base = {m: 0.30 + 0.02 * i for i, m in enumerate(MODELS)}
    per_seed, values = {}, {m: {} for m in MODELS}
    for seed in seeds:
        jitter = 0.01 * rng.standard_normal()
        gain = cal2_gain + gain_spread * (seed - (n_seeds - 1) / 2)
        maps = {"CAL1": base["CAL1"] + jitter, "CONTROL": base["CONTROL"] + jitter}
        maps["CAL2"] = maps["CONTROL"] + gain
        models = {}
        for m in MODELS:
            boost = 1.0 + 2 * maps[m]
            per_class = {
                c: {
                    "precision": 0.6 + 0.1 * k,
                    "recall": 0.5,
                    "ap50": maps[m] + 0.2,
                    "ap50_95": maps[m] + 0.01 * k,
                    "boost": boost,
                }
                for k, c in enumerate(CLASSES)
            }
            per_class["crack"]["precision"] = None  # a class the model never predicted
            models[m] = {
                "map50": maps[m] + 0.2,
                "map50_95": maps[m],
                "precision": 0.7,
                "recall": 0.6,
                "boost": boost,
                "operating_threshold": 0.25,
                "n_train_images": 40 + 20 * (m != "CAL1"),
                "n_train_boxes": 90,
                "per_class": per_class,
            }
            for key in ("map50_95", "map50", "boost"):
                values[m].setdefault(key, []).append(models[m][key])
        pick = {
            "n": 20,
            "bands": {"easy": 0, "medium": 12, "hard": 6, "failed": 2},
            "boxes": 50,
            "class_boxes": {"bite-edge": 30, "porosity": 15, "crack": 5},
        }
        per_seed[str(seed)] = {
            "models": models,
            "selection": {
                "gt2": pick,
                "control": {**pick, "boxes": 40},
                "reason": "difficulty bands",
                # seed 0 has no easy image: the mean counts it as 0, not as a seed without the figure
                "pool_bands": {"easy": 60, "medium": 12, "hard": 6, "failed": 2}
                if seed
                else {"medium": 12, "hard": 6, "failed": 2},
            },
            "stage_seconds": {"split": 0.5, "train_cal1": 30.0 + seed},
        }

    def model_summary(m):
        pc = {
            c: {k: stat([0.5] * n_seeds) for k in ("precision", "recall", "ap50", "ap50_95", "boost")}
            for c in CLASSES
        }
        return {k: stat(values[m][k]) for k in values[m]} | {
            "precision": stat([0.7] * n_seeds),
            "recall": stat([0.6] * n_seeds),
            "per_class": pc,
        }

    def pair(a, b):
        diff = {k: np.subtract(values[a][k], values[b][k]) for k in ("map50_95", "map50", "boost")}
        out = {k: paired(v) for k, v in diff.items()}
        out["per_class"] = {
            c: {"ap50_95": paired(diff["map50_95"]), "boost": paired(diff["boost"])} for c in CLASSES
        }
        return out

    return {
        "experiment": {
            "name": "synthetic",
            "seeds": seeds,
            "selection": "DifficultySelection",  # as gt2_vs_random writes it
            "train_mode": "scratch",
            "epochs": 3,
            "dataset": "demo",
        },
        "classes": CLASSES,
        "per_seed": per_seed,
        "summary": {
            "models": {m: model_summary(m) for m in MODELS},
            "paired": {p: pair(*p.split("-")) for p in ("CAL2-CONTROL", "CAL2-CAL1", "CONTROL-CAL1")},
        },
        "rounds": {
            "budget": 10,
            "strategies": {
                name: {
                    "labeled": [40, 50, 60],
                    "map50_95": [
                        stat([0.3 + 0.02 * r + d + 0.01 * k for k in range(n_seeds)]) for r in range(3)
                    ],
                }
                for name, d in (("uncertainty", 0.01), ("random", 0.0))
            },
            # round 0 is CAL1 for both; later rounds: +1 point in every seed except a noisy round 1
            "paired_map50_95": [
                paired([0.0] * n_seeds),
                paired([0.01 * (-1) ** k for k in range(n_seeds)]),
                paired([0.01 + 0.001 * k for k in range(n_seeds)]),
            ],
            "label_savings": {
                "fraction": 0.25,
                "explanation": "uncertainty reached random's final mAP earlier.",
            },
            "hour_savings": {"fraction": 0.1, "explanation": "and in fewer hours."},
        }
        if rounds
        else None,
        "stage_seconds": {"total": 123.0},
    }


def make_samples(tmp_path: Path) -> dict[str, list[SampleImage]]:
    out = {}
    for band, n in (("easy", 2), ("medium", 1), ("hard", 5), ("failed", 1)):
        out[band] = []
        for i in range(n):
            path = tmp_path / f"{band}_{i}.png"
            Image.fromarray(np.full((64, 64, 3), 40 * i, dtype=np.uint8)).save(path)
            boxes = np.zeros((0, 4)) if band == "failed" else np.array([[8.0, 8.0, 40.0, 30.0]])
            labels = [] if band == "failed" else ["porosity"]
            score = None if band == "failed" else 0.1 * (i + 1)
            out[band].append(SampleImage(path, boxes, labels, np.full(len(labels), 0.8), score))
    return out


def pool_scores() -> dict[str, list[tuple[float | None, str]]]:
    rng = np.random.default_rng(1)
    bands = ["easy"] * 30 + ["medium"] * 10 + ["hard"] * 5
    return {
        str(s): [(float(x), b) for x, b in zip(rng.random(45), bands, strict=True)] + [(None, "failed")]
        for s in range(3)
    }


def linked_pngs(text: str) -> set[str]:
    return set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text))


def check_figures(out: Path, text: str) -> set[str]:
    on_disk = {p.name for p in out.glob("*.png")}
    assert linked_pngs(text) == on_disk
    for name in on_disk:
        with Image.open(out / name) as img:
            img.verify()
    return on_disk


def verdict(text: str) -> str:
    return text.split("## Verdict", 1)[1].split("\n## ", 1)[0]


def test_full_report_links_every_figure_and_calls_a_clear_gain_significant(tmp_path):
    out = tmp_path / "report"
    metrics = json.loads(json.dumps(make_metrics()))  # as read back from metrics.json
    path = write_report(metrics, out, pool_scores=pool_scores(), samples=make_samples(tmp_path))
    assert path == out / "report.md"
    text = path.read_text()
    assert check_figures(out, text) == FIGURES
    v = verdict(text)
    assert "CAL2 beats CONTROL in mAP50-95 by +5.0 points (95% CI" in v
    assert "3 seeds): significant." in v
    assert "not significant" not in v.split("\n")[2]
    assert "holds in the means" in v and "holds in 3 of 3 seeds" in v
    for heading in (
        "## Overall",
        "## Paired differences",
        "## Per class",
        "## What was selected",
        "## Rounds",
        "## Time",
    ):
        assert heading in text
    per_class = text.split("## Per class", 1)[1].split("\n## ", 1)[0]
    for c in CLASSES:
        assert f"| {c} |" in per_class
        assert f"boxes of {c}" in text
    assert "| easy | 40.0 |" in text  # (0 + 60 + 60) / 3: seed 0's absent band counts as 0
    assert "| medium | 12.0 |" in text
    assert "Label savings per image: 25% fewer labeled pool images than random" in text
    assert "Label savings per hour: 10% fewer hand-labeling hours than random" in text
    assert "selection rule difficulty (GT2 = pool images rated medium, hard or failed)" in text
    assert "GT2 (difficulty selection) vs the random controls:" in text
    rounds_table = [x for x in text.split("## Rounds", 1)[1].splitlines() if x.startswith("| ")]
    assert rounds_table[0].endswith("| uncertainty - random (paired) | significant |")
    assert rounds_table[1].endswith("| +0.000 [+0.000, +0.000] | no |")  # round 0: no difference
    assert rounds_table[2].endswith("| no |") and rounds_table[3].endswith("| yes |")
    assert "x" in text.split("## Overall", 1)[1].split("\n## ", 1)[0]  # boosts as "1.23x"


def test_the_selection_rule_is_named_in_the_setup_and_the_selection_table(tmp_path):
    metrics = make_metrics()
    metrics["experiment"]["selection"] = "OracleSelection"
    text = write_report(metrics, tmp_path).read_text()
    assert "selection rule oracle (GT2 = the pool images ranked by the hidden truth: a ceiling" in text
    assert "GT2 (oracle selection) vs the random controls:" in text
    metrics["experiment"]["selection"] = "SomeNewSelection"  # unknown rules are shown by name
    text = write_report(metrics, tmp_path / "new").read_text()
    assert "selection rule SomeNewSelection;" in text and "GT2 (SomeNewSelection selection)" in text


def test_the_setup_names_cal1_long_only_when_it_was_trained(tmp_path):
    metrics = make_metrics()  # CAL1, CONTROL, CAL2: experiment.baseline=false
    assert "CAL1_LONG" not in metrics["summary"]["models"]
    text = write_report(metrics, tmp_path).read_text()
    assert "CAL1_LONG" not in text and "CAL2 on GT1 plus GT2. All are evaluated" in text
    metrics["summary"]["models"]["CAL1_LONG"] = metrics["summary"]["models"]["CAL1"]
    text = write_report(metrics, tmp_path / "long").read_text()
    assert "and CAL1_LONG is CAL1 trained as long again on GT1 alone" in text


def test_ci_crossing_zero_is_not_significant(tmp_path):
    metrics = make_metrics(cal2_gain=0.01, gain_spread=0.04)
    stat_ = metrics["summary"]["paired"]["CAL2-CONTROL"]["map50_95"]
    assert stat_["ci95"][0] < 0 < stat_["ci95"][1]
    text = write_report(metrics, tmp_path).read_text()
    line = next(x for x in verdict(text).splitlines() if "CONTROL in mAP50-95" in x)
    assert line.endswith("not significant.")
    assert "beats" not in line


def test_significance_flag_without_ci_support_is_not_claimed(tmp_path):
    metrics = make_metrics(cal2_gain=0.01, gain_spread=0.04)
    metrics["summary"]["paired"]["CAL2-CONTROL"]["map50_95"].update(significant=True, direction="a>b")
    line = next(
        x for x in verdict(write_report(metrics, tmp_path).read_text()).splitlines() if "mAP50-95" in x
    )
    assert "not significant" in line and "beats" not in line


def test_significantly_worse_is_reported_as_worse(tmp_path):
    text = write_report(make_metrics(cal2_gain=-0.05), tmp_path).read_text()
    assert "CAL2 is worse than CONTROL in mAP50-95 by -5.0 points" in verdict(text)


def test_one_seed_and_missing_inputs_render(tmp_path):
    metrics = make_metrics(n_seeds=1, rounds=False)
    text = write_report(metrics, tmp_path).read_text()
    assert "one seed: no confidence interval" in verdict(text)
    assert "significant." not in verdict(text)
    assert "## Rounds" not in text
    assert check_figures(tmp_path, text) == {"per_class_pr.png", "boost.png"}


def test_stale_figures_are_removed_and_nans_print_na(tmp_path):
    (tmp_path / "rounds.png").write_bytes(b"stale")
    metrics = make_metrics(rounds=False)
    metrics["summary"]["paired"]["CAL2-CONTROL"]["boost"] = {"mean": None, "std": None, "ci95": None, "n": 0}
    metrics["summary"]["models"]["CAL1"]["map50"] = {
        "mean": math.nan,
        "std": math.nan,
        "ci95": [None, None],
        "n": 3,
    }
    del metrics["summary"]["models"]["CONTROL"]["per_class"]
    text = write_report(metrics, tmp_path, pool_scores={}, samples={}).read_text()
    assert "n/a" in text
    assert "CAL2 vs CONTROL in efficiency boost: n/a" in verdict(text)
    assert check_figures(tmp_path, text) == {"per_class_pr.png", "boost.png"}


@pytest.mark.parametrize("empty", [{}, {"summary": {}, "per_seed": {}}])
def test_nearly_empty_metrics_still_render(tmp_path, empty):
    text = write_report(empty, tmp_path).read_text()
    assert "## Verdict" in text
    assert check_figures(tmp_path, text) == set()
