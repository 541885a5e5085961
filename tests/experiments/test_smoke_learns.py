"""The smoke study learns: on the tiny shapes set CAL1 is worth reviewing, and the experiment, its report
and a resume are checked on figures that differ between models, not on zeros."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from experiments.experiment import run_experiment
from experiments.results_doc import results_document
from studies.same_results import compare_runs

pytestmark = pytest.mark.slow
CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def learning_run(tmp_path_factory):
    """`experiment=smoke` as shipped (2 seeds of the shapes set), into a fresh run folder."""
    data = tmp_path_factory.mktemp("shapes") / "set"
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="gt2_vs_random", overrides=["experiment=smoke", f"data.root={data}"])
    run_dir = tmp_path_factory.mktemp("smoke_learns")
    return cfg, run_dir, run_experiment(cfg, run_dir)


def per_seed(metrics, model, key):
    return [seed["models"][model][key] for seed in metrics["per_seed"].values()]


def test_cal1_learns_the_shapes(learning_run):
    _, _, metrics = learning_run
    cal1 = per_seed(metrics, "CAL1", "map50")
    assert max(cal1) >= 0.5 and min(cal1) >= 0.2, cal1
    assert min(per_seed(metrics, "CAL1", "boost")) > 1.2


def test_the_three_models_differ_and_the_summary_aggregates_them(learning_run):
    _, _, metrics = learning_run
    summary = metrics["summary"]
    for model in ("CAL1", "CONTROL", "CAL2"):
        values = per_seed(metrics, model, "map50_95")
        assert summary["models"][model]["map50_95"]["mean"] == pytest.approx(np.mean(values))
    for seed in metrics["per_seed"].values():
        m = seed["models"]
        assert m["CAL2"]["map50_95"] != m["CAL1"]["map50_95"] != m["CONTROL"]["map50_95"]
        assert m["CAL2"]["n_train_images"] == m["CONTROL"]["n_train_images"] > m["CAL1"]["n_train_images"]
    diffs = np.subtract(per_seed(metrics, "CAL2", "map50_95"), per_seed(metrics, "CONTROL", "map50_95"))
    assert summary["paired"]["CAL2-CONTROL"]["map50_95"]["mean"] == pytest.approx(diffs.mean())
    assert summary["paired"]["CAL2-CONTROL"]["map50_95"]["values"] == pytest.approx(diffs.tolist())


def test_the_report_shows_the_metrics_figures(learning_run):
    _, run_dir, metrics = learning_run
    report = (run_dir / "report.md").read_text()
    for model in ("CAL1", "CONTROL", "CAL2"):
        mean = metrics["summary"]["models"][model]["map50_95"]["mean"]
        assert f"| {model} | {mean:.3f}" in report


def test_a_resumed_seed_gives_the_same_results(learning_run, tmp_path):
    cfg, run_dir, _ = learning_run
    again = tmp_path / "again"
    shutil.copytree(run_dir, again, symlinks=True)
    (again / "seed_1" / "result.json").unlink()  # seed 1 interrupted after CAL1: CONTROL and CAL2 redone
    shutil.rmtree(again / "seed_1" / "cal2")
    run_experiment(cfg, again)
    assert compare_runs(run_dir, again) == []


def test_the_results_document_is_generated_from_the_run_folder(learning_run, tmp_path):
    _, run_dir, metrics = learning_run
    runs = tmp_path / "runs"
    (runs / "gt2_vs_random").mkdir(parents=True)
    (runs / "gt2_vs_random" / "smoke").symlink_to(run_dir)
    doc = results_document(runs)
    assert doc.startswith("# Results") and "## Experiment report: smoke" in doc
    for model in ("CAL1", "CONTROL", "CAL2"):
        assert f"| {model} | {metrics['summary']['models'][model]['map50_95']['mean']:.3f}" in doc
    assert "No finished run was found." in results_document(tmp_path / "empty")


def test_the_run_names_its_generated_dataset(learning_run):
    assert learning_run[2]["experiment"]["dataset"] == "shapes"
