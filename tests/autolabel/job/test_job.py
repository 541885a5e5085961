import errno
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from autolabel.formats.coco import read_coco
from autolabel.formats.yolo import read_yolo_labels
from autolabel.job.runner import JobError, run_label_job
from autolabel.records import PREDICTIONS, RecordWriter, read_folder_records, read_records
from autolabel.structures import Detections
from tests.autolabel.job.odd_inputs import UNREADABLE, make_odd_source

NAMES = ("scratch", "hole")


def make_images(folder, n, *, corrupt=()):
    folder.mkdir(parents=True)
    for i in range(n):
        path = folder / f"img{i:02d}.png"
        if i in corrupt:
            path.write_bytes(b"not an image")
        else:
            cv2.imwrite(str(path), np.full((40, 60, 3), 10 * i, np.uint8))
    return folder


class FakeDetector:
    """One box per image whose class depends on the image's brightness; counts calls per image."""

    def __init__(self, fail_after_batches=None):
        self.calls = 0
        self.seen = []
        self.fail_after = fail_after_batches

    def __call__(self, images, keys):
        assert len(keys) == len(images)
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        out = []
        for im in images:
            self.seen.append(int(im[0, 0, 0]))
            p = 0.9 if im[0, 0, 0] % 20 == 0 else 0.6
            probs = np.array([[p, 1 - p]], np.float32)
            fields = {
                "score": 1 - p,
                "components": {"one_minus_conf": 1 - p},
                "n_candidates": 1,
                "failed": False,
            }
            out.append((Detections([[5, 5, 30, 20]], probs.max(1), probs.argmax(1), probs), fields))
        return out


def job_meta(src, **extra):
    """The settings a test job records (the label app's keys, fixed values), plus ``extra``."""
    return {
        "weights": "w.pt",
        "source": str(src),
        "names": list(NAMES),
        "conf": 0.25,
        "iou": 0.7,
        "imgsz": 64,
        **extra,
    }


def run(src, out, predict, **kw):
    meta = job_meta(src)
    return run_label_job(
        predict=predict, names=NAMES, source=src, output=out, meta=meta, batch=4, progress=False, **kw
    )


def test_writes_yolo_coco_and_jsonl_with_probs(tmp_path):
    src = make_images(tmp_path / "pool", 6)
    summary = run(src, tmp_path / "out", FakeDetector())
    out = tmp_path / "out"
    assert summary["images"] == 6 and summary["boxes"] == 6 and summary["errors"] == 0
    records = read_folder_records(out)
    assert sorted(r.image for r in records) == [f"img{i:02d}.png" for i in range(6)]
    for r in records:
        # the uncertainty fields of the predict function land in the record
        assert r.scored and r.score == pytest.approx(1 - r.detections.conf[0], abs=1e-6)
        det = r.detections
        assert det.probs.shape == (1, 2) and det.conf[0] == det.probs[0].max()
        gt = read_yolo_labels(
            out / "labels" / r.image.replace(".png", ".txt"), num_classes=2, width=60, height=40
        )
        np.testing.assert_allclose(gt.xyxy[0], [5, 5, 30, 20], atol=1e-3)
        assert gt.cls[0] == det.cls[0]
    names, images = read_coco(out / "annotations.coco.json")
    assert names == list(NAMES) and len(images) == 6
    assert all(len(im.probs[0]) == 2 for im in images)
    assert (out / "classes.txt").read_text() == "scratch\nhole\n"
    table = (out / "images.csv").read_text().splitlines()
    assert table[0].split(",")[:5] == ["image", "width", "height", "n_boxes", "score"] and len(table) == 7


def test_corrupt_image_gets_an_error_record_and_the_job_goes_on(tmp_path):
    src = make_images(tmp_path / "pool", 5, corrupt={2})
    summary = run(src, tmp_path / "out", FakeDetector())
    records = {r.image: r for r in read_folder_records(tmp_path / "out")}
    assert "decode" in records["img02.png"].error
    assert summary["errors"] == 1 and summary["images"] == 5
    _, coco_images = read_coco(tmp_path / "out" / "annotations.coco.json")
    assert len(coco_images) == 4


def test_every_odd_file_is_one_record_and_the_job_goes_on(tmp_path):
    picture = tmp_path / "picture.png"
    cv2.imwrite(str(picture), np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8))
    src = make_odd_source(tmp_path / "odd", picture)
    summary = run(src, tmp_path / "out", FakeDetector())
    records = {r.image: r for r in read_folder_records(tmp_path / "out")}
    assert sorted(records) == sorted(p.name for p in src.iterdir())  # each file once, none lost
    assert summary["errors"] == len(UNREADABLE)
    for name, record in records.items():
        if name in UNREADABLE:
            assert UNREADABLE[name] in record.error and record.label_file is None, (name, record.error)
        else:
            assert record.ok and record.n_boxes == 1, (name, record.error)


def test_interrupted_job_resumes_without_relabeling(tmp_path):
    src = make_images(tmp_path / "pool", 10)
    first = FakeDetector(fail_after_batches=2)
    with pytest.raises(KeyboardInterrupt):
        run(src, tmp_path / "out", first)
    assert len(read_folder_records(tmp_path / "out")) == 8
    second = FakeDetector()
    summary = run(src, tmp_path / "out", second)
    assert summary["resumed_from"] == 8 and summary["labeled_now"] == 2
    assert sorted(first.seen + second.seen) == [10 * i for i in range(10)]  # each image once
    records = read_folder_records(tmp_path / "out")
    assert sorted(r.image for r in records) == [f"img{i:02d}.png" for i in range(10)]


def test_torn_write_is_redone_once(tmp_path):
    src = make_images(tmp_path / "pool", 4)
    run(src, tmp_path / "out", FakeDetector())
    log = tmp_path / "out" / PREDICTIONS
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:3]) + lines[3][:20])  # the last record torn mid-write
    again = FakeDetector()
    summary = run(src, tmp_path / "out", again)
    assert summary["labeled_now"] == 1 and len(again.seen) == 1
    assert len(read_records(log)) == 4


def test_disk_full_keeps_finished_work(tmp_path, monkeypatch):
    src = make_images(tmp_path / "pool", 8)
    real_append = RecordWriter.append
    calls = {"n": 0}

    def append(self, records):
        if self.path.name == "predictions.jsonl":
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, records)

    monkeypatch.setattr(RecordWriter, "append", append)
    with pytest.raises(JobError, match="disk full.*4 images.*kept"):
        run(src, tmp_path / "out", FakeDetector())
    monkeypatch.setattr(RecordWriter, "append", real_append)
    assert run(src, tmp_path / "out", FakeDetector())["labeled_now"] == 4


def test_refuses_a_dataset_label_folder(tmp_path):
    src = make_images(tmp_path / "ds" / "images", 2)
    (tmp_path / "ds" / "labels").mkdir()
    with pytest.raises(JobError, match="human label folder"):
        run(src, tmp_path / "ds" / "labels", FakeDetector())
    with pytest.raises(JobError, match="human label folder"):
        run(src, tmp_path / "ds" / "labels" / "auto", FakeDetector())


def test_refuses_a_folder_with_foreign_files(tmp_path):
    src = make_images(tmp_path / "pool", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img00.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(JobError, match="did not write"):
        run(src, out, FakeDetector())
    assert (out / "img00.txt").read_text() == "0 0.5 0.5 0.1 0.1\n"


def test_refuses_output_overlapping_source(tmp_path):
    src = make_images(tmp_path / "pool", 2)
    with pytest.raises(JobError, match="overlaps"):
        run(src, src / "auto", FakeDetector())
    with pytest.raises(JobError, match="overlaps"):
        run(src, tmp_path, FakeDetector())


def test_resume_with_other_settings_is_refused(tmp_path):
    src = make_images(tmp_path / "pool", 2)
    run(src, tmp_path / "out", FakeDetector())
    meta = json.loads((tmp_path / "out" / "autolabel_job.json").read_text())
    meta["conf"] = 0.5
    with pytest.raises(JobError, match="other settings.*conf"):
        run_label_job(
            predict=FakeDetector(),
            names=NAMES,
            source=src,
            output=tmp_path / "out",
            meta=meta,
            progress=False,
        )


def test_empty_or_missing_source_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(JobError, match="holds no images"):
        run(tmp_path / "empty", tmp_path / "out", FakeDetector())
    with pytest.raises(JobError, match="not a folder"):
        run(tmp_path / "missing", tmp_path / "out", FakeDetector())


def test_disk_full_counts_exactly_what_was_kept(tmp_path, monkeypatch):
    src = make_images(tmp_path / "pool", 8)
    real_append = RecordWriter.append

    def append(self, records):
        if self.path.name == "predictions.jsonl" and len(read_records(self.path)) == 4:
            real_append(self, records[:2])  # two lines of the batch reached the disk, then it filled up
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, records)

    monkeypatch.setattr(RecordWriter, "append", append)
    with pytest.raises(JobError, match="disk full") as full:
        run(src, tmp_path / "out", FakeDetector())
    kept = len(read_records(tmp_path / "out" / "predictions.jsonl"))
    assert kept == 6 and f"the {kept} images committed" in str(full.value)


@pytest.mark.parametrize("last", ["annotations.coco.json", "summary.json"])
def test_disk_full_in_the_last_exports_names_the_file(tmp_path, monkeypatch, last):
    import autolabel.job.exports
    import autolabel.job.runner

    src = make_images(tmp_path / "pool", 5)

    def fail_on_last(real):
        def write(path, *args):
            if Path(path).name == last:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(path, *args)

        return write

    runner = autolabel.job.runner
    monkeypatch.setattr(runner, "write_text_atomic", fail_on_last(runner.write_text_atomic))
    monkeypatch.setattr(autolabel.job.exports, "write_coco", fail_on_last(autolabel.job.exports.write_coco))
    with pytest.raises(JobError, match=f"disk full while writing .*{last}: the 5 images committed"):
        run(src, tmp_path / "out", FakeDetector())
    monkeypatch.undo()
    summary = run(src, tmp_path / "out", FakeDetector())  # space freed: the rerun finishes the exports
    assert summary["labeled_now"] == 0 and (tmp_path / "out" / last).is_file()


def test_unreadable_images_are_named_on_the_console(tmp_path, caplog):
    src = make_images(tmp_path / "pool", 9, corrupt={1, 2, 3, 4, 5, 7})
    with caplog.at_level("WARNING", logger="autolabel.job.runner"):
        summary = run(src, tmp_path / "out", FakeDetector())
    assert summary["errors"] == 6
    assert summary["unreadable"] == ["img01.png", "img02.png", "img03.png", "img04.png", "img05.png"]
    assert "6 image(s) could not be read" in caplog.text and "img01.png (cannot decode" in caplog.text
    assert "and 1 more" in caplog.text and "images.csv" in caplog.text


def test_weights_replaced_in_place_are_refused_on_resume(tmp_path):
    src = make_images(tmp_path / "pool", 4)
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"model one")
    meta = {"weights": str(weights), "source": str(src), "names": list(NAMES)}

    def label(predict):
        return run_label_job(
            predict=predict,
            names=NAMES,
            source=src,
            output=tmp_path / "out",
            meta=meta,
            batch=2,
            progress=False,
        )

    with pytest.raises(KeyboardInterrupt):
        label(FakeDetector(fail_after_batches=1))
    marker = json.loads((tmp_path / "out" / "autolabel_job.json").read_text())
    assert len(marker["weights_sha256"]) == 64
    weights.write_bytes(b"model two")  # same path, other model
    with pytest.raises(JobError, match="weights_sha256.*was replaced"):
        label(FakeDetector())
    weights.write_bytes(b"model one")
    assert label(FakeDetector())["labeled_now"] == 2


def test_a_folder_without_weights_hash_resumes_with_a_warning(tmp_path, caplog):
    src = make_images(tmp_path / "pool", 4)
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"model one")
    meta = {"weights": str(weights), "source": str(src), "names": list(NAMES)}
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_label_job(
            predict=FakeDetector(fail_after_batches=1),
            names=NAMES,
            source=src,
            output=out,
            meta=meta,
            batch=2,
        )
    marker = json.loads((out / "autolabel_job.json").read_text())
    del marker["weights_sha256"]  # as written by an older version
    (out / "autolabel_job.json").write_text(json.dumps(marker))
    with caplog.at_level("WARNING", logger="autolabel.job.runner"):
        summary = run_label_job(
            predict=FakeDetector(), names=NAMES, source=src, output=out, meta=meta, batch=2
        )
    assert summary["labeled_now"] == 2 and "does not record the sha256" in caplog.text
    assert "weights_sha256" in json.loads((out / "autolabel_job.json").read_text())


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda cal, err: cal.unlink(), r"calibration\.json was removed"),
        (lambda cal, err: err.write_bytes(b"another run's error model"), r"error_model\.joblib was replaced"),
        (lambda cal, err: err.unlink() or cal.write_text('{"other": 1}'), r"calibration\.json was replaced"),
    ],
)
def test_calibration_files_changed_between_kill_and_rerun_are_refused(tmp_path, change, words):
    src = make_images(tmp_path / "pool", 6)
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.pt").write_bytes(b"model one")
    cal, err = model / "calibration.json", model / "error_model.joblib"
    cal.write_text('{"levels": [0.3, 0.7]}')
    err.write_bytes(b"error model one")
    meta = {"weights": str(model / "w.pt"), "source": str(src), "names": list(NAMES)}
    meta["calibration_files"] = [str(cal), str(err)]
    out = tmp_path / "out"

    def label(predict):
        return run_label_job(predict=predict, names=NAMES, source=src, output=out, meta=meta, batch=2)

    with pytest.raises(KeyboardInterrupt):
        label(FakeDetector(fail_after_batches=1))
    recorded = json.loads((out / "autolabel_job.json").read_text())["calibration_files"]
    assert set(recorded) == {str(cal), str(err)} and all(len(h) == 64 for h in recorded.values())
    saved = {f: f.read_bytes() for f in (cal, err)}
    change(cal, err)
    with pytest.raises(JobError, match=words) as refused:
        label(FakeDetector())
    assert "\n" not in str(refused.value) and "restore the files as they were" in str(refused.value)
    assert len(read_folder_records(out)) == 2  # nothing written by the refused run
    for f, data in saved.items():
        f.write_bytes(data)
    assert label(FakeDetector())["labeled_now"] == 4


def test_a_calibration_added_after_the_kill_is_refused(tmp_path):
    src = make_images(tmp_path / "pool", 4)
    (tmp_path / "w.pt").write_bytes(b"model one")
    cal = tmp_path / "calibration.json"
    meta = {"weights": str(tmp_path / "w.pt"), "source": str(src), "names": list(NAMES)}
    meta["calibration_files"] = [str(cal)]
    kw = {"names": NAMES, "source": src, "output": tmp_path / "out", "meta": meta, "batch": 2}
    with pytest.raises(KeyboardInterrupt):
        run_label_job(predict=FakeDetector(fail_after_batches=1), **kw)
    cal.write_text("{}")  # records without bands, then with: refused
    with pytest.raises(JobError, match="calibration.json was added"):
        run_label_job(predict=FakeDetector(), **kw)


def test_a_folder_without_calibration_hashes_resumes_with_a_warning(tmp_path, caplog):
    src = make_images(tmp_path / "pool", 4)
    (tmp_path / "calibration.json").write_text("{}")
    meta = {"weights": "w.pt", "source": str(src), "names": list(NAMES)}
    meta["calibration_files"] = [str(tmp_path / "calibration.json")]
    kw = {"names": NAMES, "source": src, "output": tmp_path / "out", "batch": 2}
    with pytest.raises(KeyboardInterrupt):
        run_label_job(predict=FakeDetector(fail_after_batches=1), meta=meta, **kw)
    marker = json.loads((tmp_path / "out" / "autolabel_job.json").read_text())
    del marker["calibration_files"]  # as written by an older version
    (tmp_path / "out" / "autolabel_job.json").write_text(json.dumps(marker))
    with caplog.at_level("WARNING", logger="autolabel.job.runner"):
        assert run_label_job(predict=FakeDetector(), meta=meta, **kw)["labeled_now"] == 2
    assert "does not record calibration_files" in caplog.text


def test_a_folder_with_nothing_labeled_takes_corrected_settings(tmp_path):
    src = make_images(tmp_path / "pool", 2)
    out = tmp_path / "out"

    def broken(images, keys):
        raise ValueError("the first try failed before any image was committed")

    with pytest.raises(ValueError):
        run(src, out, broken)
    meta = json.loads((out / "autolabel_job.json").read_text())
    meta["conf"] = 0.5
    summary = run_label_job(predict=FakeDetector(), names=NAMES, source=src, output=out, meta=meta)
    assert summary["labeled_now"] == 2
    assert json.loads((out / "autolabel_job.json").read_text())["conf"] == 0.5


def test_a_read_only_output_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    src = make_images(tmp_path / "pool", 2)
    parent = tmp_path / "shared"
    parent.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the check see what a user would
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != parent and real_access(p, mode))
    else:
        parent.chmod(0o555)
    try:
        with pytest.raises(JobError, match=r"output=.*out: cannot write into .*shared \(read-only"):
            run(src, parent / "out", FakeDetector())
        assert not (parent / "out").exists()
    finally:
        parent.chmod(0o755)


def test_an_output_that_is_a_file_is_a_clear_error(tmp_path):
    src = make_images(tmp_path / "pool", 2)
    (tmp_path / "out").write_text("x")
    with pytest.raises(JobError, match="is a file, not a folder"):
        run(src, tmp_path / "out", FakeDetector())


class EmbeddingDetector(FakeDetector):
    """FakeDetector whose records also carry a 3-d embedding from the image's brightness."""

    def __call__(self, images, keys):
        out = super().__call__(images, keys)
        return [
            (det, {**fields, "embedding": np.array([im[0, 0, 0] / 255.0, 1.0, 0.0], np.float32)})
            for (det, fields), im in zip(out, images, strict=True)
        ]


def test_embeddings_are_committed_and_resumed_with_their_records_and_kept_out_of_the_table(tmp_path):
    src = make_images(tmp_path / "pool", 10)
    first = EmbeddingDetector(fail_after_batches=2)
    with pytest.raises(KeyboardInterrupt):
        run(src, tmp_path / "out", first)
    summary = run(src, tmp_path / "out", EmbeddingDetector())
    assert summary["resumed_from"] == 8 and summary["labeled_now"] == 2
    records = read_folder_records(tmp_path / "out")
    assert len(records) == 10
    for r in records:
        brightness = int(r.image[3:5]) * 10 / 255.0
        np.testing.assert_allclose(r.embedding, [brightness, 1.0, 0.0], atol=1e-3)
    header = (tmp_path / "out" / "images.csv").read_text().splitlines()[0].split(",")
    assert "embedding" not in header and "score" in header


def test_a_changed_nested_setting_is_named_by_its_leaves_with_the_way_back(tmp_path):
    """A folder labeled with MC dropout, resumed under the single-pass default: the refusal names the two
    changed keys and the overrides that resume it, not the whole uncertainty group."""
    from autolabel.job.resume import resume_refusal

    group = {"mc": {"passes": 10, "p": 0.1, "branches": ["box", "cls"]}, "scorer": {"weights": {"a": 1.0}}}
    now = {"mc": {"passes": 1, "p": 0.0, "branches": ["box", "cls"]}, "scorer": {"weights": {"a": 1.0}}}
    why = resume_refusal(tmp_path, {"uncertainty": group}, {"uncertainty": now})
    assert "uncertainty.mc.passes: 10 -> 1, uncertainty.mc.p: 0.1 -> 0.0" in why
    assert "(to resume: uncertainty.mc.passes=10 uncertainty.mc.p=0.1)" in why
    assert "scorer" not in why and "branches" not in why
    assert resume_refusal(tmp_path, {"uncertainty": group}, {"uncertainty": group}) is None
