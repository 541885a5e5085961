"""Auto-label job throughput next to a bare ``YOLO(...).predict`` loop over the same images, in one run.

    python -m benchmarks.label_throughput [--weights runs/train/<time>/weights.pt] [--images 200]

Without ``--weights`` it uses an untrained yolov8n built from YAML (same compute per image; fewer boxes).
Both sides use the same batch size, image size, confidence and torch thread count (ultralytics' own
predictor drops torch to cpu_count - 1 threads; that setting is printed too, for reference). Each side
runs ``--repeats`` times, alternating, and the best time of each is kept. The job writes everything it
normally writes (YOLO txt, JSONL with probability vectors, COCO). Last line:
``label_throughput_ratio=<job images/s / bare predict images/s>``, the plain job (``uncertainty=none``);
the lines before it give the same ratio for the job with the default uncertainty
(``label_throughput_uncertainty_ratio``, ``uncertainty=single_pass``: the error model over one pass) and
with ``uncertainty=mc_dropout`` (``label_throughput_mc_ratio``, T = 10 head passes). Both use the fit
(bands, error model) saved beside ``--weights`` when there is one, as the label app does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

from autolabel.job.runner import PredictFn, plain_predict, run_label_job
from autolabel.model.detector import Detector  # configures ultralytics offline before importing it
from autolabel.model.offline import torch_threads
from benchmarks.common import uncertainty_stage, untrained_weights


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="a detector .pt (default: untrained yolov8n from YAML)")
    parser.add_argument("--images", type=int, default=200, help="demo images to label")
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=2)
    return parser.parse_args(argv)


def bare_predict(
    weights: Path, paths: list[Path], *, imgsz: int, batch: int, conf: float, threads: int
) -> float:
    """Seconds for a plain ``YOLO.predict`` loop over ``paths`` in chunks of ``batch`` (after a warm-up)."""
    import torch
    from ultralytics import YOLO

    model = YOLO(str(weights))
    model.predict([str(p) for p in paths[:batch]], imgsz=imgsz, conf=conf, verbose=False)  # warm-up, setup
    torch.set_num_threads(threads)  # the predictor's setup pinned it to cpu_count - 1
    start = time.perf_counter()
    for i in range(0, len(paths), batch):
        model.predict([str(p) for p in paths[i : i + batch]], imgsz=imgsz, conf=conf, verbose=False)
    return time.perf_counter() - start


def stage_predict(detector: Detector, uncertainty: str) -> PredictFn:
    """The ``uncertainty=<uncertainty>`` stage's predictor, as the label app builds it: with the fit
    (bands and learned error model) saved beside the weights when there is one."""
    stage = uncertainty_stage(f"uncertainty={uncertainty}")
    return stage.predictor(detector, stage.load_calibration(detector.weights))


def job_seconds(
    weights: Path, source: Path, out: Path, *, imgsz: int, batch: int, conf: float, uncertainty: str = "none"
) -> float:
    detector = Detector(weights, imgsz=imgsz, conf=conf)
    if uncertainty == "none":
        predict = plain_predict(detector.predict)
    else:
        predict = stage_predict(detector, uncertainty)
    first = next(source.iterdir())
    predict([cv2.imread(str(first))], [first.name])  # warm-up
    meta = {
        "weights": str(weights),
        "source": str(source),
        "names": list(detector.names),
        "conf": conf,
        "iou": detector.iou,
        "imgsz": imgsz,
    }
    start = time.perf_counter()
    run_label_job(
        predict=predict,
        names=detector.names,
        source=source,
        output=out,
        meta=meta,
        batch=batch,
        progress=False,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from autolabel.data.datasets import demo_dataset

    spec = demo_dataset(n_images=args.images, image_size=args.imgsz, seed=0)
    paths = list(spec.train)
    threads = torch_threads()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        weights = args.weights or untrained_weights(tmp_path, len(spec.names))
        source = tmp_path / "images"
        source.mkdir()
        for p in paths:
            os.symlink(p, source / p.name)
        sides = ("none", "single_pass", "mc_dropout")
        bare: list[float] = []
        jobs: dict[str, list[float]] = {side: [] for side in sides}
        for k in range(args.repeats):
            bare.append(
                bare_predict(
                    weights, paths, imgsz=args.imgsz, batch=args.batch, conf=args.conf, threads=threads
                )
            )
            for side in sides:
                jobs[side].append(
                    job_seconds(
                        weights,
                        source,
                        tmp_path / f"{side}{k}",
                        imgsz=args.imgsz,
                        batch=args.batch,
                        conf=args.conf,
                        uncertainty=side,
                    )
                )
    n = len(paths)
    bare_ips = n / min(bare)
    ips = {side: n / min(times) for side, times in jobs.items()}
    print(f"images={n} imgsz={args.imgsz} batch={args.batch} conf={args.conf} torch_threads={threads}")
    print(f"weights={'untrained yolov8n.yaml' if args.weights is None else args.weights}")
    print(f"bare_predict_s={[round(t, 2) for t in bare]} images_per_s={bare_ips:.1f}")
    for side, label in (
        ("none", "label_job"),
        ("single_pass", "label_job_single_pass"),
        ("mc_dropout", "label_job_mc_dropout"),
    ):
        print(f"{label}_s={[round(t, 2) for t in jobs[side]]} images_per_s={ips[side]:.1f}")
    print(f"label_throughput_mc_ratio={ips['mc_dropout'] / bare_ips:.3f}")
    print(f"label_throughput_uncertainty_ratio={ips['single_pass'] / bare_ips:.3f}")
    print(f"label_throughput_ratio={ips['none'] / bare_ips:.3f}")


if __name__ == "__main__":
    main()
