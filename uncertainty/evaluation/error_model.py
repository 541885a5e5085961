"""The learned error model in the evaluate app: fitted on VAL, measured on held-out images, with and
without its MC-dropout features, so the tables show what MC dropout adds to a post-hoc error model."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from autolabel.model.efficiency import CostModel
from uncertainty.difficulty import fit_error_model
from uncertainty.error_features import without_mc
from uncertainty.error_model import ErrorModel, Features
from uncertainty.evaluation.boxes import BoxScored, Outcomes
from uncertainty.evaluation.tta import with_tta
from uncertainty.labeler import UncertaintyLabeler

WITH_MC, SINGLE_PASS = "error_model", "error_model_single_pass"


def error_model_methods(
    error_model: ErrorModel,
    labeler: UncertaintyLabeler,
    val: Sequence[BoxScored],
    val_outcomes: Outcomes,
    test: Sequence[BoxScored],
    *,
    cost: CostModel,
    tta: tuple[Sequence[Features], Sequence[Features]] | None = None,
) -> tuple[
    dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]
]:
    """Image methods, box measures and miss estimates of ``error_model`` with its MC features and without.

    val_outcomes: the VAL images matched to their truth (:func:`uncertainty.evaluation.boxes.match_outcomes`).

    Returns ({name: (VAL out-of-fold scores (K_val,), test scores (K,))}, {name: (B,) P(wrong) of the test
    auto-labels}, {name: (VAL out-of-fold expected misses, test expected misses)}); image methods
    ``<name>`` rank by P(needs correction), ``<name>_seconds`` by expected review seconds and
    ``<name>_correction`` by the expected seconds of the fixes alone. Each variant is fitted on all of VAL,
    and cross-fitted for the VAL scores. tta: the flip-TTA columns of the VAL and the test images
    (:func:`uncertainty.evaluation.tta.tta_features`): two more variants, ``<name>_tta``, read them too (the
    miss regressor ``tta_miss_evidence`` beside its own features).
    """
    images: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    boxes: dict[str, np.ndarray] = {}
    misses: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    variants = [(WITH_MC, True, False), (SINGLE_PASS, False, False)]
    if tta is not None:
        variants += [(f"{WITH_MC}_tta", True, True), (f"{SINGLE_PASS}_tta", False, True)]
    for name, mc, flip in variants:
        misses_read = error_model.miss_features
        if flip and misses_read is not None:
            misses_read = (*misses_read, "tta_miss_evidence")
        variant = dataclasses.replace(
            error_model, mc_features=mc, tta_features=flip, miss_features=misses_read
        )
        val_x = [f if mc else without_mc(f) for *_, f in val]
        test_x = [f if mc else without_mc(f) for *_, f in test]
        if flip:
            val_x, test_x = with_tta(val_x, tta[0]), with_tta(test_x, tta[1])
        fitted, oof = fit_error_model(labeler, variant, val, val_outcomes, cost=cost, features=val_x)
        pred = fitted.predict(test_x)
        images[name] = (oof.p_needs_correction, pred.p_needs_correction)
        images[f"{name}_seconds"] = (oof.expected_seconds, pred.expected_seconds)
        images[f"{name}_correction"] = (
            oof.correction_seconds(fitted.seconds),
            pred.correction_seconds(fitted.seconds),
        )
        boxes[name] = pred.p_wrong()
        misses[name] = (oof.expected_missed, pred.expected_missed)
    return images, boxes, misses
