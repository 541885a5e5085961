import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autolabel.model.matching import MatchCandidates, match_detections
from autolabel.structures import Detections, GroundTruth

NUM_CLASSES = 3
BOX = [0.0, 0.0, 10.0, 10.0]  # area 100


def det(boxes, conf, cls, num_classes=NUM_CLASSES):
    conf = np.asarray(conf, np.float32)
    cls = np.asarray(cls, np.int64)
    probs = np.zeros((len(conf), num_classes), np.float32)
    probs[np.arange(len(conf)), cls] = conf
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), conf, cls, probs)


def truth(boxes, cls):
    return GroundTruth(np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(cls, np.int64))


def test_perfect_auto_labels_are_all_tp():
    boxes = [BOX, [20, 20, 30, 30]]
    m = match_detections(det(boxes, [0.9, 0.8], [0, 1]), truth(boxes, [0, 1]))
    assert m.pred_truth.tolist() == [0, 1]
    assert m.pred_truth.dtype == np.int64
    assert m.tp.tolist() == [True, True]
    assert not m.wrong_class.any() and not m.fp.any() and not m.fn.any()


def test_box_on_a_truth_of_another_class_is_wrong_class():
    m = match_detections(det([BOX], [0.9], [1]), truth([BOX], [0]))
    assert m.pred_truth.tolist() == [0]
    assert m.wrong_class.tolist() == [True]
    assert m.tp.tolist() == [False] and m.fp.tolist() == [False] and m.fn.tolist() == [False]


def test_duplicate_box_is_one_tp_and_one_fp():
    m = match_detections(det([BOX, BOX], [0.8, 0.9], [0, 0]), truth([BOX], [0]))
    # The higher-confidence box (index 1) takes the truth; the other is a duplicate to delete.
    assert m.pred_truth.tolist() == [-1, 0]
    assert m.tp.tolist() == [False, True]
    assert m.fp.tolist() == [True, False]
    assert m.fn.tolist() == [False]


def test_same_class_pass_wins_over_a_more_confident_wrong_class_box():
    # A 0.9 box of class 1 and a 0.6 box of class 0 on one class-0 truth: TP + FP, not WC + FP.
    m = match_detections(det([BOX, BOX], [0.9, 0.6], [1, 0]), truth([BOX], [0]))
    assert m.tp.tolist() == [False, True]
    assert m.fp.tolist() == [True, False]
    assert not m.wrong_class.any()


def test_wrong_class_pass_only_uses_truths_left_by_the_same_class_pass():
    # Truth 0 (class 0) is taken by its own-class box; the class-2 box then falls back to truth 1 (class 1).
    t = truth([BOX, [0, 0, 10, 8]], [0, 1])  # IoU(BOX, truth 1) = 80 / 100
    m = match_detections(det([BOX, BOX], [0.9, 0.5], [2, 0]), t)
    assert m.pred_truth.tolist() == [1, 0]
    assert m.wrong_class.tolist() == [True, False]
    assert m.tp.tolist() == [False, True]
    assert not m.fn.any()


@pytest.mark.parametrize(
    ("height", "matched"),
    [(5.0, True), (5.1, True), (4.9, False)],  # IoU = height * 10 / 100: 0.50, 0.51, 0.49
)
def test_iou_threshold_is_inclusive(height, matched):
    m = match_detections(det([[0, 0, 10, height]], [0.9], [0]), truth([BOX], [0]), iou_threshold=0.5)
    assert m.tp.tolist() == [matched]
    assert m.fp.tolist() == [not matched]
    assert m.fn.tolist() == [not matched]


def test_a_prediction_takes_the_truth_with_the_highest_iou():
    t = truth([[0, 0, 10, 6], [0, 0, 10, 9]], [0, 0])  # IoU with BOX: 0.6 and 0.9
    m = match_detections(det([BOX], [0.9], [0]), t)
    assert m.pred_truth.tolist() == [1]
    assert m.fn.tolist() == [True, False]


def test_matching_is_greedy_by_confidence_not_optimal():
    # The 0.9 box overlaps truth 0 (IoU 70/130 = 0.54) and truth 1 (IoU 90/110 = 0.82) and takes truth 1;
    # the 0.5 box overlaps only truth 1 (IoU 0.82; truth 0: 50/150 = 0.33), so it is an FP and truth 0 an
    # FN, although a global assignment could match both.
    t = truth([BOX, [4, 0, 14, 10]], [0, 0])
    m = match_detections(det([[3, 0, 13, 10], [5, 0, 15, 10]], [0.9, 0.5], [0, 0]), t)
    assert m.pred_truth.tolist() == [1, -1]
    assert m.fn.tolist() == [True, False]


def test_equal_confidences_keep_input_order():
    m = match_detections(det([BOX, BOX], [0.7, 0.7], [0, 0]), truth([BOX], [0]))
    assert m.tp.tolist() == [True, False]


def test_no_predictions_leaves_every_truth_unmatched():
    m = match_detections(Detections.empty(NUM_CLASSES), truth([BOX, [20, 20, 30, 30]], [0, 1]))
    assert m.pred_truth.shape == m.tp.shape == m.wrong_class.shape == m.fp.shape == (0,)
    assert m.fn.tolist() == [True, True]


def test_no_truth_makes_every_prediction_fp():
    m = match_detections(det([BOX, BOX], [0.9, 0.1], [0, 1]), GroundTruth.empty())
    assert m.pred_truth.tolist() == [-1, -1]
    assert m.fp.tolist() == [True, True]
    assert not m.tp.any() and not m.wrong_class.any()
    assert m.fn.shape == (0,)


def test_both_empty():
    m = match_detections(Detections.empty(NUM_CLASSES), GroundTruth.empty())
    assert m.tp.shape == m.fn.shape == (0,)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_rejects_iou_threshold_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="iou_threshold"):
        match_detections(det([BOX], [0.9], [0]), truth([BOX], [0]), iou_threshold=bad)


# Random scenes on a 40 x 40 canvas so that boxes overlap often.
coords = st.integers(0, 30)


@st.composite
def scenes(draw):
    def boxes(n):
        out = []
        for _ in range(n):
            x, y = draw(coords), draw(coords)
            out.append([x, y, x + draw(st.integers(2, 10)), y + draw(st.integers(2, 10))])
        return out

    n_pred, n_truth = draw(st.integers(0, 8)), draw(st.integers(0, 6))
    conf = draw(st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]), min_size=n_pred, max_size=n_pred))
    p_cls = draw(st.lists(st.integers(0, NUM_CLASSES - 1), min_size=n_pred, max_size=n_pred))
    t_cls = draw(st.lists(st.integers(0, NUM_CLASSES - 1), min_size=n_truth, max_size=n_truth))
    return det(boxes(n_pred), conf, p_cls), truth(boxes(n_truth), t_cls)


@settings(max_examples=150, deadline=None)
@given(scenes(), st.sampled_from([0.3, 0.5, 0.75]))
def test_match_is_a_partition_and_truths_are_used_once(scene, iou_threshold):
    d, t = scene
    m = match_detections(d, t, iou_threshold=iou_threshold)
    assert (m.tp.astype(int) + m.wrong_class + m.fp == 1).all()
    matched = m.pred_truth[m.pred_truth >= 0]
    assert len(set(matched.tolist())) == len(matched)
    assert sorted(matched.tolist()) == np.flatnonzero(~m.fn).tolist()
    assert (t.cls[m.pred_truth[m.tp]] == d.cls[m.tp]).all()
    assert (t.cls[m.pred_truth[m.wrong_class]] != d.cls[m.wrong_class]).all()


@settings(max_examples=150, deadline=None)
@given(scenes(), st.sampled_from([0.0, 0.2, 0.5, 0.7, 0.95]))
def test_candidates_reused_across_confidence_cuts_equal_a_fresh_match(scene, min_conf):
    d, t = scene
    got = MatchCandidates.build(d, t).match(min_conf=min_conf)
    want = match_detections(d.above(min_conf), t)
    for name in ("pred_truth", "tp", "wrong_class", "fp", "fn"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
