"""Per-image embeddings: pooled neck features, from the very forward pass that gives the auto-labels."""

import numpy as np
import pytest
import torch

from autolabel.model.detector import Detector
from uncertainty.labeler import UncertaintyLabeler
from uncertainty.mc_dropout import MCDropout, pool_neck_features


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """An untrained yolov8n of 2 classes at a tiny threshold (its random scores keep some boxes)."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    yolo = YOLO("yolov8n.yaml")
    yolo.model = DetectionModel("yolov8n.yaml", nc=2, verbose=False)
    path = tmp_path_factory.mktemp("untrained") / "untrained.pt"
    yolo.save(str(path))
    return Detector(path, imgsz=64, conf=1e-3, max_det=20)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]


def test_pooling_averages_each_level_concatenates_and_scales_to_unit_length():
    p3 = torch.zeros(2, 2, 4, 4)
    p3[0, 0] = 3.0  # image 0: level 1 mean (3, 0)
    p4 = torch.full((2, 1, 2, 2), 4.0)  # level 2 mean (4,)
    out = pool_neck_features([p3, p4])
    assert out.shape == (2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], [0.6, 0.0, 0.8], atol=1e-6)  # (3, 0, 4) / 5
    np.testing.assert_allclose(out[1], [0.0, 0.0, 1.0], atol=1e-6)
    doubled = pool_neck_features([2 * p3, 2 * p4])  # a brighter copy of the same maps: same direction
    np.testing.assert_allclose(doubled, out, atol=1e-6)
    assert np.all(pool_neck_features([torch.zeros(1, 2, 3, 3)]) == 0)  # no division by zero
    with pytest.raises(ValueError, match="at least one"):
        pool_neck_features([])


def test_embedding_comes_from_the_same_single_forward_and_changes_no_sample(untrained, images):
    head = untrained.model.model[-1]
    calls = []
    counter = head.register_forward_hook(lambda *_: calls.append(1))
    try:
        plain = MCDropout(untrained, passes=3, p=0.2).predict(images, seeds=[1, 2, 3])
        assert len(calls) == 1
        with_embedding = MCDropout(untrained, passes=3, p=0.2, embedding=True).predict(
            images, seeds=[1, 2, 3]
        )
        assert len(calls) == 2  # still one forward for the batch
    finally:
        counter.remove()
    assert sum(len(s.candidates) for s in plain) > 0
    for a, b in zip(plain, with_embedding, strict=True):
        assert a.embedding is None
        np.testing.assert_array_equal(a.probs, b.probs)
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.candidates.xyxy, b.candidates.xyxy)

    # the reference: the head's own inputs of a separate forward, pooled by hand
    seen = []
    grab = head.register_forward_pre_hook(lambda _m, args: seen.append([x.clone() for x in args[0]]))
    try:
        untrained.raw_outputs(untrained.preprocess(images))
    finally:
        grab.remove()
    levels = [x.mean(dim=(2, 3)) for x in seen[0]]
    reference = torch.nn.functional.normalize(torch.cat(levels, 1), dim=1).numpy()
    dims = sum(x.shape[1] for x in seen[0])
    assert dims == 64 + 128 + 256  # yolov8n's P3, P4, P5
    got = np.stack([s.embedding for s in with_embedding])
    assert got.shape == (3, dims)
    np.testing.assert_allclose(got, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(got[0], got[1])  # other images, other embeddings


def test_the_labeler_puts_the_embedding_into_the_record_fields(untrained, images):
    from uncertainty.image_score import ImageScorer

    scorer = ImageScorer(weights={"one_minus_conf": 1.0})
    mc = MCDropout(untrained, passes=2, p=0.1, embedding=True)
    out = UncertaintyLabeler(untrained, mc=mc, scorer=scorer)(images, ["a", "b", "c"])
    assert all(fields["embedding"].shape == (448,) for _, fields in out)
    plain = UncertaintyLabeler(untrained, mc=MCDropout(untrained, passes=2, p=0.1), scorer=scorer)
    assert all("embedding" not in fields for _, fields in plain(images, ["a", "b", "c"]))


def test_the_stage_gives_embeddings_only_when_asked(untrained):
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    conf = Path(__file__).resolve().parents[2] / "conf"
    stages = {}
    for flag in ("false", "true"):
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            cfg = compose(
                config_name="label",
                overrides=["weights=w", "source=s", "output=o", f"uncertainty.embedding={flag}"],
            )
        stages[flag] = instantiate(cfg.uncertainty)
    assert "embedding" not in stages["false"].provides and not stages["false"].labeler(untrained).mc.embedding
    assert "embedding" in stages["true"].provides and stages["true"].labeler(untrained).mc.embedding
