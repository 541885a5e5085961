"""Training repeats: averaging one model's figures over training seeds, the pooled training noise, and a
seed run that trains every fine-tuned model twice."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from autolabel.errors import DataError
from experiments.experiment import run_experiment
from experiments.repeats import (
    REPEAT_SEED_STEP,
    mean_summary,
    pooled_repeat_std,
    repeat_folder,
    repeat_seed,
    train_repeats,
    training_noise,
)
from experiments.reporting.markdown import summary_lines
from tests.experiments.test_gt2_vs_random import smoke_cfg


def summary(map50_95, map50, boost, ap_a, n=10):
    return {
        "map50": map50,
        "map50_95": map50_95,
        "precision": 0.5,
        "recall": 0.4,
        "boost": boost,
        "operating_threshold": 0.2,
        "n_train_images": n,
        "n_train_boxes": 3 * n,
        "per_class": {
            "a": {"precision": 0.5, "recall": 0.5, "ap50": 0.6, "ap50_95": ap_a, "boost": 1.5},
            "b": {"precision": None, "recall": None, "ap50": None, "ap50_95": None, "boost": None},
        },
    }


def test_mean_summary_averages_every_figure_and_keeps_each_repeat():
    out = mean_summary([summary(0.30, 0.50, 2.0, 0.2), summary(0.34, 0.58, None, 0.4)])
    assert out["map50_95"] == pytest.approx(0.32) and out["map50"] == pytest.approx(0.54)
    assert out["boost"] == 2.0  # the one defined value, not dragged to None by the other
    assert out["per_class"]["a"]["ap50_95"] == pytest.approx(0.3)
    assert out["per_class"]["b"]["ap50_95"] is None  # defined by no repeat
    assert out["n_train_images"] == 10 and out["n_train_boxes"] == 30
    assert out["repeats"] == {"map50_95": [0.30, 0.34], "map50": [0.50, 0.58]}
    one = summary(0.3, 0.5, 2.0, 0.2)
    assert mean_summary([one]) == one  # one repeat: today's figures, no "repeats" key
    with pytest.raises(ValueError):
        mean_summary([])


def test_pooled_repeat_std_is_the_within_model_spread():
    # two models, spreads 0.02 and 0.04 around their own means: pooled over 1 + 1 degrees of freedom
    std, n = pooled_repeat_std([[0.30, 0.32], [0.50, 0.54]])
    expected = math.sqrt((2 * 0.01**2 + 2 * 0.02**2) / 2)
    assert n == 2 and std == pytest.approx(expected)
    # the models' own levels do not count: shifting one model changes nothing
    assert pooled_repeat_std([[0.30, 0.32], [0.90, 0.94]])[0] == pytest.approx(expected)
    three = [0.1, 0.2, 0.6]
    assert pooled_repeat_std([three])[0] == pytest.approx(np.std(three, ddof=1))
    assert pooled_repeat_std([[0.3], [None, 0.2]]) == (None, 0)


def test_training_noise_from_seed_results():
    a, b = summary(0.30, 0.50, 2.0, 0.2), summary(0.34, 0.58, 2.0, 0.4)
    results = [{"models": {"CAL1": a, "CAL2": mean_summary([a, b]), "CONTROL": mean_summary([b, b])}}]
    noise = training_noise(results)
    assert noise["repeats"] == 2 and noise["models"] == 2
    assert noise["map50_95_std"] == pytest.approx(math.sqrt(2 * 0.02**2 / 2))
    assert training_noise([{"models": {"CAL1": a, "CAL2": b}}]) is None
    line = " ".join(summary_lines({"experiment": {"seeds": [0]}, "training_noise": noise}))
    assert "trained 2 times" in line and "by 2.0 points" in line and "pooled over 2 models" in line


def test_repeat_seeds_folders_and_the_setting():
    assert repeat_seed(3, 0) == 3 and repeat_seed(3, 2) == 3 + 2 * REPEAT_SEED_STEP
    assert repeat_folder(Path("s/cal2"), 0) == Path("s/cal2")
    assert repeat_folder(Path("s/cal2"), 1) == Path("s/cal2_r1")
    assert train_repeats(OmegaConf.create({"experiment": {}})) == 1
    assert train_repeats(OmegaConf.create({"experiment": {"train_repeats": 3}})) == 3
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(DataError, match="experiment.train_repeats"):
            train_repeats(OmegaConf.create({"experiment": {"train_repeats": bad}}))


@pytest.mark.slow
def test_a_seed_with_two_repeats_trains_each_model_twice_and_reports_the_means(demo_smoke, tmp_path):
    one_seed = ("experiment.seeds=[0]", "experiment.time_control=false")
    metrics = run_experiment(smoke_cfg(demo_smoke, *one_seed, "experiment.train_repeats=2"), tmp_path)
    seed_dir = tmp_path / "seed_0"
    for model in ("cal2", "control", "cal1_long"):
        seeds = [
            yaml.safe_load((seed_dir / name / "ultralytics" / "args.yaml").read_text())["seed"]
            for name in (model, f"{model}_r1")
        ]
        assert seeds == [0, REPEAT_SEED_STEP]  # repeat 0 is the seed's own training seed
    models = json.loads((seed_dir / "result.json").read_text())["models"]
    assert "repeats" not in models["CAL1"]  # CAL1 is trained once
    for name in ("CAL2", "CONTROL", "CAL1_LONG"):
        repeats = models[name]["repeats"]["map50_95"]
        assert len(repeats) == 2
        assert models[name]["map50_95"] == pytest.approx(np.mean(repeats))
    assert metrics["experiment"]["train_repeats"] == 2
    assert metrics["training_noise"]["repeats"] == 2 and metrics["training_noise"]["models"] == 3
    assert "trained 2 times with other training seeds" in (tmp_path / "report.md").read_text()
    # a folder made with two repeats refuses the same command with one (the figures would mix)
    with pytest.raises(DataError, match="other settings"):
        run_experiment(smoke_cfg(demo_smoke, *one_seed), tmp_path)
