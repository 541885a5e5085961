import json
import math

import numpy as np
import pytest

from autolabel.records import json_safe
from autolabel.structures import Detections
from uncertainty.evaluation.images import evaluate_methods, report, spearman, table
from uncertainty.image_score import COMPONENTS


def scored_set(n, seed):
    """Images whose `score` predicts needing correction, plus a useless component; a few failed images."""
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    labels = rng.random(n) < scores
    failed = rng.random(n) < 0.1
    scored = []
    for s, f in zip(scores, failed, strict=True):
        comps = {name: float(rng.random()) for name in COMPONENTS}
        scored.append(
            (Detections.empty(2), {"score": None if f else float(s), "components": comps, "failed": bool(f)})
        )
    return scored, labels


def test_informative_score_beats_random_and_bands_are_ordered():
    val, val_labels = scored_set(400, 0)
    test, test_labels = scored_set(400, 1)
    result = evaluate_methods(val, val_labels, test, test_labels)
    mc, rnd = result["methods"]["mc"], result["methods"]["random"]
    assert mc["auroc"] > 0.75 > 0.6 > rnd["auroc"] > 0.4
    assert mc["bands"]["easy"]["rate"] < mc["bands"]["medium"]["rate"] < mc["bands"]["hard"]["rate"]
    assert mc["hard_over_easy"] >= 3
    assert mc["ece"] < 0.1
    assert result["n_failed"] == mc["bands"]["failed"]["n"] > 0
    assert set(result["methods"]) == {"mc", "random", *COMPONENTS}
    assert "mc" in table(result).splitlines()[1]  # best AUROC first


def test_the_table_reads_a_saved_result_whose_undefined_figures_are_null():
    val, val_labels = scored_set(60, 0)
    test, _ = scored_set(60, 1)
    every_image_needs_a_fix = np.ones(60, dtype=bool)  # AUROC is undefined: nan, saved as null
    result = evaluate_methods(val, val_labels, test, every_image_needs_a_fix)
    saved = json.loads(json.dumps(json_safe(result)))
    assert saved["methods"]["mc"]["auroc"] is None
    assert table(saved) == table(result) and "undefined" in table(saved) and "nan" not in table(saved)


def test_spearman_hand_cases():
    assert spearman(np.array([0.1, 0.2, 0.3, 0.4]), np.array([2.0, 5.0, 9.0, 30.0])) == pytest.approx(1.0)
    assert spearman(np.array([0.4, 0.3, 0.2, 0.1]), np.array([2.0, 5.0, 9.0, 30.0])) == pytest.approx(-1.0)
    assert spearman(np.array([0.1, np.nan, 0.3]), np.array([1.0, 100.0, 3.0])) == pytest.approx(1.0)
    assert math.isnan(spearman(np.full(3, 0.5), np.array([1.0, 2.0, 3.0])))  # a constant side: undefined
    assert math.isnan(spearman(np.array([0.5]), np.array([1.0])))


def seconds_set(n, seed):
    """Images whose score grows with the seconds their correction takes; every one needs a correction."""
    scored, _ = scored_set(n, seed)
    seconds = np.array([10.0 * (f["score"] or 0.0) + 2.0 for _, f in scored])
    return scored, seconds


def test_spearman_column_follows_the_correction_seconds():
    val, val_labels = scored_set(100, 0)
    test, seconds = seconds_set(100, 1)
    labels = seconds > np.median(seconds)
    result = evaluate_methods(val, val_labels, test, labels, test_seconds=seconds)
    assert result["methods"]["mc"]["spearman_seconds"] == pytest.approx(1.0)
    assert -0.3 < result["methods"]["random"]["spearman_seconds"] < 0.3
    reversed_result = evaluate_methods(val, val_labels, test, labels, test_seconds=-seconds)
    assert reversed_result["methods"]["mc"]["spearman_seconds"] == pytest.approx(-1.0)
    assert result["mean_correction_seconds"] == pytest.approx(seconds.mean())
    assert "Spearman" in table(result).splitlines()[0]
    mc_row = table(result).splitlines()[1].split()
    assert mc_row[0] == "mc" and mc_row[1] == "1.000" and mc_row[4] == "1.000"  # AUROC, Spearman
    assert result["note"] is None


def test_every_image_needing_a_correction_is_said_in_words_and_ranked_by_seconds():
    val, val_labels = scored_set(100, 0)
    test, seconds = seconds_set(100, 1)
    result = evaluate_methods(
        val, val_labels, test, np.ones(100, dtype=bool), test_seconds=seconds, split="pool"
    )
    assert result["note"].startswith("every POOL image needs at least one correction")
    assert "AUROC is undefined; ranking by correction seconds instead" in result["note"]
    result["evaluated_on"] = "pool"
    text = report(result)
    assert result["note"] in text and "nan" not in text
    first = table(result).splitlines()[1].split()
    assert first[0] == "mc" and first[1] == "undefined" and first[4] == "1.000"  # best Spearman first
    none_needs = evaluate_methods(val, val_labels, test, np.zeros(100, dtype=bool), test_seconds=seconds)
    assert none_needs["note"].startswith("no TEST image needs a correction")
