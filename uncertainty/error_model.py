"""The learned error model: which auto-labels are wrong and how many objects an image misses.

A hybrid of MC dropout and a post-hoc model (MetaDetect-style): per auto-labeled box, a scikit-learn
classifier over :mod:`uncertainty.error_features` predicts its outcome, TP / wrong class / FP; per image, a
regressor predicts the number of missed objects (FN). Both are fitted on VAL, whose truth is known. Pooled
per image, with the boxes' outcomes taken as independent and the misses as Poisson with mean ``lam``::

    p_needs_correction = 1 - prod_i (1 - p_wrong_i) * exp(-lam)
    expected_seconds   = t_image + sum_i (p_tp_i t_verify + p_wc_i t_relabel + p_fp_i t_delete) + lam t_draw
    correction_seconds = sum_i (p_wc_i t_relabel + p_fp_i t_delete) + lam t_draw      (the fixes alone)

with the cost model's seconds (:class:`autolabel.model.efficiency.CostModel`). The image score
(``score``) is ``correction_seconds`` by default: ranking by it captures more of the fix seconds in the
first images than P(needs correction) does (docs/results_log.md, issue 21). ``ErrorModel.cross_fit`` gives
every VAL image a prediction from a model fitted on the other folds (images, not boxes, are split), so the
difficulty bands are calibrated on predictions the model never saw the truth of; the model applied to new
images is then fitted on all of VAL. The estimators are chosen in the config (Hydra ``_target_``) and
cloned before every fit (``sklearn.base.clone``); a table with a single outcome gets scikit-learn's
``DummyClassifier`` / ``DummyRegressor`` instead, and ``FittedErrorModel.notes`` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.model_selection import KFold

from autolabel.model.efficiency import CostModel
from uncertainty.error_features import box_feature_names, image_feature_names

log = logging.getLogger("uncertainty.error_model")

# Box outcome codes of the classifier's target.
TP, WRONG_CLASS, FP = 0, 1, 2
OUTCOMES = (TP, WRONG_CLASS, FP)
# What the image score of the label job is (``ErrorModel.score``): the expected seconds of the fixes, or
# the probability that any fix is needed.
SCORES = ("correction_seconds", "p_needs_correction")
ERROR_MODEL_FILE = "error_model.joblib"  # beside the weights, with calibration.json

Features = tuple[np.ndarray, np.ndarray]  # (box features (K, F), image features (G,)) of one image


@dataclass(frozen=True)
class ErrorData:
    """VAL as tables. box_x: (B, F); box_y: (B,) int in OUTCOMES; box_image: (B,) int, the image of each
    box (0 .. n-1); image_x: (n, G); missed: (n,) int, objects each image's auto-labels missed (FN)."""

    box_x: np.ndarray
    box_y: np.ndarray
    box_image: np.ndarray
    image_x: np.ndarray
    missed: np.ndarray

    @classmethod
    def of(
        cls, features: Sequence[Features], box_outcomes: Sequence[np.ndarray], missed: Sequence[int]
    ) -> ErrorData:
        """Stack per-image features with their outcomes: box_outcomes[i] (K_i,) int, missed[i] int."""
        if not (len(features) == len(box_outcomes) == len(missed)):
            raise ValueError("features, box_outcomes and missed must have one entry per image")
        if not features:
            raise ValueError("the error model needs at least one labeled image")
        for i, ((bx, _), y) in enumerate(zip(features, box_outcomes, strict=True)):
            if len(bx) != len(y):
                raise ValueError(f"image {i}: {len(bx)} box feature rows but {len(y)} box outcomes")
        return cls(
            box_x=np.concatenate([bx for bx, _ in features]),
            box_y=np.concatenate([np.asarray(y, np.int64) for y in box_outcomes]),
            box_image=np.concatenate([np.full(len(bx), i) for i, (bx, _) in enumerate(features)]).astype(
                np.int64
            ),
            image_x=np.stack([ix for _, ix in features]),
            missed=np.asarray(missed, dtype=np.float64),
        )

    @property
    def n_images(self) -> int:
        return len(self.image_x)

    def subset(self, images: np.ndarray) -> ErrorData:
        """The tables of the images ``images`` (indices), renumbered 0 .. len(images) - 1."""
        images = np.asarray(images, dtype=np.int64)
        rank = np.full(self.n_images, -1)
        rank[images] = np.arange(len(images))
        rows = np.isin(self.box_image, images)
        return ErrorData(
            self.box_x[rows],
            self.box_y[rows],
            rank[self.box_image[rows]],
            self.image_x[images],
            self.missed[images],
        )


@dataclass(frozen=True)
class ImageErrors:
    """Predictions for n images: p_needs_correction, expected_seconds, expected_missed: (n,) float64;
    box_outcome_probs: per image a (K_i, 3) array of P(TP), P(wrong class), P(FP) of its auto-labels."""

    p_needs_correction: np.ndarray
    expected_seconds: np.ndarray
    expected_missed: np.ndarray
    box_outcome_probs: list[np.ndarray]

    def correction_seconds(self, seconds: dict[str, float]) -> np.ndarray:
        """(n,) expected seconds of the fixes alone: relabel, delete, draw (module docstring).

        seconds: the cost model's ``t_relabel``, ``t_delete`` and ``t_draw`` (``FittedErrorModel.seconds``).
        """
        fix = np.array([0.0, seconds["t_relabel"], seconds["t_delete"]])
        boxes = np.array([(p @ fix).sum() for p in self.box_outcome_probs], dtype=np.float64)
        return boxes.reshape(-1) + self.expected_missed * seconds["t_draw"]

    def p_wrong(self) -> np.ndarray:
        """(B,) P(wrong class or FP) of every auto-label, images in order."""
        return np.concatenate([np.zeros(0), *(p[:, 1:].sum(1) for p in self.box_outcome_probs)])


@dataclass
class FittedErrorModel:
    """The fitted box classifier and miss regressor, their feature names and the cost model's seconds.

    image_range: (2, G) the lowest and highest image features seen in fitting; new images' features are
    clipped into it, so the miss regressor (a log-linear model by default) does not extrapolate
    exponentially on images unlike any it was fitted on (None: no clipping). score: which prediction is
    the image score (one of ``SCORES``; models saved before it existed read as "p_needs_correction").
    miss_columns: the columns of the image features the miss regressor reads (None: all of them).
    """

    box_model: Any
    missing_model: Any
    box_features: tuple[str, ...]
    image_features: tuple[str, ...]
    mc_features: bool
    seconds: dict[str, float]
    n_images: int
    n_boxes: int
    notes: list[str] = field(default_factory=list)
    image_range: np.ndarray | None = None
    sklearn_version: str = sklearn.__version__
    score: str = "p_needs_correction"
    miss_columns: tuple[int, ...] | None = None

    @staticmethod
    def describe(model: Any) -> str:
        """A fitted estimator's name: a pipeline's last step (its estimator), else the class name."""
        steps = getattr(model, "steps", None)
        return type(steps[-1][1] if steps else model).__name__

    def image_score(self, pred: ImageErrors) -> np.ndarray:
        """(n,) the image score of ``pred``: its expected correction seconds or P(needs correction)."""
        if self.score == "correction_seconds":
            return pred.correction_seconds(self.seconds)
        return pred.p_needs_correction

    def predict(self, features: Sequence[Features]) -> ImageErrors:
        """Predictions for each image's (box features (K_i, F), image features (G,)); see the module doc."""
        n = len(features)
        if n == 0:
            empty = np.zeros(0)
            return ImageErrors(empty, empty, empty, [])
        for bx, ix in features:
            if bx.shape[1:] != (len(self.box_features),) or ix.shape != (len(self.image_features),):
                raise ValueError(
                    f"features of shape {bx.shape} / {ix.shape} do not fit a model fitted on "
                    f"{len(self.box_features)} box and {len(self.image_features)} image features"
                )
        sizes = [len(bx) for bx, _ in features]
        box_x = np.concatenate([bx for bx, _ in features])
        probs = _outcome_probs(self.box_model, box_x)
        image_x = np.stack([ix for _, ix in features])
        if self.miss_columns is not None:
            image_x = image_x[:, list(self.miss_columns)]
        if self.image_range is not None:
            image_x = np.clip(image_x, self.image_range[0], self.image_range[1])
        lam = np.clip(np.asarray(self.missing_model.predict(image_x), np.float64), 0, None)
        per_image = np.split(probs, np.cumsum(sizes)[:-1])
        s = self.seconds
        action = np.array([s["t_verify"], s["t_relabel"], s["t_delete"]])
        p_clean = np.array([np.prod(1.0 - p[:, 1:].sum(1)) for p in per_image]) * np.exp(-lam)
        seconds = s["t_image"] + np.array([(p @ action).sum() for p in per_image]) + lam * s["t_draw"]
        return ImageErrors(1.0 - p_clean, seconds, lam, per_image)


def _outcome_probs(model: Any, x: np.ndarray) -> np.ndarray:
    """(B, 3) P(TP), P(wrong class), P(FP) from a classifier whose ``classes_`` are a subset of OUTCOMES."""
    out = np.zeros((len(x), len(OUTCOMES)))
    if len(x):
        out[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(x)
    return out


@dataclass(frozen=True)
class ErrorModel:
    """How to fit the error model (``conf/uncertainty/error_model/*.yaml``, built by Hydra).

    box: an unfitted scikit-learn classifier with ``predict_proba``; missing: an unfitted regressor of
    counts (e.g. ``PoissonRegressor``); mc_features: use the MC-dropout features too; folds: cross-fitting
    folds over VAL images; seed: their shuffle; score: the image score, one of ``SCORES``; miss_features:
    the image features (:func:`uncertainty.error_features.image_feature_names`) the miss regressor reads,
    None for all. The default reads the miss evidence alone: over all image features the regressor ranked
    images by their misses worse on the shapes sets and aerial tree crowns, and no better on the demo
    (docs/results_log.md, issue 21). tta_features: the features also carry the flip-TTA columns
    (``TTA_BOX``, ``TTA_MISS``); only the evaluate app computes them (``tta=true``), not the label job.
    """

    box: Any
    missing: Any
    mc_features: bool = True
    folds: int = 5
    seed: int = 0
    score: str = "correction_seconds"
    miss_features: Sequence[str] | None = ("miss_evidence",)
    tta_features: bool = False

    def __post_init__(self) -> None:
        if not hasattr(self.box, "predict_proba"):
            raise ValueError(f"error_model.box must be a classifier with predict_proba, got {self.box!r}")
        if not hasattr(self.missing, "predict"):
            raise ValueError(f"error_model.missing must be a regressor with predict, got {self.missing!r}")
        if isinstance(self.folds, bool) or int(self.folds) != self.folds or self.folds < 2:
            raise ValueError(f"error_model.folds must be an int >= 2, got {self.folds!r}")
        if self.score not in SCORES:
            raise ValueError(f"error_model.score must be one of {SCORES}, got {self.score!r}")
        if self.miss_features is not None:
            known = image_feature_names(mc=self.mc_features, tta=self.tta_features)
            unknown = set(self.miss_features) - set(known)
            if unknown or not self.miss_features:
                raise ValueError(
                    f"error_model.miss_features: {sorted(unknown) or 'none given'}: not image features with "
                    f"mc_features={self.mc_features}, tta_features={self.tta_features}; known: {list(known)}"
                )

    def miss_columns(self) -> tuple[int, ...] | None:
        """Columns of the image features the miss regressor reads (None: all)."""
        if self.miss_features is None:
            return None
        names = image_feature_names(mc=self.mc_features, tta=self.tta_features)
        return tuple(names.index(name) for name in self.miss_features)

    def fit(self, data: ErrorData, *, cost: CostModel, num_classes: int) -> FittedErrorModel:
        """Both models fitted on all of ``data``."""
        notes: list[str] = []
        box_model = _fit_box(self.box, data.box_x, data.box_y, notes)
        columns = self.miss_columns()
        image_x = data.image_x if columns is None else data.image_x[:, list(columns)]
        missing_model = _fit_missing(self.missing, image_x, data.missed, notes)
        return FittedErrorModel(
            box_model=box_model,
            missing_model=missing_model,
            box_features=box_feature_names(num_classes, mc=self.mc_features, tta=self.tta_features),
            image_features=image_feature_names(mc=self.mc_features, tta=self.tta_features),
            mc_features=self.mc_features,
            seconds={
                k: float(getattr(cost, k)) for k in ("t_image", "t_verify", "t_relabel", "t_delete", "t_draw")
            },
            n_images=data.n_images,
            n_boxes=len(data.box_y),
            notes=notes,
            image_range=np.stack([image_x.min(0), image_x.max(0)]),
            score=self.score,
            miss_columns=columns,
        )

    def cross_fit(
        self, data: ErrorData, features: Sequence[Features], *, cost: CostModel, num_classes: int
    ) -> tuple[FittedErrorModel, ImageErrors]:
        """(the model fitted on all of ``data``, out-of-fold predictions for its images).

        ``features`` are the per-image features ``data`` was built from. Each fold's images are predicted by
        a model fitted on the other folds; with fewer than 2 images there is nothing to hold out (ValueError).
        """
        n = data.n_images
        if n < 2:
            raise ValueError(f"cross-fitting the error model needs at least 2 VAL images, got {n}")
        p, seconds, missed = np.zeros(n), np.zeros(n), np.zeros(n)
        box_probs: list[np.ndarray] = [np.zeros((0, 3))] * n
        kfold = KFold(n_splits=min(self.folds, n), shuffle=True, random_state=self.seed)
        for train, test in kfold.split(np.arange(n)):
            fold = self.fit(data.subset(train), cost=cost, num_classes=num_classes)
            pred = fold.predict([features[i] for i in test])
            p[test], seconds[test], missed[test] = (
                pred.p_needs_correction,
                pred.expected_seconds,
                pred.expected_missed,
            )
            for i, probs in zip(test, pred.box_outcome_probs, strict=True):
                box_probs[i] = probs
        return self.fit(data, cost=cost, num_classes=num_classes), ImageErrors(p, seconds, missed, box_probs)


def _fit_box(estimator: Any, x: np.ndarray, y: np.ndarray, notes: list[str]) -> Any:
    outcomes = np.unique(y)
    if len(outcomes) >= 2:
        return clone(estimator).fit(x, y)
    if len(y) == 0:
        notes.append("no auto-label to learn from: every box is taken as wrong")
        return DummyClassifier(strategy="constant", constant=FP).fit(np.zeros((1, x.shape[1])), [FP])
    notes.append(
        f"every one of the {len(y)} auto-labels has outcome {int(outcomes[0])}: a constant box model"
    )
    return DummyClassifier(strategy="prior").fit(x, y)


def _fit_missing(estimator: Any, x: np.ndarray, missed: np.ndarray, notes: list[str]) -> Any:
    if np.any(missed != missed[0]):
        return clone(estimator).fit(x, missed)
    notes.append(f"every image misses {missed[0]:g} objects: a constant miss model")
    return DummyRegressor(strategy="constant", constant=float(missed[0])).fit(x, missed)


def save_error_model(model: FittedErrorModel, folder: str | Path) -> Path:
    """Write ``error_model.joblib`` into ``folder`` (joblib, scikit-learn's way of keeping a model)."""
    path = Path(folder) / ERROR_MODEL_FILE
    joblib.dump(model, path)
    return path


def load_error_model(weights: str | Path) -> FittedErrorModel | None:
    """The error model saved beside ``weights``, if any. Like any pickle, load only files you trust."""
    path = Path(weights).parent / ERROR_MODEL_FILE
    if not path.is_file():
        return None
    model = joblib.load(path)
    if not isinstance(model, FittedErrorModel):
        raise ValueError(f"{path}: not an error model written by this toolkit")
    if model.sklearn_version != sklearn.__version__:
        log.warning(
            "%s was fitted with scikit-learn %s, this is %s: refit it (autolabel.train) if scores look off",
            path,
            model.sklearn_version,
            sklearn.__version__,
        )
    return model


def no_error_model() -> None:
    """``uncertainty/error_model=none``: no learned error model (Hydra builds this None)."""
    return None
