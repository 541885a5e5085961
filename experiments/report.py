"""``python -m experiments.report RUN_FOLDER``: the statistics and report over a run folder's finished seeds
(:mod:`experiments.reporting`), and :class:`ReportAtEnd`, the Hydra callback that writes them when a
multirun of seed jobs ends."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from autolabel.errors import DataError
from experiments.reporting.summary import report_folder


class ReportAtEnd(Callback):
    """Hydra callback (``conf/hydra/experiment.yaml``): when a multirun ends, the statistics and report over
    the sweep folder's finished seeds, as ``python -m experiments.report`` writes them.

    Hydra calls it only when every job succeeded; after a failed job, ``python -m experiments.report
    RUN_FOLDER`` reports on the seeds that finished.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(config.hydra.sweep.dir)
        try:
            metrics, report = report_folder(folder)
        except DataError as exc:
            print(f"no report written: {exc}", file=sys.stderr)
            return
        seeds = metrics["experiment"]["seeds"]
        print(f"report over {len(seeds)} seed(s) {seeds}: {report}")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m experiments.report RUN_FOLDER``: the statistics over a run folder's finished seeds,
    written as the experiment writes them after its last seed (metrics.json, report.md, PNGs). For seeds
    that ran as separate jobs (``experiment.seed``, e.g. a Hydra multirun); exit status 2 on bad input."""
    parser = argparse.ArgumentParser(description="The statistics and report over a run's finished seeds.")
    parser.add_argument("run_folder", type=Path, help="runs/gt2_vs_random/<experiment.name>")
    args = parser.parse_args(argv)
    try:
        metrics, report = report_folder(args.run_folder)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"{report}: {len(metrics['experiment']['seeds'])} seed(s) {metrics['experiment']['seeds']}")


if __name__ == "__main__":
    main()
