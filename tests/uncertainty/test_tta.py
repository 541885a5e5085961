"""Flip test-time augmentation: mirroring, per-box measures and miss evidence from the flipped view."""

import numpy as np
import pytest

from autolabel.structures import Detections
from uncertainty.error_features import (
    TTA_BOX,
    TTA_MISS,
    box_feature_names,
    image_feature_names,
    mirror,
    tta_box_measures,
    tta_miss_features,
    uncovered,
)


def dets(xyxy, conf, cls=None, num_classes=2):
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    conf = np.asarray(conf, np.float32)
    cls = np.zeros(len(conf), np.int64) if cls is None else np.asarray(cls, np.int64)
    probs = np.zeros((len(conf), num_classes), np.float32)
    probs[np.arange(len(conf)), cls] = conf
    return Detections(xyxy, conf, cls, probs)


def test_mirror_maps_x_into_the_flipped_image_and_back():
    d = dets([[10, 5, 30, 25], [0, 0, 100, 40]], [0.9, 0.4])
    m = mirror(d, 100)
    assert m.xyxy.tolist() == [[70, 5, 90, 25], [0, 0, 100, 40]]
    assert np.array_equal(mirror(m, 100).xyxy, d.xyxy)
    assert np.array_equal(m.conf, d.conf) and np.array_equal(m.probs, d.probs)


def test_a_box_the_flipped_view_repeats_is_less_doubtful_than_one_it_drops():
    kept = dets([[0, 0, 20, 20], [50, 50, 70, 70], [80, 0, 99, 20]], [0.6, 0.6, 0.6], cls=[0, 0, 1])
    # the flipped view repeats box 0 (0.8), shifts box 1 by half its width, repeats box 2's place in class 0
    flipped = dets([[1, 0, 21, 20], [60, 50, 80, 70], [80, 0, 99, 20]], [0.8, 0.7, 0.9], cls=[0, 0, 0])
    m = tta_box_measures(kept, flipped, floor=0.1)
    assert set(m) == set(TTA_BOX)
    assert m["tta_doubt"][0] == pytest.approx(1 - (0.6 + 0.8) / 2)
    assert m["tta_doubt"][1] == pytest.approx(1 - 0.6 / 2)  # IoU 1/3 < 0.5: no match
    assert m["tta_doubt"][2] == pytest.approx(1 - 0.6 / 2)  # another class: no match
    assert m["tta_disagreement"][0] < m["tta_disagreement"][1] < m["tta_disagreement"][2] == 1.0
    below = tta_box_measures(kept, flipped, floor=0.85)  # only the 0.9 box is left, in the wrong class
    assert below["tta_doubt"][0] == pytest.approx(0.7)


def test_the_doubt_is_monotone_in_the_boxs_score_and_in_the_flipped_score():
    grid = np.linspace(0.05, 1.0, 20)
    doubts = [
        tta_box_measures(dets([[0, 0, 10, 10]], [c]), dets([[0, 0, 10, 10]], [0.5]), floor=0.0) for c in grid
    ]
    assert np.all(np.diff([d["tta_doubt"][0] for d in doubts]) < 0)
    by_view = [
        tta_box_measures(dets([[0, 0, 10, 10]], [0.5]), dets([[0, 0, 10, 10]], [c]), floor=0.0) for c in grid
    ]
    assert np.all(np.diff([d["tta_doubt"][0] for d in by_view]) < 0)


def test_no_boxes_on_either_side_gives_well_shaped_answers():
    empty = Detections.empty(2)
    assert all(len(v) == 0 for v in tta_box_measures(empty, dets([[0, 0, 5, 5]], [0.9]), floor=0.1).values())
    m = tta_box_measures(dets([[0, 0, 5, 5]], [0.9]), empty, floor=0.1)
    assert m["tta_doubt"].tolist() == pytest.approx([0.55]) and m["tta_disagreement"].tolist() == [1.0]
    assert tta_miss_features(empty, empty, threshold=0.5, floor=0.1, miss_evidence=0.0).tolist() == [0, 0, 0]


def test_miss_evidence_counts_what_the_flipped_view_finds_outside_the_labels_once_per_object():
    kept = dets([[0, 0, 20, 20]], [0.9])
    flipped = dets(
        [
            [0, 0, 20, 20],  # the auto-label again: not a miss
            [50, 50, 70, 70],  # a new object at 0.6 (above the threshold)
            [51, 50, 71, 70],  # its duplicate at 0.3: counted once
            [100, 0, 120, 20],  # a weaker new object at 0.2
            [0, 100, 20, 120],  # below the floor
        ],
        [0.95, 0.6, 0.3, 0.2, 0.05],
        cls=[0, 0, 1, 1, 0],
    )
    free = uncovered(kept.xyxy, flipped.conf, flipped.xyxy)
    assert free.tolist() == [False, True, False, True, True]
    values = dict(
        zip(
            TTA_MISS,
            tta_miss_features(kept, flipped, threshold=0.5, floor=0.1, miss_evidence=0.4),
            strict=True,
        )
    )
    assert values["tta_miss_evidence"] == pytest.approx(0.8)
    assert values["tta_found"] == 1.0
    assert values["tta_both_evidence"] == pytest.approx((0.8 + 0.4) / 2)


def test_feature_names_append_the_tta_columns_after_the_others():
    assert box_feature_names(2, mc=True, tta=True)[-len(TTA_BOX) :] == TTA_BOX
    assert box_feature_names(2, mc=False, tta=True)[: -len(TTA_BOX)] == box_feature_names(2, mc=False)
    assert image_feature_names(mc=True, tta=True) == (*image_feature_names(mc=True), *TTA_MISS)


@pytest.mark.slow
def test_the_flipped_pass_is_mirrored_back_with_the_images_own_width(weak_detector, demo_images, tmp_path):
    import cv2

    from uncertainty.evaluation.tta import flipped_candidates
    from uncertainty.mc_dropout import MCDropout

    image = np.ascontiguousarray(demo_images[0][:, :96])  # 128 high, 96 wide: letterboxed, not square
    path = tmp_path / "narrow.png"
    cv2.imwrite(str(path), image)
    (got,) = flipped_candidates(weak_detector, [path], batch=1)
    single = MCDropout(weak_detector, passes=1, p=0.0, candidate_conf=weak_detector.conf * 0.25)
    (on_flipped,) = single.predict([np.ascontiguousarray(image[:, ::-1])])
    assert len(got) == len(on_flipped.candidates) > 0
    np.testing.assert_allclose(got.xyxy[:, [2, 0]], 96 - on_flipped.candidates.xyxy[:, [0, 2]], atol=1e-4)
    assert got.xyxy[:, [0, 2]].min() >= -1e-3 and got.xyxy[:, [0, 2]].max() <= 96 + 1e-3
    (original,) = single.predict([image])
    assert not np.array_equal(original.candidates.xyxy, on_flipped.candidates.xyxy)
