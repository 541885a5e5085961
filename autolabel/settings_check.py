"""Check the apps' settings before anything is written: a bad value is a DataError naming its key.

Each ``check_*`` function takes a composed Hydra config and raises :class:`DataError` (the apps turn it
into one ``error:`` line and exit status 2) with ``<key>=<value>: <what is wrong>; <what to do>``. They
read no model and write nothing; the only things they look at outside the config are whether a named
file exists, the operating threshold in a model card beside the weights, and which devices torch sees.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from autolabel.errors import DataError

MIN_IMGSZ = 32  # the largest stride of a YOLO v8 / 11 model: a smaller input has no feature map
_CUDA = re.compile(r"cuda(?::(\d+))?")


def _value(cfg: DictConfig, key: str) -> Any:
    """``cfg``'s value at dotted ``key``; a missing (``???``) or absent key is a DataError saying so."""
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    if not isinstance(parent, DictConfig) or leaf not in parent or OmegaConf.is_missing(parent, leaf):
        raise DataError(f"{key} is not set: add {key}=... to the command")
    return parent[leaf]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_number(
    cfg: DictConfig,
    key: str,
    low: float,
    high: float,
    *,
    example: float,
    high_open: bool = False,
    none: bool = False,
) -> None:
    """``key`` is a number in [low, high] (``high_open``: [low, high)), or null when ``none``."""
    value = _value(cfg, key)
    if none and value is None:
        return
    inside = _is_number(value) and low <= value and (value < high if high_open else value <= high)
    if not inside:
        upper = ")" if high_open else "]"
        null = " or null" if none else ""
        hint = f"; set e.g. {key}={example}"
        raise DataError(f"{key}={value!r}: must be a number in [{low:g}, {high:g}{upper}{null}{hint}")


def check_int(
    cfg: DictConfig,
    key: str,
    minimum: int,
    *,
    none: bool = False,
    also: Sequence[int] = (),
    unit: str = "",
    why: str = "",
) -> None:
    """``key`` is an integer >= ``minimum`` (or one of ``also``), or null when ``none``; ``why`` explains."""
    value = _value(cfg, key)
    if none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or (value < minimum and value not in also):
        extra = "".join(f" or {a}" for a in also) + (" or null" if none else "")
        raise DataError(
            f"{key}={value!r}: must be a whole number >= {minimum}{unit}{extra}{why}; "
            f"set e.g. {key}={minimum}"
        )


def check_bool(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if not isinstance(value, bool):
        raise DataError(f"{key}={value!r}: must be true or false")


def check_choice(cfg: DictConfig, key: str, choices: Sequence[str]) -> None:
    value = _value(cfg, key)
    if value not in choices:
        raise DataError(f"{key}={value!r}: must be one of {', '.join(choices)}")


def check_size(cfg: DictConfig, key: str) -> None:
    """A split size: a count (int >= 0) or a fraction (float in (0, 1))."""
    value = _value(cfg, key)
    count = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if not (count or (isinstance(value, float) and 0.0 < value < 1.0)):
        raise DataError(f"{key}={value!r}: must be a count (whole number >= 0) or a fraction in (0, 1)")


def check_file(cfg: DictConfig, key: str, what: str) -> Path:
    """``key`` names an existing file; returns its path."""
    value = _value(cfg, key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{key}={value!r}: must be the path of {what}")
    path = Path(value).expanduser()
    if not path.is_file():
        raise DataError(f"{key}={path}: file not found; give the path of {what}")
    return path


def check_path(cfg: DictConfig, key: str, what: str) -> None:
    value = _value(cfg, key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{key}={value!r}: must be the path of {what}")


def check_device(
    device: Any, *, key: str = "device", cuda_count: int | None = None, mps: bool | None = None
) -> None:
    """``device`` is cpu, auto, mps, cuda or cuda:N, and exists on this machine.

    cuda_count / mps: what this machine has (None: ask torch).
    """
    text = str(device).strip().lower() if isinstance(device, str) else ""
    fix = f"use {key}=cpu, or {key}=auto to take a GPU when there is one"
    if text in ("cpu", "auto"):
        return
    if text == "mps":
        if mps is None:
            import torch

            mps = torch.backends.mps.is_available()
        if not mps:
            raise DataError(f"{key}=mps: this machine has no Apple GPU (MPS); {fix}")
        return
    match = _CUDA.fullmatch(text)
    if not match:
        raise DataError(f"{key}={device!r}: not a device; {fix}, or {key}=cuda:N for GPU N")
    if cuda_count is None:
        import torch

        cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(match.group(1) or 0)
    if index >= cuda_count:
        seen = f"torch sees {cuda_count} CUDA GPU(s)" if cuda_count else "torch sees no CUDA GPU here"
        raise DataError(f"{key}={device}: no such GPU on this machine ({seen}); {fix}")


def check_card_threshold(weights: Path, *, key: str) -> None:
    """The operating threshold of the model card beside ``weights`` (used when ``key`` is null) is valid."""
    card = weights.parent / "model_card.json"
    if not card.is_file():
        return
    try:
        value = json.loads(card.read_text()).get("evaluation", {}).get("operating_threshold")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise DataError(f"{card}: unreadable model card ({exc}); set {key}=<confidence> to choose") from exc
    if value is not None and not (_is_number(value) and 0.0 <= value <= 1.0):
        raise DataError(
            f"{card}: operating_threshold={value!r} is outside [0, 1]; set {key}=<a confidence in [0, 1]>, "
            "or train the model again with a valid threshold"
        )


def _check_instantiates(cfg: DictConfig, key: str) -> None:
    """A ``_target_`` group (scorer, cost model) builds: its own checks run now, not after training."""
    try:
        instantiate(_value(cfg, key))
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        raise DataError(f"{key}: {cause}; fix that setting") from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise DataError(f"{key}: {exc}; fix that setting") from exc


def check_uncertainty_settings(cfg: DictConfig, key: str = "uncertainty") -> None:
    """The ``uncertainty`` group: MC passes and dropout, scorer, error model, calibration levels (a stage
    without MC settings, plain labels, has none to check)."""
    if OmegaConf.select(cfg, f"{key}.mc") is None:
        return
    check_int(cfg, f"{key}.mc.passes", 1, why=" (1: the deterministic pass alone, uncertainty=single_pass)")
    check_number(cfg, f"{key}.mc.p", 0.0, 1.0, example=0.1, high_open=True)
    if _value(cfg, f"{key}.mc.passes") == 1 and _value(cfg, f"{key}.mc.p") > 0:
        raise DataError(
            f"{key}.mc.p={_value(cfg, f'{key}.mc.p')}: with {key}.mc.passes=1 dropout must be off (p=0): one "
            f"dropout pass measures no spread and only blurs the scores; set {key}.mc.passes=10 for MC "
            f"dropout (uncertainty=mc_dropout), or {key}.mc.p=0"
        )
    branches = _value(cfg, f"{key}.mc.branches")
    if not isinstance(branches, ListConfig) or not branches or not set(branches) <= {"box", "cls"}:
        raise DataError(f"{key}.mc.branches={branches!r}: must be a non-empty list of box, cls")
    check_choice(cfg, f"{key}.mc.matching", ("anchor", "iou"))
    check_int(cfg, f"{key}.mc.seed", 0)
    check_number(cfg, f"{key}.mc.candidate_factor", 0.0, 1.0, example=0.5)
    if OmegaConf.select(cfg, f"{key}.embedding") is not None:
        check_bool(cfg, f"{key}.embedding")
    _check_instantiates(cfg, f"{key}.scorer")
    if OmegaConf.select(cfg, f"{key}.error_model") is not None:
        _check_instantiates(cfg, f"{key}.error_model")
    levels = _value(cfg, f"{key}.calibration.levels")
    ok = isinstance(levels, ListConfig) and len(levels) == 2 and all(_is_number(v) for v in levels)
    if not ok or not 0.0 < levels[0] < levels[1] < 1.0:
        raise DataError(f"{key}.calibration.levels={levels!r}: must be two numbers with 0 < l0 < l1 < 1")
    check_int(cfg, f"{key}.calibration.min_images", 1)
    check_bool(cfg, f"{key}.calibration.require_split")


def check_label_settings(cfg: DictConfig) -> None:
    """Every setting of ``python -m autolabel.label`` (conf/label.yaml)."""
    weights = check_file(cfg, "weights", "a .pt written by autolabel.train")
    check_path(cfg, "source", "a folder of images")
    check_path(cfg, "output", "a new or empty folder (or one this job wrote before, to resume)")
    check_number(cfg, "conf", 0.0, 1.0, example=0.25, none=True)
    check_number(cfg, "iou", 0.0, 1.0, example=0.7)
    check_int(cfg, "imgsz", MIN_IMGSZ, none=True, unit=" pixels")
    check_int(cfg, "max_det", 1)
    check_int(cfg, "batch", 1)
    check_int(cfg, "threads", 1)
    check_bool(cfg, "progress")
    check_device(_value(cfg, "device"))
    check_uncertainty_settings(cfg)
    _check_instantiates(cfg, "backend")
    if cfg.conf is None:
        check_card_threshold(weights, key="conf")


def check_train_settings(cfg: DictConfig) -> None:
    """Every setting of ``python -m autolabel.train`` (conf/train.yaml and its groups)."""
    check_int(cfg, "seed", 0)
    check_device(_value(cfg, "device"))
    check_number(cfg, "threshold", 0.0, 1.0, example=0.3, none=True)
    check_bool(cfg, "label_pool")
    check_int(cfg, "label.batch", 1)
    check_int(cfg, "label.threads", 1)
    check_size(cfg, "split.val")
    if cfg.split.get("labeled_only"):
        check_bool(cfg, "split.labeled_only")
        if cfg.split.get("val_from") is not None:
            check_file(cfg, "split.val_from", "the manifest.csv of an earlier run")
    else:
        check_size(cfg, "split.gt1")
    check_path(cfg, "model.name", "a model YAML (yolov8n.yaml) or a local .pt to start from")
    check_int(cfg, "model.imgsz", MIN_IMGSZ, unit=" pixels")
    check_int(cfg, "trainer.epochs", 1)
    check_int(cfg, "trainer.batch", 1, also=(-1,))
    check_int(cfg, "trainer.workers", 0)
    check_number(cfg, "trainer.head_dropout", 0.0, 1.0, example=0.1, high_open=True)
    for flag in ("trainer.val", "trainer.plots", "trainer.verbose"):
        check_bool(cfg, flag)
    if "allow_unlabeled" in cfg.data:
        check_bool(cfg, "data.allow_unlabeled")
    _check_instantiates(cfg, "cost")
    check_uncertainty_settings(cfg)
    from autolabel.model.detector import check_model_source  # a model that would download or lacks probs

    check_model_source(cfg.model.name)


def check_evaluate_settings(cfg: DictConfig) -> None:
    """Every setting of ``python -m uncertainty.evaluate`` (conf/evaluate.yaml)."""
    if _value(cfg, "reviews") is not None:
        if _value(cfg, "weights") is not None:
            raise DataError("weights and reviews are both set: measure a model (weights) or real reviews")
        check_file(cfg, "reviews", "a reviews.jsonl written by `python -m autolabel.import_labels`")
        return
    if _value(cfg, "weights") is None:
        raise DataError("weights is not set: add weights=runs/train/<time>/weights.pt (or reviews=...)")
    weights = check_file(cfg, "weights", "a .pt written by autolabel.train")
    check_int(cfg, "seed", 0)
    check_number(cfg, "threshold", 0.0, 1.0, example=0.3, none=True)
    check_choice(cfg, "eval_split", ("pool", "val"))
    check_bool(cfg, "tta")
    check_int(cfg, "batch", 1)
    check_device(_value(cfg, "device"))
    check_size(cfg, "split.val")
    check_size(cfg, "split.gt1")
    _check_instantiates(cfg, "cost")
    check_uncertainty_settings(cfg)
    if cfg.threshold is None:
        check_card_threshold(weights, key="threshold")


def check_folder(cfg: DictConfig, key: str, what: str) -> Path:
    """``key`` names an existing folder; returns its path."""
    value = _value(cfg, key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{key}={value!r}: must be the path of {what}")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataError(f"{key}={path}: folder not found; give the path of {what}")
    return path


def check_select_settings(cfg: DictConfig) -> Path:
    """Every setting of ``python -m autolabel.select`` (conf/select.yaml); returns the labels folder."""
    from autolabel.job.runner import MARKER

    labels = check_folder(cfg, "labels", "an auto-label output folder")
    if not (labels / MARKER).is_file():
        raise DataError(
            f"labels={labels}: not an auto-label output folder (no {MARKER}); give the output of "
            "`python -m autolabel.label` or a train run's pool_labels/"
        )
    check_int(cfg, "n", 1, none=True)
    check_number(cfg, "seconds", 1e-9, math.inf, example=3600, none=True)
    if cfg.n is not None and cfg.seconds is not None:
        raise DataError(f"n={cfg.n} and seconds={cfg.seconds}: give a budget in images or seconds, not both")
    include = _value(cfg, "include")
    if not isinstance(include, ListConfig) or not all(isinstance(s, str) and s.strip("/") for s in include):
        raise DataError(f"include={include!r}: must be a list of subfolder names, e.g. include=[line_b]")
    if _value(cfg, "image_list") is not None:
        check_file(cfg, "image_list", "a text file of image keys, one per line")
    check_bool(cfg, "skip_labeled")
    check_int(cfg, "seed", 0)
    _check_instantiates(cfg, "cost")
    _check_instantiates(cfg, "selection")
    return labels


def check_document_root(cfg: DictConfig, source: Path) -> Path:
    """Label Studio's document root the batch's image URLs are relative to: ``document_root``, else
    $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, else /. It must be an absolute path of a folder holding
    ``source`` (the auto-labeled images); the DataError names the setting it came from."""
    from autolabel.review.label_studio_client import ROOT_ENV

    value, key = _value(cfg, "document_root"), "document_root"
    if value is None:
        value, key = os.environ.get(ROOT_ENV) or "/", ROOT_ENV
    if not isinstance(value, str) or not value.strip():
        raise DataError(
            f"{key}={value!r}: must be Label Studio's LOCAL_FILES_DOCUMENT_ROOT, an absolute path"
        )
    root = Path(value).expanduser()
    fix = f"set {key} to the LOCAL_FILES_DOCUMENT_ROOT Label Studio runs with (a folder above the images)"
    if not root.is_absolute():
        raise DataError(f"{key}={value!r}: must be an absolute path; {fix}")
    if not root.is_dir():
        raise DataError(f"{key}={value}: no such folder; {fix}")
    if not Path(source).absolute().is_relative_to(root.absolute()):
        raise DataError(
            f"{key}={value}: the images ({source}) are not under it, so Label Studio could not serve them; "
            f"{fix}"
        )
    return root


def check_import_settings(cfg: DictConfig) -> tuple[Path, list[Path]]:
    """Every setting of ``python -m autolabel.import_labels``; returns the export and the batch folders."""
    export = Path(str(_value(cfg, "export"))).expanduser()
    if not export.exists():
        raise DataError(f"export={export}: not found; give the file or folder the annotation tool exported")
    raw = _value(cfg, "batches")
    folders = [Path(str(b)).expanduser() for b in (raw if isinstance(raw, ListConfig) else [raw])]
    for folder in folders:
        if not (folder / "batch.json").is_file():
            raise DataError(
                f"batches: {folder} is not a batch (no batch.json); give `autolabel.select` outputs"
            )
    check_bool(cfg, "overwrite")
    if _value(cfg, "reviews") is not None and Path(cfg.reviews).exists():
        check_file(cfg, "reviews", "a reviews.jsonl to append to")
    return export, folders


def check_sync_settings(cfg: DictConfig) -> None:
    """Every setting of ``python -m autolabel.sync`` (conf/sync.yaml)."""
    check_choice(cfg, "action", ("push", "pull"))
    project = _value(cfg, "project")
    if not isinstance(project, str) or not project.strip():
        raise DataError(f"project={project!r}: must be the title of a Label Studio project")
    check_number(cfg, "timeout", 1, 3600, example=60)
    check_bool(cfg, "overwrite")
    if cfg.action == "push":
        folder = check_folder(cfg, "batch", "an output folder of `python -m autolabel.select`")
        if not (folder / "batch.json").is_file():
            raise DataError(f"batch={folder}: not a batch (no batch.json); give an `autolabel.select` output")
        return
    batches = _value(cfg, "batches")
    if not isinstance(batches, ListConfig) or not batches:
        raise DataError(
            f"batches={batches!r}: pull needs the select outputs of the project, batches=[DIR,...]"
        )
    for folder in batches:
        if not (Path(str(folder)).expanduser() / "batch.json").is_file():
            raise DataError(
                f"batches: {folder} is not a batch (no batch.json); give `autolabel.select` outputs"
            )
