"""The GT2-vs-random experiment over seeds: does labeling the images our uncertainty picks beat random?

For each seed of ``experiment.seeds`` (see :mod:`experiments.seed_run`): CAL1 on GT1, GT2 = the pool images
``selection`` picks, CONTROL = a random draw of the same size, CAL2 on GT1+GT2 and the control model on
GT1+CONTROL, all evaluated on the same VAL. Then means, spreads and 95% CIs over seeds, paired
differences, and the report (``report.md``, ``metrics.json``, PNGs) in ``runs/gt2_vs_random/<name>/``.
With ``experiment.seed=<k>`` a job runs only that seed into the same folder (:func:`run_seed_job`), so a
Hydra multirun spreads seeds over a launcher's workers; ``python -m experiments.report`` then aggregates.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.atomic_files import create_text_once
from autolabel.errors import DataError
from experiments.repeats import train_repeats
from experiments.reporting.summary import experiment_metrics, rounds_entry, write_run_report
from experiments.rounds import check_rounds, run_rounds
from experiments.run_folder import CONFIG_FILE, RESULT_FILE, RunFolder, differing_keys, seed_lock
from experiments.seed_run import check_control, check_same_cal1, run_seed, settings_as_now

log = logging.getLogger("experiments.experiment")
# settings a finished run folder may be extended with: more seeds, rounds (a round checks its own budget),
# and where CAL1 comes from (a lent CAL1 is checked to have the same settings)
# (seed: the one seed of a job in a multirun, experiment.seed)
EXTENDABLE = ("seeds", "seed", "rounds", "budget", "round_seeds", "cal1_from")
# experiment keys added after runs were made, with the value those runs used: a folder saved before a key
# existed matches a config that has the key at that value
ADDED_KEYS = {"control": "size", "time_control": False, "train_repeats": 1}


def comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    """A run's settings as compared between runs of one folder: extendable keys left out, keys added
    since older folders were made at the value those used (:func:`settings_as_now`)."""
    out = settings_as_now(cfg)
    out["experiment"] = dict(out["experiment"])
    for key in EXTENDABLE:
        out["experiment"].pop(key, None)
    for key, value in ADDED_KEYS.items():
        out["experiment"].setdefault(key, value)
    return out


def check_config(run_dir: Path, cfg: DictConfig) -> None:
    """Refuse to mix results of different settings in one run folder (seeds may be added).

    The first run (or job) saves its settings; of seed jobs starting at once on a new folder exactly one
    saves them (:func:`create_text_once`) and the others are compared with that one.
    """
    saved = run_dir / CONFIG_FILE
    if not create_text_once(saved, OmegaConf.to_yaml(cfg)):
        previous = comparable(OmegaConf.to_container(OmegaConf.load(saved), resolve=True))
        current = comparable(OmegaConf.to_container(cfg, resolve=True))
        if previous != current:
            changed = differing_keys(previous, current)
            raise DataError(
                f"{run_dir} holds results of other settings (differ in: {', '.join(changed)}); "
                "use experiment.name=<new name> or remove the folder"
            )
    check_inputs(cfg)


def check_inputs(cfg: DictConfig) -> None:
    """Refuse, before anything is trained, a selection whose record fields the pool labels will lack."""
    if not cfg.label_pool:
        raise DataError("the experiment selects GT2 from CAL1's pool labels: set label_pool=true")
    requires = frozenset(instantiate(cfg.selection).requires)
    provides = frozenset(instantiate(cfg.uncertainty).provides)
    if not requires <= provides:
        raise DataError(
            f"selection={cfg.selection._target_.rsplit('.', 1)[-1]} ranks by {', '.join(sorted(requires))}, "
            f"which the uncertainty stage does not give ({', '.join(sorted(provides)) or 'nothing'}): "
            "use uncertainty=mc_dropout (with uncertainty.embedding=true for an 'embedding')"
        )


def check_run(cfg: DictConfig, run_dir: Path) -> tuple[int, int]:
    """Every check before a seed runs: the control, training repeats, rounds and lent CAL1 settings, then
    the run folder's saved settings (the folder records them only once the others pass). Returns (rounds,
    budget)."""
    check_control(cfg)
    train_repeats(cfg)
    n_rounds, budget = check_rounds(cfg)
    missing = sorted({int(s) for s in cfg.experiment.get("round_seeds") or ()} - set(cfg.experiment.seeds))
    if n_rounds and missing:
        raise DataError(
            f"experiment.round_seeds {missing} are not in experiment.seeds; rounds start from their CAL1"
        )
    if cfg.experiment.get("cal1_from"):
        check_same_cal1(cfg, Path(str(cfg.experiment.cal1_from)) / CONFIG_FILE)
    check_config(run_dir, cfg)
    return n_rounds, budget


def round_seeds(cfg: DictConfig, seeds: list[int]) -> list[int]:
    """The seeds of ``seeds`` that run rounds: in ``experiment.round_seeds`` order, or all when unset."""
    if not cfg.experiment.get("rounds"):
        return []
    chosen = cfg.experiment.get("round_seeds")
    return [int(s) for s in chosen if int(s) in seeds] if chosen else list(seeds)


def run_seeds(cfg: DictConfig, run_dir: Path, seeds: list[int]) -> tuple[list[dict], list[dict]]:
    """Each seed of ``seeds`` (a finished one is reused), then the rounds of those that run rounds.

    Returns the seeds' results and the rounds per round seed (:func:`run_rounds`; empty without rounds).
    Each seed's folder is held by this job while it works there (:func:`seed_lock`).
    """
    run = RunFolder(run_dir)
    results = []
    for seed in seeds:
        folder = run.seed(seed)
        if (done := folder.result()) is None:
            with seed_lock(folder.path):
                if (done := folder.result()) is None:  # not finished by a job that held it meanwhile
                    seed_cfg = cfg.copy()
                    seed_cfg.seed = int(seed)
                    log.info("seed %s: starting", seed)
                    results.append(run_seed(seed_cfg, folder.path))
                    continue
        log.info("seed %s: finished earlier, reusing %s", seed, folder.path / RESULT_FILE)
        results.append(done)
    rounds = []
    for seed in round_seeds(cfg, seeds):
        seed_cfg = cfg.copy()
        seed_cfg.seed = seed
        with seed_lock(run.seed(seed).path):
            rounds.append(run_rounds(seed_cfg, run.seed(seed).path))
    return results, rounds


def run_experiment(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """All seeds (reusing finished ones), the statistics and the report; returns the metrics."""
    n_rounds, budget = check_run(cfg, run_dir)
    started = time.perf_counter()
    results, per_seed_rounds = run_seeds(cfg, run_dir, [int(s) for s in cfg.experiment.seeds])
    rounds = rounds_entry(per_seed_rounds, budget) if n_rounds else None
    metrics = experiment_metrics(cfg, results, rounds, this_run=time.perf_counter() - started)
    report = write_run_report(run_dir, metrics, samples_per_band=cfg.experiment.samples_per_band)
    log.info("report: %s", report)
    return metrics


def run_seed_job(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """One seed, ``experiment.seed``, and its rounds into the (shared) run folder, without statistics.

    For seeds run as separate jobs (a Hydra multirun over ``experiment.seed``); reports nothing, since
    the other seeds may still run: ``python -m experiments.report RUN_FOLDER`` does that afterwards.
    Returns the seed's result.
    """
    check_run(cfg, run_dir)
    (result,), _ = run_seeds(cfg, run_dir, [int(cfg.experiment.seed)])
    log.info(
        "seed %s finished; statistics and report: python -m experiments.report %s", result["seed"], run_dir
    )
    return result
