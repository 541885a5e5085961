"""Evaluate a detector on VAL and write its model card (``model_card.json`` + ``model_card.md``).

Two kinds of figures, both on VAL:
- ranking quality: AP50 and AP50-95 per class and their means (mAP), from predictions at conf 0.001 with
  ultralytics' own matching and ``ap_per_class``;
- what a labeler sees: precision, recall and the expected efficiency boost of the auto-labels at the
  *operating threshold*, by default the confidence that maximises the boost on VAL (see
  :mod:`autolabel.model.efficiency` for the cost model).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.data.images import map_batches
from autolabel.model.detector import Detector, detection_ap
from autolabel.model.efficiency import THRESHOLD_GRID, CostModel, choose_threshold, efficiency_report
from autolabel.model.two_level import choose_two_level
from autolabel.records import json_safe
from autolabel.structures import GroundTruth

EVAL_CONF = 0.001  # the confidence floor for AP, as ultralytics' validator uses
SCORE_WORDS = {  # the error model's image score, in the card's words
    "correction_seconds": "expected seconds of the fixes",
    "p_needs_correction": "P(needs correction)",
}


def evaluate(
    detector: Detector,
    images: Sequence[Path],
    truths: Sequence[GroundTruth],
    *,
    cost: CostModel,
    threshold: float | None = None,
    batch: int = 16,
) -> dict[str, Any]:
    """AP per class of ``detector`` on labelled ``images``, and P / R / boost at the operating threshold.

    threshold: the operating confidence; None picks the one that maximises the boost on these images.
    """
    saved_conf = detector.conf
    detector.conf = EVAL_CONF
    try:
        dets = map_batches(lambda ims, _paths: detector.predict(ims), images, batch=batch, desc="evaluate")
    finally:
        detector.conf = saved_conf
    pairs = list(zip(dets, truths, strict=True))
    names = detector.names
    ap = detection_ap(pairs, num_classes=len(names))
    grid, boosts = None, None
    if threshold is None:
        threshold, boosts = choose_threshold(pairs, cost=cost, num_classes=len(names))
        grid = list(THRESHOLD_GRID)
    report = efficiency_report(pairs, cost=cost, threshold=float(threshold), num_classes=len(names)).to_dict()
    per_class = []
    for c, name in enumerate(names):
        row = dict(report["per_class"][c])
        row.update({"class": name, "ap50": float(ap["ap50"][c]), "ap50_95": float(ap["ap50_95"][c])})
        per_class.append(row)
    counts = report["counts"]
    result = {
        "n_images": len(images),
        "n_boxes": int(sum(len(t) for t in truths)),
        "operating_threshold": float(threshold),
        "threshold_source": "maximises the boost on this set" if boosts is not None else "fixed",
        "map50": ap["map50"],
        "map50_95": ap["map50_95"],
        "precision": counts["tp"] / counts["n_pred"] if counts["n_pred"] else float("nan"),
        "recall": counts["tp"] / counts["n_truth"] if counts["n_truth"] else float("nan"),
        "boost": report["boost"],
        "manual_s": report["manual_s"],
        "assisted_s": report["assisted_s"],
        "counts": counts,
        "per_class": per_class,
    }
    two = choose_two_level(pairs, cost=cost, threshold=float(threshold))
    result["two_level"] = {**two.to_dict(), "t_ignore": cost.t_ignore}
    if boosts is not None:
        result["boost_by_threshold"] = {
            str(t): float(b) for t, b in zip(grid, np.asarray(boosts), strict=True)
        }
    return json_safe(result)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def card_markdown(card: dict[str, Any]) -> str:
    """The Markdown model card of :func:`write_model_card`'s dict."""
    ev, tr, model = card["evaluation"], card["training"], card["model"]
    lines = [
        f"# Model card: {model['name']}",
        "",
        f"- weights: `{model['weights']}`",
        f"- architecture: `{model['architecture']}`, input {model['imgsz']} px, {model['epochs']} epochs",
        f"- trained on **{tr['split']}**: {tr['n_images']} images, {tr['n_boxes']} boxes",
        f"- evaluated on **{ev['split']}**: {ev['n_images']} images, {ev['n_boxes']} boxes",
        f"- operating threshold: **{_fmt(ev['operating_threshold'], 2)}** ({ev['threshold_source']})",
        "",
        "## Overall",
        "",
        "| mAP50 | mAP50-95 | precision | recall | expected efficiency boost |",
        "|---|---|---|---|---|",
        f"| {_fmt(ev['map50'])} | {_fmt(ev['map50_95'])} | {_fmt(ev['precision'])} | {_fmt(ev['recall'])} "
        f"| **{_fmt(ev['boost'], 2)}x** |",
        "",
        f"Manual labeling of {ev['split']} would take {_fmt(ev['manual_s'], 0)} s; reviewing and correcting "
        f"the auto-labels {_fmt(ev['assisted_s'], 0)} s.",
        "",
        "## Per class",
        "",
        "| class | boxes (train) | boxes (eval) | precision | recall | AP50 | AP50-95 | boost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in ev["per_class"]:
        lines.append(
            f"| {row['class']} | {tr['per_class_boxes'].get(row['class'], 0)} | {row['n_truth']} "
            f"| {_fmt(row['precision'])} | {_fmt(row['recall'])} | {_fmt(row['ap50'])} "
            f"| {_fmt(row['ap50_95'])} "
            f"| {_fmt(row['boost'], 2)} |"
        )
    lines += _two_level_lines(ev.get("two_level"), ev["split"])
    lines += _difficulty_lines(card.get("uncertainty"))
    cost = card["cost_model"]
    lines += [
        "",
        "## How the boost is computed",
        "",
        "Auto-labels at the operating threshold are matched to the truth at IoU >= 0.5 per image: TP (right "
        "class), WC (wrong class), FP (no match), FN (missed truth).",
        "`manual = sum(t_image + n_truth * t_draw)`, "
        "`assisted = sum(t_image + TP * t_verify + WC * t_relabel + FP * t_delete + FN * t_draw)`, "
        "`boost = manual / assisted`. Per class, t_image is left out; FP counts for the predicted class.",
        "",
        "| t_draw | t_verify | t_delete | t_relabel | t_image |",
        "|---|---|---|---|---|",
        f"| {cost['t_draw']} s | {cost['t_verify']} s | {cost['t_delete']} s | {cost['t_relabel']} s "
        f"| {cost['t_image']} s |",
        "",
        "Precision, recall and boost are at the operating threshold; AP uses every box down to conf 0.001.",
        "",
    ]
    return "\n".join(lines)


def _two_level_lines(two: dict[str, Any] | None, split: str) -> list[str]:
    """The card's two-level section (:mod:`autolabel.model.two_level`): the boost both ways."""
    if not two:
        return []
    wrong = two["counts"]["fp_suggestion"]
    return [
        "",
        "## Two-level auto-labels (an option; priced with an assumed t_ignore)",
        "",
        f"Boxes at or above t_high = {_fmt(two['t_high'], 2)} as labels, those between the operating "
        "threshold "
        f"and t_high as suggestions to accept (a wrong one is passed over in t_ignore = {two['t_ignore']} s "
        "instead of deleted; our assumption, not measured). t_high maximises the two-level boost on "
        f"{split}.",
        "",
        "| workflow | labels | suggestions (wrong) | expected efficiency boost |",
        "|---|---|---|---|",
        f"| one level | {two['labels'] + two['suggestions']} | 0 | {_fmt(two['boost_one_level'], 2)}x |",
        f"| two levels | {two['labels']} | {two['suggestions']} ({wrong}) | {_fmt(two['boost'], 2)}x |",
        "",
        "The label job writes them apart with `two_level=true`: `labels/` the boxes with conf >= t_high, "
        "`suggestions/` the rest; its records keep every box's confidence.",
    ]


def _difficulty_lines(summary: dict[str, Any] | None) -> list[str]:
    """The card's difficulty section: how the bands were fitted and what they hold on the calibration set."""
    if not summary:
        return []
    cal, bands = summary["calibration"], summary["bands"]
    model = summary.get("error_model")
    how = (
        f"the learned error model ({model['box_model']} / {model['missing_model']}, "
        f"{'with' if model['mc_features'] else 'without'} MC-dropout features, fitted on {model['images']} "
        f"images and {model['boxes']} auto-labels, cross-fitted; the score: "
        f"{SCORE_WORDS.get(model.get('score', 'p_needs_correction'), model.get('score'))})"
        if model
        else "the pooled uncertainty score"
    )
    out_of_fold = "auroc_out_of_fold" in summary
    auroc = summary.get("auroc_out_of_fold", summary.get("auroc_in_sample"))
    lines = [
        "",
        f"## Difficulty on {summary.get('split', 'VAL')}",
        "",
        f"Image score: {how}; bands: {cal['reason']}."
        + (
            f" AUROC of the score for 'needs correction' ({'out of fold' if out_of_fold else 'in sample'}): "
            f"{_fmt(auroc)}."
            if auroc is not None
            else ""
        ),
        "",
        "| band | images | correction rate |",
        "|---|---|---|",
    ]
    effort = summary.get("band_effort")
    if effort:
        lines[-2:] = [
            "| band | images | correction rate | fix seconds per image | errors left if accepted unreviewed "
            "(wrong class / FP / FN) | share of all fix seconds |",
            "|---|---|---|---|---|---|",
        ]
        for name, b in effort.items():
            e = b["errors_left"]
            left = f"{e['total']} ({e['wrong_class']} / {e['fp']} / {e['fn']})"
            lines.append(
                f"| {name} | {b['n']} | {_fmt(b['rate'], 2)} | {_fmt(b['seconds_per_image'], 1)} "
                f"| {left} | {_fmt(b['share_of_seconds'], 2)} |"
            )
    else:
        lines += [f"| {name} | {b['n']} | {_fmt(b['rate'], 2)} |" for name, b in bands.items()]
    lines += _effort_lines(summary.get("effort"))
    lines += [f"- {note}" for note in (model or {}).get("notes", [])]
    return lines


def _effort_lines(effort: dict[str, Any] | None) -> list[str]:
    """Effort captured: the share of all fix seconds (relabel, delete, draw) in the top k of images."""
    if not effort:
        return []
    ks = list(effort["captured"])
    return [
        "",
        "Effort captured: the share of all fix seconds (relabel, delete, draw; cost model below) in the top "
        "k of images by the score, against a random order and the best order (by the seconds themselves):",
        "",
        "| order | " + " | ".join(f"top {float(k):.0%}" for k in ks) + " |",
        "|---|" + "---|" * len(ks),
        *(
            f"| {label} | " + " | ".join(_fmt(effort[key][k], 2) for k in ks) + " |"
            for label, key in (("score", "captured"), ("random", "random"), ("best", "oracle"))
        ),
    ]


def write_model_card(card: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``model_card.json`` and ``model_card.md`` into ``out_dir``; return both paths."""
    out_dir = Path(out_dir)
    json_path, md_path = out_dir / "model_card.json", out_dir / "model_card.md"
    json_path.write_text(json.dumps(json_safe(card), indent=2))
    md_path.write_text(card_markdown(card))
    return json_path, md_path
