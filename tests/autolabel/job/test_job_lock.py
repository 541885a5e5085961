"""Two jobs on one output folder: the second is refused, a dead holder never blocks, no image counts twice."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from autolabel.formats.coco import read_coco
from autolabel.job.lock import LOCK_FILE, OutputLocked, output_lock
from autolabel.job.runner import JobError, run_label_job
from autolabel.records import read_records
from autolabel.structures import Detections

NAMES = ("a", "b")
REPO = Path(__file__).resolve().parents[3]
HOLD_LOCK = """
import sys, time
from autolabel.job.lock import output_lock
with output_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def make_images(folder, n):
    folder.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i:02d}.png"), np.full((32, 48, 3), 10 * i, np.uint8))
    return folder


def predict(images, keys):
    probs = np.array([[0.8, 0.2]], np.float32)
    return [(Detections([[2, 2, 20, 20]], probs.max(1), probs.argmax(1), probs), {}) for _ in images]


def label(src, out, fn=predict):
    meta = {"weights": "w.pt", "source": str(src), "names": list(NAMES), "conf": 0.25}
    return run_label_job(predict=fn, names=NAMES, source=src, output=out, meta=meta, batch=2, progress=False)


def test_a_second_job_on_the_same_folder_is_refused_naming_the_holder(tmp_path):
    src, out = make_images(tmp_path / "pool", 6), tmp_path / "out"
    first_busy, second_done = threading.Event(), threading.Event()
    results = {}

    def slow_predict(images, keys):
        first_busy.set()
        second_done.wait(timeout=30)
        return predict(images, keys)

    def first_job():
        results["first"] = label(src, out, slow_predict)

    thread = threading.Thread(target=first_job)
    thread.start()
    assert first_busy.wait(timeout=30)
    try:
        with pytest.raises(JobError, match="in use by another label job") as refused:
            label(src, out)
    finally:
        second_done.set()
        thread.join(timeout=60)
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and socket.gethostname() in message and "started" in message
    assert results["first"]["images"] == 6
    records = read_records(out / "predictions.jsonl", unique=False)
    assert sorted(r.image for r in records) == [f"img{i:02d}.png" for i in range(6)]  # each once


def test_the_lock_of_a_killed_job_does_not_block_a_resume(tmp_path):
    src, out = make_images(tmp_path / "pool", 3), tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(JobError, match=f"pid {holder.pid} on host"):
            label(src, out)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == holder.pid  # the stale record stays
    assert label(src, out)["labeled_now"] == 3


def test_a_lock_without_holder_details_is_still_refused(tmp_path):
    with output_lock(tmp_path) as holder:
        assert holder["pid"] == os.getpid()
        (tmp_path / LOCK_FILE).write_text("")  # as if the holder had not written its details yet
        with pytest.raises(OutputLocked, match="has not yet recorded its pid"), output_lock(tmp_path):
            pass
    with output_lock(tmp_path):  # released on exit
        pass


def test_duplicate_records_count_once_and_a_resume_repairs_the_exports(tmp_path, caplog):
    src, out = make_images(tmp_path / "pool", 4), tmp_path / "out"
    label(src, out)
    log = out / "predictions.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines + lines[1:3]))  # what two jobs at once left behind
    (out / "images.csv").write_text("stale\n")
    assert [r.image for r in read_records(log)] == [f"img{i:02d}.png" for i in range(4)]
    with caplog.at_level("WARNING", logger="autolabel.job.runner"):
        summary = label(src, out)
    assert summary["images"] == 4 and summary["labeled_now"] == 0 and summary["duplicate_records"] == 2
    assert "2 duplicate record" in caplog.text
    _, coco_images = read_coco(out / "annotations.coco.json")
    assert sorted(im.file_name for im in coco_images) == [f"img{i:02d}.png" for i in range(4)]
    assert len((out / "images.csv").read_text().splitlines()) == 5  # header + one row per image
    assert summary["boxes"] == 4
