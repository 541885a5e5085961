"""The uncertainty stage's fit on VAL: with the learned error model (the default) or without it, saved
beside the weights and loaded only by a stage that scores the same way."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from autolabel.data.split import read_manifest
from autolabel.data.views import load_truth
from autolabel.errors import DataError
from autolabel.model.detector import Detector
from autolabel.pipeline import operating_threshold
from tests.conftest import CONF_DIR


def stage_of(*overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return instantiate(compose(config_name="train", overrides=list(overrides)).uncertainty)


def test_a_stage_without_the_error_model_fits_bands_on_the_pooled_score(trained_run, tmp_path):
    run_dir, _, _ = trained_run
    weights = run_dir / "weights.pt"
    split = read_manifest(run_dir / "manifest.csv")
    detector = Detector(weights, conf=operating_threshold(weights), imgsz=128)
    truths = [load_truth(p, num_classes=len(detector.names)) for p in split["val"]]
    pooled = stage_of("uncertainty/error_model=none", "uncertainty.mc.passes=4")
    fit, summary = pooled.calibrate(detector, split["val"], truths, batch=8)
    assert fit.error_model is None and "error_model" not in summary
    assert summary["calibration"]["n_images"] <= len(split["val"])
    pooled.save_calibration(fit, tmp_path)
    assert pooled.load_calibration(tmp_path / "weights.pt").error_model is None
    labeler = pooled.labeler(detector, fit)
    fields = labeler.fields_batch(labeler.samples([], []))
    assert fields == []
    with pytest.raises(FileNotFoundError, match="error_model=none"):
        stage_of().load_calibration(tmp_path / "weights.pt")


def test_the_train_run_saved_its_error_model_and_only_a_stage_with_one_loads_it(trained_run):
    run_dir, card, _ = trained_run
    assert (run_dir / "error_model.joblib").is_file()
    assert card["uncertainty"]["error_model"]["images"] == card["evaluation"]["n_images"]
    text = (run_dir / "model_card.md").read_text()
    assert "## Difficulty on VAL" in text and "Image score: the learned error model (" in text
    assert "| failed |" in text and "(out of fold)" in text
    model = card["uncertainty"]["error_model"]
    # a 3-epoch model may keep no box, or only wrong ones: then the box model is a constant, and the card
    # says why
    assert model["box_model"] in ("LogisticRegression", "DummyClassifier")
    said = any("constant box model" in n or "no auto-label to learn from" in n for n in model["notes"])
    assert (model["box_model"] == "DummyClassifier") == said
    assert all(f"- {n}" in text for n in model["notes"])
    fit = stage_of().load_calibration(run_dir / "weights.pt")
    assert fit.error_model is not None and not fit.error_model.mc_features  # single-pass by default
    assert fit.error_model.score == "correction_seconds" and model["score"] == "correction_seconds"
    with pytest.raises(DataError, match="calibrated with a learned error model"):
        stage_of("uncertainty/error_model=none").load_calibration(run_dir / "weights.pt")
