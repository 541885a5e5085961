"""Training repeats: a seed's fine-tuned models trained ``experiment.train_repeats`` times, figures averaged.

One 20-epoch fine-tune's mAP50-95 moves by a std of 1.4-2.2 points on the demo with its training seed
alone (results log, "Training repeats"): more than any selection rule's gain. A model is trained k times
with other training seeds and the means are compared; the seed's data draw (GT1, VAL, the pool) is left as
it is. Independent repeats would divide the training noise by sqrt(k); on the demo a seed's repeats were
not independent (``studies.repeat_noise`` checks), so the report's intervals are over the seeds' means.
Repeat 0 uses the seed itself as the training seed, so ``train_repeats=1`` trains exactly the models of a
run without repeats. CAL1 is trained once: every paired difference is between models fine-tuned from it,
so its noise cancels.

Folders: repeat 0 in ``<seed>/<model>/``, repeat r in ``<seed>/<model>_r<r>/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from autolabel.errors import DataError
from autolabel.pipeline import StageTimer, evaluate_weights, fit
from autolabel.structures import GroundTruth
from experiments.run_folder import fresh_folder

MODEL_METRICS = ("map50", "map50_95", "precision", "recall", "boost", "operating_threshold")
CLASS_METRICS = ("precision", "recall", "ap50", "ap50_95", "boost")
# training seed of repeat r: seed + r x REPEAT_SEED_STEP (far from the seeds a run uses for its data draws)
REPEAT_SEED_STEP = 1000


def train_repeats(cfg: DictConfig) -> int:
    """``experiment.train_repeats`` (1 when unset), refused by name unless a whole number >= 1."""
    value = cfg.experiment.get("train_repeats", 1)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"experiment.train_repeats must be a whole number >= 1, got {value!r}")
    return int(value)


def repeat_seed(seed: int, repeat: int) -> int:
    """The training seed of repeat ``repeat`` (0: ``seed`` itself)."""
    return int(seed) + REPEAT_SEED_STEP * int(repeat)


def repeat_folder(model_dir: Path, repeat: int) -> Path:
    """Where repeat ``repeat`` of the model of ``model_dir`` trains (0: ``model_dir`` itself)."""
    return model_dir if repeat == 0 else model_dir.with_name(f"{model_dir.name}_r{repeat}")


def model_summary(
    evaluation: Mapping[str, Any], train_images: Sequence[Path], truth_of: Callable[[Path], GroundTruth]
) -> dict[str, Any]:
    """The figures of one model that the report compares (from :func:`autolabel.model.card.evaluate`).

    truth_of: an image's truth (the training labels), for the box count.
    """
    truths = [truth_of(p) for p in train_images]
    return {
        **{key: evaluation[key] for key in MODEL_METRICS},
        "n_train_images": len(train_images),
        "n_train_boxes": int(sum(len(t) for t in truths)),
        "per_class": {
            row["class"]: {key: row[key] for key in CLASS_METRICS} for row in evaluation["per_class"]
        },
    }


def _defined(values: Sequence[float | None]) -> np.ndarray:
    """(n,) the defined values (None and NaN left out), as floats."""
    return np.array([float(v) for v in values if v is not None and not math.isnan(float(v))])


def _mean(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values; None when none is defined."""
    kept = _defined(values)
    return float(kept.mean()) if len(kept) else None


def mean_summary(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One model's figures over its training repeats (:func:`model_summary` each, same training images).

    Every figure, overall and per class, is the mean over the repeats that define it; ``repeats`` keeps
    each repeat's mAP50-95 and mAP50 (in repeat order). A single summary comes back unchanged.
    """
    if not summaries:
        raise ValueError("mean_summary needs at least one summary")
    if len(summaries) == 1:
        return dict(summaries[0])
    first = summaries[0]
    classes = list(first["per_class"])
    return {
        **{key: _mean([s[key] for s in summaries]) for key in MODEL_METRICS},
        "n_train_images": first["n_train_images"],
        "n_train_boxes": first["n_train_boxes"],
        "per_class": {
            c: {key: _mean([s["per_class"][c][key] for s in summaries]) for key in CLASS_METRICS}
            for c in classes
        },
        "repeats": {key: [s[key] for s in summaries] for key in ("map50_95", "map50")},
    }


def pooled_repeat_std(groups: Sequence[Sequence[float | None]]) -> tuple[float | None, int]:
    """Training noise: the pooled within-model standard deviation over models trained more than once.

    groups: per model, its repeats' values (e.g. mAP50-95). Returns (sqrt of the degrees-of-freedom
    weighted mean of the models' sample variances, the number of models pooled); (None, 0) when no model
    has two defined repeats.
    """
    squares, dof, models = 0.0, 0, 0
    for group in groups:
        values = _defined(group)
        if len(values) < 2:
            continue
        squares += float(np.sum((values - values.mean()) ** 2))
        dof += len(values) - 1
        models += 1
    return (math.sqrt(squares / dof), models) if dof else (None, 0)


def train_and_score(
    cfg: DictConfig,
    data_yaml: Path,
    model_dir: Path,
    *,
    stage: str,
    model: str | None,
    epochs: int,
    train_images: Sequence[Path],
    val_images: Sequence[Path],
    val_truths: Sequence[GroundTruth],
    truth_of: Callable[[Path], GroundTruth],
    timer: StageTimer,
) -> dict[str, Any]:
    """Train the model of ``data_yaml`` :func:`train_repeats` times and return its mean figures on VAL.

    stage: the timer's name for it (``train_<stage>``, ``evaluate_<stage>``, with ``_r<r>`` for repeats
    after the first); model: the weights to start from (None: the model YAML).
    """
    summaries = []
    for repeat in range(train_repeats(cfg)):
        suffix = f"_r{repeat}" if repeat else ""
        with timer(f"train_{stage}{suffix}"):
            weights = fit(
                cfg,
                data_yaml,
                fresh_folder(repeat_folder(model_dir, repeat)),
                model=model,
                epochs=epochs,
                seed=repeat_seed(int(cfg.seed), repeat),
            )
        with timer(f"evaluate_{stage}{suffix}"):
            _, evaluation = evaluate_weights(cfg, weights, val_images, val_truths)
        summaries.append(model_summary(evaluation, train_images, truth_of))
    return mean_summary(summaries)


def training_noise(results: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The ``training_noise`` entry of metrics.json from the seeds' ``result.json`` figures.

    ``{"repeats": k (most repeats of a model), "models": n (models trained more than once, over every
    seed), "map50_95_std" | "map50_std": the pooled std between one model's repeats (fraction, not
    points)}``; None when no model was trained more than once.
    """
    groups = [
        model["repeats"] for result in results for model in result["models"].values() if "repeats" in model
    ]
    if not groups:
        return None
    map50_95_std, models = pooled_repeat_std([g["map50_95"] for g in groups])
    return {
        "repeats": max(len(g["map50_95"]) for g in groups),
        "models": models,
        "map50_95_std": map50_95_std,
        "map50_std": pooled_repeat_std([g["map50"] for g in groups])[0],
    }
