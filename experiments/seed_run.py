"""One seed of the GT2-vs-random experiment: CAL1, the selection, CONTROL and CAL2, all scored on VAL.

Folder of a seed (``<run>/seed_<k>/``): ``cal1/`` (the train app's whole run: manifest, view, weights,
card, calibration, ``pool_labels/``), ``cal2/`` and ``control/`` (their ultralytics runs and weights),
``selection.json`` and, last, ``result.json``: a seed with a ``result.json`` is finished and is reused
when the experiment is run again.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from autolabel.efficiency import CostModel
from autolabel.records import json_safe, read_records
from autolabel.split import read_manifest
from autolabel.train import StageTimer, evaluate_weights, fit, train_and_card
from autolabel.views import build_view, load_truth, view_name
from autolabel.yolo_format import write_text_atomic
from experiments.selection import Selection, composition, random_control

log = logging.getLogger("experiments.seed_run")
MODEL_METRICS = ("map50", "map50_95", "precision", "recall", "boost", "operating_threshold")
CLASS_METRICS = ("precision", "recall", "ap50", "ap50_95", "boost")


def model_summary(
    evaluation: dict[str, Any], train_images: Sequence[Path], num_classes: int
) -> dict[str, Any]:
    """The figures of one model that the report compares (from :func:`autolabel.model_card.evaluate`)."""
    truths = [load_truth(p, num_classes=num_classes) for p in train_images]
    return {
        **{key: evaluation[key] for key in MODEL_METRICS},
        "n_train_images": len(train_images),
        "n_train_boxes": int(sum(len(t) for t in truths)),
        "per_class": {
            row["class"]: {key: row[key] for key in CLASS_METRICS} for row in evaluation["per_class"]
        },
    }


def selection_summary(
    records: Sequence[dict],
    selection: Selection,
    paths: Sequence[Path],
    names: Sequence[str],
    cost: CostModel,
) -> dict[str, Any]:
    """Images, band mix, boxes, class mix (from the hidden truth) and hand-labeling seconds of a selection.

    ``label_seconds`` = images x ``cost.t_image`` + boxes x ``cost.t_draw``: what labeling it by hand costs.
    """
    boxes = Counter()
    for path in paths:
        boxes.update(names[c] for c in load_truth(path, num_classes=len(names)).cls)
    comp = composition(records, selection)
    return {
        "n": comp["n"],
        "bands": {band: comp["bands"].get(band, 0) for band in ("easy", "medium", "hard", "failed")},
        "mean_score": comp["mean_score"],
        "boxes": int(sum(boxes.values())),
        "label_seconds": comp["n"] * cost.t_image + sum(boxes.values()) * cost.t_draw,
        "class_boxes": {name: boxes.get(name, 0) for name in names},
        "reason": selection.reason,
    }


def run_seed(cfg: DictConfig, seed_dir: Path) -> dict[str, Any]:
    """Everything for ``cfg.seed``; returns (and writes to ``result.json``) the seed's figures."""
    timer = StageTimer()
    seed = int(cfg.seed)
    with timer("cal1"):
        card = train_and_card(cfg, fresh_folder(seed_dir / "cal1"))
    cal1_dir = seed_dir / "cal1"
    split = read_manifest(cal1_dir / "manifest.csv")
    names = card["model"]["classes"]
    records = read_records(cal1_dir / "pool_labels" / "predictions.jsonl")
    by_key = {view_name(i, p): p for i, p in enumerate(split.pool)}
    with timer("select"):
        cost: CostModel = instantiate(cfg.cost)
        gt2 = instantiate(cfg.selection).select(records, rng=np.random.default_rng([seed, 1]))
        control = random_control(records, size=len(gt2.indices), rng=np.random.default_rng([seed, 2]))
        gt2_paths = [by_key[records[i]["image"]] for i in gt2.indices]
        control_paths = [by_key[records[i]["image"]] for i in control.indices]
        pool_bands = Counter(r.get("difficulty", "unscored") for r in records if not r.get("error"))
        selection = {
            "gt2": selection_summary(records, gt2, gt2_paths, names, cost),
            "control": selection_summary(records, control, control_paths, names, cost),
            "overlap": len(set(gt2.indices.tolist()) & set(control.indices.tolist())),
            "pool_bands": dict(pool_bands),
            "reason": gt2.reason,
        }
        write_json(seed_dir / "selection.json", selection)
        log.info("seed %d: GT2 %s; CONTROL %d random images", seed, gt2.reason, len(control_paths))
    val_truths = [load_truth(p, num_classes=len(names)) for p in split.val]
    models = {"CAL1": model_summary(card["evaluation"], split.gt1, len(names))}
    warm = cfg.experiment.train_mode == "warm"
    for name, extra in (("CONTROL", control_paths), ("CAL2", gt2_paths)):
        images = [*split.gt1, *extra]
        key = name.lower()
        with timer(f"train_{key}"):
            data_yaml = build_view(
                {key: images},
                dest=cal1_dir / "data",
                names=names,
                train=key,
                val="val",
                yaml_name=f"{key}.yaml",
            )
            weights = fit(
                cfg,
                data_yaml,
                fresh_folder(seed_dir / key),
                model=card["model"]["weights"] if warm else None,
                epochs=cfg.experiment.finetune_epochs if warm else None,
            )
        with timer(f"evaluate_{key}"):
            _, evaluation = evaluate_weights(cfg, weights, split.val, val_truths)
        models[name] = model_summary(evaluation, images, len(names))
        log.info(
            "seed %d %s: mAP50-95 %.3f boost %.2f",
            seed,
            name,
            evaluation["map50_95"] or 0,
            evaluation["boost"] or 0,
        )
    result = {"seed": seed, "models": models, "selection": selection, "stage_seconds": timer.seconds}
    write_json(seed_dir / "result.json", result)
    return result


def fresh_folder(folder: Path) -> Path:
    """An empty folder: an interrupted seed's leftovers are cleared before it is redone."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def write_json(path: Path, data: Any) -> None:
    """Strict JSON (nan -> null), written atomically."""
    write_text_atomic(path, json.dumps(json_safe(data), indent=2))
