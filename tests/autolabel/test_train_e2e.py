"""The train app end to end on a tiny demo set (network blocked), then the label CLI on its pool."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autolabel.data.split import read_manifest
from autolabel.records import read_folder_records

pytestmark = pytest.mark.slow

BLOCKED_RUN = """
import runpy, socket, sys
def refuse(*a, **k):
    raise OSError("network blocked: %r" % (a[:2],))
socket.socket.connect = refuse
socket.getaddrinfo = refuse
socket.create_connection = refuse
sys.argv = ["autolabel.label"] + sys.argv[1:]
runpy.run_module("autolabel.label", run_name="__main__")
"""


def test_train_run_writes_weights_card_manifest_and_pool_labels(trained_run, demo_spec):
    run_dir, card, attempts = trained_run
    assert attempts == [], f"network was used: {attempts}"
    for name in (
        "weights.pt",
        "model_card.json",
        "model_card.md",
        "manifest.csv",
        "data/data.yaml",
        "calibration.json",
    ):
        assert (run_dir / name).is_file(), name
    split = read_manifest(run_dir / "manifest.csv")
    assert split.sizes() == {"val": 12, "gt1": 16, "pool": 20}

    saved = json.loads((run_dir / "model_card.json").read_text())
    ev = saved["evaluation"]
    assert ev["n_images"] == 12 and saved["training"]["n_images"] == 16
    assert saved["training"]["n_boxes"] == sum(saved["training"]["per_class_boxes"].values()) > 0
    assert [row["class"] for row in ev["per_class"]] == list(demo_spec.names)
    for row in ev["per_class"]:
        assert {"precision", "recall", "ap50", "ap50_95", "boost", "n_truth"} <= set(row)
    assert ev["boost"] is not None and ev["boost"] > 0
    assert 0 < ev["operating_threshold"] < 1
    assert set(saved["stage_seconds"]) == {"data", "train", "evaluate", "calibrate", "label_pool"}
    assert saved["uncertainty"]["split"] == "VAL" and "reason" in saved["uncertainty"]["calibration"]
    two = ev["two_level"]  # the boost both ways, at the same operating threshold
    assert two["threshold"] == ev["operating_threshold"] and two["t_high"] >= two["threshold"]
    assert two["boost_one_level"] == pytest.approx(ev["boost"]) and two["boost"] >= ev["boost"]
    assert two["labels"] + two["suggestions"] == ev["counts"]["n_pred"]
    md = (run_dir / "model_card.md").read_text()
    assert "expected efficiency boost" in md and "air-hole" in md and "## Two-level auto-labels" in md

    pool = run_dir / "pool_labels"
    records = read_folder_records(pool)
    assert len(records) == 20 and saved["pool_labels"]["images"] == 20
    for r in records:
        assert (pool / "labels" / Path(r.image).with_suffix(".txt")).is_file()
        assert r.scored and r.difficulty is not None
        assert r.failed == (r.n_boxes == 0)
        assert r.difficulty in {"easy", "medium", "hard", "failed"} and (r.difficulty == "failed") == r.failed
        det = r.detections_for(6)
        assert np.all(det.conf >= ev["operating_threshold"] - 1e-6)
        assert det.probs.shape == (r.n_boxes, 6) and np.array_equal(det.conf, det.probs.max(1))
    assert json.loads((pool / "annotations.coco.json").read_text())["categories"][0]["name"] == "bite-edge"
    assert (pool / "images.csv").read_text().splitlines()[0].startswith("image,")
    assert (pool / "score_histogram.png").stat().st_size > 1000


def test_the_dataset_is_never_written_to(trained_run, demo_spec):
    labels = Path(demo_spec.root) / "labels"
    assert not list(labels.rglob("*.cache")) and not list(Path(demo_spec.root).glob("*.cache"))
    assert all(p.suffix == ".txt" for p in labels.iterdir())


def label_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_label_cli_offline_resumes_and_refuses_human_labels(trained_run, demo_spec, tmp_path):
    run_dir, _, _ = trained_run
    source = Path(demo_spec.root) / "images"
    args = [
        f"weights={run_dir / 'weights.pt'}",
        f"source={source}",
        f"output={tmp_path / 'auto'}",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'hydra'}",
    ]
    first = label_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["images"] == 48 and summary["labeled_now"] == 48
    again = label_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["labeled_now"] == 0

    refused = label_cli(
        *args[:2],
        f"output={Path(demo_spec.root) / 'labels'}",
        f"hydra.run.dir={tmp_path / 'h2'}",
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    assert "error:" in refused.stderr and "human label folder" in refused.stderr


def test_label_cli_refuses_to_resume_with_another_calibration(trained_run, demo_spec, tmp_path):
    """Kill a label job, then remove or replace a file beside the weights that decides its records:
    the rerun ends with one line naming the file, writes nothing, and resumes once the file is back."""
    run_dir, _, _ = trained_run
    model = tmp_path / "model"
    model.mkdir()
    files = ["weights.pt", "model_card.json", "calibration.json", "error_model.joblib"]
    for name in files:
        if (run_dir / name).is_file():
            (model / name).write_bytes((run_dir / name).read_bytes())
    source = tmp_path / "source"
    source.mkdir()
    for image in sorted((Path(demo_spec.root) / "images").iterdir())[:6]:
        (source / image.name).write_bytes(image.read_bytes())
    out = tmp_path / "auto"
    args = [f"weights={model / 'weights.pt'}", f"source={source}", f"output={out}", "batch=2"]
    args += ["progress=false", f"hydra.run.dir={tmp_path / 'hydra'}"]
    first = label_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    log = out / "predictions.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:2]))  # killed after 2 images
    marker = json.loads((out / "autolabel_job.json").read_text())
    assert set(marker["calibration_files"]) == {
        str(model / "calibration.json"),
        str(model / "error_model.joblib"),
    }

    kept = {name: (model / name).read_bytes() for name in files if (model / name).is_file()}
    card = json.loads(kept["model_card.json"])
    card["evaluation"]["operating_threshold"] = round(card["evaluation"]["operating_threshold"] + 0.05, 4)
    changes = {
        "calibration.json": lambda: (model / "calibration.json").unlink(),
        "model_card.json": lambda: (model / "model_card.json").write_text(json.dumps(card)),
    }
    for name, change in changes.items():
        change()
        refused = label_cli(*args, cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr[-2000:]
        errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and name in errors[0] and "Traceback" not in refused.stderr, refused.stderr
        assert len(log.read_text().splitlines()) == 2
        for saved, data in kept.items():
            (model / saved).write_bytes(data)
    resumed = label_cli(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["resumed_from"] == 2 and summary["labeled_now"] == 4


def test_evaluate_cli_writes_per_method_figures(trained_run, demo_smoke, tmp_path):
    run_dir, _, _ = trained_run
    args = [
        f"weights={run_dir / 'weights.pt'}",
        *[o for o in demo_smoke if o.split("=")[0].split(".")[0] in ("experiment", "data", "split")],
        "threshold=0.0002",  # the 3-epoch model keeps boxes only at a very low confidence
        "uncertainty.mc.passes=4",
        "tta=true",
        f"hydra.run.dir={tmp_path / 'eval'}",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "uncertainty.evaluate", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "eval" / "uncertainty_eval.json").read_text())
    assert result["n_images"] == 20 and result["evaluated_on"] == "pool"
    assert {"mc", "random", "single_entropy", "one_minus_conf", "mutual_information"} <= set(
        result["methods"]
    )
    for figures in result["methods"].values():
        assert {"auroc", "average_precision", "ece", "bands", "hard_over_easy"} <= set(figures)
    assert "AUROC" in done.stdout
    # tta=true: the flip-TTA measures beside the others, and the error model refitted with them
    assert result["tta"] is True
    assert {"tta_doubt", "tta_disagreement", "one_minus_conf"} <= set(result["boxes"]["auroc"])
    assert {"tta_miss_evidence", "tta_found", "tta_both_evidence"} <= set(result["misses"]["spearman"])
    assert {"error_model_tta_correction", "error_model_single_pass_tta_correction"} <= set(result["methods"])


def test_label_cli_two_level_splits_labels_and_suggestions_at_the_cards_t_high(
    trained_run, demo_spec, tmp_path
):
    run_dir, _, _ = trained_run
    source = tmp_path / "source"
    source.mkdir()
    for image in sorted((Path(demo_spec.root) / "images").iterdir())[:8]:
        (source / image.name).write_bytes(image.read_bytes())
    card = json.loads((run_dir / "model_card.json").read_text())["evaluation"]
    t_high, conf = card["two_level"]["t_high"], card["operating_threshold"]
    out = tmp_path / "auto"
    args = [f"weights={run_dir / 'weights.pt'}", f"source={source}", f"output={out}", "progress=false"]
    done = label_cli(*args, "two_level=true", f"hydra.run.dir={tmp_path / 'hydra'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    records = read_folder_records(out)
    doubtful = sum(int((r.detections.conf < t_high).sum()) for r in records if r.ok and r.n_boxes)
    assert summary["t_high"] == t_high and summary["suggestions"] == doubtful
    for r in records:
        labels = (out / r.label_file).read_text().splitlines()
        assert len(labels) == r.n_boxes - (int((r.detections.conf < t_high).sum()) if r.n_boxes else 0)
    below = label_cli(*args, f"two_level={conf / 2}", f"output={tmp_path / 'other'}", cwd=tmp_path)
    assert below.returncode == 2 and "two_level=" in below.stderr and "[conf, 1]" in below.stderr
