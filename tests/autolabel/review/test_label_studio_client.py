"""The Label Studio client: error messages offline; the real API against a live server (label_studio)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image, ImageDraw

from autolabel.formats.label_studio import local_files_url, ls_task, read_label_studio_json
from autolabel.records import ImageRecord
from autolabel.review.human_labels import edit_counts
from autolabel.review.label_studio_client import (
    ROOT_ENV,
    LabelStudio,
    LabelStudioError,
    check_server_url,
    check_token,
)
from autolabel.structures import Detections

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="square"/><Label value="disc"/>
  </RectangleLabels>
</View>"""


# -- offline: error messages ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _stub_server(status: int, body: dict) -> Iterator[str]:
    """A loopback HTTP server answering every GET with ``status`` and JSON ``body``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_server_names_the_url_and_what_to_do():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(LabelStudioError) as e:
        LabelStudio(url, "x" * 40, timeout=5).check()
    assert url in str(e.value)
    assert "LABEL_STUDIO_URL" in str(e.value) and "start" in str(e.value)


def test_from_env_names_the_missing_variables(monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "abc")
    with pytest.raises(LabelStudioError, match="LABEL_STUDIO_URL not set"):
        LabelStudio.from_env()


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_says_to_set_the_api_key(status):
    with _stub_server(status, {"detail": "Invalid token."}) as url:
        with pytest.raises(LabelStudioError) as e:
            LabelStudio(url, "bad").check()
    message = str(e.value)
    assert url in message and "LABEL_STUDIO_API_KEY" in message
    assert "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true" in message


def test_http_error_carries_method_path_status_and_server_message():
    body = {"detail": "Validation error", "validation_errors": {"model_version": ["doesn't exist"]}}
    with _stub_server(400, body) as url:
        with pytest.raises(LabelStudioError) as e:
            LabelStudio(url, "t").project(7)
    message = str(e.value)
    assert "GET /api/projects/7" in message and "HTTP 400" in message and "doesn't exist" in message


def test_local_file_url_is_relative_to_the_document_root():
    assert local_files_url("/data/set/a b.png", "/") == "/data/local-files/?d=data/set/a%20b.png"
    assert local_files_url("/data/set/a.png", "/data") == "/data/local-files/?d=set/a.png"


@pytest.mark.parametrize(
    "url",
    ["127.0.0.1:8080", "localhost", "http://", "ftp://h:1", "http://h:99999", "http://h:8080/?x=1", "h:x"],
)
def test_a_server_url_without_scheme_or_host_is_one_clear_error(url, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "t" * 40)
    with pytest.raises(LabelStudioError) as e:
        LabelStudio.from_env()
    assert "LABEL_STUDIO_URL" in str(e.value) and "http://host:port" in str(e.value)
    assert "\n" not in str(e.value)


def test_server_urls_and_tokens_that_work_pass():
    assert check_server_url(" http://127.0.0.1:8089/ ") == "http://127.0.0.1:8089"
    assert check_server_url("https://ls.example.org/label-studio") == "https://ls.example.org/label-studio"
    assert (
        check_token("f82f6331d521e14ab4157d4ef973bdaabe2dd039") == "f82f6331d521e14ab4157d4ef973bdaabe2dd039"
    )
    for token in ("two words", "line\nbreak", "tab\t", "ünïcode"):
        with pytest.raises(LabelStudioError, match="LABEL_STUDIO_API_KEY"):
            check_token(token)


def test_a_url_requests_cannot_send_is_a_label_studio_error():
    with pytest.raises(LabelStudioError, match="cannot send GET"):
        LabelStudio("htp://127.0.0.1:9", "t").check()  # built directly: no check of the URL


# -- live server ---------------------------------------------------------------------------------------------


@pytest.fixture
def new_project(label_studio: LabelStudio) -> Iterator[Callable[[], int]]:
    """Make uniquely titled projects; deleted afterwards."""
    made: list[int] = []

    def make() -> int:
        made.append(label_studio.create_project(f"test-{uuid.uuid4().hex[:12]}", CONFIG))
        return made[-1]

    yield make
    for pid in made:
        label_studio.delete_project(pid)


def _box(size: tuple[int, int], xywh: tuple[float, float, float, float], label: str, **extra: object) -> dict:
    """One rectangle in LS's result format (percent of the image)."""
    (w, h), (x, y, bw, bh) = size, xywh
    value = {"x": x / w * 100, "y": y / h * 100, "width": bw / w * 100, "height": bh / h * 100}
    return {
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": w,
        "original_height": h,
        "image_rotation": 0,
        "value": {**value, "rotation": 0, "rectanglelabels": [label]},
        **extra,
    }


@pytest.mark.label_studio
def test_bad_token_against_live_server(label_studio: LabelStudio):
    with pytest.raises(LabelStudioError, match="set LABEL_STUDIO_API_KEY"):
        LabelStudio(label_studio.url, "0" * 40).check()


@pytest.mark.label_studio
def test_check_and_find_project(label_studio: LabelStudio, new_project):
    info = label_studio.check()
    assert info["user"]["id"] and info["version"]
    pid = new_project()
    title = label_studio.project(pid)["title"]
    assert label_studio.find_project(title) == pid
    assert label_studio.find_project(title[:-1]) is None  # LS matches substrings; we want the exact title


@pytest.mark.label_studio
def test_uncertainty_sampling_serves_lowest_score_of_the_project_model_version(label_studio, new_project):
    pid = new_project()
    v1, v2 = [0.1, 0.5, 0.9, 0.3], [0.8, 0.6, 0.2, 0.7]
    tasks = [
        {
            "data": {"image": f"/nowhere/{i}.png"},
            "predictions": [{"model_version": "v1", "score": s, "result": []}],
        }
        for i, s in enumerate(v1)
    ]
    ids = label_studio.import_tasks(pid, tasks)
    assert label_studio.project(pid)["model_version"] == "v1"  # set by the first import with predictions
    preds = [
        {"task": t, "model_version": "v2", "score": s, "result": []} for t, s in zip(ids, v2, strict=True)
    ]
    assert label_studio.add_predictions(pid, preds) == 4
    assert [len(t["predictions"]) for t in label_studio.tasks(pid)] == [2] * 4
    with pytest.raises(LabelStudioError, match="Model version doesn't exist"):
        label_studio.set_model_version(pid, "v3")
    label_studio.set_sampling(pid)
    label_studio.set_model_version(pid, "v2")
    served = []
    while (task := label_studio.next_task(pid)) is not None:
        assert [p["model_version"] for p in task["predictions"]] == ["v2"]  # /next shows only v2's
        served.append(ids.index(task["id"]))
        label_studio.submit_annotation(task["id"], [], lead_time=1.0, prediction=task["predictions"][0])
    assert served == [2, 1, 3, 0]  # v2 scores ascending; v1's 0.1 on task 0 plays no part


@pytest.mark.label_studio
def test_tasks_pages_through_all(label_studio, new_project):
    pid = new_project()
    ids = label_studio.import_tasks(pid, [{"data": {"image": f"/nowhere/{i}.png"}} for i in range(105)])
    assert [t["id"] for t in label_studio.tasks(pid)] == ids


@pytest.mark.label_studio
def test_local_images_annotation_and_exports(label_studio, new_project, tmp_path: Path):
    root = os.environ.get(ROOT_ENV) or "/"
    if not tmp_path.is_relative_to(root):
        pytest.skip(f"{tmp_path} is outside the server's LOCAL_FILES_DOCUMENT_ROOT {root}")
    sizes = [(64, 48), (40, 40)]
    for i, size in enumerate(sizes):
        image = Image.new("RGB", size, "white")
        ImageDraw.Draw(image).rectangle([4, 4, 19, 19], fill="red")
        image.save(tmp_path / f"img{i}.png")
    pid = new_project()
    tasks = [
        {
            "data": {"image": local_files_url(str(tmp_path / f"img{i}.png"), root)},
            "predictions": [
                {"model_version": "m1", "score": 0.4, "result": [_box(size, (4, 4, 16, 16), "square")]}
            ],
        }
        for i, size in enumerate(sizes)
    ]
    ids = label_studio.import_tasks(pid, tasks)
    image_url = label_studio.url + tasks[0]["data"]["image"]
    auth = {"Authorization": f"Token {os.environ['LABEL_STUDIO_API_KEY']}"}
    assert requests.get(image_url, headers=auth, timeout=30).status_code == 404  # no storage covers it yet
    storage = label_studio.add_local_storage(pid, str(tmp_path), title="images")
    assert label_studio.add_local_storage(pid, str(tmp_path) + "/", title="again") == storage
    assert requests.get(image_url, headers=auth, timeout=30).status_code == 200

    task = label_studio.next_task(pid)
    assert task["id"] == ids[0]
    prediction = task["predictions"][0]
    result = [_box(sizes[0], (4, 4, 17, 16), "square", origin="prediction-changed")]
    aid = label_studio.submit_annotation(task["id"], result, lead_time=7.25, prediction=prediction)

    exported = label_studio.export(pid, download_all_tasks=True)
    assert [t["id"] for t in exported] == ids and exported[1]["annotations"] == []
    (annotation,) = exported[0]["annotations"]
    assert annotation["id"] == aid and annotation["lead_time"] == 7.25
    assert annotation["parent_prediction"] == prediction["id"]
    assert annotation["prediction"]["id"] == prediction["id"]  # the snapshot the reviewer was shown
    assert annotation["prediction"]["model_version"] == "m1" and annotation["prediction"]["score"] == 0.4
    assert annotation["was_cancelled"] is False and annotation["ground_truth"] is False
    assert annotation["result"][0]["original_width"] == 64 and annotation["result"][0]["image_rotation"] == 0
    assert exported[0]["predictions"] == [prediction["id"]]  # ids only, at task level
    assert [t["id"] for t in label_studio.export(pid)] == [ids[0]]  # only annotated tasks by default

    archive = zipfile.ZipFile(
        io.BytesIO(label_studio.export(pid, export_type="YOLO", download_all_tasks=True))
    )
    assert archive.read("classes.txt").decode().split() == [
        "disc",
        "square",
    ]  # alphabetical, not config order
    assert archive.read("labels/img1.txt") == b""  # the task without annotation
    (line,) = archive.read("labels/img0.txt").decode().splitlines()
    assert line.split()[0] == "1"  # square


@pytest.mark.label_studio
def test_two_level_suggestions_survive_import_review_and_export(label_studio, new_project, tmp_path: Path):
    """Label Studio keeps the marked suggestions (ids ``s<i>``, the region note) of a two-level prediction;
    a reviewer who keeps one suggestion and deletes the other is counted so by the import."""
    names = ("square", "disc")
    conf = np.array([0.9, 0.4, 0.3], np.float32)
    probs = np.stack([conf, np.full(3, 0.05, np.float32)], axis=1)
    boxes = np.array([[4, 4, 20, 20], [30, 4, 50, 20], [4, 30, 20, 44]], np.float32)
    det = Detections(boxes, conf, np.zeros(3, np.int64), probs)
    record = ImageRecord.from_detections("a.png", det, width=64, height=48, names=names)
    pid = new_project()
    (tid,) = label_studio.import_tasks(
        pid, [ls_task(record, image_url="/nowhere/a.png", model_version="m", t_high=0.5)]
    )
    (task,) = label_studio.tasks(pid)
    (prediction,) = task["predictions"]
    shown = prediction["result"]
    assert [r["id"] for r in shown] == ["b0", "s1", "s2"] and task["data"]["n_suggestions"] == 2
    assert [bool(r.get("meta")) for r in shown] == [False, True, True]
    assert "suggestion" in shown[1]["meta"]["text"][0]
    kept = [r for r in shown if r["id"] != "s2"]
    label_studio.submit_annotation(tid, kept, lead_time=3.0, prediction=prediction)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(label_studio.export(pid)))
    (image,), _ = read_label_studio_json(export, names=names)
    counts = edit_counts(image, names)
    assert counts["suggested"] == 2 and counts["suggestions_kept"] == 1 and counts["deleted"] == 1
