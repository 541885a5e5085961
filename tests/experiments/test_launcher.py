"""Seeds as parallel Hydra jobs: the smoke study's two seeds through the joblib launcher, each job with its
share of the cores, give the sequential run's results (the session's ``learning_run``), timings aside, and
the report is written when the last job ends."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.types import RunMode

from autolabel.model.offline import ENV_THREADS
from experiments.gt2_vs_random import job_threads, share_cores
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
    env = {k: v for k, v in os.environ.items() if k != ENV_THREADS}  # each job takes its share itself
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("(one seed)") == 2 and "python -m experiments.report" in done.stdout
    share = job_threads(2, len(os.sched_getaffinity(0)))
    assert done.stdout.count(f"{ENV_THREADS}={share}: this job's share") == 2
    assert sorted(p.name for p in (run_dir / "jobs").iterdir()) == ["seed_0", "seed_1"]  # Hydra records
    # the callback wrote the statistics when the last job ended
    assert f"report over 2 seed(s) [0, 1]: {run_dir / 'report.md'}" in done.stdout
    written = (run_dir / "metrics.json").read_text()
    if share == 1:  # as learning_run (one thread a job): the same results
        assert compare_runs(sequential, run_dir) == []
    report_main([str(run_dir)])  # the report step again, by hand: the same statistics
    assert "2 seed(s) [0, 1]" in capsys.readouterr().out
    assert (run_dir / "metrics.json").read_text() == written


def test_seed_jobs_take_their_share_of_the_cores(monkeypatch):
    assert [job_threads(n, 8) for n in (1, 2, 3, 8, 16, -1, -2)] == [8, 4, 2, 1, 1, 1, 1]
    assert job_threads(2, 2) == 1 and job_threads(-7, 4) == 4  # -7 on 4 cores: joblib's one job
    monkeypatch.delenv(ENV_THREADS, raising=False)
    monkeypatch.setattr("experiments.gt2_vs_random.torch_threads", lambda: 6)
    assert share_cores(RunMode.MULTIRUN, 2) == 3 and os.environ[ENV_THREADS] == "3"
    monkeypatch.setenv(ENV_THREADS, "5")  # the user's setting wins
    assert share_cores(RunMode.MULTIRUN, 2) is None and os.environ[ENV_THREADS] == "5"
    monkeypatch.delenv(ENV_THREADS)
    assert share_cores(RunMode.RUN, None) is None  # a single run
    assert share_cores(RunMode.MULTIRUN, None) is None  # a launcher without n_jobs (the basic one)
    assert ENV_THREADS not in os.environ
