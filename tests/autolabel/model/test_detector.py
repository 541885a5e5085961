import cv2
import numpy as np
import pytest

from autolabel.model.detector import Detector, ModelError, check_model_source, detection_ap
from autolabel.structures import Detections, GroundTruth, box_iou


def test_probs_are_the_full_vector_and_conf_is_its_max(weak_detector, demo_images):
    dets = weak_detector.predict(demo_images)
    assert len(dets) == len(demo_images)
    total = 0
    for det in dets:
        assert det.probs.shape == (len(det), weak_detector.num_classes)
        np.testing.assert_array_equal(det.conf, det.probs.max(1))
        np.testing.assert_array_equal(det.cls, det.probs.argmax(1))
        assert ((det.probs >= 0) & (det.probs <= 1)).all()
        total += len(det)
    assert total > 0, "a model trained 3 epochs keeps some boxes at conf 0.001"


def test_boxes_agree_with_stock_ultralytics_predict(weak_detector, demo_spec, demo_images):
    from ultralytics import YOLO

    stock = YOLO(str(weak_detector.weights)).predict(
        [str(p) for p in demo_spec.train[:6]], conf=1e-4, imgsz=weak_detector.imgsz, max_det=40, verbose=False
    )
    compared = 0
    for det, res in zip(weak_detector.predict(demo_images), stock, strict=True):
        ref_xyxy, ref_conf = res.boxes.xyxy.numpy(), res.boxes.conf.numpy()
        strong = det.conf >= 2e-4  # boxes near the threshold may flip on float rounding
        if not strong.any():
            continue
        # every box of ours has a stock twin: same place (IoU > 0.99) and same confidence
        # (a weak model emits near-duplicate boxes, so the twin is not simply the best-IoU box)
        iou = box_iou(det.xyxy[strong], ref_xyxy)
        gap = np.where(iou > 0.99, np.abs(det.conf[strong][:, None] - ref_conf[None, :]), np.inf)
        assert (gap.min(1) < 1e-4).all()
        compared += int(strong.sum())
    assert compared > 0


def test_a_slow_nms_leaves_no_image_of_a_batch_empty(weak_detector, demo_images, monkeypatch):
    """ultralytics' NMS gives up after 2 s + 0.05 s an image; on a loaded machine the batch's last images
    came back with no box. Every clock read here jumps 100 s: the boxes must be the same as without."""
    import itertools

    from ultralytics.utils import nms

    expected = [len(d) for d in weak_detector.predict(demo_images)]
    ticks = itertools.count(0.0, 100.0)
    monkeypatch.setattr(nms.time, "time", lambda: next(ticks))
    assert [len(d) for d in weak_detector.predict(demo_images)] == expected
    assert sum(expected[1:]) > 0  # images after the first had boxes to lose


def test_boxes_are_in_original_image_pixels(weak_detector, demo_images):
    big = cv2.resize(demo_images[0], None, fx=2.0, fy=1.5)
    small_det, big_det = weak_detector.predict([demo_images[0]])[0], weak_detector.predict([big])[0]
    h, w = big.shape[:2]
    assert (big_det.xyxy[:, [0, 2]] <= w + 1).all() and (big_det.xyxy[:, [1, 3]] <= h + 1).all()
    if len(small_det) and len(big_det):
        top_small = small_det.xyxy[small_det.conf.argmax()] * np.array([2.0, 1.5, 2.0, 1.5])
        assert box_iou(top_small[None], big_det.xyxy).max() > 0.5


def test_model_sources_that_would_download_are_refused(tmp_path):
    with pytest.raises(ModelError, match="nothing is downloaded"):
        check_model_source("yolov8n.pt")
    with pytest.raises(ModelError, match="NMS-free"):
        check_model_source("yolo26n.yaml")
    assert check_model_source("yolo11n.yaml") == "yolo11n.yaml"
    with pytest.raises(ModelError, match="not found"):
        Detector(tmp_path / "missing.pt")


def _dets(xyxy, cls, conf, nc=3):
    probs = np.full((len(cls), nc), 0.01, np.float32)
    probs[np.arange(len(cls)), cls] = conf
    return Detections(xyxy, conf, cls, probs)


def test_detection_ap_perfect_empty_and_absent_classes():
    truth = GroundTruth([[0, 0, 10, 10], [20, 20, 40, 40]], [0, 1])
    perfect = detection_ap(
        [(_dets(truth.xyxy, np.array([0, 1]), np.array([0.9, 0.8], np.float32)), truth)], num_classes=3
    )
    # ultralytics' interpolated AP of a perfect ranking is 0.995, not 1
    assert (perfect["ap50"][:2] >= 0.99).all() and (perfect["ap50_95"][:2] >= 0.99).all()
    assert np.isnan(perfect["ap50"][2])  # no truth of class 2
    assert perfect["map50"] == pytest.approx(0.995, abs=1e-3)
    empty = detection_ap([(Detections.empty(3), truth)], num_classes=3)
    assert empty["ap50"][0] == 0.0 and empty["map50_95"] == 0.0
    shifted = _dets(truth.xyxy + 3, np.array([0, 1]), np.array([0.9, 0.8], np.float32))
    worse = detection_ap([(shifted, truth)], num_classes=3)
    assert worse["map50_95"] < perfect["map50_95"]


def test_head_dropout_acts_in_training_only_and_keeps_the_state_dict():
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from autolabel.model.detector import add_head_dropout

    model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    keys = list(model.state_dict())
    x = torch.rand(1, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        before = model(x)[0]
    handles = add_head_dropout(model, 0.5)
    assert len(handles) == 2 * model.model[-1].nl and list(model.state_dict()) == keys
    with torch.no_grad():
        assert torch.equal(model(x)[0], before)  # eval mode: no dropout
        model.train()
        a, b = model(x)["scores"], model(x)["scores"]
    assert not torch.equal(a, b)


def test_warm_start_starts_from_the_given_weights(trained_run, tmp_path):
    import torch

    from autolabel.model.detector import train_detector

    run_dir, _, _ = trained_run
    ckpt = torch.load(run_dir / "weights.pt", map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt["model"]
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # far from the seeded initialisation, so a from-scratch start cannot pass
        for name, p in model.named_parameters():
            if name.endswith("conv.weight"):
                p.add_(0.05 * torch.randn(p.shape, generator=gen).to(p.dtype))
    start = tmp_path / "start.pt"
    torch.save({**ckpt, "model": model, "ema": None}, start)
    tuned = train_detector(
        data_yaml=run_dir / "data" / "data.yaml",
        model=start,
        out_dir=tmp_path / "tuned",
        epochs=1,
        imgsz=128,
        batch=8,
        extra={"lr0": 1e-12, "lrf": 1.0, "warmup_epochs": 0, "optimizer": "SGD", "momentum": 0.0},
    )

    def conv_weights(path):
        saved = torch.load(path, map_location="cpu", weights_only=False)
        net = saved.get("ema") or saved["model"]
        return {k: v.float() for k, v in net.state_dict().items() if k.endswith("conv.weight")}

    before, after = conv_weights(start), conv_weights(tuned)
    assert before.keys() == after.keys()
    assert all(torch.allclose(before[k], after[k], atol=1e-3) for k in before)


@pytest.mark.parametrize("content", [b"\x00\x01 random bytes \xff" * 40, b"a text file\n", b""])
def test_a_weights_file_that_is_no_model_is_a_model_error(tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match=f"weights={bad}: not a YOLO model file"):
        Detector(bad)


def test_auto_device_picks_the_gpu_with_most_free_memory(monkeypatch):
    import torch

    from autolabel.model.detector import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cuda:3") == "cuda:3"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda k: ([5, 9, 2][k], 10))
    assert resolve_device("auto") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda k: (10, 10))  # all free: spread by process id
    import os

    assert resolve_device("auto") == f"cuda:{os.getpid() % 3}"
