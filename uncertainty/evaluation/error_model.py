"""The learned error model in the evaluate app: fitted on VAL, measured on held-out images, with and
without its MC-dropout features, so the tables show what MC dropout adds to a post-hoc error model."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from autolabel.model.efficiency import CostModel
from uncertainty.difficulty import fit_error_model
from uncertainty.error_features import without_mc
from uncertainty.error_model import ErrorModel
from uncertainty.evaluation.boxes import BoxScored, Outcomes
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
) -> tuple[
    dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]
]:
    """Image methods, box measures and miss estimates of ``error_model`` with its MC features and without.

    val_outcomes: the VAL images matched to their truth (:func:`uncertainty.evaluation.boxes.match_outcomes`).

    Returns ({name: (VAL out-of-fold scores (K_val,), test scores (K,))}, {name: (B,) P(wrong) of the test
    auto-labels}, {name: (VAL out-of-fold expected misses, test expected misses)}); image methods
    ``<name>`` rank by P(needs correction), ``<name>_seconds`` by expected review seconds and
    ``<name>_correction`` by the expected seconds of the fixes alone. Each variant is fitted on all of VAL,
    and cross-fitted for the VAL scores.
    """
    images: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    boxes: dict[str, np.ndarray] = {}
    misses: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, mc in ((WITH_MC, True), (SINGLE_PASS, False)):
        variant = dataclasses.replace(error_model, mc_features=mc)
        fitted, oof = fit_error_model(labeler, variant, val, val_outcomes, cost=cost)
        pred = fitted.predict([f if mc else without_mc(f) for *_, f in test])
        images[name] = (oof.p_needs_correction, pred.p_needs_correction)
        images[f"{name}_seconds"] = (oof.expected_seconds, pred.expected_seconds)
        images[f"{name}_correction"] = (
            oof.correction_seconds(fitted.seconds),
            pred.correction_seconds(fitted.seconds),
        )
        boxes[name] = pred.p_wrong()
        misses[name] = (oof.expected_missed, pred.expected_missed)
    return images, boxes, misses
