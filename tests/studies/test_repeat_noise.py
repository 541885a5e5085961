"""studies.repeat_noise: paired differences per training repeat, the noise split and the plan."""

import math

import numpy as np
import pytest

from autolabel.errors import DataError
from experiments.stats import t_critical
from studies.repeat_noise import (
    ci_half_width,
    lines,
    noise_split,
    repeat_differences,
    repeat_independence,
    study,
)


def seed(k, cal2, control):
    def model(values):
        return {"map50_95": float(np.mean(values)), "repeats": {"map50_95": values, "map50": values}}

    return {"seed": k, "models": {"CAL2": model(cal2), "CONTROL": model(control)}}


def test_repeat_differences_pair_repeat_r_with_repeat_r_in_points():
    assert repeat_differences([0.32, 0.30], [0.30, 0.31]).tolist() == pytest.approx([2.0, -1.0])
    with pytest.raises(DataError, match="training repeats"):
        repeat_differences([0.3, 0.3], [0.3])


def test_noise_split_and_plan():
    split = noise_split([1.0, 3.0, 2.0], s_t=1.0, repeats=2)  # var 1.0; training 2 * 1 / 2 = 1.0
    assert split == {"var_total": 1.0, "var_training": 1.0, "var_u": 0.0}
    assert noise_split([1.0, 3.0, 2.0], s_t=2.0, repeats=1)["var_u"] == 0.0  # floored, never negative
    assert ci_half_width(1.0, 1.0, seeds=5, repeats=2) == pytest.approx(t_critical(4) * math.sqrt(2.0 / 5))
    # more repeats shrink only the training share
    assert ci_half_width(1.0, 1.0, seeds=5, repeats=4) < ci_half_width(1.0, 1.0, seeds=5, repeats=2)
    assert ci_half_width(0.0, 1.0, seeds=5, repeats=4) == pytest.approx(
        ci_half_width(0.0, 1.0, seeds=5, repeats=1) / 2
    )


def test_study_reads_the_seeds_repeats():
    results = [
        seed(0, [0.40, 0.42], [0.38, 0.38]),  # +2, +4
        seed(1, [0.30, 0.30], [0.31, 0.29]),  # -1, +1
        seed(2, [0.35, 0.37], [0.33, 0.37]),  # +2, 0
    ]
    out = study(results, "CAL2", "CONTROL")
    assert [r["mean"] for r in out["per_seed"]] == pytest.approx([3.0, 0.0, 1.0])
    assert out["repeat0"]["values"] == pytest.approx([2.0, -1.0, 2.0])
    assert out["all_repeats"]["mean"] == pytest.approx(4.0 / 3)
    # squared deviations from each model's mean: 3 models at 2 x 0.01^2, 1 at 2 x 0.02^2, 2 at 0; 6 dof
    expected = 100 * math.sqrt((3 * 2 * 0.01**2 + 2 * 0.02**2) / 6)
    assert out["training_std"] == pytest.approx(expected) and out["models_pooled"] == 6
    assert out["split"]["var_training"] == pytest.approx(2 * expected**2 / 2)
    assert "5 seeds x 2 repeats" in " ".join(lines(out))
    once = [{"seed": 0, "models": {"CAL2": {"map50_95": 0.3}, "CONTROL": {"map50_95": 0.3}}}]
    with pytest.raises(DataError, match="train_repeats"):
        study(once, "CAL2", "CONTROL")


def test_repeat_independence_flags_seed_means_steadier_than_their_repeats():
    # anti-correlated repeats (r = -1): every seed mean is 1.0 bar a little, the repeats spread by 4 points
    tied = [[3.0, -1.0], [-1.0, 3.1], [2.9, -1.0], [-1.1, 3.0], [3.0, -0.9]]
    check = repeat_independence(tied)
    assert check["r"] < -0.99 and check["f"] > 100 and check["p"] < 0.001
    # independent-looking repeats: the means vary as much as the repeats imply, no alarm
    rng = np.random.default_rng(0)
    free = rng.normal(1.0, 2.0, size=(200, 2))
    loose = repeat_independence(free)
    assert 0.7 < loose["f"] < 1.4 and loose["p"] > 0.01 and abs(loose["r"]) < 0.2
    assert repeat_independence([[1.0, 2.0]]) is None and repeat_independence([[1.0], [2.0]]) is None
    assert repeat_independence([[1.0, 2.0], [2.0, 1.0]]) is None  # the means do not vary at all


def test_the_printed_study_says_whether_the_repeats_look_independent():
    results = [seed(k, [0.40 + 0.04 * (k % 2), 0.44 - 0.04 * (k % 2)], [0.40, 0.40]) for k in range(4)]
    results[0]["models"]["CAL2"]["repeats"]["map50_95"] = [0.405, 0.44]
    text = " ".join(lines(study(results, "CAL2", "CONTROL")))
    assert "repeats independent?" in text and "repeat 0 vs 1 r = -" in text
