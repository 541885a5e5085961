"""Label file names are unique per image and stable, and a label file a person edited is never replaced."""

import logging

import cv2
import numpy as np
import pytest

from autolabel.job.label_files import LEDGER, assign_names, legacy_name
from autolabel.job.runner import run_label_job
from autolabel.records import read_jsonl, read_records
from autolabel.structures import Detections

NAMES = ("dark", "bright")


def write_image(path, value):
    """A 40x60 image of one gray ``value``; the fake detector's class is 1 for bright images, else 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((40, 60, 3), value, np.uint8))
    return path


def predict(images, keys):
    out = []
    for im in images:
        cls = int(im[0, 0, 0] > 127)
        probs = np.array([[0.9, 0.1] if cls == 0 else [0.1, 0.9]], np.float32)
        out.append((Detections([[6, 4, 30, 20]], probs.max(1), probs.argmax(1), probs), {}))
    return out


def label(src, out):
    meta = {"weights": "w.pt", "source": str(src), "names": list(NAMES), "conf": 0.25, "iou": 0.7}
    return run_label_job(predict=predict, names=NAMES, source=src, output=out, meta=meta, progress=False)


def label_class(path):
    return int(path.read_text().split()[0])


def test_common_case_keeps_ultralytics_names():
    names = assign_names(["a.jpg", "sub/b.png"], taken={})
    assert names == {"a.jpg": "labels/a.txt", "sub/b.png": "labels/sub/b.txt"}


def test_colliding_stems_get_distinct_names_whatever_the_case():
    keys = ["x.jpg", "x.png", "X.bmp", "x.png.jpg", "sub/x.jpg"]
    names = assign_names(keys, taken={})
    assert names["x.jpg"] == "labels/x.txt" and names["sub/x.jpg"] == "labels/sub/x.txt"
    assert names["x.png"] == "labels/x.png.txt" and names["X.bmp"] == "labels/X.bmp.txt"
    # x.png.jpg's stem is x.png, whose name x.png.txt is taken: its own full name comes next
    assert names["x.png.jpg"] == "labels/x.png.jpg.txt"
    assert len({n.casefold() for n in names.values()}) == len(keys)


def test_given_names_are_kept_and_reserved():
    names = assign_names(["x.jpg", "x.png"], taken={"x.png": "labels/x.txt"})
    assert names == {"x.png": "labels/x.txt", "x.jpg": "labels/x.jpg.txt"}
    assert legacy_name("sub/x.jpg") == "labels/sub/x.txt"


def test_same_stem_images_in_one_folder_keep_their_own_labels(tmp_path):
    src = tmp_path / "pool"
    write_image(src / "x.jpg", 10)  # class 0
    write_image(src / "x.png", 250)  # class 1
    label(src, tmp_path / "out")
    labels = tmp_path / "out" / "labels"
    assert sorted(p.name for p in labels.iterdir()) == ["x.png.txt", "x.txt"]
    assert label_class(labels / "x.txt") == 0 and label_class(labels / "x.png.txt") == 1
    records = {r.image: r for r in read_records(tmp_path / "out" / "predictions.jsonl")}
    assert records["x.jpg"].label_file == "labels/x.txt"
    assert records["x.png"].label_file == "labels/x.png.txt"


def test_a_label_file_name_does_not_change_when_a_same_stem_image_arrives(tmp_path):
    src, out = tmp_path / "pool", tmp_path / "out"
    write_image(src / "x.png", 250)
    label(src, out)
    write_image(src / "x.jpg", 10)  # sorts before x.png, yet x.png keeps the name it was given
    summary = label(src, out)
    assert summary["labeled_now"] == 1
    assert label_class(out / "labels" / "x.txt") == 1
    assert label_class(out / "labels" / "x.jpg.txt") == 0


def test_a_corrected_label_file_survives_a_same_stem_image_added_later(tmp_path):
    src, out = tmp_path / "pool", tmp_path / "out"
    write_image(src / "x.jpg", 10)
    label(src, out)
    corrected = "1 0.5 0.5 0.2 0.2\n"
    (out / "labels" / "x.txt").write_text(corrected)  # a person fixed the class
    write_image(src / "x.png", 10)
    label(src, out)
    assert (out / "labels" / "x.txt").read_text() == corrected
    assert (out / "labels" / "x.png.txt").is_file()


def test_a_person_s_file_at_a_label_name_is_kept_and_reported(tmp_path, caplog):
    src, out = tmp_path / "pool", tmp_path / "out"
    write_image(src / "a.png", 10)
    label(src, out)
    write_image(src / "b.png", 10)
    mine = "1 0.25 0.25 0.1 0.1\n"
    (out / "labels" / "b.txt").write_text(mine)  # labeled by hand before the job reached b.png
    with caplog.at_level(logging.WARNING, logger="autolabel.job.runner"):
        summary = label(src, out)
    assert (out / "labels" / "b.txt").read_text() == mine
    assert summary["label_files_kept"] == ["labels/b.txt"]
    assert "labels/b.txt" in caplog.text and "kept" in caplog.text
    # the auto-labels of b.png are still recorded, and a later run keeps the file too
    assert {r.image for r in read_records(out / "predictions.jsonl")} == {"a.png", "b.png"}
    assert label(src, out)["labeled_now"] == 0 and (out / "labels" / "b.txt").read_text() == mine


def test_a_batch_redone_after_a_kill_rewrites_its_own_label_files(tmp_path):
    src, out = tmp_path / "pool", tmp_path / "out"
    for i in range(3):
        write_image(src / f"im{i}.png", 10)
    label(src, out)
    # a kill after the label files and ledger lines, before the records: cut the last record off
    log = out / "predictions.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:2]))
    summary = label(src, out)
    assert summary["labeled_now"] == 1 and summary["label_files_kept"] == []
    assert len(read_jsonl(out / LEDGER)) == 4  # the redone image: a second line


def test_an_old_folder_without_ledger_keeps_its_names(tmp_path):
    src, out = tmp_path / "pool", tmp_path / "out"
    write_image(src / "x.png", 250)
    label(src, out)
    (out / LEDGER).unlink()  # as written by a version without a ledger
    write_image(src / "x.jpg", 10)
    label(src, out)
    assert label_class(out / "labels" / "x.txt") == 1 and label_class(out / "labels" / "x.jpg.txt") == 0


@pytest.mark.parametrize("edit", ["change", "empty"])
def test_edited_files_are_told_apart_from_the_job_s_own(tmp_path, edit):
    src, out = tmp_path / "pool", tmp_path / "out"
    write_image(src / "a.png", 10)
    label(src, out)
    log = out / "predictions.jsonl"
    log.write_text("")  # the record lost: a rerun redoes a.png and finds its label file there
    path = out / "labels" / "a.txt"
    path.write_text("0 0.5 0.5 0.3 0.3\n" if edit == "change" else "")
    before = path.read_text()
    assert label(src, out)["label_files_kept"] == ["labels/a.txt"]
    assert path.read_text() == before
