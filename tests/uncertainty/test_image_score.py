import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autolabel.structures import Detections
from uncertainty.image_score import COMPONENTS, ImageScorer, box_components, box_components_batch
from uncertainty.pooling import Pooling
from uncertainty.samples import MCSamples


def samples(probs_t, boxes_t, conf_thr=0.5):
    """MC samples whose deterministic pass is the mean of the passes."""
    probs_t, boxes_t = np.asarray(probs_t, np.float32), np.asarray(boxes_t, np.float32)
    det_probs = probs_t.mean(0)
    cand = Detections(boxes_t.mean(0), det_probs.max(1), det_probs.argmax(1), det_probs)
    return MCSamples(cand, probs_t, boxes_t, probs_t.max(-1) >= conf_thr)


def stable(n_passes=6):
    return samples([[[0.9, 0.05, 0.05]]] * n_passes, [[[10, 10, 50, 50]]] * n_passes)


def shaky(n_passes=6):
    rng = np.random.default_rng(0)
    probs = [[[0.9, 0.05, 0.05]] if t % 2 else [[0.45, 0.4, 0.15]] for t in range(n_passes)]
    boxes = [[[10 + rng.normal(0, 4), 10, 50 + rng.normal(0, 4), 50]] for _ in range(n_passes)]
    return samples(probs, boxes)


def test_every_component_is_in_unit_range():
    comps = box_components(shaky(), conf=0.5)
    assert set(comps) == set(COMPONENTS)
    for name, values in comps.items():
        assert values.shape == (1,) and 0 <= values[0] <= 1, name


def test_disagreeing_passes_score_higher_than_agreeing_ones():
    scorer = ImageScorer()
    calm, nervous = scorer.record_fields(stable(), conf=0.5), scorer.record_fields(shaky(), conf=0.5)
    assert nervous["score"] > calm["score"]
    assert calm["components"]["mutual_information"] == pytest.approx(0.0, abs=1e-9)
    assert nervous["components"]["detection_flip"] > 0 == calm["components"]["detection_flip"]
    assert not calm["failed"] and calm["n_candidates"] == 1


def test_a_near_miss_that_flips_raises_the_score_and_the_image_is_failed_without_kept_boxes():
    probs = [[[0.4, 0.1, 0.1]], [[0.6, 0.1, 0.1]], [[0.3, 0.1, 0.1]], [[0.35, 0.1, 0.1]]]
    near = samples(probs, [[[0, 0, 9, 9]]] * 4)
    fields = ImageScorer().record_fields(near, conf=0.5)
    assert fields["failed"] and fields["components"]["detection_flip"] == pytest.approx(0.25)
    assert fields["score"] == pytest.approx(0.25)  # a near miss counts by its flip rate only
    assert fields["components"]["predictive_entropy"] is None  # no kept box to pool over


def test_no_candidates_gives_no_score():
    empty = MCSamples(Detections.empty(3), np.zeros((4, 0, 3)), np.zeros((4, 0, 4)), np.zeros((4, 0), bool))
    fields = ImageScorer().record_fields(empty, conf=0.5)
    assert fields["score"] is None and fields["failed"]


def test_pooling_and_weights_are_configurable():
    two = samples(
        [[[0.9, 0.05, 0.05], [0.5, 0.45, 0.05]], [[0.9, 0.05, 0.05], [0.45, 0.5, 0.05]]],
        [[[0, 0, 10, 10], [20, 20, 40, 40]]] * 2,
    )
    high = ImageScorer(pooling=Pooling("max")).record_fields(two, conf=0.4)["score"]
    mean = ImageScorer(pooling=Pooling("mean")).record_fields(two, conf=0.4)["score"]
    assert high > mean
    with pytest.raises(ValueError, match="unknown components"):
        ImageScorer(weights={"vibes": 1.0})


@pytest.mark.parametrize("n_boxes", [0, 1, 2])
def test_one_class_images_are_scored(n_boxes):
    """C = 1 is an ordinary case (issue 11): a doubtful box outscores a sure one, empty images are failed."""
    sure, weak = [0.95], [0.55]
    rows = [sure, weak][:n_boxes]
    probs = np.array([rows] * 4, np.float32).reshape(4, n_boxes, 1)
    boxes = np.tile(np.array([[0, 0, 10, 10]], np.float32), (4, n_boxes, 1))
    fields = ImageScorer().record_fields(samples(probs, boxes), conf=0.5)
    assert fields["failed"] == (n_boxes == 0)
    if n_boxes:
        per_box = box_components(samples(probs, boxes), conf=0.5)["bernoulli_entropy"]
        assert np.all((per_box >= 0) & (per_box <= 1))
        assert n_boxes == 1 or per_box[1] > per_box[0]
        assert fields["score"] > 0


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.01, 0.9),
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6, unique=True),
    st.sampled_from([1, 2, 6]),
)
def test_the_default_per_box_uncertainty_falls_as_a_kept_box_gets_surer(threshold, fractions, c):
    """Issue 21: over the whole [threshold, 1] range a less confident kept box is more doubtful."""
    tops = threshold + (1 - threshold) * np.sort(fractions)
    assume(np.all(np.diff(tops) > 1e-4))  # distinct in float32, the samples' dtype
    probs = np.full((len(tops), c), 0.001)
    probs[:, 0] = tops
    passes = np.repeat(probs[None], 5, axis=0)
    boxes = np.tile(np.array([[0, 0, 10, 10]], np.float32), (5, len(tops), 1))
    s = samples(passes, boxes, conf_thr=threshold)
    comps = box_components(s, conf=threshold)
    per_box = ImageScorer().box_uncertainty(comps, np.ones(len(tops), bool))
    assert np.all(np.diff(per_box) < 0)


def random_samples(rng, n_boxes, n_passes=4, n_classes=3):
    probs = rng.uniform(0, 1, (n_passes, n_boxes, n_classes))
    boxes = rng.uniform(0, 50, (n_passes, n_boxes, 2))
    boxes = np.concatenate([boxes, boxes + rng.uniform(5, 20, (n_passes, n_boxes, 2))], axis=-1)
    return samples(probs, boxes)


def test_batched_components_equal_one_call_per_image():
    rng = np.random.default_rng(3)
    batch = [random_samples(rng, n) for n in (3, 0, 1, 7, 0, 2)]
    batched = box_components_batch(batch, conf=0.5)
    assert len(batched) == len(batch)
    for one, s in zip(batched, batch, strict=True):
        alone = box_components(s, conf=0.5)
        assert set(one) == set(alone) == set(COMPONENTS)
        for name in alone:
            assert one[name].shape == (len(s.candidates),), name
            np.testing.assert_allclose(one[name], alone[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_batched_components_take_other_pass_counts_alone():
    rng = np.random.default_rng(4)
    batch = [random_samples(rng, 2, n_passes=4), random_samples(rng, 3, n_passes=1)]
    for one, s in zip(box_components_batch(batch, conf=0.5), batch, strict=True):
        for name, values in box_components(s, conf=0.5).items():
            np.testing.assert_allclose(one[name], values, err_msg=name)
