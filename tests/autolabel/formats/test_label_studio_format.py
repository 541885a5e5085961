"""Label Studio: tasks with predictions out, JSON and YOLO exports back in, with Label Studio's quirks."""

from __future__ import annotations

import copy
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from autolabel.formats.label_studio import (
    FROM_NAME,
    TO_NAME,
    labeling_config,
    local_files_url,
    ls_task,
    prediction_score,
    read_label_studio_json,
    read_label_studio_yolo,
)
from autolabel.formats.reviewed import ExportError
from autolabel.records import ImageRecord
from autolabel.structures import Detections

NAMES = ("zebra", "apple", 'a<b&"c"')
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "label_studio"


def record(
    image: str = "sub/a.jpg",
    boxes: list[list[float]] | None = None,
    classes: list[int] | None = None,
    *,
    width: int = 200,
    height: int = 100,
    names: tuple[str, ...] = NAMES,
    **fields,
) -> ImageRecord:
    boxes = [[10, 20, 50, 60], [100.5, 0, 199, 99.25]] if boxes is None else boxes
    classes = list(range(len(boxes))) if classes is None else classes
    probs = np.full((len(boxes), len(names)), 0.05, np.float32)
    for i, c in enumerate(classes):
        probs[i, c] = 0.9 - 0.1 * i
    det = Detections(np.array(boxes, np.float32).reshape(-1, 4), probs.max(1), np.array(classes), probs)
    return ImageRecord.from_detections(image, det, width=width, height=height, names=names, **fields)


def annotated(task: dict, *, result: list | None = None, task_id: int = 1, **annotation) -> dict:
    """``task`` as Label Studio exports it after a reviewer saved ``result`` (default: the prediction)."""
    prediction = task["predictions"][0]
    saved = copy.deepcopy(prediction["result"]) if result is None else result
    base = {"id": 100 + task_id, "completed_by": 7, "result": saved, "was_cancelled": False}
    base.update(ground_truth=False, updated_at="2026-01-01T10:00:00Z", lead_time=12.5, prediction=prediction)
    return {"id": task_id, "data": task["data"], "annotations": [{**base, **annotation}], "predictions": [9]}


def write(tmp_path: Path, tasks: list) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


# --------------------------------------------------------------------------------------------- export


@pytest.mark.parametrize("names", [NAMES, ("only",)])
def test_labeling_config_escapes_names_and_parses(names):
    root = ET.fromstring(labeling_config(names))
    image, control = root.find("Image"), root.find("RectangleLabels")
    assert image.get("name") == TO_NAME and image.get("value") == "$image"
    assert control.get("name") == FROM_NAME and control.get("toName") == TO_NAME
    assert [label.get("value") for label in control.findall("Label")] == list(names)


def test_labeling_config_refuses_no_or_repeated_names():
    for bad in ([], ["a", "a"]):
        with pytest.raises(ValueError, match="distinct"):
            labeling_config(bad)


def test_prediction_score_serves_the_most_uncertain_first():
    components = {"dummy": 1.0}
    scored = [record(score=s, components=components) for s in (0.0, 0.5, 2.0, 9.0)]
    values = [prediction_score(r) for r in scored]
    assert values == sorted(values, reverse=True) and len(set(values)) == 4  # more uncertain -> lower
    assert all(0 < v <= 1 for v in values)
    failed = record(boxes=[], score=0.1, components=components, failed=True)
    undefined = record(score=None, components=components)
    assert prediction_score(failed) == prediction_score(undefined) == 0.0 < min(values)
    plain = record()  # a job without uncertainty: the best box's confidence
    assert prediction_score(plain) == pytest.approx(0.9)
    assert prediction_score(record(boxes=[])) == 0.0


def test_task_keeps_uncertainty_apart_from_box_confidence():
    rec = record(score=1.5, components={"dummy": 1.0}, difficulty="hard", p_needs_correction=0.7)
    task = ls_task(
        rec, image_url="/data/local-files/?d=sub/a.jpg", model_version="cal1", rank=3, reason="top"
    )
    data, prediction = task["data"], task["predictions"][0]
    assert data["autolabel_image"] == "sub/a.jpg" and data["uncertainty"] == 1.5 and data["band"] == "hard"
    assert (data["rank"], data["reason"], data["n_boxes"], data["failed"]) == (3, "top", 2, False)
    assert prediction["model_version"] == "cal1" and prediction["score"] == pytest.approx(math.exp(-1.5))
    first = prediction["result"][0]
    assert first["id"] == "b0" and first["type"] == "rectanglelabels" and first["score"] == pytest.approx(0.9)
    assert (first["original_width"], first["original_height"]) == (200, 100)
    value = first["value"]  # percent of the image: box (10, 20, 50, 60) px in a 200 x 100 image
    assert [value[k] for k in ("x", "y", "width", "height")] == pytest.approx([5, 20, 20, 40])
    assert value["rectanglelabels"] == ["zebra"] and value["rotation"] == 0


def test_task_refuses_an_unreadable_image():
    with pytest.raises(ValueError, match="unreadable"):
        ls_task(ImageRecord.unreadable("x.jpg", "truncated"), image_url="u", model_version="m")


def test_local_files_url(tmp_path):
    url = local_files_url(tmp_path / "pool" / "sub dir" / "a+b.jpg", tmp_path)
    assert url == "/data/local-files/?d=pool/sub%20dir/a%2Bb.jpg"
    with pytest.raises(ValueError, match="document root") as err:
        local_files_url("/elsewhere/a.jpg", tmp_path)
    assert "/elsewhere/a.jpg" in str(err.value) and str(tmp_path) in str(err.value)


# --------------------------------------------------------------------------------------------- JSON import


@given(
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
    corners=st.lists(st.tuples(*[st.floats(0, 1)] * 4), max_size=5),
)
def test_round_trip_gives_the_same_pixel_boxes(tmp_path_factory, width, height, corners):
    boxes = [
        [min(a, b) * width, min(c, d) * height, max(a, b) * width, max(c, d) * height]
        for a, b, c, d in corners
    ]
    rec = record(boxes=boxes, classes=[i % 3 for i in range(len(boxes))], width=width, height=height)
    task = ls_task(rec, image_url="/data/upload/1/x.jpg", model_version="m")
    path = write(tmp_path_factory.mktemp("ls"), [annotated(task)])
    (reviewed,), report = read_label_studio_json(path, names=NAMES)
    assert reviewed.image == "sub/a.jpg" and reviewed.labels == rec.labels
    np.testing.assert_allclose(reviewed.xyxy, rec.detections.xyxy, atol=0.5)
    assert (reviewed.width, reviewed.height) == (width, height)
    assert reviewed.changed is False and reviewed.shown_labels == rec.labels
    assert report.unlabeled == [] and report.conflicts == []


def test_reviewed_entry_carries_review_facts(tmp_path):
    task = annotated(ls_task(record(), image_url="u", model_version="m"), task_id=5)
    (reviewed,), report = read_label_studio_json(write(tmp_path, [task]), names=NAMES)
    assert reviewed.lead_time == 12.5 and report.n_entries == 1
    assert reviewed.extra["annotator"] == 7 and reviewed.extra["task_id"] == 5
    assert reviewed.extra["annotation_id"] == 105 and "task 5" in reviewed.source


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r[0]["value"].update(x=r[0]["value"]["x"] + 1.0),  # 2 px in a 200 px wide image
        lambda r: r[0]["value"].update(rectanglelabels=["apple"]),
        lambda r: r.pop(),
        lambda r: r.append(copy.deepcopy(r[0])),
    ],
)
def test_changed_when_the_reviewer_edited_the_prediction(tmp_path, edit):
    task = ls_task(record(), image_url="u", model_version="m")
    result = copy.deepcopy(task["predictions"][0]["result"])
    edit(result)
    (reviewed,), _ = read_label_studio_json(write(tmp_path, [annotated(task, result=result)]), names=NAMES)
    assert reviewed.changed is True
    assert reviewed.shown_xyxy is not None and len(reviewed.shown_labels) == 2


def test_small_moves_and_reordering_are_unchanged(tmp_path):
    task = ls_task(record(), image_url="u", model_version="m")
    result = copy.deepcopy(task["predictions"][0]["result"])[::-1]
    result[0]["value"]["x"] += 0.2  # 0.4 px
    (reviewed,), _ = read_label_studio_json(write(tmp_path, [annotated(task, result=result)]), names=NAMES)
    assert reviewed.changed is False


def test_region_ids_link_saved_boxes_to_the_regions_shown(tmp_path):
    task = ls_task(record(), image_url="u", model_version="m")
    result = copy.deepcopy(task["predictions"][0]["result"])
    result[0]["id"] = "b0#105"  # the frontend may suffix the annotation's id; the region is still b0
    result[1]["value"]["rectanglelabels"] = ["zebra"]
    drawn = {**copy.deepcopy(result[0]), "id": "Xk3_9aQ"}
    (reviewed,), _ = read_label_studio_json(
        write(tmp_path, [annotated(task, result=[*result, drawn])]), names=NAMES
    )
    assert reviewed.shown_ids == ("b0", "b1") and reviewed.ids == ("b0", "b1", "Xk3_9aQ")
    no_ids = [{k: v for k, v in r.items() if k != "id"} for r in result]
    (reviewed,), _ = read_label_studio_json(write(tmp_path, [annotated(task, result=no_ids)]), names=NAMES)
    assert reviewed.ids == (None, None)


def test_changed_is_unknown_without_a_prediction_snapshot(tmp_path):
    task = annotated(ls_task(record(), image_url="u", model_version="m"), prediction={})
    (reviewed,), _ = read_label_studio_json(write(tmp_path, [task]), names=NAMES)
    assert reviewed.changed is None and reviewed.shown_xyxy is None and len(reviewed) == 2


def test_unlabeled_and_cancelled_tasks_are_skipped_not_empty(tmp_path):
    task = ls_task(record(), image_url="u", model_version="m")
    never = {**annotated(task, task_id=1), "annotations": []}
    never["data"] = {**task["data"], "autolabel_image": "never.jpg"}
    skipped = annotated(task, task_id=2, was_cancelled=True)
    skipped["data"] = {**task["data"], "autolabel_image": "skipped.jpg"}
    empty = annotated(task, task_id=3, result=[])
    reviewed, report = read_label_studio_json(write(tmp_path, [never, skipped, empty]), names=NAMES)
    assert report.unlabeled == ["never.jpg", "skipped.jpg"] and report.n_entries == 3
    assert [(r.image, len(r), r.changed) for r in reviewed] == [("sub/a.jpg", 0, True)]


def test_several_annotations_take_ground_truth_else_the_latest(tmp_path):
    task = annotated(ls_task(record(), image_url="u", model_version="m"))
    first = task["annotations"][0]
    later = {**first, "id": 2, "result": [], "updated_at": "2026-02-01T00:00:00Z"}
    cancelled = {**first, "id": 3, "result": [], "updated_at": "2027-01-01T00:00:00Z", "was_cancelled": True}
    task["annotations"] = [first, later, cancelled]
    (reviewed,), report = read_label_studio_json(write(tmp_path, [task]), names=NAMES)
    assert reviewed.extra["annotation_id"] == 2 and reviewed.extra["n_annotations"] == 2
    assert report.conflicts == ["sub/a.jpg: 2 annotations, took 2 (latest)"]
    task["annotations"] = [{**first, "ground_truth": True}, later]
    (reviewed,), report = read_label_studio_json(write(tmp_path, [task]), names=NAMES)
    assert reviewed.extra["annotation_id"] == 101 and "ground truth" in report.conflicts[0]


def test_rotated_box_becomes_its_bounding_box(tmp_path):
    task = ls_task(record(boxes=[[20, 20, 40, 40]], classes=[1]), image_url="u", model_version="m")
    result = copy.deepcopy(task["predictions"][0]["result"])
    result[0]["value"]["rotation"] = 90  # clockwise about the top-left corner (20, 20)
    (reviewed,), report = read_label_studio_json(
        write(tmp_path, [annotated(task, result=result)]), names=NAMES
    )
    np.testing.assert_allclose(reviewed.xyxy, [[0, 20, 20, 40]], atol=1e-9)
    assert report.rotated == 1 and reviewed.extra["rotated_boxes"] == 1 and reviewed.changed is True


def test_other_region_types_are_ignored_and_counted(tmp_path):
    task = ls_task(record(), image_url="u", model_version="m")
    result = copy.deepcopy(task["predictions"][0]["result"])
    result.append({"id": "p", "type": "polygonlabels", "value": {"points": [[1, 1], [2, 2], [1, 2]]}})
    (reviewed,), report = read_label_studio_json(
        write(tmp_path, [annotated(task, result=result)]), names=NAMES
    )
    assert len(reviewed) == 2 and report.ignored_regions == 1 and reviewed.changed is False


def test_key_from_the_url_when_the_task_did_not_come_from_us(tmp_path):
    task = annotated(ls_task(record(), image_url="u", model_version="m"))
    local, upload = copy.deepcopy(task), copy.deepcopy(task)
    local["data"] = {"image": local_files_url(tmp_path / "pool" / "s d" / "a+b.jpg", tmp_path)}
    upload["data"] = {"image": "/data/upload/3/8f3a2b1c-a%20b.jpg"}
    reviewed, report = read_label_studio_json(write(tmp_path, [local, upload]), names=NAMES)
    assert [r.image for r in reviewed] == ["pool/s d/a+b.jpg", "8f3a2b1c-a b.jpg"]


def test_duplicate_images_are_reported(tmp_path):
    task = annotated(ls_task(record(), image_url="u", model_version="m"))
    reviewed, report = read_label_studio_json(write(tmp_path, [task, task]), names=NAMES)
    assert len(reviewed) == 2 and report.duplicates == ["sub/a.jpg"]


def test_size_from_sizes_when_regions_have_none(tmp_path):
    task = annotated(ls_task(record(), image_url="u", model_version="m"))
    for region in task["annotations"][0]["result"]:
        del region["original_width"], region["original_height"]
    del task["data"]["width"], task["data"]["height"]
    path = write(tmp_path, [task])
    with pytest.raises(ExportError, match=r"task 1, annotation 101, region b0: no original_width"):
        read_label_studio_json(path, names=NAMES)
    (reviewed,), _ = read_label_studio_json(path, names=NAMES, sizes={"sub/a.jpg": (200, 100)})
    np.testing.assert_allclose(reviewed.xyxy, record().detections.xyxy, atol=0.5)


def test_unknown_class_names_are_an_error_naming_them(tmp_path):
    task = annotated(ls_task(record(), image_url="u", model_version="m"))
    path = write(tmp_path, [task])
    with pytest.raises(ExportError, match=r"\['zebra'\].*another project") as err:
        read_label_studio_json(path, names=["apple", "pear"])
    assert str(path) in str(err.value) and "'pear'" in str(err.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[{", "cannot read"),
        ('{"a": 1}', "list of tasks, got dict"),
        ('[{"id": 4, "annotations": []}]', "task 4: not a task with a 'data' object"),
        ('[{"id": 4, "data": {}, "annotations": []}]', "task 4: data has neither"),
        ('[{"id": 4, "data": {"image": "u"}, "annotations": {}}]', "task 4: 'annotations' must be"),
    ],
)
def test_malformed_exports_name_the_file_and_task(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ExportError, match=message) as err:
        read_label_studio_json(path, names=NAMES)
    assert str(path) in str(err.value)


def test_region_with_two_labels_is_an_error(tmp_path):
    task = ls_task(record(), image_url="u", model_version="m")
    result = copy.deepcopy(task["predictions"][0]["result"])
    result[1]["value"]["rectanglelabels"] = ["zebra", "apple"]
    with pytest.raises(ExportError, match="region b1: needs exactly one label"):
        read_label_studio_json(write(tmp_path, [annotated(task, result=result)]), names=NAMES)


# --------------------------------------------------------------------------------------------- YOLO import


def yolo_export(tmp_path: Path, labels: dict[str, str], *, images=("a.png", "b.png", "c.png")) -> Path:
    """A Label Studio YOLO export: classes numbered alphabetically (apple=0, zebra=1), not config order."""
    folder = tmp_path / "yolo"
    (folder / "labels").mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "classes.txt").write_text("apple\nzebra\n")
    for name in images:
        Image.new("RGB", (200, 100)).save(folder / "images" / name)
    for stem, text in labels.items():
        (folder / "labels" / f"{stem}.txt").write_text(text)
    return folder


def test_yolo_maps_classes_by_name_and_skips_empty_files(tmp_path):
    folder = yolo_export(tmp_path, {"a": "1 0.25 0.5 0.1 0.2\n0 0.5 0.5 1 1\n", "b": ""})
    reviewed, report = read_label_studio_yolo(folder, names=NAMES)
    (a,) = reviewed
    assert a.image == "a.png" and a.labels == ("zebra", "apple") and (a.width, a.height) == (200, 100)
    np.testing.assert_allclose(a.xyxy, [[40, 40, 60, 60], [0, 0, 200, 100]], atol=1e-3)
    assert report.unlabeled == ["b.png", "c.png"]  # an empty file, and an image without a file
    reviewed, report = read_label_studio_yolo(folder, names=NAMES, empty_means_no_objects=True)
    assert [(r.image, len(r)) for r in reviewed] == [("a.png", 2), ("b.png", 0)]
    assert report.unlabeled == ["c.png"]


def test_yolo_prefers_notes_json_ids(tmp_path):
    folder = yolo_export(tmp_path, {"a": "5 0.5 0.5 0.2 0.2\n"})
    notes = {"categories": [{"id": 5, "name": "zebra"}, {"id": 0, "name": "apple"}]}
    (folder / "notes.json").write_text(json.dumps(notes))
    (a,), _ = read_label_studio_yolo(folder, names=NAMES)
    assert a.labels == ("zebra",)


def test_yolo_sizes_when_images_are_missing(tmp_path):
    folder = yolo_export(tmp_path, {"a": "0 0.5 0.5 0.5 0.5\n"}, images=())
    with pytest.raises(ExportError, match=r"a\.txt: no image a\.\* in .* and no size"):
        read_label_studio_yolo(folder, names=NAMES)
    (a,), _ = read_label_studio_yolo(folder, names=NAMES, sizes={"pool/a.jpg": (40, 20)})
    assert a.image == "pool/a.jpg"
    np.testing.assert_allclose(a.xyxy, [[10, 5, 30, 15]], atol=1e-3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0 0.5 0.5\n", r"a\.txt:1: expected 5 fields"),
        ("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n", r"a\.txt:2"),
    ],
)
def test_yolo_bad_lines_name_the_file_and_line(tmp_path, text, message):
    with pytest.raises(ExportError, match=message):
        read_label_studio_yolo(yolo_export(tmp_path, {"a": text}), names=NAMES)


def test_yolo_unknown_class_and_missing_class_list(tmp_path):
    folder = yolo_export(tmp_path, {"a": "1 0.5 0.5 0.1 0.1\n"})
    with pytest.raises(ExportError, match=r"\['zebra'\].*another project"):
        read_label_studio_yolo(folder, names=["apple"])
    (folder / "classes.txt").unlink()
    with pytest.raises(ExportError, match="neither classes.txt nor notes.json"):
        read_label_studio_yolo(folder, names=NAMES)
    with pytest.raises(ExportError, match="no labels/ folder"):
        read_label_studio_yolo(tmp_path, names=NAMES)


# ------------------------------------------------------------------------ a real export (Label Studio 1.23.2)

needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="no Label Studio sample in tests/data")


@needs_sample
def test_real_json_export():
    reviewed, report = read_label_studio_json(SAMPLE / "export_min.json", names=("square", "disc"))
    (img0,) = reviewed
    assert img0.image == "tmp/ls-fixture/images/img0.png" and img0.labels == ("square", "disc")
    np.testing.assert_allclose(img0.xyxy, [[4, 4, 20, 20], [22, 6, 37.28, 20]], atol=1e-6)
    np.testing.assert_allclose(img0.shown_xyxy, [[4, 4, 20, 20], [22, 6, 36, 20]], atol=1e-6)
    assert img0.changed is True and img0.lead_time == 7.25 and (img0.width, img0.height) == (64, 48)
    assert report.unlabeled == ["tmp/ls-fixture/images/img1.png"] and report.conflicts == []


@needs_sample
def test_real_yolo_export_agrees_with_the_json_export():
    sizes = {f"img{i}.png": (64, 48) for i in range(3)}  # the export came without its images
    reviewed, report = read_label_studio_yolo(SAMPLE / "yolo_export", names=("square", "disc"), sizes=sizes)
    img0 = next(r for r in reviewed if r.image == "img0.png")
    (from_json,), _ = read_label_studio_json(SAMPLE / "export_min.json", names=("square", "disc"))
    assert img0.labels == from_json.labels  # classes.txt numbers disc 0, square 1: mapped by name
    np.testing.assert_allclose(img0.xyxy, from_json.xyxy, atol=1e-3)
    assert report.unlabeled == ["img1.png"]  # LS wrote an empty file for the unlabeled task
