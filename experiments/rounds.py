"""Labeling rounds: select ``budget`` pool images, label them, retrain, repeat; uncertainty vs random.

``experiment.rounds=N`` with ``experiment.budget=K``: for each seed, starting from that seed's CAL1 (round
0, trained on GT1 by :mod:`experiments.seed_run`), two strategies run side by side for N rounds:

- ``uncertainty``: the current model auto-labels the images still in the pool with the configured
  ``uncertainty`` stage (difficulty bands re-fitted on VAL), and the configured ``selection`` picks K of
  them (its budget set to K);
- ``random``: K images drawn uniformly from the images still in the pool.

The simulated annotator labels the picks (the pool's hidden truth), and the next model trains on GT1 plus
everything labeled so far with the experiment's recipe (warm: fine-tune the strategy's current model for
``finetune_epochs``; scratch: from the model YAML). Every model is evaluated on the same VAL.

Folder: ``<seed>/rounds/<strategy>/round_<r>/`` holds the ultralytics run, ``weights.pt`` and, last,
``result.json``; a round with a ``result.json`` is finished and reused, so an interrupted run resumes at
the next round. The training views live beside CAL1's (``<seed>/cal1/data/``).

Across seeds (:mod:`experiments.round_stats`): mean and 95% CI of mAP50-95 per round and strategy, the
label savings per labeled image and per hand-labeling hour (cost model over the picks' hidden truth), and
the paired difference uncertainty - random of mAP50-95 per round (paired by seed: both strategies start
from the same CAL1).

Round 1 reuses the seed study's work where it is the same: random's picks are the seed's CONTROL draw when
that is a same-size draw of ``budget`` images, and a round trained on exactly the images of the seed's
CAL2 or a control, from CAL1, takes that model instead of training it again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from autolabel.data.views import build_view, load_truth, view_name
from autolabel.errors import DataError
from autolabel.job.stages import UncertaintyStage
from autolabel.model.detector import Detector
from autolabel.pipeline import evaluate_weights, fit, label_folder
from autolabel.records import ImageRecord, read_folder_records
from autolabel.review.selection import RandomSelection
from autolabel.review.strategy import Strategy, call_select
from experiments.constants import ROUND_SALT
from experiments.run_folder import SeedFolder, fresh_folder, write_json

log = logging.getLogger("experiments.rounds")
STUDY_MODELS = ("cal2", "control", "control_time")  # the seed study's models a round 1 may reuse
STRATEGIES = ("uncertainty", "random")  # the configured selection, and the random control it is compared with
ROUND_METRICS = ("map50_95", "map50", "boost")


def check_rounds(cfg: DictConfig) -> tuple[int, int]:
    """(rounds, budget) from ``cfg.experiment``; DataError naming the setting when they cannot work."""
    rounds, budget = cfg.experiment.get("rounds", 0) or 0, cfg.experiment.get("budget")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise DataError(f"experiment.rounds must be an int >= 0 (0 = no rounds), got {rounds!r}")
    if rounds and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
        raise DataError(f"experiment.budget must be an int >= 1 (images per round), got {budget!r}")
    if rounds and not _selectors(cfg, 1)[STRATEGIES[0]].requires:
        raise DataError(
            "experiment.rounds compares a selection that reads the auto-labels with random; "
            f"selection={cfg.selection._target_.rsplit('.', 1)[-1]} reads none of them and would compare "
            "random with itself: use selection=difficulty or selection=topk"
        )
    return rounds, int(budget or 0)


def _selectors(cfg: DictConfig, budget: int) -> dict[str, Strategy]:
    """The rounds' strategies at ``budget`` images a round: the configured selection, and random."""
    return dict(
        zip(
            STRATEGIES,
            (instantiate(cfg.selection, budget=budget), RandomSelection(budget=budget)),
            strict=True,
        )
    )


def score_pool(
    cfg: DictConfig,
    ctx: Mapping[str, Any],
    weights: Path,
    threshold: float,
    images: Sequence[Path],
    *,
    tag: str,
    output: Path,
) -> list[ImageRecord]:
    """Auto-label ``images`` with ``weights`` at ``threshold`` with the ``uncertainty`` stage (difficulty
    bands fitted on VAL); returns the job's records, keyed by ``view_name`` over ``images``."""
    split_name = f"pool_{tag}"
    build_view(
        {split_name: images},
        dest=ctx["data"],
        names=ctx["names"],
        train=split_name,
        val="val",
        with_labels=(),
        yaml_name=f"{split_name}.yaml",
    )
    detector = Detector(weights, imgsz=cfg.model.imgsz, device=cfg.device)
    detector.conf = threshold
    stage: UncertaintyStage = instantiate(cfg.uncertainty)
    fitted = stage.calibrate(
        detector, ctx["val"], ctx["val_truths"], batch=cfg.label.batch, cost=instantiate(cfg.cost)
    )
    source = Path(ctx["data"]) / "images" / split_name
    fresh_folder(output)
    label_folder(
        cfg.uncertainty,
        stage,
        detector,
        fitted[0] if fitted else None,
        source=source,
        output=output,
        batch=cfg.label.batch,
        threads=cfg.label.threads,
    )
    return read_folder_records(output)


def run_round(
    cfg: DictConfig,
    *,
    strategy: str,
    round_index: int,
    state: Mapping[str, Any],
    ctx: Mapping[str, Any],
    folder: Path,
) -> dict[str, Any]:
    """One round of one strategy: select K of the remaining pool, train (or reuse the seed study's model
    trained on those very images from the same start, :func:`study_weights`), evaluate on VAL."""
    started = time.perf_counter()
    labeled = [Path(p) for p in state["pool_labeled"]]
    taken = set(labeled)
    remaining = [p for p in ctx["pool"] if p not in taken]
    if not remaining:
        raise DataError(
            f"round {round_index} of {strategy}: the pool is used up; lower experiment.rounds or "
            "experiment.budget"
        )
    tag = f"r{round_index}_{strategy}"
    if round_index == 1 and strategy == "random" and (drawn := control_draw(cfg, ctx)) is not None:
        picked, reason = drawn, f"the seed's CONTROL: {len(drawn)} pool images drawn at random"
    else:
        picked, reason = _pick(cfg, strategy, round_index, state, ctx, remaining, tag, folder)
    images = [*ctx["gt1"], *labeled, *picked]
    reused = study_weights(ctx, state, images)
    if reused is not None:
        weights, reason = reused[1], f"{reason}; model: the seed's {reused[0]} (same images and start)"
        log.info("seed %s %s round %d: reusing the seed's %s", cfg.seed, strategy, round_index, reused[0])
    else:
        data_yaml = build_view(
            {tag: images}, dest=ctx["data"], names=ctx["names"], train=tag, val="val", yaml_name=f"{tag}.yaml"
        )
        warm = cfg.experiment.train_mode == "warm"
        weights = fit(
            cfg,
            data_yaml,
            folder,
            model=str(state["weights"]) if warm else None,
            epochs=cfg.experiment.finetune_epochs if warm else None,
        )
    _, evaluation = evaluate_weights(cfg, weights, ctx["val"], ctx["val_truths"])
    added_boxes = sum(len(ctx["truth"](p)) for p in picked)
    cost = instantiate(cfg.cost)
    return {
        "strategy": strategy,
        "round": round_index,
        "labeled": len(images),
        "added": len(picked),
        "added_boxes": int(added_boxes),
        # what labeling the picks by hand costs (cost model over their hidden truth): the hours axis
        "added_seconds": round(float(cost.hand_label_seconds(len(picked), added_boxes)), 2),
        "reason": reason,
        "pool_labeled": [str(p) for p in [*labeled, *picked]],
        "weights": str(weights),
        **{key: evaluation[key] for key in (*ROUND_METRICS, "operating_threshold")},
        "seconds": round(time.perf_counter() - started, 2),
    }


def _pick(
    cfg: DictConfig,
    strategy: str,
    round_index: int,
    state: Mapping[str, Any],
    ctx: Mapping[str, Any],
    remaining: Sequence[Path],
    tag: str,
    folder: Path,
) -> tuple[list[Path], str]:
    """The strategy's K picks among ``remaining`` and its reason; a selection that reads the auto-labels
    gets the current model's labels of what is left of the pool."""
    selector = _selectors(cfg, ctx["budget"])[strategy]
    if selector.requires:
        if round_index == 1 and ctx.get("cal1_records") is not None:
            records = ctx["cal1_records"]  # CAL1 already labeled the whole pool with uncertainty
        else:
            threshold = float(state["operating_threshold"])
            records = score_pool(
                cfg, ctx, Path(state["weights"]), threshold, remaining, tag=tag, output=folder / "pool_labels"
            )
    else:
        records = [ImageRecord(image=view_name(i, p)) for i, p in enumerate(remaining)]
    rng = np.random.default_rng([int(cfg.seed), ROUND_SALT + round_index, STRATEGIES.index(strategy)])
    by_key = {view_name(i, p): p for i, p in enumerate(remaining)}
    truth_of = ctx["truth"]
    chosen = call_select(selector, records, rng=rng, truth=lambda r: truth_of(by_key[r.image]))
    return [by_key[records[i].image] for i in chosen.indices], chosen.reason


def _resolved(images: Sequence[Path]) -> frozenset[str]:
    return frozenset(str(Path(p).resolve()) for p in images)


def study_models(folder: SeedFolder) -> dict[str, tuple[frozenset[str], Path]]:
    """The seed study's fine-tuned models (CAL2, the controls): name -> (its training images, resolved;
    its weights). All start from CAL1 with the rounds' recipe; a model without weights is left out."""
    out = {}
    for key in STUDY_MODELS:
        view, weights = folder.cal1 / "data" / "images" / key, folder.path / key / "weights.pt"
        if view.is_dir() and weights.is_file():
            out[key] = (_resolved(list(view.iterdir())), weights)
    return out


def study_weights(
    ctx: Mapping[str, Any], state: Mapping[str, Any], images: Sequence[Path]
) -> tuple[str, Path] | None:
    """(name, weights) of the seed study's model trained on exactly ``images`` from the round's starting
    model (CAL1: round 1), else None. Training on the CPU is deterministic, so retraining would give it."""
    if str(state["weights"]) != str(ctx["cal1_weights"]):
        return None
    wanted = _resolved(images)
    for name, (trained, weights) in ctx["study"].items():
        if trained == wanted:
            return name, weights
    return None


def control_draw(cfg: DictConfig, ctx: Mapping[str, Any]) -> list[Path] | None:
    """Random's round-1 picks: the seed study's CONTROL pool images when CONTROL is a same-size random
    draw (``experiment.control=size``) of exactly ``budget`` images, so its model serves as the round's;
    None otherwise (the round draws its own)."""
    if cfg.experiment.get("control", "size") != "size" or "control" not in ctx["study"]:
        return None
    control = ctx["study"]["control"][0]
    picked = [p for p in ctx["pool"] if str(Path(p).resolve()) in control]
    return picked if len(picked) == ctx["budget"] else None


def round_zero(folder: SeedFolder) -> dict[str, Any]:
    """Round 0 of both strategies: the seed's CAL1, trained on GT1 (from its model card)."""
    card = folder.card
    return {
        "round": 0,
        "labeled": len(folder.manifest.gt1),
        "added": 0,
        "added_boxes": 0,
        "added_seconds": 0.0,
        "pool_labeled": [],
        "weights": card["model"]["weights"],
        **{key: card["evaluation"][key] for key in (*ROUND_METRICS, "operating_threshold")},
    }


def finished_rounds(folder: SeedFolder) -> dict[str, list[dict[str, Any]]] | None:
    """A seed's finished rounds as :func:`run_rounds` returns them, read from its folder (nothing trained).

    Each strategy's curve (round 0 first) stops before its first unfinished round; None when the seed
    has finished no round.
    """
    base = folder.path / "rounds"
    if not base.is_dir():
        return None
    start = round_zero(folder)
    out = {}
    for strategy in STRATEGIES:
        curve = [{**start, "strategy": strategy}]
        while (done := base / strategy / f"round_{len(curve)}" / "result.json").is_file():
            curve.append(json.loads(done.read_text()))
        out[strategy] = curve
    return out if any(len(curve) > 1 for curve in out.values()) else None


def run_rounds(cfg: DictConfig, seed_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every round of both strategies for ``cfg.seed``, from the finished seed in ``seed_dir``.

    Returns strategy -> the rounds' results, round 0 (CAL1 on GT1) first. Finished rounds are reused.
    """
    rounds, budget = check_rounds(cfg)
    folder = SeedFolder(seed_dir, int(cfg.seed))
    cal1_dir, split, names = folder.cal1, folder.manifest, folder.names
    records = folder.pool_records
    pool_keys = [view_name(i, p) for i, p in enumerate(split.pool)]
    ctx = {
        "budget": budget,
        "names": names,
        "gt1": split.gt1,
        "pool": split.pool,
        "val": split.val,
        "val_truths": [load_truth(p, num_classes=len(names)) for p in split.val],
        "truth": folder.truth,
        "data": cal1_dir / "data",
        # round 1 reuses CAL1's pool labels when they cover the pool in its manifest order
        "cal1_records": records if [r.image for r in records] == pool_keys else None,
        "cal1_weights": folder.card["model"]["weights"],
        "study": study_models(folder),
    }
    start = round_zero(folder)
    out: dict[str, list[dict[str, Any]]] = {}
    for strategy in STRATEGIES:
        curve = [{**start, "strategy": strategy}]
        for r in range(1, rounds + 1):
            folder = seed_dir / "rounds" / strategy / f"round_{r}"
            done = folder / "result.json"
            if done.is_file():
                result = json.loads(done.read_text())
                if result.get("budget") != budget:
                    raise DataError(f"{done} was made with another experiment.budget; remove {folder.parent}")
            else:
                log.info("seed %s: round %d of %d, %s", cfg.seed, r, rounds, strategy)
                result = run_round(
                    cfg,
                    strategy=strategy,
                    round_index=r,
                    state=curve[-1],
                    ctx=ctx,
                    folder=fresh_folder(folder),
                )
                result["budget"] = budget
                write_json(done, result)
                log.info(
                    "seed %s %s round %d: %d labeled, mAP50-95 %.3f",
                    cfg.seed,
                    strategy,
                    r,
                    result["labeled"],
                    result["map50_95"] or 0.0,
                )
            curve.append(result)
        out[strategy] = curve
    return out
