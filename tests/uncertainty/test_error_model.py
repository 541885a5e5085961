import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from autolabel.model.efficiency import CostModel
from autolabel.structures import Detections
from uncertainty.error_features import (
    box_feature_names,
    error_features,
    image_feature_names,
    without_mc,
)
from uncertainty.error_model import (
    FP,
    TP,
    WRONG_CLASS,
    ErrorData,
    ErrorModel,
    load_error_model,
    save_error_model,
)
from uncertainty.metrics import auroc
from uncertainty.samples import MCSamples


def make_samples(probs, boxes, *, passes=4, conf=0.5, hw=(100, 200), jitter=0.0, seed=0):
    """MC samples of one image whose deterministic pass is ``probs`` (N, C) / ``boxes`` (N, 4)."""
    rng = np.random.default_rng(seed)
    probs = np.asarray(probs, np.float32).reshape(len(boxes), -1)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    cand = Detections(boxes, probs.max(1) if len(probs) else np.zeros(0), probs.argmax(1), probs)
    noise = rng.normal(0, jitter, (passes, *probs.shape))
    probs_t = np.clip(probs[None] + noise, 0, 1).astype(np.float32)
    boxes_t = np.repeat(boxes[None], passes, 0) + rng.normal(0, jitter * 10, (passes, *boxes.shape))
    return MCSamples(cand, probs_t, boxes_t.astype(np.float32), probs_t.max(-1) >= conf, image_hw=hw)


def logistic_model(**kw) -> ErrorModel:
    return ErrorModel(
        box=make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        missing=make_pipeline(StandardScaler(), PoissonRegressor(max_iter=1000)),
        **kw,
    )


@pytest.mark.parametrize("num_classes", [1, 3])
def test_feature_shapes_and_the_single_pass_prefix(num_classes):
    probs = np.full((3, num_classes), 0.05)
    probs[:, 0] = [0.9, 0.6, 0.2]  # two auto-labels at conf 0.5, one near miss
    s = make_samples(probs, [[10, 10, 50, 50], [12, 12, 52, 48], [100, 20, 190, 90]], jitter=0.05)
    box_x, image_x = error_features(s, conf=0.5)
    assert box_x.shape == (2, len(box_feature_names(num_classes, mc=True)))
    assert image_x.shape == (len(image_feature_names(mc=True)),)
    assert np.all(np.isfinite(box_x)) and np.all(np.isfinite(image_x))
    names = box_feature_names(num_classes, mc=True)
    assert box_x[0, names.index("conf")] == pytest.approx(0.9)
    assert box_x[0, names.index("max_iou_kept")] > 0.7  # the two auto-labels overlap
    single_box, single_image = without_mc(error_features(s, conf=0.5))
    direct_box, direct_image = error_features(s, conf=0.5, mc=False)
    np.testing.assert_array_equal(single_box, direct_box)
    np.testing.assert_array_equal(single_image, direct_image)
    assert single_box.shape[1] == len(box_feature_names(num_classes, mc=False))


def test_an_image_without_auto_labels_has_no_box_rows_and_is_failed():
    s = make_samples([[0.2, 0.1]], [[10, 10, 40, 40]])
    box_x, image_x = error_features(s, conf=0.5)
    assert box_x.shape == (0, len(box_feature_names(2, mc=True)))
    assert image_x[image_feature_names(mc=True).index("failed")] == 1.0
    empty = MCSamples(
        Detections.empty(2), np.zeros((4, 0, 2)), np.zeros((4, 0, 4)), np.zeros((4, 0), bool), (8, 8)
    )
    assert error_features(empty, conf=0.5)[0].shape[0] == 0


def test_features_need_the_image_size():
    s = make_samples([[0.9]], [[1, 1, 5, 5]])
    with pytest.raises(ValueError, match="image_hw"):
        error_features(MCSamples(s.candidates, s.probs, s.boxes, s.hits), conf=0.5)


def synthetic_val(n_images=60, seed=0):
    """Images whose low-confidence auto-labels are FPs, and whose near misses are missed objects."""
    rng = np.random.default_rng(seed)
    features, codes, missed = [], [], []
    for i in range(n_images):
        n = int(rng.integers(1, 4))
        conf = rng.uniform(0.3, 1.0, n)
        near = rng.uniform(0.1, 0.29, int(rng.integers(0, 3)))
        probs = np.concatenate([conf, near])[:, None]
        boxes = [[20 * j, 5, 20 * j + 15, 20] for j in range(len(probs))]
        s = make_samples(probs, boxes, conf=0.3, jitter=0.02, seed=i)
        features.append(error_features(s, conf=0.3))
        codes.append(np.where(conf < 0.55, FP, TP))
        missed.append(int((near > 0.2).sum()))
    return features, codes, missed


def test_cross_fitted_model_learns_which_boxes_are_wrong_and_what_is_missed():
    features, codes, missed = synthetic_val()
    data = ErrorData.of(features, codes, missed)
    model = logistic_model(folds=4)
    fitted, oof = model.cross_fit(data, features, cost=CostModel(), num_classes=1)
    assert oof.p_needs_correction.shape == (60,) and np.all(
        (oof.p_needs_correction >= 0) & (oof.p_needs_correction <= 1)
    )
    wrong = np.concatenate(codes) != TP
    assert auroc(oof.p_wrong(), wrong) > 0.9  # out of fold: never scored by a model that saw its truth
    needs = np.array([(c != TP).any() or m > 0 for c, m in zip(codes, missed, strict=True)])
    assert auroc(oof.p_needs_correction, needs) > 0.85
    assert np.corrcoef(oof.expected_missed, missed)[0, 1] > 0.5
    pred = fitted.predict(features)
    assert pred.expected_seconds.shape == (60,) and np.all(pred.expected_seconds >= CostModel().t_image)


def test_pooling_follows_the_documented_formula():
    features, codes, missed = synthetic_val(20)
    codes = [np.full(len(c), WRONG_CLASS) if i % 2 else np.full(len(c), TP) for i, c in enumerate(codes)]
    fitted = logistic_model().fit(ErrorData.of(features, codes, [0] * 20), cost=CostModel(), num_classes=1)
    assert any("constant miss model" in n for n in fitted.notes)
    pred = fitted.predict(features[:3])
    for i in range(3):
        p = pred.box_outcome_probs[i]
        assert p.shape == (len(features[i][0]), 3)
        np.testing.assert_allclose(p.sum(1), 1.0)
        assert pred.p_needs_correction[i] == pytest.approx(1 - np.prod(1 - p[:, 1:].sum(1)))
        c = CostModel()
        expected = c.t_image + (p @ [c.t_verify, c.t_relabel, c.t_delete]).sum()
        assert pred.expected_seconds[i] == pytest.approx(expected)
        fixes = (p @ [0.0, c.t_relabel, c.t_delete]).sum()  # no miss: a constant model of 0 misses
        assert pred.correction_seconds(fitted.seconds)[i] == pytest.approx(fixes)


def test_misses_are_not_extrapolated_beyond_the_features_seen_in_fitting():
    features, codes, missed = synthetic_val(30)
    names = image_feature_names(mc=True)
    for columns in (("miss_evidence",), None):  # the default, and every image feature
        model = logistic_model(miss_features=columns)
        fitted = model.fit(ErrorData.of(features, codes, missed), cost=CostModel(), num_classes=1)
        box_x, image_x = features[0]
        far, edge = image_x.copy(), image_x.copy()
        far[names.index("miss_evidence")] = 100.0  # far beyond the fitted images' evidence
        read = list(range(len(names))) if columns is None else [names.index(c) for c in columns]
        edge[names.index("miss_evidence")] = fitted.image_range[1, read.index(names.index("miss_evidence"))]
        pred = fitted.predict([(box_x, far), (box_x, edge)])
        assert pred.expected_missed[0] == pytest.approx(pred.expected_missed[1])
        assert pred.expected_missed[0] <= max(missed) + 1


def test_the_miss_model_reads_only_its_features():
    features, codes, missed = synthetic_val(30)
    fitted = logistic_model().fit(ErrorData.of(features, codes, missed), cost=CostModel(), num_classes=1)
    names = image_feature_names(mc=True)
    assert fitted.miss_columns == (names.index("miss_evidence"),)
    box_x, image_x = features[0]
    other = image_x.copy()
    other[names.index("log_near")] += 3.0  # a feature it does not read
    pred = fitted.predict([(box_x, image_x), (box_x, other)])
    assert pred.expected_missed[0] == pytest.approx(pred.expected_missed[1])
    with pytest.raises(ValueError, match="miss_features"):
        logistic_model(miss_features=("mc_miss_flip",), mc_features=False)


def test_a_single_outcome_gets_a_constant_model_and_a_note():
    features, codes, missed = synthetic_val(10)
    fitted = logistic_model().fit(
        ErrorData.of(features, [np.full(len(c), TP) for c in codes], missed), cost=CostModel(), num_classes=1
    )
    assert any("constant box model" in n for n in fitted.notes)
    assert np.all(fitted.predict(features).p_wrong() == 0)


def test_bad_settings_and_mismatched_features_are_refused():
    with pytest.raises(ValueError, match="folds"):
        logistic_model(folds=1)
    with pytest.raises(ValueError, match="predict_proba"):
        ErrorModel(box=PoissonRegressor(), missing=PoissonRegressor())
    features, codes, missed = synthetic_val(10)
    fitted = logistic_model().fit(ErrorData.of(features, codes, missed), cost=CostModel(), num_classes=1)
    with pytest.raises(ValueError, match="do not fit"):
        fitted.predict([without_mc(f) for f in features])
    with pytest.raises(ValueError, match="at least 2"):
        logistic_model().cross_fit(
            ErrorData.of(features[:1], codes[:1], missed[:1]), features[:1], cost=CostModel(), num_classes=1
        )


def test_save_and_load_beside_the_weights(tmp_path):
    features, codes, missed = synthetic_val(12)
    fitted = logistic_model().fit(ErrorData.of(features, codes, missed), cost=CostModel(), num_classes=1)
    save_error_model(fitted, tmp_path)
    loaded = load_error_model(tmp_path / "weights.pt")
    np.testing.assert_allclose(
        loaded.predict(features).p_needs_correction, fitted.predict(features).p_needs_correction
    )
    assert load_error_model(tmp_path / "other" / "weights.pt") is None
