"""Cost of every selection strategy on a synthetic pool, and of the embeddings in the label pass, in one run.

    python -m benchmarks.selection_cost [--pool 10000] [--dim 512] [--budgets 0.3 500] [--repeats 3]

Part 1, selection: a synthetic pool of ``--pool`` records as the auto-label job writes them (0-5 boxes of
6 classes, an error-model score, ``error_seconds``, a calibrated band; images without a box are failed)
with ``--dim``-d float16 embeddings (20 clusters, L2-normalised). Every ``conf/selection/`` option is
built as the select app builds it (the oracle with a synthetic truth) and timed on the pool, median of
``--repeats`` runs, at each budget of ``--budgets`` (a fraction of the pool or a number of images); one
line per strategy and budget. Also timed: reading the pool's record log with and without the
embeddings (what the select app and the experiment read first).

Part 2, extraction: the same MC-dropout pass (``uncertainty.mc_dropout.MCDropout.predict``) with and
without ``embedding=True`` on a batch of demo images, an untrained yolov8n at ``--imgsz`` (alternating,
median of ``--label-repeats``). Last line: ``embedding_cost_ratio=<with / without>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONF = Path(__file__).resolve().parents[1] / "conf"
NAMES = ("a", "b", "c", "d", "e", "f")


def synthetic_pool(n: int, dim: int, *, seed: int = 0) -> list:
    """``n`` scored, calibrated records with ``dim``-d embeddings (see the module docstring)."""
    from autolabel.records import ImageRecord
    from autolabel.structures import Detections

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    member = rng.integers(0, 20, n)
    vectors = centres[member] + rng.normal(scale=0.7, size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = []
    for i in range(n):
        k = int(rng.integers(0, 6))
        xy = rng.uniform(0, 200, (k, 2))
        probs = rng.uniform(0, 0.3, (k, len(NAMES)))
        probs[np.arange(k), rng.integers(0, len(NAMES), k)] = rng.uniform(0.3, 1.0, k)
        det = Detections(
            np.hstack([xy, xy + rng.uniform(8, 50, (k, 2))]), probs.max(1), probs.argmax(1), probs
        )
        p = float(rng.beta(2, 2))
        band = "failed" if k == 0 else ("easy" if p < 0.2 else "medium" if p < 0.5 else "hard")
        fields = {
            "score": round(p, 6),
            "components": {"error_p": round(p, 6), "error_seconds": round(2 + 1.5 * k + 10 * p, 3)},
            "n_candidates": k + 2,
            "failed": k == 0,
            "p_needs_correction": round(p, 6),
            "difficulty": band,
            "embedding": vectors[i],
        }
        records.append(
            ImageRecord.from_detections(f"img{i:05d}.png", det, width=256, height=256, names=NAMES, **fields)
        )
    return records


def strategies(budget: int | float) -> dict:
    """Every ``conf/selection/`` option at ``budget``, built as the select app builds it."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    out = {}
    for path in sorted((CONF / "selection").glob("*.yaml")):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="select", overrides=["labels=x", f"selection={path.stem}"])
        node = OmegaConf.to_container(cfg.selection, resolve=True)
        node["budget"] = budget
        out[path.stem] = instantiate(node)
    return out


def time_selection(records: list, budgets: list[float], repeats: int) -> None:
    from autolabel.review.strategy import call_select
    from autolabel.structures import GroundTruth

    def truth(record):  # the oracle's hidden truth: the auto-labels shifted by 3 px, one class off
        det = record.detections
        return GroundTruth(det.xyxy + 3, (det.cls + (det.conf < 0.5)) % len(NAMES))

    for budget in budgets:
        for name, strategy in strategies(budget).items():
            runs, picked = [], 0
            for r in range(repeats):
                start = time.perf_counter()
                chosen = call_select(strategy, records, rng=np.random.default_rng(r), truth=truth)
                runs.append(time.perf_counter() - start)
                picked = len(chosen)
            print(
                f"select {name:<16} budget={budget:<6} picked={picked:<5} "
                f"median_s={statistics.median(runs):.3f} runs={[round(v, 3) for v in runs]}"
            )


def time_reading(records: list, folder: Path) -> None:
    import dataclasses

    from autolabel.records import RecordWriter, read_records

    for label, rows in (
        ("with_embeddings", records),
        ("without_embeddings", [dataclasses.replace(r, embedding=None) for r in records]),
    ):
        path = folder / f"{label}.jsonl"
        with RecordWriter(path) as writer:
            writer.append(rows)
        start = time.perf_counter()
        read_records(path)
        seconds = time.perf_counter() - start
        print(f"read {label:<19} bytes={path.stat().st_size} read_s={seconds:.3f}")


def time_extraction(imgsz: int, batch: int, repeats: int) -> None:
    import cv2
    import torch

    from autolabel.data.datasets import demo_dataset
    from autolabel.model.detector import Detector
    from autolabel.model.offline import torch_threads
    from benchmarks.common import untrained_weights
    from uncertainty.mc_dropout import MCDropout

    spec = demo_dataset(n_images=max(batch, 16), image_size=imgsz, seed=0)
    images = [cv2.imread(str(p)) for p in spec.train[:batch]]
    seeds = list(range(len(images)))
    with tempfile.TemporaryDirectory() as tmp:
        detector = Detector(untrained_weights(Path(tmp), len(spec.names)), imgsz=imgsz, conf=0.25)
        torch.set_num_threads(torch_threads())
        passes = {
            "without": MCDropout(detector, passes=10, p=0.1),
            "with": MCDropout(detector, passes=10, p=0.1, embedding=True),
        }
        for mc in passes.values():
            mc.predict(images, seeds=seeds)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in passes}
        for _ in range(repeats):
            for name, mc in passes.items():
                start = time.perf_counter()
                mc.predict(images, seeds=seeds)
                times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"label pass: batch={len(images)} imgsz={imgsz} passes=10 threads={torch.get_num_threads()}")
    for name, values in times.items():
        print(
            f"label_{name}_embedding_s median={med[name]:.4f} per_image_ms={1000 * med[name] / batch:.2f} "
            f"runs={[round(v, 4) for v in values]}"
        )
    extra = 1000 * (med["with"] - med["without"]) / batch
    print(f"embedding_extra_per_image_ms={extra:.3f}")
    print(f"embedding_cost_ratio={med['with'] / med['without']:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.3, 500])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--label-repeats", type=int, default=15)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    budgets = [int(b) if b >= 1 else b for b in args.budgets]

    import autolabel.model.detector  # noqa: F401  (configures ultralytics offline before anything imports it)

    start = time.perf_counter()
    records = synthetic_pool(args.pool, args.dim)
    print(f"pool={args.pool} dim={args.dim} built_s={time.perf_counter() - start:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        time_reading(records, Path(tmp))
    time_selection(records, budgets, args.repeats)
    time_extraction(args.imgsz, args.batch, args.label_repeats)


if __name__ == "__main__":
    main()
