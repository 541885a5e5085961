"""uncertainty.evaluation.boxes: per-box AUROC for wrong vs correct auto-labels, image outcomes."""

import json
import math

import numpy as np
import pytest

from autolabel.model.efficiency import CostModel
from autolabel.records import json_safe
from autolabel.structures import Detections, GroundTruth
from uncertainty.evaluation.boxes import (
    BOX_MEASURES,
    box_table,
    evaluate_boxes,
    match_outcomes,
    stack_measures,
)

# Six auto-labels: boxes 0-2 correct (TP), 3-4 false positives, 5 the right box with the wrong class.
TP = np.array([True, True, True, False, False, False])
WRONG_CLASS = np.array([False, False, False, False, False, True])


def test_a_measure_higher_on_wrong_boxes_scores_above_half_and_swapped_below():
    higher_on_wrong = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.6])
    partly = np.array([0.1, 0.5, 0.3, 0.7, 0.4, 0.6])  # TP 0.5 above wrong 0.4: 8 of 9 pairs right
    result = evaluate_boxes(
        {"up": higher_on_wrong, "down": 1 - higher_on_wrong, "partly": partly}, TP, WRONG_CLASS
    )
    assert result["auroc"]["up"] == 1.0 and result["auroc"]["down"] == 0.0
    assert result["auroc"]["partly"] == pytest.approx(8 / 9)
    assert (result["n_boxes"], result["n_tp"], result["n_wrong"]) == (6, 3, 3)
    assert (result["n_fp"], result["n_wrong_class"]) == (2, 1)
    assert "random" in result["auroc"] and result["note"] is None
    lines = box_table(result).splitlines()
    assert "3 correct (TP), 3 wrong (2 FP, 1 wrong class)" in lines[0]
    assert lines[2].split() == ["up", "1.000"] and lines[-1].split() == ["down", "0.000"]


def test_per_box_auroc_is_undefined_in_words_when_every_box_is_correct():
    result = evaluate_boxes({"up": np.array([0.1, 0.9])}, np.ones(2, bool), np.zeros(2, bool), split="pool")
    assert math.isnan(result["auroc"]["up"])
    assert result["note"] == "every one of the 2 POOL auto-labels is correct: per-box AUROC is undefined"
    saved = json.loads(json.dumps(json_safe(result)))
    text = box_table(saved)
    assert result["note"] in text and "undefined" in text and "nan" not in text
    empty = evaluate_boxes({"up": np.zeros(0)}, np.zeros(0, bool), np.zeros(0, bool), split="pool")
    assert empty["note"] == "no POOL image has an auto-label: per-box AUROC is undefined"


def test_evaluate_boxes_checks_shapes():
    with pytest.raises(ValueError, match=r"\(B,\)"):
        evaluate_boxes({"up": np.zeros(3)}, TP, WRONG_CLASS)


def detections(xyxy, cls, conf):
    cls = np.asarray(cls)
    probs = np.zeros((len(cls), 2), np.float32)
    probs[np.arange(len(cls)), cls] = conf
    return Detections(np.asarray(xyxy, np.float32).reshape(-1, 4), np.asarray(conf), cls, probs)


def test_match_outcomes_counts_the_seconds_of_the_cost_model():
    truth = GroundTruth(np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], np.float32), [0, 1, 0])
    # a TP on truth 0, the wrong class on truth 1, an FP far away; truth 2 is missed (FN)
    det = detections([[0, 0, 10, 10], [20, 20, 30, 30], [80, 80, 90, 90]], [0, 0, 1], [0.9, 0.8, 0.7])
    perfect = detections([[0, 0, 10, 10]], [0], [0.9])
    cost = CostModel(t_draw=10.0, t_verify=1.5, t_delete=1.5, t_relabel=3.0, t_image=2.0)
    one_box = GroundTruth(np.array([[0, 0, 10, 10]], np.float32), [0])
    out = match_outcomes([det, perfect, Detections.empty(2)], [truth, one_box, one_box], cost=cost)
    np.testing.assert_array_equal(out.needs_correction, [True, False, True])
    # t_image + TP t_verify + WC t_relabel + FP t_delete + FN t_draw
    np.testing.assert_allclose(out.seconds, [2 + 1.5 + 3 + 1.5 + 10, 2 + 1.5, 2 + 10])
    np.testing.assert_array_equal(out.tp, [True, False, False, True])
    np.testing.assert_array_equal(out.wrong_class, [False, True, False, False])


def test_stack_measures_concatenates_images_in_order():
    per_image = [
        {name: np.array([0.1, 0.2]) for name in BOX_MEASURES},
        {name: np.zeros(0) for name in BOX_MEASURES},
    ]
    stacked = stack_measures(per_image)
    assert set(stacked) == set(BOX_MEASURES) and "mc" in stacked
    np.testing.assert_array_equal(stacked["mc"], [0.1, 0.2])
    assert stack_measures([])["mc"].shape == (0,)
