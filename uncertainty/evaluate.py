"""``python -m uncertainty.evaluate weights=PATH``: measure the uncertainty scores on labeled data.

Scores VAL and ``eval_split`` (POOL by default, whose truth stays hidden from training) as if unlabeled,
calibrates each method on VAL and measures it on ``eval_split`` at two levels: per image ("needs
correction" AUROC, Spearman with the correction seconds of the cost model ``cost``, effort captured at
10..50%, correction rate, fix seconds and errors left per band; :mod:`uncertainty.evaluation.images`),
per image the miss estimates against the true misses (:mod:`uncertainty.evaluation.misses`), and per box
(AUROC of each per-box measure for telling a wrong auto-label from a correct one;
:mod:`uncertainty.evaluation.boxes`). With ``tta=true`` a flipped pass of each image adds the flip-TTA
measures (:mod:`uncertainty.evaluation.tta`) to all three. Failed images are ranked by the default method's
miss estimate.
Prints the tables and writes ``uncertainty_eval.json`` into the run folder. The split comes from the
``manifest.csv`` beside the weights when there is one (the split the model was trained with), else from
``data`` / ``split`` / ``seed`` like the train app.

With ``reviews=PATH`` (an import log, ``reviews.jsonl``) it measures the scores against what real
reviewers changed instead, and fits the cost model's seconds to their lead times
(:mod:`autolabel.review.outcomes`), and the effort captured against their lead times; it writes
``review_eval.json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.cli import clear_errors
from autolabel.data.split import read_manifest, split_dataset
from autolabel.data.views import load_truth
from autolabel.errors import DataError
from autolabel.model.detector import Detector
from autolabel.pipeline import FALLBACK_CONF, operating_threshold
from autolabel.records import json_safe, read_jsonl
from autolabel.review.outcomes import fit_costs, latest_reviews, score_outcomes
from autolabel.settings_check import check_evaluate_settings
from uncertainty.error_features import image_feature_names
from uncertainty.error_model import ErrorModel
from uncertainty.evaluation.boxes import (
    BoxScored,
    evaluate_boxes,
    match_outcomes,
    score_paths_with_boxes,
    stack_measures,
)
from uncertainty.evaluation.effort import effort_summary
from uncertainty.evaluation.error_model import SINGLE_PASS, WITH_MC, error_model_methods
from uncertainty.evaluation.images import ImageOutcomes, evaluate_methods, report
from uncertainty.evaluation.misses import evaluate_misses
from uncertainty.evaluation.tta import flipped_candidates, tta_features, tta_measures

# The miss evidence of each image (image features of the error model) that the app measures.
MISS_EVIDENCE = ("miss_evidence", "mc_miss_evidence", "mc_miss_flip", "near_sum")

log = logging.getLogger("uncertainty.evaluate")


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@clear_errors
def main(cfg: DictConfig) -> float | None:
    check_evaluate_settings(cfg)  # before anything is written
    if cfg.reviews is not None:
        return evaluate_reviews(Path(cfg.reviews).expanduser(), Path(HydraConfig.get().runtime.output_dir))
    weights = Path(cfg.weights).expanduser()  # checked to be a file by check_evaluate_settings
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    spec = instantiate(cfg.data)
    manifest = weights.parent / "manifest.csv"
    split = (
        read_manifest(manifest)
        if manifest.is_file()
        else split_dataset(spec, val=cfg.split.val, gt1=cfg.split.gt1, seed=cfg.seed)
    )
    conf = cfg.threshold if cfg.threshold is not None else (operating_threshold(weights) or FALLBACK_CONF)
    detector = Detector(weights, conf=float(conf), device=cfg.device)
    stage = instantiate(cfg.uncertainty)
    if "score" not in stage.provides:
        raise DataError("uncertainty.evaluate measures uncertainty scores: use uncertainty=mc_dropout")
    labeler = stage.predictor(detector)
    cost = instantiate(cfg.cost)
    n_classes = len(detector.names)
    paths = split[cfg.eval_split]
    box_scored = score_paths_with_boxes(labeler, paths, batch=cfg.batch, desc=cfg.eval_split)
    test = [(det, fields) for det, fields, *_ in box_scored]
    truths = [load_truth(p, num_classes=n_classes) for p in paths]
    outcomes = match_outcomes([det for det, _ in test], truths, cost=cost)
    if cfg.eval_split == "val":
        val_box_scored, val_outcomes = box_scored, outcomes
    else:
        val_box_scored = score_paths_with_boxes(labeler, split["val"], batch=cfg.batch, desc="val")
        val_truths = [load_truth(p, num_classes=n_classes) for p in split["val"]]
        val_outcomes = match_outcomes([det for det, *_ in val_box_scored], val_truths, cost=cost)
    val = [(det, fields) for det, fields, *_ in val_box_scored]
    val_labels = val_outcomes.needs_correction
    tta = None
    if cfg.tta:
        flipped = flipped_candidates(detector, paths, batch=cfg.batch, desc=f"flip {cfg.eval_split}")
        val_flipped = (
            flipped
            if cfg.eval_split == "val"
            else flipped_candidates(detector, split["val"], batch=cfg.batch, desc="flip val")
        )
        tta = (
            tta_features(val_box_scored, val_flipped, threshold=float(conf)),
            tta_features(box_scored, flipped, threshold=float(conf)),
        )
    image_extra, box_extra, miss_extra = {}, {}, {}
    if stage.error_model is not None:
        image_extra, box_extra, miss_extra = error_model_methods(
            stage.error_model, labeler, val_box_scored, val_outcomes, box_scored, cost=cost, tta=tta
        )
    estimates = {
        name: (miss_evidence(val_box_scored, name), miss_evidence(box_scored, name)) for name in MISS_EVIDENCE
    }
    if tta is not None:
        (_, val_misses), (test_boxes, test_misses) = tta_measures(tta[0]), tta_measures(tta[1])
        box_extra.update(test_boxes)
        estimates.update({name: (val_misses[name], test_misses[name]) for name in test_misses})
    estimates.update(miss_extra)
    miss_by = "miss_evidence"
    if stage.error_model is not None:
        miss_by = WITH_MC if stage.error_model.mc_features else SINGLE_PASS
    cal = cfg.uncertainty.calibration
    result = evaluate_methods(
        val,
        val_labels,
        test,
        outcomes.needs_correction,
        levels=tuple(cal.levels),
        min_images=cal.min_images,
        require_split=cal.require_split,
        seed=cfg.seed,
        test_seconds=outcomes.seconds,
        split=cfg.eval_split,
        extra=image_extra,
        outcomes=ImageOutcomes(outcomes.correction_seconds, outcomes.errors, estimates[miss_by][1]),
        val_missed=estimates[miss_by][0],
    )
    result["failed_ranked_by"] = miss_by
    result["misses"] = evaluate_misses({name: test for name, (_, test) in estimates.items()}, outcomes.missed)
    result["boxes"] = evaluate_boxes(
        {**stack_measures([m for _, _, m, _ in box_scored]), **box_extra},
        outcomes.tp,
        outcomes.wrong_class,
        split=cfg.eval_split,
        seed=cfg.seed,
    )
    result["default_method"] = default_method(stage.error_model)
    result.update(
        {
            "weights": str(weights),
            "operating_threshold": float(conf),
            "calibrated_on": "val",
            "evaluated_on": cfg.eval_split,
            "tta": bool(cfg.tta),
            "uncertainty": OmegaConf.to_container(cfg.uncertainty, resolve=True),
            "cost": OmegaConf.to_container(cfg.cost, resolve=True),
        }
    )
    (run_dir / "uncertainty_eval.json").write_text(json.dumps(json_safe(result), indent=2))
    print(report(result))
    log.info("wrote %s", run_dir / "uncertainty_eval.json")
    return result["methods"][result["default_method"]]["auroc"]


def evaluate_reviews(reviews: Path, run_dir: Path) -> float | None:
    """Scores against real review outcomes and the fitted costs; prints them, writes review_eval.json."""
    rows = latest_reviews(read_jsonl(reviews))
    result = {"reviews": str(reviews), "outcomes": score_outcomes(rows), "costs": fit_costs(rows)}
    timed = [r for r in rows if r.get("score") is not None and r.get("lead_time") is not None]
    if timed:
        result["effort"] = effort_summary(
            np.array([r["score"] for r in timed], np.float64),
            np.array([r["lead_time"] for r in timed], np.float64),
        )
    (run_dir / "review_eval.json").write_text(json.dumps(json_safe(result), indent=2))
    out, costs = result["outcomes"], result["costs"]
    print(f"{out['n_images']} reviewed images, {out['n_changed']} changed by the reviewer")
    print(f"AUROC of the score for 'changed': {_fmt(out['auroc_changed'])}")
    print(f"Spearman of the score with seconds spent: {_fmt(out['spearman_lead_time'])}")
    if "effort" in result:
        effort = result["effort"]
        print(
            "share of all lead time in the top k of images by the score: "
            + ", ".join(
                f"{k:.0%} {v:.2f} (oracle {effort['oracle'][k]:.2f})" for k, v in effort["captured"].items()
            )
        )
    if "note" in out:
        print(out["note"])
    for band, v in out["bands"].items():
        print(f"  {band:<12} {v['images']:>5} images, {v['changed_rate']:.2f} changed")
    fitted = ", ".join(f"{k} {_fmt(v)}" for k, v in costs["seconds"].items())
    print(f"cost model fitted to {costs['n_images']} timed reviews (seconds): {fitted}")
    if "note" in costs:
        print(costs["note"])
    log.info("wrote %s", run_dir / "review_eval.json")
    return out["auroc_changed"]


def default_method(error_model: ErrorModel | None) -> str:
    """The image method whose score the label job records: the error model's, with or without its MC
    features, ranked by its ``score`` (the ``_correction`` row: expected fix seconds), or the pooled one."""
    if error_model is None:
        return "mc"
    name = WITH_MC if error_model.mc_features else SINGLE_PASS
    return f"{name}_correction" if error_model.score == "correction_seconds" else name


def miss_evidence(scored: Sequence[BoxScored], name: str) -> np.ndarray:
    """(K,) one image feature of the error model (``image_feature_names(mc=True)``) of each scored image."""
    column = image_feature_names(mc=True).index(name)
    return np.array([image_x[column] for *_, (_, image_x) in scored], dtype=np.float64)


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
