"""Seeds as parallel Hydra jobs: the smoke study's two seeds through the joblib launcher, then the report
step, give the sequential run's results (the session's ``learning_run``), timings aside."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.report import main as report_main
from studies.same_results import compare_runs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_seeds_as_parallel_joblib_jobs_give_the_sequential_results(learning_run, tmp_path, capsys):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="pip install -e '.[joblib]'")
    cfg, sequential, _ = learning_run
    run_dir = tmp_path / "smoke"
    command = [
        *(sys.executable, "-m", "experiments.gt2_vs_random", "--multirun"),
        *("experiment=smoke", f"data.root={cfg.data.root}", "experiment.seed=0,1"),
        *("hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={run_dir}"),
    ]
    env = {**os.environ, "AUTOLABEL_THREADS": "1"}  # two jobs, two cores: one thread each, as learning_run
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("(one seed)") == 2 and "python -m experiments.report" in done.stdout
    assert sorted(p.name for p in (run_dir / "jobs").iterdir()) == ["seed_0", "seed_1"]  # Hydra records
    assert not (run_dir / "metrics.json").exists()  # a seed job writes no statistics
    report_main([str(run_dir)])
    assert "2 seed(s) [0, 1]" in capsys.readouterr().out
    assert compare_runs(sequential, run_dir) == []
