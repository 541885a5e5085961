"""The auto-label job on a local Ray (2 CPUs): the same records as the local backend, for ordinary images and
for every odd file of the local job tests' odd-input folder (each unreadable one is one error record, word
for word the local one), and a kill -9 of the job followed by a rerun loses and duplicates nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from autolabel.job.label_files import LEDGER
from autolabel.model.detector import Detector
from autolabel.pipeline import label_folder
from autolabel.records import PREDICTIONS, read_folder_records, read_jsonl
from tests.autolabel.job.odd_inputs import UNREADABLE, make_odd_source
from tests.conftest import CONF_DIR

ray = pytest.importorskip("ray", reason="backend=ray needs the ray extra (in .[dev])")
pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
CONF, MAX_DET = 1e-4, 20  # a 3-epoch model: a very low threshold keeps boxes to compare


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray with 2 CPUs for this module (or the cluster at $RAY_ADDRESS), stopped at the end."""
    from autolabel.job.ray_backend import init_ray

    init_ray(os.environ.get("RAY_ADDRESS"), 2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def source(tmp_path_factory, demo_spec):
    """Ten demo images in two subfolders and one corrupt file."""
    folder = tmp_path_factory.mktemp("ray_source")
    for i, image in enumerate(demo_spec.train[:10]):
        target = folder / ("a" if i % 2 else "b") / image.name
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(image, target)
    (folder / "b" / "broken.jpg").write_bytes(b"not an image at all")
    return folder


def label(weights: Path, source: Path, output: Path, backend=None) -> dict:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="label", overrides=[f"weights={weights}", f"source={source}", f"output={output}"]
        )
    detector = Detector(weights, conf=CONF, max_det=MAX_DET)
    stage = instantiate(cfg.uncertainty)
    calibration = stage.load_calibration(weights)
    return label_folder(
        cfg.uncertainty,
        stage,
        detector,
        calibration,
        source=source,
        output=output,
        batch=4,
        threads=1,
        progress=False,
        backend=backend,
    )


@pytest.mark.parametrize(
    "address", ["http://head:6379", "head", "head:port", ":6379", "ray://", "ray://h:1/x"]
)
def test_a_malformed_address_is_one_line_naming_the_forms(address):
    from autolabel.job.ray_backend import RayBackend

    with pytest.raises(ValueError, match=r"backend\.address=.*ray://host:10001") as e:
        RayBackend(address=address)
    assert "\n" not in str(e.value)
    for fine in (None, "auto", "ray://head:10001", "ray://head", "10.0.0.1:6379"):
        assert RayBackend(address=fine).address == fine


def test_ray_backend_gives_the_local_records(trained_run, source, ray_address, tmp_path):
    from autolabel.job.ray_backend import RayBackend

    weights = trained_run[0] / "weights.pt"
    local = label(weights, source, tmp_path / "local")
    remote = label(
        weights, source, tmp_path / "ray", RayBackend(address=ray_address, actors=2, cpus_per_actor=0.75)
    )
    assert local["images"] == remote["images"] == 11 and remote["errors"] == 1
    lines = {
        name: sorted(read_jsonl(tmp_path / name / PREDICTIONS), key=lambda r: r["image"])
        for name in ("local", "ray")
    }
    assert lines["local"] == lines["ray"]  # boxes, probs, scores, bands: every field of every record
    assert sum(r["n_boxes"] for r in lines["ray"]) > 0 and any(r.get("score") for r in lines["ray"])
    broken = next(r for r in lines["ray"] if r["image"] == "b/broken.jpg")
    assert "cannot decode" in broken["error"]
    for record in read_folder_records(tmp_path / "local"):
        if record.label_file:
            assert (tmp_path / "local" / record.label_file).read_text() == (
                tmp_path / "ray" / record.label_file
            ).read_text()


def test_every_odd_file_gives_the_local_record_on_ray(trained_run, demo_spec, ray_address, tmp_path):
    """The local job tests' odd-input folder (symlink loop, dangling link, FIFO, empty, corrupt, truncated,
    a decompression bomb, grey / 16-bit / RGBA / 1x1 images, a link to an image) through both backends."""
    from autolabel.job.ray_backend import RayBackend

    weights = trained_run[0] / "weights.pt"
    source = make_odd_source(tmp_path / "odd", demo_spec.train[0])
    local = label(weights, source, tmp_path / "local")
    backend = RayBackend(address=ray_address, actors=2, cpus_per_actor=0.75)
    remote = label(weights, source, tmp_path / "ray", backend)
    assert local == {**remote, "seconds": local["seconds"], "images_per_s": local["images_per_s"]}
    assert remote["images"] == len(list(source.iterdir())) and remote["errors"] == len(UNREADABLE)
    lines = {
        name: sorted(read_jsonl(tmp_path / name / PREDICTIONS), key=lambda r: r["image"])
        for name in ("local", "ray")
    }
    assert lines["local"] == lines["ray"]  # every field of every record, errors word for word
    for record in lines["ray"]:
        if record["image"] in UNREADABLE:
            assert UNREADABLE[record["image"]] in record["error"], record
        else:
            assert record.get("error") is None and record["width"] > 0, record
    for name in ("local", "ray"):
        files = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name / "labels").rglob("*.txt"))
        assert len(files) == len(lines[name]) - len(UNREADABLE)
    for record in read_folder_records(tmp_path / "local"):
        if record.label_file:
            assert (tmp_path / "local" / record.label_file).read_text() == (
                tmp_path / "ray" / record.label_file
            ).read_text()


def test_kill_9_then_rerun_loses_and_duplicates_nothing(trained_run, demo_spec, ray_address, tmp_path):
    weights = trained_run[0] / "weights.pt"
    source = tmp_path / "many"
    source.mkdir()
    for image in demo_spec.train[:40]:
        shutil.copyfile(image, source / image.name)
    output = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "autolabel.label",
        f"weights={weights}",
        f"source={source}",
        f"output={output}",
        f"conf={CONF}",
        "batch=2",
        "backend=ray",
        f"backend.address={ray_address}",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'hydra'}",
    ]
    job = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(read_jsonl(output / PREDICTIONS)) < 6:
        assert job.poll() is None, job.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "the Ray job committed nothing in 240 s"
        time.sleep(0.2)
    job.send_signal(signal.SIGKILL)
    job.wait()
    committed = len(read_jsonl(output / PREDICTIONS))
    assert 6 <= committed < 40, "kill -9 came too late to test a resume"
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = read_jsonl(output / PREDICTIONS)
    assert sorted(r["image"] for r in lines) == sorted(
        p.name for p in source.iterdir()
    )  # none lost, none twice
    ledger = read_jsonl(output / LEDGER)
    assert {e["image"] for e in ledger} == {r["image"] for r in lines}
    for record in read_folder_records(output):
        assert (output / record.label_file).is_file()
