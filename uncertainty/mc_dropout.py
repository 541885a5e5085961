"""Monte-Carlo dropout in the Detect head of an ultralytics v8 / 11 model, backbone and neck run once.

Dropout sits before the final 1x1 conv of each Detect branch (``cv2`` boxes, ``cv3`` classes) at every
pyramid level. It is channel-wise (Dropout2d semantics: one keep/drop draw per channel, per image, per
pass, per branch and level, kept channels scaled by 1 / (1 - p)), drawn from a generator seeded per image,
so an image's samples do not depend on the batch it came in.

Because a 1x1 conv acts on each anchor alone, pass t's output at anchor a depends only on the final conv's
input at a and pass t's mask. :meth:`MCDropout.predict` therefore runs the stock model once (read-only
hooks keep the final convs' inputs), runs NMS on that deterministic output, and for the kept anchors only
repeats mask -> 1x1 conv -> DFL decode T times: the boxes of the deterministic pass are read in every pass
at the same anchors, no re-matching. :func:`dropout_patch` is the slow reference: it wraps the final convs
(reversibly) and runs T full forwards with the same masks; with dropout off it equals the stock model.
With ``embedding=True`` a read-only pre-hook on the Detect head also keeps the neck's feature maps (the
head's inputs: P3, P4, P5 for the stock models) of that one stock pass, pooled per image by
:func:`pool_neck_features`: no extra forward.
This module and ``autolabel/model/detector.py`` are the only places that know ultralytics' internals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from autolabel.model.detector import Detector, branch_final_convs, detect_head, ops
from autolabel.structures import Detections, box_iou
from uncertainty.samples import MCSamples

BRANCHES = ("box", "cls")
NORM_EPS = 1e-12  # an all-zero embedding stays zero instead of dividing by zero


def pool_neck_features(features: Sequence[torch.Tensor]) -> np.ndarray:
    """(B, D) float32 per-image embeddings from per-level maps [(B, C_l, H_l, W_l)], D = sum of the C_l.

    Each level is averaged over its H_l x W_l positions (global average pooling), the levels are
    concatenated in the order given and every row is divided by its L2 norm, so that a Euclidean distance
    between two images reads like a cosine distance and no level dominates by its scale. ValueError on an
    empty list.
    """
    if not features:
        raise ValueError("pool_neck_features needs at least one feature map")
    pooled = torch.cat([f.float().mean(dim=(2, 3)) for f in features], dim=1)  # (B, D)
    norms = pooled.norm(dim=1, keepdim=True).clamp_min(NORM_EPS)
    return (pooled / norms).cpu().numpy().astype(np.float32)


def _head(detector: Detector) -> nn.Module:
    try:
        return detect_head(detector.model)
    except TypeError as exc:
        raise TypeError(f"{detector.weights}: {exc}") from None


def final_convs(head: nn.Module, branch: str) -> list[nn.Conv2d]:
    """The last 1x1 conv of each level of one branch (``box`` = cv2, ``cls`` = cv3), unpatched."""
    return [conv.conv if isinstance(conv, MaskedConv) else conv for conv in branch_final_convs(head, branch)]


def draw_masks(
    seeds: Sequence[int],
    *,
    passes: int,
    p: float,
    channels: dict[str, int],
    levels: int,
    branches: Sequence[str],
) -> dict[str, torch.Tensor]:
    """Channel keep-masks per branch, shape (B, T, L, C_branch), already scaled by 1 / (1 - p).

    Each image draws from ``torch.Generator().manual_seed(seed)`` in a fixed order, so the same seed gives
    the same masks whatever the batch. A branch without dropout gets all-ones masks.
    """
    total = sum(channels.values())
    draws = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        draws.append(torch.rand(passes, levels, total, generator=gen))
    u = torch.stack(draws) if draws else torch.zeros(0, passes, levels, total)
    masks, start = {}, 0
    for branch, width in channels.items():
        part = u[..., start : start + width]
        start += width
        if branch in branches and p > 0:
            masks[branch] = (part >= p).float() / (1.0 - p)
        else:
            masks[branch] = torch.ones_like(part)
    return masks


class MaskedConv(nn.Module):
    """A final conv with channel dropout in front; masks (B, C) per image, or None (= the plain conv)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        self.masks: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.masks is not None:
            x = x * self.masks[:, :, None, None].to(x.dtype)
        return self.conv(x)


@contextlib.contextmanager
def dropout_patch(head: nn.Module) -> Iterator[dict[str, list[MaskedConv]]]:
    """Wrap each final conv in a :class:`MaskedConv` (dropout off until masks are set); undone on exit."""
    wrapped: dict[str, list[MaskedConv]] = {}
    originals = []
    for branch, seqs in (("box", head.cv2), ("cls", head.cv3)):
        wrapped[branch] = []
        for seq in seqs:
            originals.append((seq, seq[-1]))
            seq[-1] = MaskedConv(seq[-1])
            wrapped[branch].append(seq[-1])
    try:
        yield wrapped
    finally:
        for seq, conv in originals:
            seq[-1] = conv


class MCDropout:
    """T stochastic head passes for every box a :class:`Detector` keeps.

    passes: T; p: dropout probability; branches: which Detect branches get dropout (``box``, ``cls``);
    candidate_conf: NMS confidence of the deterministic pass (boxes between it and ``detector.conf`` are
    scored too: near misses tell of missed objects); matching: ``anchor`` (fast, the same anchors in every
    pass) or ``iou`` (each pass runs its own NMS and is matched to the candidates at IoU >= 0.5);
    embedding: also give each image's pooled neck features (``MCSamples.embedding``), from the same pass.
    ``passes=1, p=0`` (``uncertainty=single_pass``) is the deterministic pass alone: its one "pass" is
    read off the candidates, and the head is not run again.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        passes: int = 10,
        p: float = 0.1,
        branches: Sequence[str] = BRANCHES,
        candidate_conf: float | None = None,
        matching: str = "anchor",
        seed: int = 0,
        embedding: bool = False,
    ) -> None:
        if passes < 1:
            raise ValueError(f"passes={passes} must be >= 1")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p={p} must lie in [0, 1)")
        if unknown := set(branches) - set(BRANCHES):
            raise ValueError(f"branches: unknown {sorted(unknown)}; choose from {BRANCHES}")
        if matching not in ("anchor", "iou"):
            raise ValueError(f"matching={matching!r}: choose 'anchor' or 'iou'")
        self.detector, self.head = detector, _head(detector)
        self.passes, self.p, self.branches = int(passes), float(p), tuple(branches)
        self.candidate_conf = detector.conf if candidate_conf is None else float(candidate_conf)
        self.matching, self.seed, self.embedding = matching, int(seed), bool(embedding)
        self.channels = {b: final_convs(self.head, b)[0].in_channels for b in BRANCHES}

    @property
    def deterministic(self) -> bool:
        """True when the one pass is the deterministic pass (T = 1, no dropout): nothing to re-run."""
        return self.passes == 1 and (self.p == 0.0 or not self.branches)

    def masks(self, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
        return draw_masks(
            [self.seed * 1_000_003 + s for s in seeds],
            passes=self.passes,
            p=self.p,
            channels=self.channels,
            levels=self.head.nl,
            branches=self.branches,
        )

    @torch.inference_mode()
    def predict(self, images: Sequence[np.ndarray], *, seeds: Sequence[int] | None = None) -> list[MCSamples]:
        """MC samples of a batch of BGR uint8 images [(H, W, 3)]; ``seeds`` (an int per image) fix masks."""
        if not images:
            return []
        seeds = list(range(len(images))) if seeds is None else list(seeds)
        det = self.detector
        tensor = det.preprocess(images)
        captured: dict[tuple[str, int], torch.Tensor] = {}
        hooks = [
            conv.register_forward_hook(
                lambda _m, inp, _o, key=(branch, level): captured.__setitem__(key, inp[0])
            )
            for branch in BRANCHES
            for level, conv in enumerate(final_convs(self.head, branch))
            if not self.deterministic
        ]
        neck: list[torch.Tensor] = []
        if self.embedding:  # the head's input list is rebuilt in its forward: keep the maps, not the list
            hooks.append(self.head.register_forward_pre_hook(lambda _m, args: neck.extend(args[0])))
        try:
            raw = det.raw_outputs(tensor)
        finally:
            for hook in hooks:
                hook.remove()
        embeddings = pool_neck_features(neck) if self.embedding else [None] * len(images)
        input_hw = tuple(tensor.shape[2:])
        original_hw = [im.shape[:2] for im in images]
        kept, indices = det.nms(raw, conf=self.candidate_conf)
        candidates = det.to_detections(raw, kept, indices, input_hw, original_hw)
        if self.deterministic:
            pairs = zip(candidates, original_hw, strict=True)
            samples = [deterministic_samples(c, det.conf, hw) for c, hw in pairs]
            return [replace(s, embedding=e) for s, e in zip(samples, embeddings, strict=True)]
        masks = self.masks(seeds)
        if self.matching == "iou":
            passes = full_pass_outputs(det, tensor, masks, original_hw=original_hw, conf=det.conf)
            samples = [self._iou_samples(b, c, passes, original_hw[b]) for b, c in enumerate(candidates)]
        else:
            samples = [
                self._anchor_samples(b, idx, cand, captured, masks, input_hw, images[b])
                for b, (idx, cand) in enumerate(zip(indices, candidates, strict=True))
            ]
        return [replace(s, embedding=e) for s, e in zip(samples, embeddings, strict=True)]

    def _anchor_samples(self, b, idx, candidates, captured, masks, input_hw, image) -> MCSamples:
        head, nc, n = self.head, self.detector.num_classes, len(idx)
        if n == 0:
            empty = np.zeros((self.passes, 0), bool)
            return MCSamples(
                candidates,
                np.zeros((self.passes, 0, nc), np.float32),
                np.zeros((self.passes, 0, 4), np.float32),
                empty,
                image_hw=image.shape[:2],
            )
        sizes = [captured[("box", lvl)].shape[2] * captured[("box", lvl)].shape[3] for lvl in range(head.nl)]
        offsets = np.cumsum([0, *sizes])
        outputs = {}
        for branch in BRANCHES:
            convs = final_convs(head, branch)
            out = torch.empty(self.passes, convs[0].out_channels, n)
            for lvl, conv in enumerate(convs):
                sel = ((idx >= offsets[lvl]) & (idx < offsets[lvl + 1])).nonzero().view(-1)
                if len(sel) == 0:
                    continue
                feats = captured[(branch, lvl)][b].flatten(1)[:, idx[sel] - offsets[lvl]]  # (C, n_l)
                x = masks[branch][b, :, lvl, :, None] * feats[None]  # (T, C, n_l)
                out[:, :, sel] = (
                    torch.einsum("oc,tcn->ton", conv.weight[:, :, 0, 0], x) + conv.bias[None, :, None]
                )
            outputs[branch] = out
        dist = head.dfl(outputs["box"])  # (T, 4, n)
        xywh = head.decode_bboxes(dist, head.anchors[:, idx].unsqueeze(0)) * head.strides[:, idx]
        xyxy = ops.xywh2xyxy(xywh.transpose(1, 2).reshape(-1, 4))
        xyxy = ops.scale_boxes(input_hw, xyxy, image.shape[:2]).reshape(self.passes, n, 4)
        probs = outputs["cls"].sigmoid().transpose(1, 2)  # (T, n, C)
        hits = probs.amax(-1) >= self.detector.conf
        return MCSamples(
            candidates,
            probs.numpy().astype(np.float32),
            xyxy.numpy().astype(np.float32),
            hits.numpy(),
            image_hw=image.shape[:2],
        )

    def _iou_samples(
        self, b: int, candidates: Detections, passes: list[list[Detections]], image_hw: tuple[int, int]
    ) -> MCSamples:
        n, nc = len(candidates), self.detector.num_classes
        probs = np.zeros((self.passes, n, nc), np.float32)
        boxes = np.full((self.passes, n, 4), np.nan, np.float32)
        hits = np.zeros((self.passes, n), bool)
        for t, per_image in enumerate(passes):
            found = per_image[b]
            if n == 0 or len(found) == 0:
                continue
            iou = box_iou(candidates.xyxy, found.xyxy)
            taken = np.zeros(len(found), bool)
            for i in np.argsort(-candidates.conf, kind="stable"):
                j = int(np.argmax(np.where(taken, -1.0, iou[i])))
                if iou[i, j] >= 0.5 and not taken[j]:
                    taken[j], hits[t, i] = True, True
                    probs[t, i], boxes[t, i] = found.probs[j], found.xyxy[j]
        return MCSamples(candidates, probs, boxes, hits, image_hw=tuple(image_hw))


def deterministic_samples(candidates: Detections, conf: float, image_hw: tuple[int, int]) -> MCSamples:
    """The deterministic pass as one "pass" (T = 1): probs (1, N, C), boxes (1, N, 4), hits (1, N)."""
    return MCSamples(
        candidates,
        candidates.probs[None].astype(np.float32),
        candidates.xyxy[None].astype(np.float32),
        (candidates.conf >= conf)[None],
        image_hw=tuple(image_hw),
    )


def full_pass_outputs(
    detector: Detector,
    tensor: torch.Tensor,
    masks: dict[str, torch.Tensor],
    *,
    original_hw: Sequence[tuple[int, int]],
    conf: float,
) -> list[list[Detections]]:
    """The naive way: T full forwards with the masks of :func:`draw_masks`, each with its own NMS.

    tensor: the preprocessed batch (B, 3, h, w); returns per pass, per image Detections in original pixels.
    """
    head = _head(detector)
    passes = next(iter(masks.values())).shape[1]
    out = []
    with dropout_patch(head) as wrapped:
        for t in range(passes):
            for branch, convs in wrapped.items():
                for lvl, conv in enumerate(convs):
                    conv.masks = masks[branch][:, t, lvl, :]
            raw = detector.raw_outputs(tensor)
            out.append(detector.postprocess(raw, tuple(tensor.shape[2:]), original_hw, conf=conf))
    return out
