"""One seed of the GT2-vs-random experiment: CAL1, the selection, CONTROL and CAL2, all scored on VAL.

Folder of a seed (``<run>/seed_<k>/``): ``cal1/`` (the train app's whole run: manifest, view, weights,
card, calibration, ``pool_labels/``), ``cal2/`` and ``control/`` (their ultralytics runs and weights),
``cal1_long/`` (CAL1 trained as long again on GT1 alone, ``experiment.baseline``), ``<model>_r<r>/``
(the training repeats after the first, ``experiment.train_repeats``, :mod:`experiments.repeats`),
``selection.json``
and, last, ``result.json``: a seed with a ``result.json`` is finished and is reused
when the experiment is run again. A ``cal1/`` with its ``model_card.json`` (written last by the train job)
is finished too: an interrupted seed keeps its CAL1 and redoes only what followed. With
``experiment.cal1_from=<run folder>`` a seed starts from a copy of that run's finished CAL1 of the same
seed, after checking that it was trained with the same settings; when that run also trained CONTROL on
the very same images with the same fine-tune recipe, its CONTROL is copied too instead of retrained, and
when its pool labels were made with other ``uncertainty`` settings, CAL1 is calibrated and the pool
labeled again with this run's (:func:`relabel`).

CONTROL (``experiment.control``): ``size``, a random pool draw with as many images as GT2; or ``cost``,
random pool images in random order until their hand-labeling seconds (cost model, hidden truth) come
closest to GT2's: the same labeling time instead of the same image count.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.data.views import build_view, load_truth
from autolabel.errors import DataError
from autolabel.job.runner import MARKER
from autolabel.model.card import write_model_card
from autolabel.model.detector import Detector
from autolabel.model.efficiency import CostModel
from autolabel.pipeline import (
    StageTimer,
    label_stages,
    train_and_card,
    uncertainty_settings,
)
from autolabel.records import ALL_BANDS, NO_BAND, ImageRecord
from autolabel.review.selection import composition, cost_matched_control, random_control
from autolabel.review.strategy import Selection, call_select
from autolabel.structures import GroundTruth
from experiments.constants import (
    BASELINE,
    CONTROL_SALT,
    GT2_SALT,
    MODEL_NAMES,
    TIME_CONTROL,
    TIME_CONTROL_SALT,
)
from experiments.repeats import model_summary, train_and_score, train_repeats
from experiments.run_folder import (
    RESULT_FILE,
    SeedFolder,
    differing_keys,
    fresh_folder,
    load_run_config,
)
from uncertainty.stage import CALIBRATION_FILE

log = logging.getLogger("experiments.seed_run")
CONTROL_MODES = ("size", "cost")
# settings CAL1 does not depend on: a run that differs only in these may lend its CAL1 (cal1_from)
# (uncertainty: a kept CAL1 whose pool labels were made with other settings is labeled again, see relabel)
NOT_CAL1 = ("experiment", "selection", "seed", "uncertainty", "label")


def selection_summary(
    records: Sequence[ImageRecord],
    selection: Selection,
    paths: Sequence[Path],
    names: Sequence[str],
    cost: CostModel,
    truth_of: Callable[[Path], GroundTruth],
) -> dict[str, Any]:
    """Images, band mix, boxes, class mix (from the hidden truth) and hand-labeling seconds of a selection.

    ``label_seconds`` = images x ``cost.t_image`` + boxes x ``cost.t_draw``: what labeling it by hand costs.
    truth_of: an image's hidden truth.
    """
    boxes = Counter()
    for path in paths:
        boxes.update(names[c] for c in truth_of(path).cls)
    comp = composition(records, selection)
    return {
        "n": comp["n"],
        "bands": {band: comp["bands"].get(band, 0) for band in ALL_BANDS},
        "mean_score": comp["mean_score"],
        "boxes": int(sum(boxes.values())),
        "label_seconds": cost.hand_label_seconds(comp["n"], sum(boxes.values())),
        "class_boxes": {name: boxes.get(name, 0) for name in names},
        "reason": selection.reason,
    }


def run_seed(cfg: DictConfig, seed_dir: Path) -> dict[str, Any]:
    """Everything for ``cfg.seed``; returns (and writes to ``result.json``) the seed's figures."""
    timer = StageTimer()
    seed = int(cfg.seed)
    folder = SeedFolder(seed_dir, seed)
    with timer("cal1"):
        card = finished_cal1(cfg, folder.cal1) or train_and_card(cfg, fresh_folder(folder.cal1))
    split, names = folder.manifest, card["model"]["classes"]
    records = folder.pool_records
    # every label file of the seed is read once (GT1 serves three models; GT2 and CONTROL two purposes)
    truth_of = folder.truth
    cal1, control_name, cal2 = MODEL_NAMES
    with timer("select"):
        cost: CostModel = instantiate(cfg.cost)
        strategy = instantiate(cfg.selection)
        gt2 = call_select(
            strategy, records, rng=np.random.default_rng([seed, GT2_SALT]), truth=folder.record_truth
        )
        gt2_paths = [folder.pool_path(records[i]) for i in gt2.indices]
        control = draw_control(cfg, records, gt2, cost, folder.record_truth)
        control_paths = [folder.pool_path(records[i]) for i in control.indices]
        pool_bands = Counter(r.band or NO_BAND for r in records if r.ok)
        selection = {
            "gt2": selection_summary(records, gt2, gt2_paths, names, cost, truth_of),
            "control": selection_summary(records, control, control_paths, names, cost, truth_of),
            "overlap": len(set(gt2.indices.tolist()) & set(control.indices.tolist())),
            "pool_bands": dict(pool_bands),
            "reason": gt2.reason,
        }
        trained = [(control_name, control_paths), (cal2, gt2_paths)]
        if wants_time_control(cfg):
            rng = np.random.default_rng([seed, TIME_CONTROL_SALT])
            same_time = time_matched(records, gt2, cost, folder.record_truth, rng)
            same_time_paths = [folder.pool_path(records[i]) for i in same_time.indices]
            selection["control_time"] = selection_summary(
                records, same_time, same_time_paths, names, cost, truth_of
            )
            trained.insert(1, (TIME_CONTROL, same_time_paths))
        folder.write_json("selection.json", selection)
        log.info("seed %d: GT2 %s; CONTROL %s", seed, gt2.reason, control.reason)
    val_truths = [load_truth(p, num_classes=len(names)) for p in split.val]
    models = {cal1: model_summary(card["evaluation"], split.gt1, truth_of)}
    warm = cfg.experiment.train_mode == "warm"
    epochs = int(cfg.experiment.finetune_epochs if warm else cfg.trainer.epochs)  # CAL2's and CONTROL's
    scored = {"val_images": split.val, "val_truths": val_truths, "truth_of": truth_of, "timer": timer}
    start = card["model"]["weights"] if warm else None
    for name, extra in trained:
        images = [*split.gt1, *extra]
        key = name.lower()
        if name == control_name and (lent := lent_control(cfg, seed_dir, images)):
            models[name] = lent
            continue
        data_yaml = build_view(
            {key: images},
            dest=folder.cal1 / "data",
            names=names,
            train=key,
            val="val",
            yaml_name=f"{key}.yaml",
        )
        models[name] = train_and_score(
            cfg,
            data_yaml,
            seed_dir / key,
            stage=key,
            model=start,
            epochs=epochs,
            train_images=images,
            **scored,
        )
        log.info(
            "seed %d %s: mAP50-95 %.3f boost %.2f",
            seed,
            name,
            models[name]["map50_95"] or 0,
            models[name]["boost"] or 0,
        )
    if cfg.experiment.get("baseline", True):
        models[BASELINE] = train_and_score(
            cfg,
            folder.cal1 / "data" / "data.yaml",  # the CAL1 view: train GT1, val VAL
            seed_dir / BASELINE.lower(),
            stage=BASELINE.lower(),
            model=start,
            epochs=longer_epochs(epochs, n_gt1=len(split.gt1), n_cal2=len(split.gt1) + len(gt2_paths)),
            train_images=split.gt1,
            **scored,
        )
        log.info("seed %d %s: mAP50-95 %.3f", seed, BASELINE, models[BASELINE]["map50_95"] or 0)
    result = {"seed": seed, "models": models, "selection": selection, "stage_seconds": timer.seconds}
    folder.write_json(RESULT_FILE, result)
    return result


def longer_epochs(epochs: int, *, n_gt1: int, n_cal2: int) -> int:
    """Epochs of the no-new-labels baseline on GT1 (``n_gt1`` images): CAL2's ``epochs`` over its ``n_cal2``
    images make as many optimizer steps as these."""
    return max(1, round(epochs * n_cal2 / max(n_gt1, 1)))


def check_control(cfg: DictConfig) -> str:
    """``experiment.control`` ('size' when unset), refused by name when unknown."""
    mode = str(cfg.experiment.get("control") or "size")
    if mode not in CONTROL_MODES:
        raise DataError(f"experiment.control must be one of {', '.join(CONTROL_MODES)}, got {mode!r}")
    return mode


def wants_time_control(cfg: DictConfig) -> bool:
    """Whether the seed trains CONTROL_TIME: ``experiment.time_control`` (default on) and CONTROL is not
    itself matched on labeling time (``experiment.control=cost``)."""
    return bool(cfg.experiment.get("time_control", True)) and check_control(cfg) == "size"


def time_matched(
    records: Sequence[ImageRecord],
    gt2: Selection,
    cost: CostModel,
    truth_of: Callable[[ImageRecord], GroundTruth],
    rng: np.random.Generator,
) -> Selection:
    """Random pool images, in random order, until their hand-labeling seconds (cost model, hidden truth
    ``truth_of``) come closest to ``gt2``'s."""

    def label_seconds(record: ImageRecord) -> float:
        if not record.ok:
            return 0.0  # never eligible
        return cost.hand_label_seconds(1, len(truth_of(record)))

    seconds = [label_seconds(r) for r in records]
    target = float(sum(seconds[i] for i in gt2.indices))
    return cost_matched_control(records, seconds=seconds, target=target, rng=rng)


def draw_control(
    cfg: DictConfig,
    records: Sequence[ImageRecord],
    gt2: Selection,
    cost: CostModel,
    truth_of: Callable[[ImageRecord], GroundTruth],
) -> Selection:
    """CONTROL for ``gt2`` by ``experiment.control`` (same image count, or same hand-labeling seconds).

    truth_of: a record's hidden truth (read only for ``control=cost``, to price each image).
    """
    rng = np.random.default_rng([int(cfg.seed), CONTROL_SALT])
    if check_control(cfg) == "size":
        return random_control(records, size=len(gt2.indices), rng=rng)
    return time_matched(records, gt2, cost, truth_of, rng)


def finished_cal1(cfg: DictConfig, cal1_dir: Path) -> dict[str, Any] | None:
    """The model card of a finished CAL1 in ``cal1_dir`` (copied from ``experiment.cal1_from`` if set).

    None when there is none: the caller trains it. The card's weights path is pointed at ``cal1_dir``.
    The lending run's settings are checked once per experiment (:func:`check_same_cal1`), not here.
    """
    card_path = cal1_dir / "model_card.json"
    source = cfg.experiment.get("cal1_from")
    if not card_path.is_file() and source:
        lend = Path(str(source)) / f"seed_{int(cfg.seed)}" / "cal1"
        if not (lend / "model_card.json").is_file():
            raise DataError(f"experiment.cal1_from: {lend} holds no finished CAL1 (no model_card.json)")
        if cal1_dir.exists():
            shutil.rmtree(cal1_dir)
        shutil.copytree(lend, cal1_dir, symlinks=True)
        log.info("seed %s: CAL1 copied from %s", cfg.seed, lend)
    if not card_path.is_file():
        return None
    card = json.loads(card_path.read_text())
    card["model"]["weights"] = str(cal1_dir / "weights.pt")
    log.info("seed %s: reusing the finished CAL1 in %s", cfg.seed, cal1_dir)
    job = cal1_dir / "pool_labels" / MARKER
    labeled_with = json.loads(job.read_text()).get("uncertainty") if job.is_file() else None
    if labeled_with != uncertainty_settings(OmegaConf.to_container(cfg.uncertainty, resolve=True)):
        relabel(cfg, cal1_dir, card)
    return card


def relabel(cfg: DictConfig, cal1_dir: Path, card: dict[str, Any]) -> None:
    """Redo a kept CAL1's calibration and pool labels with this run's ``uncertainty`` (weights kept).

    For a CAL1 lent by a run with other uncertainty settings (another scorer or pooling): the selection
    then reads scores of this run's settings. Rewrites the model card.
    """
    log.info("seed %s: CAL1's pool labels have other uncertainty settings: labeling again", cfg.seed)
    for old in (cal1_dir / "pool_labels", cal1_dir / CALIBRATION_FILE):
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    card.pop("uncertainty", None)
    split = SeedFolder(cal1_dir.parent, int(cfg.seed)).manifest
    truths = [load_truth(p, num_classes=len(card["model"]["classes"])) for p in split.val]
    detector = Detector(Path(card["model"]["weights"]), imgsz=cfg.model.imgsz, device=cfg.device)
    detector.conf = card["evaluation"]["operating_threshold"]
    timer = StageTimer()
    label_stages(cfg, detector, cal1_dir, split.val, truths, card, timer)
    redone = {f"re{stage}": seconds for stage, seconds in timer.seconds.items()}
    card["stage_seconds"] = {**card.get("stage_seconds", {}), **redone}
    write_model_card(card, cal1_dir)


def lent_control(cfg: DictConfig, seed_dir: Path, images: Sequence[Path]) -> dict[str, Any] | None:
    """CONTROL's figures from the ``experiment.cal1_from`` run when it trained this very CONTROL, else None.

    "This very CONTROL": the lending seed finished (``result.json``), its CONTROL was trained on the same
    image files (``images``: GT1 + CONTROL) in the same ``train_mode`` and ``finetune_epochs``, both runs
    with one training repeat; the other settings were checked equal for the lent CAL1
    (:func:`check_same_cal1`). Its folder is copied to ``seed_dir/control``. Training is deterministic on
    the CPU, so retraining would give the same model.
    """
    source = cfg.experiment.get("cal1_from")
    if not source:
        return None
    lend = Path(str(source)) / f"seed_{int(cfg.seed)}"
    result, view = lend / RESULT_FILE, lend / "cal1" / "data" / "images" / "control"
    if not (result.is_file() and (lend / "control" / "weights.pt").is_file() and view.is_dir()):
        return None
    theirs = load_run_config(Path(str(source))).experiment  # checked to exist by check_same_cal1
    recipe = ("train_mode", "finetune_epochs")
    if any(theirs.get(k) != cfg.experiment.get(k) for k in recipe):
        return None
    if train_repeats(cfg) != 1 or theirs.get("train_repeats", 1) not in (1, None):
        return None  # repeats: lend nothing (only repeat 0 would be the same model)
    if sorted(str(p.resolve()) for p in view.iterdir()) != sorted(str(p.resolve()) for p in images):
        return None
    shutil.copytree(lend / "control", fresh_folder(seed_dir / "control"), dirs_exist_ok=True)
    log.info("seed %s: CONTROL copied from %s (same images and recipe)", cfg.seed, lend)
    return json.loads(result.read_text())["models"][MODEL_NAMES[1]]


# settings added since older run folders were made, with the value those folders' runs used
DATA_ADDED_KEYS = {"allow_unlabeled": False}
# cost keys added since, at their defaults: the two-level prices change no model the experiment trains
COST_ADDED_KEYS = {key: getattr(CostModel(), key) for key in ("t_ignore", "t_accept")}


def settings_as_now(cfg: dict[str, Any]) -> dict[str, Any]:
    """A run's saved settings in today's shape, so that a folder made by an older version compares equal
    to today's same command: ``uncertainty`` as the label job records it (it once held an ``enabled``
    flag), and ``data`` and ``cost`` keys added since at the value the older runs used."""
    out = dict(cfg)
    out["uncertainty"] = uncertainty_settings(out["uncertainty"])
    if "cost" in out:
        out["cost"] = {**COST_ADDED_KEYS, **out["cost"]}
    if str(out["data"].get("_target_", "")).endswith("yolo_dataset"):
        out["data"] = {**DATA_ADDED_KEYS, **out["data"]}
    return out


def check_same_cal1(cfg: DictConfig, saved: Path) -> None:
    """Refuse to lend a CAL1 trained with other settings (any but experiment, selection, seed, uncertainty
    and label, :data:`NOT_CAL1`)."""
    if not saved.is_file():
        raise DataError(f"experiment.cal1_from: {saved} is missing, so its settings cannot be checked")
    theirs = settings_as_now(OmegaConf.to_container(OmegaConf.load(saved), resolve=True))
    ours = settings_as_now(OmegaConf.to_container(cfg, resolve=True))
    changed = [k for k in differing_keys(theirs, ours) if k not in NOT_CAL1]
    if changed:
        raise DataError(
            f"experiment.cal1_from: {saved.parent} trained CAL1 with other settings (differ in: "
            f"{', '.join(changed)})"
        )
