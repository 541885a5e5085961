"""The experiment's run folders: their layout, and the one way to read and write them.

Layout of ``runs/gt2_vs_random/<name>/`` (a :class:`RunFolder`)::

    experiment_config.yaml     the settings, saved by the first run (or job); later ones must match (seeds
                               may grow): :func:`create_text_once` makes racing jobs agree on one
    metrics.json, report.md    statistics over seeds and the report (with its PNGs)
    jobs/seed_<k>/             a multirun job's Hydra record and log (conf/hydra/experiment.yaml)
    seed_<k>/                  a :class:`SeedFolder`, run by one job at a time (:func:`seed_lock`)
        autolabel_job.lock     held by the job working there
        cal1/                  the train pipeline's whole run: manifest.csv, the training view data/,
                               weights.pt, model_card.json (written last), calibration.json, pool_labels/
        control/, cal2/        their ultralytics runs and weights
        selection.json         what GT2 and CONTROL hold
        result.json            written last: a seed with one is finished and reused
        rounds/<strategy>/round_<r>/   labeling rounds (experiment.rounds)

Pool images are named in CAL1's auto-label output by their training-view name (:func:`view_name`), so a
record is mapped back to its image through the seed's manifest (:meth:`SeedFolder.pool_path`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from autolabel.atomic_files import write_text_atomic
from autolabel.data.split import Split, read_manifest
from autolabel.data.views import load_truth, view_name
from autolabel.errors import DataError
from autolabel.job.lock import OutputLocked, output_lock
from autolabel.records import ImageRecord, json_safe, read_folder_records
from autolabel.structures import GroundTruth

CONFIG_FILE = "experiment_config.yaml"  # a run folder's settings, saved by its first run
RESULT_FILE = "result.json"  # a seed's figures, written last
METRICS_FILE = "metrics.json"  # a run's statistics over seeds


class SeedFolder:
    """One seed of a run: ``<run>/seed_<k>/``. Files are read once and cached."""

    def __init__(self, path: str | Path, seed: int) -> None:
        self.path, self.seed = Path(path), int(seed)
        self.cal1 = self.path / "cal1"
        self.pool_labels = self.cal1 / "pool_labels"

    def __repr__(self) -> str:
        return f"SeedFolder({str(self.path)!r})"

    @functools.cached_property
    def manifest(self) -> Split:
        """The seed's VAL / GT1 / POOL split (CAL1's ``manifest.csv``)."""
        path = self.cal1 / "manifest.csv"
        if not path.is_file():
            raise DataError(f"{self.path} has no finished CAL1 ({path} is missing)")
        return read_manifest(path)

    @functools.cached_property
    def card(self) -> dict[str, Any]:
        """CAL1's model card."""
        path = self.cal1 / "model_card.json"
        if not path.is_file():
            raise DataError(f"{self.path} has no finished CAL1 ({path} is missing)")
        return json.loads(path.read_text())

    @property
    def names(self) -> list[str]:
        """The class names CAL1 was trained with."""
        return list(self.card["model"]["classes"])

    @functools.cached_property
    def pool_records(self) -> list[ImageRecord]:
        """CAL1's auto-label records of POOL, each image once."""
        if not self.pool_labels.is_dir():
            raise DataError(f"{self.path} has no CAL1 pool labels ({self.pool_labels} is missing)")
        return read_folder_records(self.pool_labels)

    @functools.cached_property
    def _pool_by_key(self) -> dict[str, Path]:
        return {view_name(i, p): p for i, p in enumerate(self.manifest.pool)}

    def pool_path(self, record: ImageRecord) -> Path:
        """The dataset image behind a pool record."""
        try:
            return self._pool_by_key[record.image]
        except KeyError:
            raise DataError(
                f"{self.pool_labels}: record {record.image!r} is not a POOL image of this seed"
            ) from None

    def truth(self, path: Path) -> GroundTruth:
        """The (hidden, for POOL) truth of a dataset image; each label file is read once per seed."""
        return self._truth(Path(path))

    @functools.cached_property
    def _truth(self):
        return functools.cache(lambda path: load_truth(path, num_classes=len(self.names)))

    def record_truth(self, record: ImageRecord) -> GroundTruth:
        """The truth of a pool record's image."""
        return self.truth(self.pool_path(record))

    def result(self) -> dict[str, Any] | None:
        """The finished seed's figures, or None while it is not finished."""
        path = self.path / RESULT_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def write_json(self, name: str, data: Any) -> Path:
        """Strict JSON into the seed folder, written atomically."""
        path = self.path / name
        write_json(path, data)
        return path


class RunFolder:
    """One run of the experiment: ``runs/gt2_vs_random/<name>/``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    def config(self) -> DictConfig:
        """The settings saved in the run folder; DataError when it is not a run folder."""
        return load_run_config(self.path)

    def seed(self, seed: int) -> SeedFolder:
        return SeedFolder(self.path / f"seed_{int(seed)}", seed)

    def finished_seeds(self) -> list[SeedFolder]:
        """The seed folders with a ``result.json``, by seed number."""
        return [s for s in self.seeds() if (s.path / RESULT_FILE).is_file()]

    def seeds(self) -> list[SeedFolder]:
        """The seed folders present, by seed number."""
        found = []
        for folder in self.path.glob("seed_*"):
            suffix = folder.name.removeprefix("seed_")
            if folder.is_dir() and suffix.isdigit():
                found.append(SeedFolder(folder, int(suffix)))
        return sorted(found, key=lambda s: s.seed)

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics.json``; DataError when the run has not written one."""
        path = self.path / METRICS_FILE
        if not path.is_file():
            raise DataError(f"{self.path} has no {METRICS_FILE}: the run has not finished a report yet")
        return json.loads(path.read_text())


def load_run_config(run_dir: Path) -> DictConfig:
    """The settings saved in a run folder of the experiment; DataError when it is not one."""
    saved = Path(run_dir) / CONFIG_FILE
    if not saved.is_file():
        raise DataError(f"{run_dir} is not an experiment run folder ({saved} is missing)")
    return OmegaConf.load(saved)


def differing_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Sorted top-level keys whose values differ between two configs (a key missing in one differs)."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def fresh_folder(folder: Path) -> Path:
    """An empty folder: an interrupted step's leftovers are cleared before it is redone."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def write_json(path: Path, data: Any) -> None:
    """Strict JSON (nan -> null), written atomically."""
    write_text_atomic(path, json.dumps(json_safe(data), indent=2))


@contextlib.contextmanager
def seed_lock(seed_dir: Path) -> Iterator[None]:
    """Hold a seed folder for the ``with`` block (created if needed), or raise DataError at once.

    Jobs of different seeds share a run folder freely; a second job on the same seed at the same time
    (one seed launched twice) would overwrite the first's models, so it is refused. The lock is an
    ``flock`` (:func:`autolabel.job.lock.output_lock`): a killed job's lock never blocks a resume.
    """
    seed_dir = Path(seed_dir)
    seed_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(output_lock(seed_dir))
        except OutputLocked as exc:
            who = f"pid {exc.holder.get('pid')} on host {exc.holder.get('host')}" if exc.holder else "a job"
            raise DataError(
                f"{seed_dir} is being run by another job ({who}); a seed runs in one job at a time: "
                "wait for it, or leave that seed out of this command"
            ) from None
        yield
