"""The human loop end to end against a live Label Studio: CAL1 on a partly labeled set, auto-label the
pool, select, push, a scripted annotator corrects the served tasks over the REST API, pull, retrain CAL2 on
the imported labels, push again: the served order follows the new model.

The annotator is served tasks by Label Studio itself (``/next``, uncertainty sampling) and edits the shown
prediction as Label Studio's frontend does: a region it keeps or relabels keeps the prediction's region id.
On the first task with a box it fixes the class of one auto-labeled box, on the next it deletes one, on the
others it saves the hidden truth (new regions, no ids). Every saved box must come back as a YOLO label beside
its image within 0.5 px, with its class, and the review log must count exactly the edits made: one relabel
(or one delete), every other shown box kept, whatever boxes the trained CAL1 happened to show.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from autolabel.data.synthetic.shapes import generate_shapes
from autolabel.formats.label_studio import FROM_NAME, TO_NAME
from autolabel.formats.yolo import image_size, read_yolo_labels
from autolabel.records import read_jsonl
from tests.conftest import CONF_DIR

pytestmark = [pytest.mark.label_studio, pytest.mark.slow]
NAMES = ("square", "disc")
N_LABELED, N_IMAGES, BATCH = 16, 40, 6
TRAIN = [
    "data=yolo",
    "split=labeled",
    "split.val=6",
    "model.imgsz=96",
    "trainer.epochs=25",
    "trainer.batch=4",
    "trainer.plots=false",
    "trainer.extra.nbs=4",
    "threshold=0.01",  # a 3-epoch model is weak: keep low-confidence boxes, something to correct
]


def train(data_yaml: Path, run_dir: Path, *extra: str) -> dict:
    from autolabel.pipeline import train_and_card

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*TRAIN, f"data.path={data_yaml}", *extra])
    return train_and_card(cfg, run_dir)


def app(module: str, *args: str, cwd: Path) -> dict:
    """Run ``python -m module args`` as a user would; its last stdout line is its JSON summary."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args, f"hydra.run.dir={cwd / module / uuid.uuid4().hex[:6]}"],
        capture_output=True,
        text=True,
        env={**os.environ, "YOLO_OFFLINE": "1"},
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def region(xyxy, label: str, width: int, height: int, rid: str | None = None) -> dict:
    """A saved rectangle; ``rid``: the id of the shown region it was derived from (None: newly drawn)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    value = {"x": 100 * x1 / width, "y": 100 * y1 / height, "width": 100 * (x2 - x1) / width}
    value |= {"height": 100 * (y2 - y1) / height, "rotation": 0, "rectanglelabels": [label]}
    return {
        **({"id": rid} if rid else {}),
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "type": "rectanglelabels",
        "value": value,
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
    }


def shown_boxes(prediction: dict) -> list[tuple[list[float], str, str]]:
    """(xyxy px, label, region id) of each region of a prediction."""
    out = []
    for r in prediction["result"]:
        v, w, h = r["value"], r["original_width"], r["original_height"]
        xyxy = [
            v["x"] * w / 100,
            v["y"] * h / 100,
            (v["x"] + v["width"]) * w / 100,
            (v["y"] + v["height"]) * h / 100,
        ]
        out.append((xyxy, v["rectanglelabels"][0], r["id"]))
    return out


@pytest.fixture
def partly_labeled(tmp_path):
    """A shapes set whose first N_LABELED images keep their labels; the others' labels are hidden."""
    data_yaml = generate_shapes(tmp_path / "set", n_images=N_IMAGES, image_size=96, seed=3, classes=NAMES)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for label in sorted((tmp_path / "set" / "labels").glob("*.txt"))[N_LABELED:]:
        shutil.move(label, hidden / label.name)
    return data_yaml, hidden


def test_label_studio_round_trip_and_retrain(label_studio, partly_labeled, tmp_path):  # noqa: F811
    data_yaml, hidden = partly_labeled
    project = f"loop-{uuid.uuid4().hex[:8]}"
    root = os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT") or "/"
    if not tmp_path.is_relative_to(root):
        pytest.fail(f"{tmp_path} is outside Label Studio's LOCAL_FILES_DOCUMENT_ROOT {root}")
    card1 = train(data_yaml, tmp_path / "cal1")
    assert card1["data"]["split_sizes"] == {"val": 6, "gt1": 10, "pool": N_IMAGES - N_LABELED}

    batch1 = tmp_path / "batch1"
    app(
        "autolabel.select",
        f"labels={tmp_path / 'cal1' / 'pool_labels'}",
        f"n={BATCH}",
        f"output={batch1}",
        f"document_root={root}",
        cwd=tmp_path,
    )
    pushed = app("autolabel.sync", "action=push", f"batch={batch1}", f"project={project}", cwd=tmp_path)
    assert pushed["new_tasks"] == BATCH and pushed["rescored_tasks"] == 0
    pid = pushed["project"]

    # The scripted annotator works through what Label Studio serves, most uncertain first.
    tasks = {t["id"]: t for t in label_studio.tasks(pid)}
    lowest = min(score_of(t, pushed["model_version"]) for t in tasks.values())
    saved: dict[str, list[tuple[list[float], str]]] = {}
    fixed_class = deleted_box = None
    n_shown: dict[str, int] = {}
    for step in range(4):
        task = label_studio.next_task(pid)
        assert task is not None
        if step == 0:  # uncertainty sampling: the lowest prediction score is served first
            assert score_of(tasks[task["id"]], pushed["model_version"]) == lowest
        path = Path(task["data"]["autolabel_image"])
        width, height = image_size(path)
        prediction = predictions_of(tasks[task["id"]], pushed["model_version"])[0]
        boxes = shown_boxes(prediction)
        n_shown[str(path)] = len(boxes)
        if fixed_class is None and boxes:
            xyxy, label, rid = boxes[0]
            boxes[0] = (xyxy, NAMES[1 - NAMES.index(label)], rid)
            fixed_class = str(path)
        elif deleted_box is None and boxes:
            boxes = boxes[1:]
            deleted_box = str(path)
        else:
            truth = read_yolo_labels(hidden / f"{path.stem}.txt", num_classes=2, width=width, height=height)
            boxes = [
                (list(map(float, b)), NAMES[c], None) for b, c in zip(truth.xyxy, truth.cls, strict=True)
            ]
        result = [region(b, label, width, height, rid) for b, label, rid in boxes]
        label_studio.submit_annotation(task["id"], result, lead_time=5.0 + step, prediction=prediction)
        saved[str(path)] = [(b, label) for b, label, _ in boxes]
    assert fixed_class and deleted_box, "CAL1 kept no box on the served images: nothing to correct"

    pulled = app("autolabel.sync", "action=pull", f"batches=[{batch1}]", f"project={project}", cwd=tmp_path)
    assert pulled["written"] == 4 and pulled["unlabeled_skipped"] == 0
    for path, boxes in saved.items():
        got = read_yolo_labels(
            Path(path).parents[1] / "labels" / f"{Path(path).stem}.txt",
            num_classes=2,
            width=image_size(Path(path))[0],
            height=image_size(Path(path))[1],
        )
        assert [NAMES[c] for c in got.cls] == [label for _, label in boxes]
        np.testing.assert_allclose(got.xyxy, np.array([b for b, _ in boxes]).reshape(-1, 4), atol=0.5)
    reviews = {r["path"]: r for r in read_jsonl(batch1 / "reviews.jsonl")}
    assert reviews[fixed_class]["changed"] is True and reviews[deleted_box]["changed"] is True
    assert reviews[fixed_class]["edits"] == {
        "kept": n_shown[fixed_class] - 1,
        "relabeled": 1,
        "deleted": 0,
        "drawn": 0,
    }
    assert reviews[deleted_box]["edits"] == {
        "kept": n_shown[deleted_box] - 1,
        "relabeled": 0,
        "deleted": 1,
        "drawn": 0,
    }
    assert {r["lead_time"] for r in reviews.values()} == {5.0, 6.0, 7.0, 8.0}
    again = app("autolabel.sync", "action=pull", f"batches=[{batch1}]", f"project={project}", cwd=tmp_path)
    assert again["unchanged"] == 4 and again["written"] == 0  # a second pull changes nothing

    # CAL2 on GT1 + the imported labels, VAL kept; then the project follows CAL2's scores.
    card2 = train(data_yaml, tmp_path / "cal2", f"split.val_from={tmp_path / 'cal1' / 'manifest.csv'}")
    assert card2["data"]["split_sizes"] == {"val": 6, "gt1": 14, "pool": N_IMAGES - N_LABELED - 4}
    batch2 = tmp_path / "batch2"
    app(
        "autolabel.select",
        f"labels={tmp_path / 'cal2' / 'pool_labels'}",
        f"n={BATCH}",
        f"output={batch2}",
        f"document_root={root}",
        cwd=tmp_path,
    )
    pushed2 = app("autolabel.sync", "action=push", f"batch={batch2}", f"project={project}", cwd=tmp_path)
    assert pushed2["model_version"] != pushed["model_version"]
    assert pushed2["rescored_tasks"] == BATCH - 4  # the batch-1 tasks no one labeled yet
    assert label_studio.project(pid)["model_version"] == pushed2["model_version"]
    open_tasks = [t for t in label_studio.tasks(pid) if not t.get("total_annotations")]
    cal1_order = served_order(open_tasks, pushed["model_version"])
    cal2_order = served_order(open_tasks, pushed2["model_version"])
    assert len(cal2_order) == len(open_tasks) > len(cal1_order) == BATCH - 4
    assert cal2_order != cal1_order
    served = next(t for t in open_tasks if t["id"] == label_studio.next_task(pid)["id"])
    assert score_of(served, pushed2["model_version"]) == score_of(  # the most uncertain under CAL2
        next(t for t in open_tasks if t["id"] == cal2_order[0]), pushed2["model_version"]
    )


def predictions_of(task: dict, version: str) -> list[dict]:
    return [p for p in task.get("predictions") or [] if p.get("model_version") == version]


def score_of(task: dict, version: str) -> float:
    return predictions_of(task, version)[0]["score"]


def served_order(tasks: list[dict], version: str) -> list[int]:
    """Task ids in the order uncertainty sampling serves them under ``version``: lowest score first."""
    scored = [(predictions_of(t, version)[0]["score"], t["id"]) for t in tasks if predictions_of(t, version)]
    return [task_id for _, task_id in sorted(scored)]
