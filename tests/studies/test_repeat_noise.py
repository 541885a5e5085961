"""studies.repeat_noise: paired differences per training repeat, the noise split and the plan."""

import math

import numpy as np
import pytest

from autolabel.errors import DataError
from experiments.stats import t_critical
from studies.repeat_noise import ci_half_width, lines, noise_split, repeat_differences, study


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
