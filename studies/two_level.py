"""The two-level workflow of a trained model: t_high chosen on VAL, the boost both ways on POOL.

``python -m studies.two_level runs/train/<run> [--t-ignore 0.5 1.0 1.5] [--t-accept 0.5]`` reads the run's
``manifest.csv``, ``weights.pt`` and ``model_card.json`` (its operating threshold and image size), predicts
VAL and POOL once, and prints, per ``t_ignore``, the t_high that maximises the two-level boost on VAL and
both boosts on POOL (:mod:`autolabel.model.two_level`; the figures of docs/results_log.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autolabel.data.images import map_batches
from autolabel.data.split import read_manifest
from autolabel.data.views import load_truth
from autolabel.errors import DataError
from autolabel.model.card import EVAL_CONF
from autolabel.model.detector import Detector
from autolabel.model.efficiency import CostModel, efficiency_report
from autolabel.model.two_level import choose_two_level


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "run", type=Path, help="a train run folder (manifest.csv, weights.pt, model_card.json)"
    )
    parser.add_argument("--t-ignore", type=float, nargs="+", default=[0.5, 1.0, 1.5])
    parser.add_argument("--t-accept", type=float, default=CostModel().t_accept)
    args = parser.parse_args(argv)
    card_path = args.run / "model_card.json"
    if not card_path.is_file():
        raise SystemExit(f"error: {card_path}: missing; give a train run folder")
    card = json.loads(card_path.read_text())
    threshold = float(card["evaluation"]["operating_threshold"])
    detector = Detector(args.run / "weights.pt", imgsz=int(card["model"]["imgsz"]), conf=EVAL_CONF)
    split = read_manifest(args.run / "manifest.csv")
    pairs = {}
    for name in ("val", "pool"):
        paths = split[name]
        if not paths:
            raise DataError(f"{args.run / 'manifest.csv'}: no {name} images")
        dets = map_batches(lambda ims, _p: detector.predict(ims), paths, batch=16, desc=name)
        truths = [load_truth(p, num_classes=len(detector.names)) for p in paths]
        pairs[name] = list(zip(dets, truths, strict=True))
    print(f"{args.run}: operating threshold {threshold}, t_accept {args.t_accept} s")
    for t_ignore in args.t_ignore:
        cost = CostModel(t_ignore=t_ignore, t_accept=args.t_accept)
        val = choose_two_level(pairs["val"], cost=cost, threshold=threshold)
        pool = choose_two_level(pairs["pool"], cost=cost, threshold=threshold, grid=[val.t_high])
        one = efficiency_report(
            pairs["pool"], cost=cost, threshold=threshold, num_classes=len(detector.names)
        )
        print(
            f"t_ignore {t_ignore}: t_high {val.t_high} (VAL {val.boost_one_level:.2f}x -> {val.boost:.2f}x); "
            f"POOL one level {one.boost:.2f}x, two levels {pool.boost:.2f}x; {pool.labels} labels, "
            f"{pool.suggestions} suggestions ({pool.counts['fp_suggestion']} wrong)"
        )


if __name__ == "__main__":
    main()
