"""Cost of T-pass MC-dropout scoring of a batch next to one stock ``YOLO.predict`` pass, in one run.

    python -m benchmarks.mc_dropout_cost [--weights runs/train/<time>/weights.pt] [--passes 10] [--batch 16]

Timings on the same batch of demo images, same image size, confidence and torch thread count, each
the median of ``--repeats`` runs after a warm-up; ``stock``, ``plain`` and ``mc`` alternate:
- ``stock``: one ``YOLO(weights).predict`` of the batch (ultralytics' own predictor);
- ``plain``: our deterministic pass (``Detector.predict``), the auto-labels without uncertainty;
- ``mc``: our MC-dropout labeler, T passes of the head only + per-box and per-image scores;
- ``naive``: T full forwards with dropout (what MC dropout costs without caching), timed afterwards.
Last line: ``mc_cost_ratio=<mc / stock>`` (goal <= 1.25).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

from autolabel.model.detector import Detector
from autolabel.model.offline import torch_threads
from benchmarks.common import uncertainty_stage, untrained_weights
from uncertainty.mc_dropout import full_pass_outputs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    import torch
    from ultralytics import YOLO

    from autolabel.data.datasets import demo_dataset

    spec = demo_dataset(n_images=max(args.batch, 16), image_size=args.imgsz, seed=0)
    images = [cv2.imread(str(p)) for p in spec.train[: args.batch]]
    keys = [p.name for p in spec.train[: args.batch]]
    threads = torch_threads()
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or untrained_weights(Path(tmp), len(spec.names))
        stock_model = YOLO(str(weights))
        detector = Detector(weights, imgsz=args.imgsz, conf=args.conf)
        stage = uncertainty_stage(f"uncertainty.mc.passes={args.passes}")
        labeler = stage.labeler(detector, stage.load_calibration(weights))

        def stock() -> None:
            stock_model.predict(images, imgsz=args.imgsz, conf=args.conf, batch=len(images), verbose=False)

        def plain() -> None:
            detector.predict(images)

        def mc() -> None:
            labeler(images, keys)

        def naive() -> None:
            tensor = detector.preprocess(images)
            masks = labeler.mc.masks(list(range(len(images))))
            full_pass_outputs(
                detector, tensor, masks, original_hw=[i.shape[:2] for i in images], conf=args.conf
            )

        stock()  # warm-up; ultralytics' setup pins torch to cpu_count - 1 threads, undo it for a fair race
        torch.set_num_threads(threads)
        mc()
        naive()
        times: dict[str, list[float]] = {"stock": [], "plain": [], "mc": [], "naive": []}
        for _ in range(args.repeats):
            for name, fn in (("stock", stock), ("plain", plain), ("mc", mc)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        for _ in range(max(3, args.repeats // 3)):
            start = time.perf_counter()
            naive()
            times["naive"].append(time.perf_counter() - start)
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"batch={len(images)} imgsz={args.imgsz} passes={args.passes} conf={args.conf} threads={threads}")
    print(f"weights={'untrained yolov8n.yaml' if args.weights is None else args.weights}")
    for name, values in times.items():
        print(f"{name}_s median={med[name]:.4f} runs={[round(v, 4) for v in values]}")
    print(f"plain_cost_ratio={med['plain'] / med['stock']:.3f}")
    print(f"naive_cost_ratio={med['naive'] / med['stock']:.3f}")
    print(f"mc_cost_ratio={med['mc'] / med['stock']:.3f}")


if __name__ == "__main__":
    main()
