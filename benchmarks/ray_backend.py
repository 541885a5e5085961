"""The auto-label job on Ray (1 and 2 actors) next to the local backend, with Ray's start-up cost and each
run's peak memory, in one run.

    python -m benchmarks.ray_backend [--weights runs/train/<time>/weights.pt] [--images 400]

Each side is the label app run as a user runs it (``python -m autolabel.label ...``, MC dropout on, a fresh
output folder, a fresh local Ray for each Ray run), so the times include everything a user waits for.
Memory: the peak of the summed resident memory of the app and every process under it (Ray's raylet, GCS
and workers included), sampled every 0.1 s. Without ``--weights``, an untrained yolov8n (same compute per
image, few boxes). Last line: ``ray_vs_local_ratio=<best Ray images/s / local images/s>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.common import untrained_weights


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="a detector .pt (default: untrained yolov8n from YAML)")
    parser.add_argument("--images", type=int, default=400, help="demo images to label")
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    return parser.parse_args(argv)


def tree_rss(process: psutil.Process) -> int:
    """Bytes resident in ``process`` and all its descendants now."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak summed RSS in bytes) of ``command`` and its process tree."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc, peak, done = psutil.Process(child.pid), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return time.perf_counter() - start, peak[0]


def ray_start_seconds() -> float:
    """Seconds to start and stop a local Ray with 2 CPUs in a fresh process (its fixed cost per job)."""
    code = "import time,os;os.environ['RAY_USAGE_STATS_ENABLED']='0';import ray;t=time.perf_counter();"
    code += "ray.init(num_cpus=2,include_dashboard=False,log_to_driver=False);print(time.perf_counter()-t);"
    code += "ray.shutdown()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from autolabel.data.datasets import demo_dataset

    spec = demo_dataset(n_images=args.images, image_size=args.imgsz, seed=0)
    sides = {
        "local": ["backend=local"],
        "ray_1_actor": [
            "backend=ray",
            "backend.num_cpus=2",
            "backend.actors=1",
            "backend.cpus_per_actor=1.5",
        ],
        "ray_2_actors": [
            "backend=ray",
            "backend.num_cpus=2",
            "backend.actors=2",
            "backend.cpus_per_actor=0.75",
        ],
    }
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        weights = args.weights or untrained_weights(tmp_path, len(spec.names))
        source = tmp_path / "images"
        source.mkdir()
        for p in spec.train:
            os.symlink(p, source / p.name)
        for name, extra in sides.items():
            out = tmp_path / name
            command = [
                sys.executable, "-m", "autolabel.label", f"weights={weights}", f"source={source}",
                f"output={out}", f"imgsz={args.imgsz}", f"batch={args.batch}", "conf=0.25", "progress=false",
                f"hydra.run.dir={tmp_path / 'hydra' / name}", *extra,
            ]  # fmt: skip
            seconds, peak = run(command)
            summary = json.loads((out / "summary.json").read_text())
            rows[name] = {
                "wall_s": seconds,
                "images_per_s": summary["labeled_now"] / seconds,
                "peak_rss": peak,
            }
        start_s = ray_start_seconds()
    n = len(spec.train)
    print(f"images={n} imgsz={args.imgsz} batch={args.batch} cpus={os.cpu_count()} uncertainty=mc_dropout")
    print(f"weights={'untrained yolov8n.yaml' if args.weights is None else args.weights}")
    for name, row in rows.items():
        print(
            f"{name}: wall_s={row['wall_s']:.1f} images_per_s={row['images_per_s']:.2f} "
            f"peak_rss_mib={row['peak_rss'] / 2**20:.0f}"
        )
    print(f"ray_local_start_s={start_s:.2f}")
    per_actor = rows["ray_1_actor"]["images_per_s"]
    print(f"ray_1_actor_per_actor_images_per_s={per_actor:.2f}")
    best_ray = max(rows["ray_1_actor"]["images_per_s"], rows["ray_2_actors"]["images_per_s"])
    print(f"ray_vs_local_ratio={best_ray / rows['local']['images_per_s']:.3f}")


if __name__ == "__main__":
    main()
