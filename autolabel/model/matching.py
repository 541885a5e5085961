"""Match one image's auto-labels to its ground truth the way a person correcting them would.

Algorithm (two greedy passes, each truth box matched at most once):

1. Sort the predictions by descending confidence (stable sort: equal confidences keep their input order).
2. Pass 1, same class: in that order, each prediction takes the still-unmatched truth box *of its own
   class* with the highest IoU, provided that IoU >= ``iou_threshold``. Such a prediction is a TP.
3. Pass 2, any class: in the same order, each prediction left unmatched by pass 1 takes the still-unmatched
   truth box of *any* class with the highest IoU >= ``iou_threshold``. Such a prediction has the right box
   but the wrong class (``wrong_class``: the person only fixes the class).
4. Predictions still unmatched are FPs (the person deletes them); truth boxes still unmatched are FNs (the
   person draws them).

Pass 1 runs over all predictions before pass 2, so a truth box goes to a lower-confidence prediction of
its own class rather than to a higher-confidence prediction of another class. A second box on an object
that is already matched is an FP (a duplicate to delete). IoU ties go to the lower truth index.

``MatchCandidates`` holds the threshold-free part (IoU, the sort, the candidate lists), so the matching of
the same image at many confidence cuts (see ``autolabel.model.efficiency.choose_threshold``) costs one IoU
matrix; ``match_detections`` is the one-shot form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autolabel.structures import Detections, GroundTruth, box_iou


@dataclass(frozen=True)
class MatchResult:
    """The outcome of matching N predictions to M truth boxes of one image.

    pred_truth: (N,) int64, index of the matched truth box, or -1;
    tp: (N,) bool, matched a truth of the same class;
    wrong_class: (N,) bool, matched a truth of another class (needs a class fix);
    fp: (N,) bool, matched nothing (needs deleting);
    fn: (M,) bool, truth matched by nothing (needs drawing).
    ``tp``, ``wrong_class`` and ``fp`` partition the predictions.
    """

    pred_truth: np.ndarray
    tp: np.ndarray
    wrong_class: np.ndarray
    fp: np.ndarray
    fn: np.ndarray


def _check_iou_threshold(iou_threshold: float) -> float:
    value = float(iou_threshold)
    if not (0.0 < value <= 1.0):
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    return value


@dataclass(frozen=True)
class MatchCandidates:
    """The confidence-independent matching state of one image, built once by ``MatchCandidates.build``.

    conf: (N,) float32 prediction confidences; pred_cls: (N,) int64; truth_cls: (M,) int64;
    order: (N,) int64 prediction indices by descending confidence (stable);
    same: per prediction, the truth indices of its own class with IoU >= iou_threshold, best IoU first;
    any_class: per prediction, the truth indices of any class with IoU >= iou_threshold, best IoU first.
    """

    conf: np.ndarray
    pred_cls: np.ndarray
    truth_cls: np.ndarray
    order: np.ndarray
    same: tuple[tuple[int, ...], ...]
    any_class: tuple[tuple[int, ...], ...]

    @classmethod
    def build(cls, det: Detections, truth: GroundTruth, *, iou_threshold: float = 0.5) -> MatchCandidates:
        """Compute the IoU matrix, the confidence order and each prediction's candidate truth boxes."""
        iou_threshold = _check_iou_threshold(iou_threshold)
        iou = box_iou(det.xyxy, truth.xyxy)  # (N, M)
        # Stable sorts: equal confidences keep input order, equal IoUs prefer the lower truth index.
        order = np.argsort(-det.conf, kind="stable")
        by_iou = np.argsort(-iou, axis=1, kind="stable")  # (N, M)
        ok = np.take_along_axis(iou, by_iou, axis=1) >= iou_threshold
        same_cls = truth.cls[by_iou] == det.cls[:, None]
        any_class = tuple(tuple(row[keep].tolist()) for row, keep in zip(by_iou, ok, strict=True))
        same = tuple(tuple(row[keep & s].tolist()) for row, keep, s in zip(by_iou, ok, same_cls, strict=True))
        return cls(det.conf, det.cls, truth.cls, order, same, any_class)

    def match(self, *, min_conf: float | None = None) -> MatchResult:
        """Match the predictions with ``conf >= min_conf`` (all when None).

        Equals ``match_detections(det.above(min_conf), truth)``: the returned (N',) arrays cover the kept
        predictions in their input order, N' = ``(conf >= min_conf).sum()``.
        """
        n_truth = len(self.truth_cls)
        if min_conf is None:
            kept = np.arange(len(self.conf))
            active = self.order.tolist()
        else:
            # Same comparison as Detections.above; the kept set is a prefix of the descending order.
            keep = self.conf >= min_conf
            kept = np.flatnonzero(keep)
            active = self.order[: len(kept)].tolist()
        pred_truth = [-1] * len(self.conf)
        taken = [False] * n_truth
        for candidates in (self.same, self.any_class):
            for p in active:
                if pred_truth[p] >= 0:
                    continue
                for t in candidates[p]:
                    if not taken[t]:
                        taken[t] = True
                        pred_truth[p] = t
                        break
        matched_truth = np.asarray(pred_truth, dtype=np.int64)[kept]
        matched = matched_truth >= 0
        tp = np.zeros(len(kept), dtype=bool)
        tp[matched] = self.truth_cls[matched_truth[matched]] == self.pred_cls[kept][matched]
        return MatchResult(
            pred_truth=matched_truth,
            tp=tp,
            wrong_class=matched & ~tp,
            fp=~matched,
            fn=~np.asarray(taken, dtype=bool).reshape(n_truth),
        )


def match_detections(det: Detections, truth: GroundTruth, *, iou_threshold: float = 0.5) -> MatchResult:
    """Match one image's auto-labels ``det`` (N boxes) to its ground truth ``truth`` (M boxes).

    Two greedy passes over the predictions by descending confidence, same class first, then any class;
    see the module docstring. A match needs IoU >= ``iou_threshold`` (in (0, 1]). Returns (N,) / (M,)
    arrays, see ``MatchResult``.
    """
    return MatchCandidates.build(det, truth, iou_threshold=iou_threshold).match()


def needs_correction(det: Detections, truth: GroundTruth, *, iou_threshold: float = 0.5) -> bool:
    """Whether a person must fix these auto-labels: any FP, FN or wrong class at IoU >= ``iou_threshold``."""
    match = match_detections(det, truth, iou_threshold=iou_threshold)
    return bool(match.fp.any() or match.fn.any() or match.wrong_class.any())
