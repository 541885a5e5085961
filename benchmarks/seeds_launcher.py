"""The experiment's seeds one after another vs as parallel Hydra jobs (joblib launcher), in one run.

    python -m benchmarks.seeds_launcher [--experiment smoke] [--seeds 0,1] [--n-jobs 2]

Both sides run the same command line into fresh run folders of a temporary folder, on one dataset
generated first (not timed): the sequential run with every core (``AUTOLABEL_THREADS`` as set, else all),
then a ``--multirun experiment.seed=... hydra/launcher=joblib`` with ``n_jobs`` workers of
``cores // n_jobs`` torch threads each, plus ``python -m experiments.report`` (timed with it, since the
sequential run writes its report too). Needs ``pip install -e '.[joblib]'``. Results differ between
the two sides when their thread counts differ (float sums split over threads). Last line:
``seeds_launcher_speedup=<sequential seconds / joblib seconds>``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from autolabel.model.offline import torch_threads

ROOT = Path(__file__).resolve().parents[1]
APP = (sys.executable, "-m", "experiments.gt2_vs_random")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="smoke", help="an experiment config (conf/experiment/)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--n-jobs", type=int, default=2, help="joblib workers")
    return parser.parse_args(argv)


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of a command run from the repository root; its output is kept only on failure."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-4000:]}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="seeds-launcher-") as tmp:
        common = [f"experiment={args.experiment}", f"data.root={Path(tmp) / 'data'}"]
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            instantiate(compose(config_name="gt2_vs_random", overrides=common).data)  # generated once
        cores, threads = torch_threads(), max(1, torch_threads() // args.n_jobs)
        sequential = timed(
            [*APP, *common, f"experiment.seeds=[{args.seeds}]", f"hydra.run.dir={tmp}/sequential"],
            dict(os.environ),
        )
        print(f"sequential: {sequential:.1f} s (seeds {args.seeds}, {cores} torch threads)")
        multirun = [*APP, "--multirun", *common, f"experiment.seed={args.seeds}", "hydra/launcher=joblib"]
        multirun += [f"hydra.launcher.n_jobs={args.n_jobs}", f"hydra.sweep.dir={tmp}/joblib"]
        env = {**os.environ, "AUTOLABEL_THREADS": str(threads)}
        report = [sys.executable, "-m", "experiments.report", f"{tmp}/joblib"]
        parallel = timed(multirun, env) + timed(report, env)
        print(f"joblib: {parallel:.1f} s (n_jobs={args.n_jobs}, {threads} torch thread(s) each, + report)")
    print(f"seeds_launcher_speedup={sequential / parallel:.2f}")


if __name__ == "__main__":
    main()
