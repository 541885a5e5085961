import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from uncertainty import scores
from uncertainty.pooling import COMPONENT_SCALES, POOLING_METHODS, Pooling, combine, component_scale, pool

FAST = settings(max_examples=50, deadline=None)

unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
box_values = arrays(np.float64, st.integers(1, 20), elements=unit)


# ---------------------------------------------------------------- pool


def test_pool_hand_computed():
    v = np.array([0.2, 0.4, 0.9])
    assert pool(v, method="max") == pytest.approx(0.9)
    assert pool(v, method="mean") == pytest.approx(0.5)
    assert pool(v, method="sum") == pytest.approx(1.5)
    w = np.exp(v / 0.5) / np.exp(v / 0.5).sum()
    assert pool(v, method="softmax", temperature=0.5) == pytest.approx(float((v * w).sum()))
    assert isinstance(pool(v), float)


@FAST
@given(box_values, st.floats(1e-3, 1e3))
def test_soft_maximum_lies_between_mean_and_max(values, temperature):
    soft = pool(values, method="softmax", temperature=temperature)
    assert pool(values, method="max") >= soft >= pool(values, method="mean")


@FAST
@given(box_values)
def test_soft_maximum_tends_to_max_and_to_mean(values):
    # each box below the max adds at most (gap) * exp(-gap / T) <= T / e to the distance from the max
    assert pool(values, method="softmax", temperature=1e-4) == pytest.approx(values.max(), abs=1e-3)
    assert pool(values, method="softmax", temperature=1e6) == pytest.approx(values.mean(), abs=1e-5)


@FAST
@given(box_values, st.floats(1e-3, 1.0))
def test_soft_maximum_is_sharper_at_lower_temperature(values, temperature):
    sharp = pool(values, method="softmax", temperature=temperature)
    assert sharp >= pool(values, method="softmax", temperature=2 * temperature) - 1e-12


def test_soft_maximum_does_not_overflow():
    assert pool(np.array([1.0, 0.0]), method="softmax", temperature=1e-6) == 1.0


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_empty_image_pools_to_nan(method):
    assert math.isnan(pool(np.zeros(0), method=method))
    assert math.isnan(Pooling(method=method)(np.zeros(0)))


def test_pool_rejects_unknown_method_bad_temperature_and_shape():
    with pytest.raises(ValueError, match="softmin"):
        pool(np.ones(3), method="softmin")
    with pytest.raises(ValueError, match="temperature"):
        pool(np.ones(3), method="softmax", temperature=0.0)
    with pytest.raises(ValueError, match=r"\(N,\)"):
        pool(np.ones((2, 3)))


# ---------------------------------------------------------------- Pooling strategy object


def test_pooling_object_matches_pool_and_checks_at_construction():
    v = np.array([0.1, 0.7, 0.3])
    assert Pooling()(v) == 0.7
    assert Pooling(method="softmax", temperature=0.2)(v) == pool(v, method="softmax", temperature=0.2)
    with pytest.raises(ValueError, match="bogus"):
        Pooling(method="bogus")
    with pytest.raises(ValueError, match="temperature"):
        Pooling(method="softmax", temperature=-1.0)


def test_pooling_is_hydra_instantiable():
    from hydra.utils import instantiate

    strategy = instantiate({"_target_": "uncertainty.pooling.Pooling", "method": "mean"})
    assert strategy == Pooling(method="mean")
    assert strategy(np.array([1.0, 3.0])) == 2.0


# ---------------------------------------------------------------- combine


def test_combine_normalises_the_weights():
    components = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 0.0])}
    np.testing.assert_allclose(combine(components, weights={"a": 3.0, "b": 1.0}), [0.75, 0.0])
    np.testing.assert_allclose(combine(components, weights={"a": 5.0}), [1.0, 0.0])


def test_combine_ignores_zero_weights_even_for_missing_components():
    components = {"a": np.array([0.2, 0.4]), "b": np.array([1.0, 1.0])}
    np.testing.assert_allclose(combine(components, weights={"a": 1.0, "b": 0.0, "absent": 0.0}), [0.2, 0.4])


def test_combine_rejects_missing_negative_and_all_zero_weights():
    components = {"a": np.array([0.2, 0.4])}
    with pytest.raises(KeyError, match="box_spread"):
        combine(components, weights={"a": 1.0, "box_spread": 0.5})
    with pytest.raises(ValueError, match="'a'"):
        combine(components, weights={"a": -1.0})
    with pytest.raises(ValueError, match="> 0"):
        combine(components, weights={"a": 0.0})
    with pytest.raises(ValueError, match="same shape"):
        combine({"a": np.zeros(2), "b": np.zeros(3)}, weights={"a": 1.0, "b": 1.0})


@FAST
@given(
    arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(0, 6)), elements=unit),
    st.lists(st.floats(0.0, 10.0), min_size=3, max_size=3),
)
def test_combine_is_a_convex_combination(stacked, raw_weights):
    names = ["a", "b", "c"][: len(stacked)]
    weights = dict(zip(names, raw_weights, strict=False))
    weights[names[0]] += 0.1  # at least one positive
    out = combine(dict(zip(names, stacked, strict=True)), weights=weights)
    assert out.shape == stacked.shape[1:]
    assert np.all(out >= stacked.min(0) - 1e-12)
    assert np.all(out <= stacked.max(0) + 1e-12)


def test_combine_of_empty_components_is_empty():
    assert combine({"a": np.zeros(0)}, weights={"a": 1.0}).shape == (0,)


# ---------------------------------------------------------------- component scales


def test_component_scale_values():
    assert component_scale("predictive_entropy", 4) == pytest.approx(math.log(4))
    assert component_scale("mutual_information", 2) == pytest.approx(math.log(2))
    assert component_scale("least_confidence", 4) == pytest.approx(0.75)
    assert component_scale("score_variance", 80) == 0.5
    assert component_scale("box_spread", 80) == 1.0
    with pytest.raises(KeyError, match="entropi"):
        component_scale("entropi", 3)
    with pytest.raises(ValueError, match="num_classes"):
        component_scale("margin", 0)


def test_component_scales_for_one_class_and_for_many():
    ln2 = math.log(2)
    assert component_scale("bernoulli_entropy", 1) == pytest.approx(ln2)
    assert component_scale("bernoulli_mutual_information", 2) == pytest.approx(2 * ln2)
    assert component_scale("single_bernoulli_entropy", 80) == pytest.approx(2 * ln2)
    for name in ("predictive_entropy", "least_confidence", "margin"):  # bound 0 or 1 at C = 1: divisor 1
        assert component_scale(name, 1) == 1.0


def test_every_score_function_has_a_scale():
    def public(module):
        return {name for name in dir(module) if not name.startswith("_") and callable(getattr(module, name))}

    per_box = public(scores) - {
        "normalise",
        "entropy",
        "binary_entropy",
        "label_probability",
        "label_doubt_terms",
    }
    assert per_box <= set(COMPONENT_SCALES)
    assert set(COMPONENT_SCALES) <= per_box


@FAST
@given(st.integers(1, 4), st.integers(0, 4), st.integers(1, 6), st.data())
def test_scaled_components_lie_in_unit_interval(t, n, c, data):
    probs = data.draw(arrays(np.float64, (t, n, c), elements=unit))
    hits = data.draw(arrays(np.bool_, (t, n)))
    values = {
        fn.__name__: fn(probs, hits=hits)
        for fn in (
            scores.predictive_entropy,
            scores.mutual_information,
            scores.margin,
            scores.least_confidence,
            scores.score_variance,
            scores.bernoulli_entropy,
            scores.bernoulli_mutual_information,
        )
    }
    values["detection_inconsistency"] = scores.detection_inconsistency(hits)
    for fn in (
        scores.single_entropy,
        scores.single_margin,
        scores.single_least_confidence,
        scores.single_bernoulli_entropy,
    ):
        values[fn.__name__] = fn(probs[0])
    values["one_minus_conf"] = scores.one_minus_conf(probs[0])
    for name, value in values.items():
        scaled = value / component_scale(name, c)
        assert np.all((scaled >= 0) & (scaled <= 1 + 1e-12)), name
