"""How much of CONTROL's and CAL2's gain is training rather than labels? A no-new-labels baseline.

``python -m studies.more_epochs runs/gt2_vs_random/demo --seeds 0 1`` fine-tunes each seed's CAL1 on
GT1 alone with the experiment's warm recipe (``experiment.finetune_epochs``) and prints its VAL figures
beside CAL1, CONTROL and CAL2 from the seed's ``result.json``. The runs go to ``<seed>/more_epochs/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autolabel.errors import DataError
from autolabel.pipeline import evaluate_weights, fit
from experiments.constants import MODEL_NAMES
from experiments.run_folder import RunFolder, fresh_folder


def more_epochs(run_dir: Path, seed: int) -> dict[str, Any]:
    """VAL figures of seed ``seed``'s CAL1 fine-tuned on GT1 only, beside the seed's three models."""
    run = RunFolder(run_dir)
    folder = run.seed(seed)
    result = folder.result()
    if result is None:
        raise DataError(f"{folder.path} has no result.json: run the experiment for seed {seed} first")
    cfg = run.config()
    cfg.seed = seed
    split = folder.manifest
    weights = fit(
        cfg,
        folder.cal1 / "data" / "data.yaml",  # train: GT1, val: VAL
        fresh_folder(folder.path / "more_epochs"),
        model=folder.card["model"]["weights"],
        epochs=cfg.experiment.finetune_epochs,
    )
    _, evaluation = evaluate_weights(cfg, weights, split.val, [folder.truth(p) for p in split.val])
    row = {name: result["models"][name]["map50_95"] for name in MODEL_NAMES}
    return {"seed": seed, "GT1_more_epochs": evaluation["map50_95"], **row, "boost": evaluation["boost"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="an experiment's run folder (runs/gt2_vs_random/<name>)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    for seed in args.seeds:
        r = more_epochs(args.run_dir, seed)
        print(
            f"seed {seed} mAP50-95: CAL1 {r['CAL1']:.3f}, GT1 + more epochs {r['GT1_more_epochs']:.3f}, "
            f"CONTROL {r['CONTROL']:.3f}, CAL2 {r['CAL2']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
