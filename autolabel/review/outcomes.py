"""Real review outcomes: how well the uncertainty score predicted what people corrected, and what each
labeling action cost them, from the import log (``reviews.jsonl``, :mod:`autolabel.review.human_labels`).

Outcome of an image: ``changed`` (the reviewer saved labels other than the prediction shown) and
``lead_time`` (seconds in the annotation tool). Costs: least squares with non-negative seconds
(``scipy.optimize.nnls``) of ``lead_time ~ t_image + kept * t_verify + deleted * t_delete +
relabeled * t_relabel + drawn * t_draw`` over the images whose edits are known; a cost with no action
to measure it (no relabeled box in the log, say) is reported as None rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import nnls
from scipy.stats import mannwhitneyu, spearmanr

from autolabel.records import NO_BAND, json_safe

ACTIONS = ("kept", "deleted", "relabeled", "drawn")  # edit counts, in cost-model order after t_image
COSTS = ("t_image", "t_verify", "t_delete", "t_relabel", "t_draw")
MIN_ROWS_PER_COST = 2  # images per fitted number, at least


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """AUROC of (N,) scores for (N,) bool labels, as Mann-Whitney's U / (positives x negatives), ties
    counting half; None when one class is absent."""
    pos, neg = scores[labels], scores[~labels]
    if not pos.size or not neg.size:
        return None
    return float(mannwhitneyu(pos, neg).statistic / (pos.size * neg.size))


def latest_reviews(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The last imported row of each image whose labels were written or already there."""
    last: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if row.get("status") in ("written", "overwritten", "unchanged"):
            last[row["image"]] = row
    return list(last.values())


def score_outcomes(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How the image score relates to real outcomes.

    Returns n_images, n_changed, changed_rate; auroc_changed (score vs changed; None when every or no
    image was changed, with ``note`` saying so in words); spearman_lead_time (score vs seconds spent);
    per band: images and changed rate.
    """
    scored = [r for r in rows if r.get("score") is not None and r.get("changed") is not None]
    score = np.array([r["score"] for r in scored], dtype=np.float64)
    changed = np.array([bool(r["changed"]) for r in scored], dtype=bool)
    timed = [r for r in scored if r.get("lead_time") is not None]
    out: dict[str, Any] = {
        "n_images": len(rows),
        "n_scored": len(scored),
        "n_changed": int(changed.sum()),
        "changed_rate": float(changed.mean()) if scored else None,
        "auroc_changed": auroc(score, changed) if scored else None,
        "spearman_lead_time": None,
    }
    if len(timed) >= 3:
        rho = spearmanr([r["score"] for r in timed], [r["lead_time"] for r in timed]).statistic
        out["spearman_lead_time"] = None if np.isnan(rho) else float(rho)
    if scored and out["auroc_changed"] is None:
        what = "every" if changed.all() else "no"
        out["note"] = (
            f"{what} reviewed image was changed, so the score cannot be told apart on 'changed'; "
            "rank by the seconds spent instead (spearman_lead_time)"
        )
    bands: dict[str, dict[str, float | int]] = {}
    for r in scored:
        band = bands.setdefault(r.get("band") or NO_BAND, {"images": 0, "changed": 0})
        band["images"] += 1
        band["changed"] += int(bool(r["changed"]))
    out["bands"] = {b: {**v, "changed_rate": v["changed"] / v["images"]} for b, v in bands.items()}
    return json_safe(out)


def fit_costs(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Seconds per labeling action fitted to real lead times (see the module docstring).

    Returns ``seconds`` {t_image, t_verify, t_delete, t_relabel, t_draw} (None where no image had that
    action, or too few images to fit), n_images, and rmse in seconds.
    """
    usable = [r for r in rows if r.get("lead_time") is not None and r.get("edits")]
    if not usable:
        return {"n_images": 0, "seconds": dict.fromkeys(COSTS), "rmse": None, "note": "no timed edits"}
    x = np.array([[1.0, *(r["edits"][a] for a in ACTIONS)] for r in usable], dtype=np.float64)  # (N, 5)
    y = np.array([r["lead_time"] for r in usable], dtype=np.float64)
    present = x.any(axis=0)
    seconds: dict[str, float | None] = dict.fromkeys(COSTS)
    if len(usable) < MIN_ROWS_PER_COST * int(present.sum()):
        return {
            "n_images": len(usable),
            "seconds": seconds,
            "rmse": None,
            "note": f"{len(usable)} timed images are too few to fit {int(present.sum())} costs",
        }
    coef, _ = nnls(x[:, present], y)
    for name, value in zip(np.array(COSTS)[present], coef, strict=True):
        seconds[str(name)] = float(value)
    rmse = float(np.sqrt(np.mean((x[:, present] @ coef - y) ** 2)))
    return {"n_images": len(usable), "seconds": seconds, "rmse": rmse}
