"""The model card's difficulty section: per band the fix seconds and the errors left, and effort captured."""

import numpy as np

from autolabel.model.card import card_markdown
from uncertainty.calibration import calibrate
from uncertainty.evaluation.effort import band_effort, effort_summary


def card(summary):
    ev = {
        "split": "VAL",
        "n_images": 4,
        "n_boxes": 5,
        "operating_threshold": 0.2,
        "threshold_source": "fixed",
        "map50": 0.5,
        "map50_95": 0.3,
        "precision": 0.5,
        "recall": 0.5,
        "boost": 1.5,
        "manual_s": 60.0,
        "assisted_s": 40.0,
        "per_class": [],
    }
    return {
        "model": {"name": "m", "weights": "w.pt", "architecture": "yolov8n", "imgsz": 128, "epochs": 1},
        "training": {"split": "GT1", "n_images": 4, "n_boxes": 5, "per_class_boxes": {}},
        "evaluation": ev,
        "cost_model": {"t_draw": 10, "t_verify": 1.5, "t_delete": 1.5, "t_relabel": 3, "t_image": 2},
        "uncertainty": summary,
    }


def test_the_card_states_effort_captured_and_what_each_band_leaves():
    scores = np.array([0.1, 0.2, 0.8, 0.9] * 10)
    labels = scores > 0.5
    calibration = calibrate(scores, labels, min_images=10)
    errors = np.array([[0, 0, 0], [0, 1, 0], [1, 0, 1], [0, 2, 1]] * 10)
    seconds = errors @ np.array([3.0, 1.5, 10.0])
    bands = calibration.difficulty(scores)
    summary = {
        "split": "VAL",
        "calibration": calibration.to_dict(),
        "bands": {
            b: {"n": int((bands == b).sum()), "rate": 0.5} for b in ("easy", "medium", "hard", "failed")
        },
        "band_effort": band_effort(bands, labels, seconds, errors, ("easy", "medium", "hard", "failed")),
        "effort": effort_summary(scores, seconds),
        "auroc_in_sample": 1.0,
    }
    text = card_markdown(card(summary))
    assert "errors left if accepted unreviewed (wrong class / FP / FN)" in text
    assert "| easy | 20 | 0.00 | 0.8 | 10 (0 / 10 / 0) | 0.05 |" in text
    assert "Effort captured" in text and "| score | " in text and "| random | 0.10 |" in text
    assert "nan" not in text
    plain = card_markdown(card({k: v for k, v in summary.items() if k not in ("band_effort", "effort")}))
    assert "| band | images | correction rate |" in plain and "Effort captured" not in plain
