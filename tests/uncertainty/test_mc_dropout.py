import numpy as np
import pytest
import torch

from autolabel.model.detector import ops
from uncertainty.mc_dropout import MCDropout, draw_masks, dropout_patch, full_pass_outputs


def test_patch_with_dropout_off_equals_the_stock_model_exactly(weak_detector, demo_images):
    tensor = weak_detector.preprocess(demo_images)
    head = weak_detector.model.model[-1]
    stock = weak_detector.raw_outputs(tensor).clone()
    with dropout_patch(head) as wrapped:
        assert len(wrapped["box"]) == len(wrapped["cls"]) == head.nl
        patched = weak_detector.raw_outputs(tensor)
    assert torch.equal(stock, patched)
    assert torch.equal(stock, weak_detector.raw_outputs(tensor))  # the patch is undone on exit
    assert not any("MaskedConv" in type(m).__name__ for m in head.modules())


def test_masks_keep_channels_and_scale_them():
    masks = draw_masks([1, 2], passes=50, p=0.2, channels={"box": 64, "cls": 64}, levels=3, branches=("cls",))
    assert masks["cls"].shape == (2, 50, 3, 64)
    kept = masks["cls"] > 0
    assert torch.allclose(masks["cls"][kept], torch.tensor(1 / 0.8))
    assert 0.15 < 1 - kept.float().mean() < 0.25
    assert torch.equal(masks["box"], torch.ones_like(masks["box"]))  # no dropout on the box branch
    again = draw_masks([2], passes=50, p=0.2, channels={"box": 64, "cls": 64}, levels=3, branches=("cls",))
    assert torch.equal(again["cls"][0], masks["cls"][1])  # per-image seeds: independent of the batch


def test_cached_head_equals_full_passes_under_the_same_masks(weak_detector, demo_images):
    seeds = list(range(len(demo_images)))
    mc = MCDropout(weak_detector, passes=4, p=0.2, seed=3)
    samples = mc.predict(demo_images, seeds=seeds)
    tensor = weak_detector.preprocess(demo_images)
    _, indices = weak_detector.nms(weak_detector.raw_outputs(tensor), conf=mc.candidate_conf)
    masks = mc.masks(seeds)
    compared = 0
    with dropout_patch(weak_detector.model.model[-1]) as wrapped:
        for t in range(4):
            for branch, convs in wrapped.items():
                for lvl, conv in enumerate(convs):
                    conv.masks = masks[branch][:, t, lvl, :]
            raw = weak_detector.raw_outputs(tensor)  # a full forward with pass t's dropout masks
            for b, sample in enumerate(samples):
                idx = indices[b]
                if len(idx) == 0:
                    continue
                np.testing.assert_allclose(sample.probs[t], raw[b, 4:, idx].T.numpy(), rtol=1e-4, atol=1e-5)
                xyxy = ops.scale_boxes(
                    tuple(tensor.shape[2:]), ops.xywh2xyxy(raw[b, :4, idx].T), demo_images[b].shape[:2]
                )
                np.testing.assert_allclose(sample.boxes[t], xyxy.numpy(), rtol=1e-4, atol=1e-2)
                compared += len(idx)
    assert compared > 0
    assert any(not np.allclose(s.probs[0], s.probs[1]) for s in samples if len(s.candidates))


def test_dropout_off_samples_equal_the_deterministic_pass(weak_detector, demo_images):
    samples = MCDropout(weak_detector, passes=3, p=0.0).predict(demo_images)
    for s in samples:
        for t in range(3):
            np.testing.assert_allclose(s.probs[t], s.candidates.probs, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(s.boxes[t], s.candidates.xyxy, rtol=1e-4, atol=1e-2)


def test_same_seed_same_samples_other_seed_differs(weak_detector, demo_images):
    a = MCDropout(weak_detector, passes=5, p=0.3, seed=1).predict(demo_images, seeds=[10, 11, 12, 13, 14, 15])
    b = MCDropout(weak_detector, passes=5, p=0.3, seed=1).predict(
        demo_images[::-1], seeds=[15, 14, 13, 12, 11, 10]
    )[::-1]
    c = MCDropout(weak_detector, passes=5, p=0.3, seed=2).predict(demo_images, seeds=[10, 11, 12, 13, 14, 15])
    for x, y, z in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(x.probs, y.probs)
        if x.probs.size:
            assert not np.array_equal(x.probs, z.probs)
    assert sum(s.probs.size for s in a) > 0


def test_iou_matching_records_misses(weak_detector, demo_images):
    samples = MCDropout(weak_detector, passes=4, p=0.5, matching="iou").predict(demo_images)
    for s in samples:
        assert s.hits.shape == (4, len(s.candidates))
        missed = ~s.hits
        assert np.isnan(s.boxes[missed]).all() and (s.probs[missed] == 0).all()
        assert not np.isnan(s.boxes[s.hits]).any()
    full = full_pass_outputs(
        weak_detector,
        weak_detector.preprocess(demo_images),
        MCDropout(weak_detector, passes=2).masks([0] * 6),
        original_hw=[im.shape[:2] for im in demo_images],
        conf=weak_detector.conf,
    )
    assert len(full) == 2 and len(full[0]) == len(demo_images)


def test_bad_settings_are_rejected(weak_detector):
    with pytest.raises(ValueError, match="passes"):
        MCDropout(weak_detector, passes=0)
    with pytest.raises(ValueError, match="p="):
        MCDropout(weak_detector, p=1.0)
    with pytest.raises(ValueError, match="branches"):
        MCDropout(weak_detector, branches=("neck",))


def test_single_pass_reads_the_candidates_and_matches_a_head_rerun(weak_detector, demo_images):
    """T = 1, p = 0 skips the head rerun; a rerun with dropout all but off gives the same samples."""
    fast = MCDropout(weak_detector, passes=1, p=0.0)
    assert fast.deterministic and not MCDropout(weak_detector, passes=1, p=1e-9).deterministic
    quick = fast.predict(demo_images)
    rerun = MCDropout(weak_detector, passes=1, p=1e-9).predict(demo_images)
    assert sum(len(s.candidates) for s in quick) > 0
    for a, b in zip(quick, rerun, strict=True):
        assert a.probs.shape == b.probs.shape == (1, len(a.candidates), weak_detector.num_classes)
        np.testing.assert_allclose(a.probs, b.probs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.boxes, b.boxes, rtol=1e-4, atol=1e-2)
        np.testing.assert_array_equal(a.hits, b.hits)
        assert a.image_hw == b.image_hw
