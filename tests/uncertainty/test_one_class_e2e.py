"""A one-class dataset end to end (issue 11): train, calibrate, label the pool, evaluate the scores.

It used to die in the calibrate stage (the class scores needed C >= 2) and write no model card.
"""

import json
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from autolabel.pipeline import train_and_card
from autolabel.records import read_folder_records
from tests.conftest import CONF_DIR, block_network

pytestmark = pytest.mark.slow

ONE_CLASS = [
    "experiment=smoke",
    "data=shapes",
    "data.classes=[disc]",
    "data.n_images=48",
    "split.val=12",
    "split.gt1=24",
]


@pytest.fixture(scope="module")
def one_class_run(tmp_path_factory):
    """A tiny one-class model trained, calibrated and run on its pool (12 images), network blocked.

    20 epochs of 24 images (batch 4): enough for the discs (mAP50 about 0.99), about 25 s on 2 cores.
    """
    data = tmp_path_factory.mktemp("one_class") / "set"
    overrides = [*ONE_CLASS, f"data.root={data}", "trainer.epochs=20"]  # the default: single_pass
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    assert (cfg.uncertainty.mc.passes, cfg.uncertainty.mc.p) == (1, 0.0)  # the default: one plain pass
    run_dir = tmp_path_factory.mktemp("one_class_run")
    with block_network() as attempts:
        card = train_and_card(cfg, run_dir)
    assert attempts == []
    return run_dir, card, data


def test_train_calibrates_and_labels_the_pool(one_class_run):
    run_dir, card, _ = one_class_run
    for name in ("model_card.json", "model_card.md", "calibration.json", "error_model.joblib", "weights.pt"):
        assert (run_dir / name).is_file(), name
    assert card["model"]["classes"] == ["disc"]
    assert card["uncertainty"]["split"] == "VAL"
    fitted = card["uncertainty"]["error_model"]
    assert fitted["images"] == 12 and fitted["mc_features"] is False  # the default since issue 21
    assert card["evaluation"]["map50"] > 0.5  # it learned: the records below score real detections
    records = read_folder_records(run_dir / "pool_labels")
    assert len(records) == card["pool_labels"]["images"] == 12
    assert all(r.scored for r in records)
    found = [r for r in records if not r.failed]
    assert found, "the tiny model found nothing in the pool"
    for r in found:
        assert r.score is not None and r.difficulty in {"easy", "medium", "hard"}
        assert 0 <= r.components["bernoulli_entropy"] and r.components["bernoulli_mutual_information"] >= 0
        assert 0 <= r.components["label_doubt"] <= r.n_boxes  # sum-pooled over the kept boxes
        assert r.detections.probs.shape == (r.n_boxes, 1)
        # the default score is the learned error model's expected fix seconds; P(needs correction) rides along
        assert r.score == r.components["error_correction_seconds"] and r.score >= 0
        assert 0 <= r.components["error_p"] <= 1
        assert r.components["error_seconds"] >= 2.0 and r.components["error_missed"] >= 0
    md = (run_dir / "model_card.md").read_text()
    assert "Effort captured" in md and "errors left if accepted unreviewed" in md
    assert card["uncertainty"]["error_model"]["score"] == "correction_seconds"


def run_app(module: str, *overrides: str, cwd) -> subprocess.CompletedProcess:
    """``python -m module overrides...`` in ``cwd``, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", module, *overrides], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_evaluate_measures_the_one_class_scores(one_class_run, tmp_path):
    run_dir, _, data = one_class_run
    done = run_app(
        "uncertainty.evaluate",
        f"weights={run_dir / 'weights.pt'}",
        *ONE_CLASS,
        f"data.root={data}",
        "uncertainty.mc.passes=4",
        f"hydra.run.dir={tmp_path / 'eval'}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "eval" / "uncertainty_eval.json").read_text())
    assert result["n_images"] == 12 and result["evaluated_on"] == "pool"
    assert {"mc", "bernoulli_entropy", "bernoulli_mutual_information"} <= set(result["methods"])
    assert {"error_model", "error_model_single_pass", "error_model_seconds"} <= set(result["methods"])
    assert {"error_model_correction", "label_doubt", "single_label_doubt"} <= set(result["methods"])
    assert {"error_model", "error_model_single_pass"} <= set(result["boxes"]["auroc"])
    assert result["default_method"] == "error_model_single_pass_correction"
    default = result["methods"]["error_model_single_pass_correction"]
    assert default["n_ranked"] == 12  # failed images are ranked too, by their miss estimate
    assert set(default["effort"]) == {"captured", "random", "oracle"}
    assert set(result["misses"]["spearman"]) >= {"miss_evidence", "error_model", "error_model_single_pass"}
    assert "Effort captured" in done.stdout and "Missed objects" in done.stdout


def test_a_label_job_refuses_a_scorer_its_bands_were_not_fitted_for(one_class_run, tmp_path):
    run_dir, _, data = one_class_run
    done = run_app(
        "autolabel.label",
        f"weights={run_dir / 'weights.pt'}",
        f"source={data / 'images'}",
        f"output={tmp_path / 'out'}",
        "uncertainty/error_model=none",
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "calibrated with a learned error model" in done.stderr and "Traceback" not in done.stderr
