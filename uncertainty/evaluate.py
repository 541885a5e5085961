"""``python -m uncertainty.evaluate weights=PATH``: measure the uncertainty scores on labeled data.

Scores VAL and ``eval_split`` (POOL by default, whose truth stays hidden from training) as if unlabeled,
calibrates each method on VAL and measures it on ``eval_split`` at two levels: per image ("needs
correction" AUROC, Spearman with the correction seconds of the cost model ``cost``, correction rate per
band; :mod:`uncertainty.evaluation.images`) and per box (AUROC of each per-box measure for telling a wrong
auto-label from a correct one; :mod:`uncertainty.evaluation.boxes`). Prints both tables and writes
``uncertainty_eval.json`` into the run folder. The split comes from the
``manifest.csv`` beside the weights when there is one (the split the model was trained with), else from
``data`` / ``split`` / ``seed`` like the train app.

With ``reviews=PATH`` (an import log, ``reviews.jsonl``) it measures the scores against what real
reviewers changed instead, and fits the cost model's seconds to their lead times
(:mod:`autolabel.review.outcomes`); it writes ``review_eval.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
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
from uncertainty.evaluation.boxes import (
    evaluate_boxes,
    match_outcomes,
    score_paths_with_boxes,
    stack_measures,
)
from uncertainty.evaluation.error_model import WITH_MC, error_model_methods
from uncertainty.evaluation.images import evaluate_methods, report

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
    image_extra, box_extra = {}, {}
    if stage.error_model is not None:
        image_extra, box_extra = error_model_methods(
            stage.error_model, labeler, val_box_scored, val_outcomes, box_scored, cost=cost
        )
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
    )
    result["boxes"] = evaluate_boxes(
        {**stack_measures([m for _, _, m, _ in box_scored]), **box_extra},
        outcomes.tp,
        outcomes.wrong_class,
        split=cfg.eval_split,
        seed=cfg.seed,
    )
    result["default_method"] = WITH_MC if stage.error_model is not None else "mc"
    result.update(
        {
            "weights": str(weights),
            "operating_threshold": float(conf),
            "calibrated_on": "val",
            "evaluated_on": cfg.eval_split,
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
    (run_dir / "review_eval.json").write_text(json.dumps(json_safe(result), indent=2))
    out, costs = result["outcomes"], result["costs"]
    print(f"{out['n_images']} reviewed images, {out['n_changed']} changed by the reviewer")
    print(f"AUROC of the score for 'changed': {_fmt(out['auroc_changed'])}")
    print(f"Spearman of the score with seconds spent: {_fmt(out['spearman_lead_time'])}")
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


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
