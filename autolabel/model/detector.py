"""The detector wrapper: every ultralytics call of the toolkit goes through this module.

Three jobs, kept thin: train a YOLO model from a model YAML (or warm-start from weights), predict with the
**full class-probability vector** of every kept box, and compute AP with ultralytics' own metric code.
Importing this module configures ultralytics to stay offline (see :mod:`autolabel.model.offline`).
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from autolabel.model.offline import configure_offline, torch_threads

configure_offline()

import torch  # noqa: E402  (after configure_offline: ultralytics reads the environment at import)
import torch.nn.functional as F  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.data.augment import LetterBox  # noqa: E402
from ultralytics.engine.validator import BaseValidator  # noqa: E402
from ultralytics.nn.autobackend import AutoBackend  # noqa: E402
from ultralytics.utils import nms, ops  # noqa: E402
from ultralytics.utils.metrics import ap_per_class  # noqa: E402

from autolabel.structures import Detections, GroundTruth, box_iou  # noqa: E402

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCO's AP50-95 thresholds, as ultralytics' validator uses


class ModelError(ValueError):
    """A model or weights argument that cannot be used; the message names it."""


def resolve_device(device: str) -> str:
    """``auto`` -> a visible GPU (``cuda:k``), else ``cpu``; anything else is passed through.

    With several GPUs, the one with the most free memory; jobs that start together (the seeds of a
    multirun, whose GPUs are all free) spread over the GPUs by process id. A Ray actor sees only the GPU
    Ray gave it, as ``cuda:0``.
    """
    if device != "auto":
        return device
    if not torch.cuda.is_available():
        return "cpu"
    count = torch.cuda.device_count()
    if count == 1:
        return "cuda:0"
    free = [torch.cuda.mem_get_info(k)[0] for k in range(count)]
    best = [k for k in range(count) if free[k] == max(free)]
    return f"cuda:{best[os.getpid() % len(best)]}"


def check_model_source(model: str | Path) -> str:
    """Refuse anything that would make ultralytics download weights.

    A model is either a model YAML (``yolov8n.yaml``, ``yolo11s.yaml`` or a path to one) or a local ``.pt``
    file. A bare ``yolov8n.pt`` that does not exist locally would trigger a download, so it is an error.
    """
    text = str(model)
    if text.endswith((".yaml", ".yml")):
        if Path(text).name.startswith("yolo26") or Path(text).name.startswith("yolov10"):
            raise ModelError(
                f"model={text}: NMS-free heads (yolo26, yolov10) drop the per-class score vectors; "
                "use a v8 or 11 YAML such as yolov8n.yaml or yolo11n.yaml"
            )
        return text
    if not Path(text).is_file():
        raise ModelError(
            f"weights not found: {text} (models are built from YAML, e.g. model=yolov8n.yaml; "
            "nothing is downloaded)"
        )
    return text


def detect_head(model: torch.nn.Module) -> torch.nn.Module:
    """The Detect head of an ultralytics detection model (its last layer); TypeError if it is none.

    The one place (with :func:`branch_final_convs`) that knows where the head sits: MC dropout
    (``uncertainty.mc_dropout``) and :func:`add_head_dropout` find it here.
    """
    head = model.model[-1]
    if not (hasattr(head, "cv2") and hasattr(head, "cv3") and hasattr(head, "dfl")):
        raise TypeError(f"the last layer is {type(head).__name__}, not a v8 / 11 Detect head")
    return head


def branch_final_convs(head: torch.nn.Module, branch: str) -> list[torch.nn.Module]:
    """The last module of each level of one Detect branch (``box`` = cv2, ``cls`` = cv3): its final 1x1
    conv (or whatever replaced it)."""
    return [seq[-1] for seq in (head.cv2 if branch == "box" else head.cv3)]


def load_yolo(source: str | Path, *, key: str = "weights") -> YOLO:
    """``YOLO(source)``; a file that is no model (random bytes, text, another pickle) is a ModelError.

    ``key`` names the setting in the message (``weights``, ``model``).
    """
    try:
        return YOLO(str(source))
    except Exception as exc:  # ultralytics raises TypeError, RuntimeError, pickle or zip errors for them
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        # ultralytics' first sentence, without its "ERROR <emoji>" prefix and advice to download a model
        reason = re.sub(r"^ERROR\s*[^\w/\\.~]*\s*", "", first_line).split(". ")[0][:200]
        raise ModelError(
            f"{key}={source}: not a YOLO model file ({reason}); give a .pt written by autolabel.train "
            "(or ultralytics), or a model YAML"
        ) from exc


def add_head_dropout(model: torch.nn.Module, p: float) -> list:
    """Channel dropout (``F.dropout2d``, train mode only) before each final 1x1 conv of the Detect head.

    Done with forward pre-hooks, so state-dict keys, ultralytics' EMA copy and saved checkpoints are
    unchanged: a model trained this way is the model MC dropout (``uncertainty.mc_dropout``) samples.
    Returns the hook handles.
    """
    head = detect_head(model)
    convs = [*branch_final_convs(head, "box"), *branch_final_convs(head, "cls")]
    return [
        conv.register_forward_pre_hook(lambda m, args: (F.dropout2d(args[0], p, m.training), *args[1:]))
        for conv in convs
    ]


def _head_dropout_callback(p: float):
    def callback(trainer: Any) -> None:
        # after ultralytics made its EMA copy: only the model being optimised gets the hooks
        add_head_dropout(trainer.model, p)

    return callback


def _set_threads_callback(threads: int):
    def callback(_trainer: Any) -> None:
        # ultralytics' select_device() pins torch to cpu_count - 1 threads (1 on 2 cores); undo that.
        torch.set_num_threads(threads)

    return callback


def train_detector(
    *,
    data_yaml: str | Path,
    model: str | Path,
    out_dir: str | Path,
    epochs: int,
    imgsz: int,
    batch: int,
    seed: int = 0,
    device: str = "cpu",
    workers: int = 0,
    val: bool = False,
    head_dropout: float = 0.0,
    plots: bool = False,
    verbose: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Train (from a model YAML) or fine-tune (from ``.pt`` weights) and return the path of the final weights.

    ultralytics writes its run under ``out_dir/ultralytics``; the weights it keeps as best are copied to
    ``out_dir/weights.pt``. ``head_dropout`` trains with channel dropout before the Detect head's final
    convs (see :func:`add_head_dropout`). ``extra`` passes any other ``YOLO.train`` argument.
    """
    source = check_model_source(model)
    out_dir = Path(out_dir).resolve()
    yolo = load_yolo(source, key="model")
    threads = torch_threads()
    yolo.add_callback("on_pretrain_routine_start", _set_threads_callback(threads))
    if head_dropout > 0:
        yolo.add_callback("on_pretrain_routine_end", _head_dropout_callback(float(head_dropout)))
    args: dict[str, Any] = {
        "data": str(data_yaml),
        "epochs": int(epochs),
        "imgsz": int(imgsz),
        "batch": int(batch),
        "seed": int(seed),
        "deterministic": True,
        "device": resolve_device(device),
        "workers": int(workers),
        "project": str(out_dir),
        "name": "ultralytics",
        "exist_ok": True,
        "val": bool(val),  # False: ultralytics validates only after the last epoch
        "plots": bool(plots),
        "verbose": bool(verbose),
        # False for a YAML (random init, no download); True for a .pt: ultralytics *drops* the weights of a
        # .pt model trained with pretrained=False, and a warm start would silently start from scratch.
        "pretrained": not source.endswith((".yaml", ".yml")),
        "amp": False,  # the AMP check downloads a model; AMP only matters on a GPU anyway
    }
    args.update(dict(extra or {}))
    yolo.train(**args)
    trainer_dir = Path(yolo.trainer.save_dir)
    best = trainer_dir / "weights" / "best.pt"
    if not best.is_file():
        best = trainer_dir / "weights" / "last.pt"
    target = out_dir / "weights.pt"
    shutil.copyfile(best, target)
    torch.set_num_threads(threads)
    return target


class Detector:
    """A trained YOLO detection model that predicts full class-probability vectors.

    Preprocessing follows ultralytics' predictor (letterbox to ``imgsz``, minimal padding when a batch
    shares one shape), NMS is ultralytics' own with ``return_idxs=True``, so each kept box's class
    scores are read from the raw head output at its anchor.
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        imgsz: int | None = None,
        conf: float = 0.25,
        iou: float = 0.7,
        max_det: int = 300,
        device: str = "cpu",
    ) -> None:
        if not Path(weights).is_file():
            raise ModelError(f"weights not found: {weights}")
        if not 0.0 <= conf <= 1.0:
            raise ValueError(f"conf={conf} must lie in [0, 1]")
        torch.set_num_threads(torch_threads())
        yolo = load_yolo(weights)
        if yolo.task != "detect":
            raise ModelError(f"{weights} is a {yolo.task!r} model; a detection model is needed")
        self.weights = Path(weights)
        self.device = torch.device(resolve_device(device))
        self.requested_device = device  # as asked ("auto"): a Ray actor resolves it on its own machine
        # ultralytics' own inference backend: fused, and channels-last weights where the CPU (oneDNN) or
        # GPU runs them faster (benchmarks/mc_dropout_cost.py times our pass against ultralytics' predict).
        backend = AutoBackend(model=yolo.model.float(), device=self.device, fuse=True, verbose=False)
        self.model = backend.model.eval()
        head = self.model.model[-1]
        if getattr(head, "end2end", False):
            raise ModelError(f"{weights}: NMS-free (end-to-end) heads lose the per-class scores; use v8 / 11")
        self.names: tuple[str, ...] = tuple(self.model.names[i] for i in range(len(self.model.names)))
        self.stride = int(self.model.stride.max())
        train_args = getattr(yolo, "overrides", {}) or {}
        self.imgsz = int(imgsz or train_args.get("imgsz") or 640)
        self.conf, self.iou, self.max_det = float(conf), float(iou), int(max_det)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """BGR uint8 images [(H, W, 3)] -> RGB float (B, 3, h, w) in [0, 1], letterboxed like ultralytics."""
        same_shapes = len({im.shape for im in images}) == 1
        letterbox = LetterBox(self.imgsz, auto=same_shapes, stride=self.stride)
        batch = np.stack([letterbox(image=im) for im in images])
        tensor = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).flip(1)  # BHWC BGR -> BCHW RGB
        return tensor.contiguous().float().div_(255)

    @torch.inference_mode()
    def raw_outputs(self, tensor: torch.Tensor) -> torch.Tensor:
        """The decoded head output (B, 4 + C, A): xywh in input pixels, then per-class sigmoid scores."""
        out = self.model(tensor)
        return out[0] if isinstance(out, (list, tuple)) else out

    def nms(
        self, raw: torch.Tensor, *, conf: float | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """ultralytics NMS of raw outputs (B, 4 + C, A): per image, kept rows (n, 6) and their anchors.

        Without a time limit: ultralytics' NMS stops after 2 s + 0.05 s an image and leaves the rest of the
        batch empty, so on a loaded machine images silently came back with no box (seen here: 53 of 418
        POOL images "failed" while another job held both cores).
        """
        kept, indices = nms.non_max_suppression(
            raw,
            self.conf if conf is None else conf,
            self.iou,
            max_det=self.max_det,
            nc=self.num_classes,
            return_idxs=True,
            max_time_img=math.inf,
        )
        return kept, [idx.long() for idx in indices]

    def to_detections(
        self,
        raw: torch.Tensor,
        kept: Sequence[torch.Tensor],
        indices: Sequence[torch.Tensor],
        input_hw: tuple[int, int],
        original_hw: Sequence[tuple[int, int]],
    ) -> list[Detections]:
        """Per image: kept boxes rescaled to the original (H, W), class scores read at their anchors."""
        results = []
        for b, (det, idx) in enumerate(zip(kept, indices, strict=True)):
            if len(det) == 0:
                results.append(Detections.empty(self.num_classes))
                continue
            probs = raw[b, 4 : 4 + self.num_classes, idx].T
            boxes = ops.scale_boxes(input_hw, det[:, :4].clone(), original_hw[b])
            results.append(
                Detections(
                    boxes.cpu().numpy(),
                    det[:, 4].cpu().numpy(),
                    det[:, 5].long().cpu().numpy(),
                    probs.float().cpu().numpy(),
                )
            )
        return results

    def postprocess(
        self,
        raw: torch.Tensor,
        input_hw: tuple[int, int],
        original_hw: Sequence[tuple[int, int]],
        *,
        conf: float | None = None,
    ) -> list[Detections]:
        """NMS on raw outputs (B, 4 + C, A) and rescale to each original image (H, W)."""
        kept, indices = self.nms(raw, conf=conf)
        return self.to_detections(raw, kept, indices, input_hw, original_hw)

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Auto-label a batch of BGR uint8 images [(H, W, 3)]; one :class:`Detections` per image."""
        if not images:
            return []
        tensor = self.preprocess(images)
        raw = self.raw_outputs(tensor)
        return self.postprocess(raw, tuple(tensor.shape[2:]), [im.shape[:2] for im in images])


def detection_ap(
    pairs: Sequence[tuple[Detections, GroundTruth]], *, num_classes: int
) -> dict[str, np.ndarray | float]:
    """AP per class with ultralytics' own matching and ``ap_per_class``.

    pairs: per image, detections (at a low confidence, e.g. 0.001) and ground truth. Returns ``ap50`` and
    ``ap50_95`` of shape (C,) (nan for a class with no ground truth), ``map50`` and ``map50_95`` (means over
    the classes that have ground truth, as ultralytics reports).
    """
    matcher = SimpleNamespace(iouv=torch.from_numpy(IOU_THRESHOLDS))
    tp, conf, pred_cls, target_cls = [], [], [], []
    for det, truth in pairs:
        target_cls.append(truth.cls)
        if len(det) == 0:
            continue
        order = np.argsort(-det.conf, kind="stable")
        iou = torch.from_numpy(box_iou(truth.xyxy, det.xyxy[order]))
        correct = BaseValidator.match_predictions(
            matcher, torch.from_numpy(det.cls[order]), torch.from_numpy(truth.cls), iou
        )
        tp.append(correct.numpy())
        conf.append(det.conf[order])
        pred_cls.append(det.cls[order])
    ap50 = np.full(num_classes, np.nan)
    ap50_95 = np.full(num_classes, np.nan)
    targets = np.concatenate(target_cls) if target_cls else np.zeros(0, np.int64)
    present = np.unique(targets)
    ap50[present] = 0.0
    ap50_95[present] = 0.0
    if tp and len(present):
        result = ap_per_class(
            np.concatenate(tp), np.concatenate(conf), np.concatenate(pred_cls), targets.astype(np.float64)
        )
        ap, classes = result[5], result[6].astype(int)
        ap50[classes] = ap[:, 0]
        ap50_95[classes] = ap.mean(1)
    has_truth = ~np.isnan(ap50)
    return {
        "ap50": ap50,
        "ap50_95": ap50_95,
        "map50": float(ap50[has_truth].mean()) if has_truth.any() else float("nan"),
        "map50_95": float(ap50_95[has_truth].mean()) if has_truth.any() else float("nan"),
    }
