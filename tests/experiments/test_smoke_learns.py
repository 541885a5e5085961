"""The smoke study learns: on the tiny shapes set CAL1 is worth reviewing, and the experiment, its report
and a resume are checked on figures that differ between models, not on zeros. The run is the session's
``learning_run`` (tests/conftest.py)."""

import shutil

import numpy as np
import pytest

from experiments.experiment import run_experiment
from experiments.report import main as report_main
from experiments.reporting.markdown import FIGURES
from experiments.results_doc import results_document
from studies.same_results import compare_runs

pytestmark = pytest.mark.slow


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


@pytest.mark.usefixtures("single_thread")  # as learning_run was made
def test_a_resumed_seed_gives_the_same_results(learning_run, tmp_path):
    cfg, run_dir, _ = learning_run
    again = tmp_path / "again"
    shutil.copytree(run_dir, again, symlinks=True)
    (again / "seed_1" / "result.json").unlink()  # seed 1 interrupted after CAL1: CONTROL and CAL2 redone
    shutil.rmtree(again / "seed_1" / "cal2")
    run_experiment(cfg, again)
    assert compare_runs(run_dir, again) == []


def without_time(report: str) -> str:
    return report.split("## Time (seconds)")[0]


def test_the_report_step_writes_the_same_results_from_the_folder(learning_run, tmp_path, capsys):
    """`python -m experiments.report RUN`, from the seed folders alone, writes the sequential run's files."""
    _, run_dir, _ = learning_run
    again = tmp_path / "again"
    shutil.copytree(run_dir, again, symlinks=True)
    for name in ("metrics.json", "report.md", *FIGURES):
        (again / name).unlink(missing_ok=True)
    report_main([str(again)])
    assert "2 seed(s) [0, 1]" in capsys.readouterr().out
    assert compare_runs(run_dir, again) == []
    assert sorted(p.name for p in again.glob("*.png")) == sorted(p.name for p in run_dir.glob("*.png"))
    report = without_time((again / "report.md").read_text())
    assert report == without_time((run_dir / "report.md").read_text()) and "## Verdict" in report


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
