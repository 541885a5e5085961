"""The human-loop apps as a user runs them (select, import_labels, sync, evaluate reviews=), offline."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autolabel.records import ImageRecord
from tests.autolabel.loop_data import auto_label_folder, record

REPO = Path(__file__).resolve().parents[2]


def run(module: str, *args: str, tmp: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args, f"hydra.run.dir={tmp / 'hydra' / module}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def batch(tmp_path):
    """An auto-label folder of four images and the batch `autolabel.select n=3` picks from it."""
    records = [
        record("a/1.png", [(1, 1, 10, 10, 0, 0.9)], score=0.2, p_needs_correction=0.1, difficulty="easy"),
        record("a/2.png", [(1, 1, 10, 10, 1, 0.5), (20, 20, 30, 30, 0, 0.6)], score=1.5, difficulty="hard"),
        record("b/3.png", [], score=0.9, p_needs_correction=0.9, difficulty="hard"),
        record("b/4.png", [(5, 5, 25, 25, 1, 0.7)], score=1.1, difficulty="medium"),
        ImageRecord.unreadable("b/bad.png", "cannot decode"),
    ]
    source, out = auto_label_folder(tmp_path, records)
    done = run("autolabel.select", f"labels={out}", "n=3", f"output={tmp_path / 'batch'}", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    return source, tmp_path / "batch", json.loads(done.stdout.strip().splitlines()[-1])


def test_select_ranks_and_writes_every_export(batch):
    source, folder, summary = batch
    assert summary["n"] == 3 and summary["model_version"] == "cal1-abababab"
    picks = [json.loads(line) for line in (folder / "picks.jsonl").read_text().splitlines()]
    assert [p["image"] for p in picks] == ["a/2.png", "b/4.png", "b/3.png"]
    for name in (
        "picks.csv",
        "label_studio_tasks.json",
        "label_studio_config.xml",
        "cvat_annotations.xml",
        "annotations.coco.json",
        "labels/classes.txt",
        "labels/a/2.txt",
    ):
        assert (folder / name).is_file(), name
    tasks = json.loads((folder / "label_studio_tasks.json").read_text())
    assert [t["data"]["band"] for t in tasks] == ["hard", "medium", "failed"]
    scores = [t["predictions"][0]["score"] for t in tasks]
    assert scores[2] == 0.0 and scores[0] < scores[1]  # most uncertain served first by Label Studio
    assert len((folder / "labels" / "a" / "2.txt").read_text().split("\n")[0].split()) == 6  # conf column


def test_a_batch_from_a_two_level_job_marks_its_suggestions(tmp_path):
    records = [record("a/1.png", [(1, 1, 10, 10, 0, 0.9), (20, 20, 30, 30, 1, 0.4)], score=0.5)]
    _, out = auto_label_folder(tmp_path, records, t_high=0.65)
    done = run("autolabel.select", f"labels={out}", "n=1", f"output={tmp_path / 'batch'}", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    (task,) = json.loads((tmp_path / "batch" / "label_studio_tasks.json").read_text())
    assert [r["id"] for r in task["predictions"][0]["result"]] == ["b0", "s1"]
    assert task["data"]["n_suggestions"] == 1
    assert json.loads((tmp_path / "batch" / "batch.json").read_text())["t_high"] == 0.65
    coco = json.loads((tmp_path / "batch" / "annotations.coco.json").read_text())
    assert [a["suggestion"] for a in coco["annotations"]] == [False, True]


def test_select_by_seconds_and_clear_errors(batch, tmp_path):
    _, folder, _ = batch
    labels = json.loads((folder / "batch.json").read_text())["labels"]
    done = run(
        "autolabel.select", f"labels={labels}", "seconds=25", f"output={tmp_path / 'b2'}", tmp=tmp_path
    )
    assert done.returncode == 0 and json.loads(done.stdout.splitlines()[-1])["n"] == 1
    done = run("autolabel.select", f"labels={tmp_path}", tmp=tmp_path)
    assert done.returncode == 2 and "not an auto-label output folder" in done.stderr
    done = run("autolabel.select", f"labels={labels}", "n=2", "seconds=9", tmp=tmp_path)
    assert done.returncode == 2 and "not both" in done.stderr


def test_select_offers_the_diversity_and_cost_aware_strategies(tmp_path):
    """A pool labeled with embeddings: hybrid and gain per second pick within a seconds budget."""
    vectors = np.eye(6, 4, dtype=np.float32)
    records = [
        record(
            f"p/{i}.png",
            [(1, 1, 10, 10, 0, 0.9)] * (1 + i % 3),
            score=0.1 * (i + 1),
            p_needs_correction=0.1 * (i + 1),
            difficulty="medium",
            components={"error_seconds": 5.0 + 5 * (i % 3)},
            embedding=vectors[i],
        )
        for i in range(6)
    ]
    _, out = auto_label_folder(tmp_path, records)
    for option in ("hybrid", "kcenter", "kmeanspp", "gain_per_second"):
        batch = tmp_path / option
        args = [f"labels={out}", f"selection={option}", "seconds=21", f"output={batch}"]
        done = run("autolabel.select", *args, tmp=tmp_path)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.splitlines()[-1])
        assert 1 <= summary["n"] <= 3 and summary["estimated_seconds"] <= 21  # 5 + 5 + 10 s at most
        assert json.loads((batch / "batch.json").read_text())["selection"]["budget"] == 3
    done = run("autolabel.select", f"labels={out}", "selection=gain_per_second", "n=2", tmp=tmp_path)
    picks = json.loads(done.stdout.splitlines()[-1])
    assert picks["n"] == 2 and "per expected second" in picks["reason"]


def reviewed_export(folder: Path, tmp_path: Path, *, rename: dict | None = None) -> Path:
    """A Label Studio JSON export of the batch's tasks: the first two saved as predicted, one unlabeled."""
    tasks = json.loads((folder / "label_studio_tasks.json").read_text())
    out = []
    for i, task in enumerate(tasks, start=1):
        prediction = task["predictions"][0]
        result = copy.deepcopy(prediction["result"])
        for region in result:
            labels = region["value"]["rectanglelabels"]
            region["value"]["rectanglelabels"] = [(rename or {}).get(labels[0], labels[0])]
        annotation = {
            "id": i,
            "completed_by": 1,
            "result": result,
            "was_cancelled": False,
            "lead_time": 4.0 * i,
            "ground_truth": False,
            "updated_at": "2026-11-29T10:00:00Z",
            "prediction": prediction,
        }
        out.append(
            {"id": i, "data": task["data"], "annotations": [annotation] if i < 3 else [], "predictions": [i]}
        )
    path = tmp_path / "export.json"
    path.write_text(json.dumps(out))
    return path


def test_import_writes_human_labels_and_never_overwrites(batch, tmp_path):
    source, folder, _ = batch
    export = reviewed_export(folder, tmp_path)
    done = run("autolabel.import_labels", f"export={export}", f"batches=[{folder}]", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["written"] == 2 and summary["unlabeled_skipped"] == 1
    label = source.parent / "labels" / "a" / "2.txt"
    assert len(label.read_text().splitlines()) == 2
    label.write_text("")  # a person's later edit
    done = run("autolabel.import_labels", f"export={export}", f"batches=[{folder}]", tmp=tmp_path)
    assert json.loads(done.stdout.splitlines()[-1])["conflicts"] == 1 and label.read_text() == ""
    rows = [json.loads(line) for line in (folder / "reviews.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["written", "written", "conflict", "unchanged"]
    assert rows[0]["changed"] is False and rows[0]["edits"]["kept"] == 2

    done = run("uncertainty.evaluate", f"reviews={folder / 'reviews.jsonl'}", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no reviewed image was changed" in done.stdout and "cost model fitted" in done.stdout


def test_import_refuses_another_projects_export_and_unknown_images(batch, tmp_path):
    source, folder, _ = batch
    export = reviewed_export(folder, tmp_path, rename={"disc": "tree"})
    done = run("autolabel.import_labels", f"export={export}", f"batches=[{folder}]", tmp=tmp_path)
    assert done.returncode == 2 and "['tree']" in done.stderr and "another project" in done.stderr
    data = json.loads(reviewed_export(folder, tmp_path).read_text())
    data[0]["data"]["autolabel_image"] = "/elsewhere/x.png"
    export.write_text(json.dumps(data))
    done = run("autolabel.import_labels", f"export={export}", f"batches=[{folder}]", tmp=tmp_path)
    assert done.returncode == 2 and "not in the batch" in done.stderr and "x.png" in done.stderr
    export.write_text("[{")
    done = run("autolabel.import_labels", f"export={export}", f"batches=[{folder}]", tmp=tmp_path)
    assert done.returncode == 2 and str(export) in done.stderr
    assert not (source.parent / "labels").exists()


def test_sync_names_the_server_and_what_to_set(batch, tmp_path):
    _, folder, _ = batch
    env = {"LABEL_STUDIO_URL": "http://127.0.0.1:9", "LABEL_STUDIO_API_KEY": "x" * 40}
    done = run("autolabel.sync", "action=push", f"batch={folder}", tmp=tmp_path, env=env)
    assert done.returncode == 2 and "http://127.0.0.1:9" in done.stderr and "LABEL_STUDIO_URL" in done.stderr
    env = {"LABEL_STUDIO_URL": "", "LABEL_STUDIO_API_KEY": ""}
    done = run("autolabel.sync", "action=push", f"batch={folder}", tmp=tmp_path, env=env)
    assert done.returncode == 2 and "LABEL_STUDIO_API_KEY" in done.stderr


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a refused run (exit status 2, no traceback)."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize(
    ("url", "token", "words"),
    [
        ("127.0.0.1:8080", "x" * 40, ["LABEL_STUDIO_URL='127.0.0.1:8080'", "http://host:port"]),
        ("localhost", "x" * 40, ["LABEL_STUDIO_URL='localhost'", "http://host:port"]),
        ("http://127.0.0.1:99999", "x" * 40, ["LABEL_STUDIO_URL", "http://host:port"]),
        ("ftp://127.0.0.1:8080", "x" * 40, ["LABEL_STUDIO_URL", "http://host:port"]),
        ("http://127.0.0.1:9", "x" * 20 + "\nx", ["LABEL_STUDIO_API_KEY", "the token alone"]),
    ],
)
def test_sync_refuses_a_server_url_or_token_it_cannot_use_in_one_line(batch, tmp_path, url, token, words):
    _, folder, _ = batch
    env = {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token}
    for action in ("action=push", "action=pull"):
        where = f"batch={folder}" if action == "action=push" else f"batches=[{folder}]"
        line = one_error_line(run("autolabel.sync", action, where, tmp=tmp_path, env=env))
        assert all(w in line for w in words), line


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("AUTOLABEL_THREADS", "abc", "must be a whole number >= 1"),
        ("AUTOLABEL_THREADS", "0", "must be a whole number >= 1"),
        ("XDG_CACHE_HOME", "relative/cache", "must be an absolute path"),
        ("YOLO_CONFIG_DIR", "/etc/hostname", "is a file, not a folder"),
    ],
)
@pytest.mark.parametrize("module", ["autolabel.select", "autolabel.label"])
def test_apps_refuse_an_unusable_environment_variable_in_one_line(
    batch, tmp_path, module, name, value, words
):
    _, folder, _ = batch
    labels = json.loads((folder / "batch.json").read_text())["labels"]
    args = [f"labels={labels}"] if module == "autolabel.select" else ["weights=w.pt", "source=s", "output=o"]
    done = run(module, *args, tmp=tmp_path, env={name: value})
    line = one_error_line(done)
    assert name in line and words in line, line
    assert not (REPO / "relative").exists()  # nothing made relative to the working folder at import


def test_select_refuses_a_document_root_above_no_image(batch, tmp_path):
    _, folder, _ = batch
    labels = json.loads((folder / "batch.json").read_text())["labels"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases = [
        ([f"document_root={elsewhere}"], {}, ["document_root=", "not under it"]),
        (
            [],
            {"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": "data"},
            ["LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", "absolute"],
        ),
        ([f"document_root={tmp_path / 'none'}"], {}, ["document_root=", "no such folder"]),
    ]
    for k, (args, env, words) in enumerate(cases):
        out = tmp_path / f"b{k}"
        line = one_error_line(
            run("autolabel.select", f"labels={labels}", f"output={out}", *args, tmp=tmp_path, env=env)
        )
        assert all(w in line for w in words) and not out.exists(), line
