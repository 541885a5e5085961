"""Shared fixtures: an isolated cache, a tiny demo set and one tiny trained model for the whole session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# The same examples on every run (CI must not be a lottery) and no per-example deadline on a busy machine.
# The live Label Studio fixture, ``label_studio``, for every test folder.
pytest_plugins = ["tests.label_studio_fixtures"]

settings.register_profile("autolabel", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("autolabel")

# Before anything imports ultralytics: keep its settings, fonts and our demo cache out of $HOME.
_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="autolabel-tests-"))
os.environ["XDG_CACHE_HOME"] = str(_SESSION_CACHE)
os.environ["YOLO_CONFIG_DIR"] = str(_SESSION_CACHE / "ultralytics")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's cache folder: each run used to leave one behind in the temp folder."""
    shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


class NetworkBlocked(OSError):
    pass


@contextlib.contextmanager
def block_network():
    """Make every socket connection or DNS lookup fail; yields the list of attempts."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise NetworkBlocked(f"network blocked in tests: {args[:2]}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        mp.setattr(socket, "create_connection", refuse)
        yield attempts


@pytest.fixture(scope="session")
def demo_spec(tmp_path_factory):
    """A 48-image, 128 px demo set (seed 0)."""
    from autolabel.data.datasets import demo_dataset

    return demo_dataset(
        root=str(tmp_path_factory.mktemp("demo") / "set"), n_images=48, image_size=128, seed=0
    )


@pytest.fixture(scope="session")
def demo_smoke(demo_spec):
    """Overrides for the smoke study's code path on the tiny demo set (6 classes, 48 images of 128 px):
    what the demo-based tests were written for. The shipped smoke trains on the shapes set instead
    (tests/experiments/test_smoke_learns.py)."""
    return [
        "experiment=smoke",
        "data=demo",
        f"data.root={demo_spec.root}",
        "data.n_images=48",
        "data.image_size=128",
        "split.val=12",
        "split.gt1=16",
        "trainer.batch=8",
        "trainer.extra.nbs=64",
        "experiment.finetune_epochs=1",
    ]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, demo_smoke):
    """Train 3 epochs on the tiny demo set and auto-label its pool, with the network blocked.

    Runs the train app's own code path. Returns (run folder, model card, network attempts).
    """
    from hydra import compose, initialize_config_dir

    from autolabel.pipeline import train_and_card

    run_dir = tmp_path_factory.mktemp("train_run")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[*demo_smoke, "trainer.epochs=3"],
        )
    with block_network() as attempts:
        card = train_and_card(cfg, run_dir)
    return run_dir, card, list(attempts)


@contextlib.contextmanager
def one_torch_thread():
    """Train and predict with one torch thread inside (``AUTOLABEL_THREADS=1``; torch's count is restored).

    Results depend on the thread count (float sums split over threads), so runs compared number for
    number use the same count: one, as each of two parallel seed jobs on two cores does.
    """
    import torch

    threads = torch.get_num_threads()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AUTOLABEL_THREADS", "1")
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def single_thread():
    """The test runs with one torch thread (:func:`one_torch_thread`)."""
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def learning_run(tmp_path_factory):
    """`experiment=smoke` as shipped (2 seeds of the shapes set, one after another) into a fresh run folder.

    Shared by the smoke tests and the launcher test, which runs the same seeds as parallel jobs of one
    thread each; so this run has one thread too (:func:`one_torch_thread`; on this tiny model it costs
    little). Returns (config, run folder, metrics).
    """
    from hydra import compose, initialize_config_dir

    from experiments.experiment import run_experiment

    data = tmp_path_factory.mktemp("shapes") / "set"
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="gt2_vs_random", overrides=["experiment=smoke", f"data.root={data}"])
    run_dir = tmp_path_factory.mktemp("smoke_learns")
    with one_torch_thread():
        return cfg, run_dir, run_experiment(cfg, run_dir)


@pytest.fixture(scope="session")
def weak_detector(trained_run):
    """The tiny trained model at a very low confidence: a 3-epoch model keeps few boxes above that."""
    from autolabel.model.detector import Detector

    run_dir, _, _ = trained_run
    return Detector(run_dir / "weights.pt", conf=1e-4, max_det=40)


@pytest.fixture(scope="session")
def demo_images(demo_spec):
    """The first 6 demo images, BGR uint8 (128, 128, 3)."""
    import cv2

    return [cv2.imread(str(p)) for p in demo_spec.train[:6]]
