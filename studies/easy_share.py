"""Could a fifth of the pool be "easy"? The correction rate of the lowest-scored share of POOL, per seed.

``python -m studies.easy_share runs/gt2_vs_random/<name> --seeds 5 6`` reads each finished CAL1's pool
labels and hidden truth and prints, per seed: the bands as the calibration made them (images, share,
correction rate), and the correction rate of the lowest 10 / 20 / 30% of POOL by the default image score,
once over scored images only (as the easy band is drawn: failed images are their own band) and once with
the failed images ranked by their miss estimate (their score), beside the hard band's rate. Issue 21's goal
is >= 20% of POOL easy at <= 1/3 of hard's correction rate. ``--by error_p one_minus_conf`` ranks by those
recorded components too (any key of a record's ``components``), scored images only: would another order
make a cleaner easy band?
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autolabel.model.matching import needs_correction
from experiments.run_folder import RunFolder

SHARES = (0.1, 0.2, 0.3)
BAND_ORDER = ("easy", "medium", "hard", "failed")


def lowest_share_rates(
    score: np.ndarray, needs: np.ndarray, eligible: np.ndarray, shares: Sequence[float], n_pool: int
) -> list[tuple[int, float]]:
    """(images, correction rate) of the ``round(share * n_pool)`` lowest-scored eligible images per share.

    score: (N,) image scores (nan: no score); needs: (N,) bool, the image needs a correction; eligible:
    (N,) bool, images that may be counted. Ties keep the input order (stable sort).
    """
    idx = np.flatnonzero(eligible & np.isfinite(score))
    order = idx[np.argsort(score[idx], kind="stable")]
    out = []
    for share in shares:
        low = order[: int(round(share * n_pool))]
        out.append((len(low), float(needs[low].mean()) if len(low) else float("nan")))
    return out


def component(records: Sequence, name: str) -> np.ndarray:
    """(N,) the recorded component ``name`` of each record; nan where it is missing."""
    values = [(r.components or {}).get(name) for r in records]
    return np.array([np.nan if v is None else float(v) for v in values])


def _cells(rates: Sequence[tuple[int, float]]) -> str:
    """One printed cell per share of :data:`SHARES`: its correction rate and image count."""
    return ", ".join(f"{s:.0%}: {rate:.2f} ({k} img)" for s, (k, rate) in zip(SHARES, rates, strict=True))


def seed_lines(run: RunFolder, seed: int, by: Sequence[str] = ()) -> list[str]:
    """The printed lines of one seed; ``by``: components to rank by as well (scored images only)."""
    folder = run.seed(seed)
    records, n_classes = folder.pool_records, len(folder.names)
    needs = np.array([needs_correction(r.detections_for(n_classes), folder.record_truth(r)) for r in records])
    score = np.array([np.nan if r.score is None else float(r.score) for r in records])
    failed = np.array([bool(r.failed) for r in records])
    band = np.array([r.band or "none" for r in records])
    n = len(records)
    lines = [f"seed {seed}: {n} POOL images, correction rate {needs.mean():.2f}"]
    for name in BAND_ORDER:
        m = band == name
        rate = f"{needs[m].mean():.2f}" if m.any() else "n/a"
        lines.append(f"  band {name:7s} {m.sum():4d} images ({m.mean():.1%}), correction rate {rate}")
    hard = needs[band == "hard"].mean() if (band == "hard").any() else float("nan")
    for label, eligible in (("scored only", ~failed), ("failed ranked too", np.ones(n, bool))):
        cells = _cells(lowest_share_rates(score, needs, eligible, SHARES, n))
        lines.append(f"  lowest share of POOL by score, {label}: {cells}; hard band {hard:.2f}")
    for name in by:
        cells = _cells(lowest_share_rates(component(records, name), needs, ~failed, SHARES, n))
        lines.append(f"  lowest share of POOL by {name}, scored only: {cells}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Correction rate of the lowest-scored share of POOL.")
    parser.add_argument("run_folder", type=Path, help="runs/gt2_vs_random/<experiment.name>")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--by", nargs="*", default=[], help="record components to rank by as well")
    args = parser.parse_args(argv)
    run = RunFolder(args.run_folder)
    for seed in args.seeds:
        print("\n".join(seed_lines(run, seed, args.by)))


if __name__ == "__main__":
    main()
