"""reporting.aggregate: the no-new-labels baseline, summarised and paired when all seeds have it."""

import pytest

from experiments.reporting.aggregate import reported_models, summary


def result(seed: int, *, baseline: bool) -> dict:
    per_class = {"a": {k: 0.5 for k in ("precision", "recall", "ap50", "ap50_95", "boost")}}
    figures = {"map50": 0.5, "precision": 0.5, "recall": 0.5, "boost": 1.5, "per_class": per_class}
    maps = {"CAL1": 0.30, "CONTROL": 0.34, "CAL2": 0.38, "CAL1_LONG": 0.32}
    models = {m: {**figures, "map50_95": v + 0.01 * seed} for m, v in maps.items()}
    if not baseline:
        models.pop("CAL1_LONG")
    return {"seed": seed, "models": models}


def test_the_baseline_is_summarised_and_paired_when_every_seed_trained_it():
    results = [result(s, baseline=True) for s in range(3)]
    assert reported_models(results) == ("CAL1", "CONTROL", "CAL2", "CAL1_LONG")
    out = summary(results, ["a"])
    assert out["paired"]["CAL2-CAL1_LONG"]["map50_95"]["mean"] == pytest.approx(0.06)
    assert out["paired"]["CONTROL-CAL1_LONG"]["map50_95"]["values"] == pytest.approx([0.02] * 3)


def test_a_run_folder_from_before_the_baseline_still_aggregates_without_it():
    results = [result(0, baseline=True), result(1, baseline=False)]
    assert reported_models(results) == ("CAL1", "CONTROL", "CAL2")
    out = summary(results, ["a"])
    assert "CAL1_LONG" not in out["models"] and not any("CAL1_LONG" in p for p in out["paired"])
