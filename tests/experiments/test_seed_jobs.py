"""Seeds as separate jobs on one run folder: settings saved once under a race, one job per seed, a seed
job that reuses a finished seed and writes no report, the multirun's shared folder, the report step's
refusals. Fast: nothing is trained (tests/experiments/test_launcher.py runs real jobs)."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.types import RunMode
from omegaconf import OmegaConf

from autolabel.atomic_files import create_text_once
from autolabel.errors import DataError
from experiments import experiment
from experiments.experiment import check_config, run_seed_job
from experiments.gt2_vs_random import run_folder
from experiments.report import main as report_main
from experiments.run_folder import CONFIG_FILE, seed_lock

CONF = Path(__file__).resolve().parents[2] / "conf"


def smoke(*overrides, hydra=False):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            config_name="gt2_vs_random", overrides=["experiment=smoke", *overrides], return_hydra_config=hydra
        )


def race(calls):
    """Run the calls at once from threads (released together); each outcome is a value or the exception."""
    start = threading.Barrier(len(calls))

    def one(call):
        start.wait()
        try:
            return call()
        except Exception as exc:  # the outcome under test
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def test_create_text_once_has_exactly_one_winner_and_no_half_file(tmp_path):
    path = tmp_path / "run" / "settings.yaml"
    texts = [f"job {i}\n" * 2000 for i in range(12)]
    wins = race([lambda t=t: create_text_once(path, t) for t in texts])
    assert wins.count(True) == 1 and wins.count(False) == 11
    assert path.read_text() == texts[wins.index(True)]
    assert [p.name for p in path.parent.iterdir()] == ["settings.yaml"]  # no temp file left


def test_seed_jobs_starting_at_once_agree_on_the_settings(tmp_path):
    jobs = [smoke(f"experiment.seed={k}") for k in range(6)] + [smoke()]  # the sequential run too
    assert race([lambda c=c: check_config(tmp_path, c) for c in jobs]) == [None] * 7
    saved = OmegaConf.load(tmp_path / CONFIG_FILE)
    assert saved.experiment.name == "smoke" and saved.trainer.epochs == 20


def test_racing_jobs_of_other_settings_in_one_folder_are_refused(tmp_path):
    jobs = [smoke(f"experiment.seed={k}", f"trainer.epochs={20 + k % 2}") for k in range(6)]
    outcomes = race([lambda c=c: check_config(tmp_path, c) for c in jobs])
    epochs = OmegaConf.load(tmp_path / CONFIG_FILE).trainer.epochs
    for cfg, outcome in zip(jobs, outcomes, strict=True):
        if cfg.trainer.epochs == epochs:
            assert outcome is None
        else:
            assert isinstance(outcome, DataError) and "differ in: trainer" in str(outcome)


def test_a_seed_runs_in_one_job_at_a_time(tmp_path):
    with seed_lock(tmp_path / "seed_0"):
        with pytest.raises(DataError, match=r"seed_0 is being run by another job \(pid \d+"):
            with seed_lock(tmp_path / "seed_0"):
                pass
        with seed_lock(tmp_path / "seed_1"):  # other seeds share the run folder
            pass
    with seed_lock(tmp_path / "seed_0"):  # released with its holder
        pass


def finished_seed(run_dir, seed):
    folder = run_dir / f"seed_{seed}"
    folder.mkdir(parents=True)
    models = {m: {"map50_95": v} for m, v in (("CAL1", 0.1), ("CONTROL", 0.2), ("CAL2", 0.35))}
    (folder / "result.json").write_text(json.dumps({"seed": seed, "models": models}))


def test_a_seed_job_reuses_its_finished_seed_and_writes_no_report(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "run_seed", lambda *a: pytest.fail("a finished seed was run again"))
    finished_seed(tmp_path, 1)
    result = run_seed_job(smoke("experiment.seed=1"), tmp_path)
    assert result["seed"] == 1 and result["models"]["CAL2"]["map50_95"] == 0.35
    assert (tmp_path / CONFIG_FILE).is_file() and not (tmp_path / "metrics.json").exists()


def test_a_seed_job_refuses_a_seed_another_job_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "run_seed", lambda *a: pytest.fail("a held seed was run"))
    with seed_lock(tmp_path / "seed_3"), pytest.raises(DataError, match="being run by another job"):
        run_seed_job(smoke("experiment.seed=3"), tmp_path)


def test_the_jobs_of_a_multirun_share_the_run_folder():
    hydra = smoke("experiment.seed=1", hydra=True).hydra
    assert hydra.sweep.dir == hydra.run.dir == "runs/gt2_vs_random/smoke"
    assert hydra.sweep.subdir == "jobs/seed_1"  # each job's Hydra record and log
    paths = {"sweep": {"dir": "runs/x"}, "runtime": {"output_dir": "/abs/runs/x/jobs/seed_1"}}
    assert run_folder(OmegaConf.create({"mode": RunMode.MULTIRUN, **paths})) == Path("runs/x")
    assert run_folder(OmegaConf.create({"mode": RunMode.RUN, **paths})) == Path("/abs/runs/x/jobs/seed_1")


def test_the_report_step_refuses_a_folder_without_finished_seeds(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        report_main([str(tmp_path)])
    assert exit_.value.code == 2 and "not an experiment run folder" in capsys.readouterr().err
    check_config(tmp_path, smoke())
    (tmp_path / "seed_0").mkdir()  # started, not finished
    with pytest.raises(SystemExit):
        report_main([str(tmp_path)])
    assert "holds no finished seed" in capsys.readouterr().err
