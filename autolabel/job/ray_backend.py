"""The auto-label job on Ray Data (``backend=ray``; ``pip install -e ".[ray]"``).

The pending images are read as bytes with ``ray.data.read_binary_files`` (not ``read_images``: a corrupt
file must become one error record, not a dropped block or a failed job), then decoded and labeled in a
pool of actors (:class:`LabelActor`, ``ActorPoolStrategy(size=actors)``), each holding the same predictor
as the local backend, built once per actor from a picklable factory. Results come back to the job in the
order given, batch by batch, and the job commits them exactly as it does locally: the backend writes
nothing. A local Ray is started when none is given (``address=null``); ``address=auto`` or
``ray://host:10001`` joins a cluster whose workers can import this package and read the images' paths.

Why ``read_cpus``: on a small machine, actors that take every CPU leave none for the read tasks, and the
pipeline stalls; the reads ask for a fraction of a CPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.job.backends import Labeled, PredictFn, label_images
from autolabel.records import ImageRecord

# Ray's own usage statistics stay off (no data leaves the machine); set before ray is imported.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def decode(data: bytes) -> tuple[np.ndarray | None, str | None]:
    """BGR uint8 (H, W, 3) pixels of an encoded image, or (None, why), as the local reader decodes them."""
    import cv2

    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR) if array.size else None
    if image is None:
        return None, "cannot decode image (corrupt, empty or unsupported format)"
    return image, None


class LabelActor:
    """A Ray Data callable class: decodes a batch of files and labels it with its own predictor.

    Input batch: ``bytes`` (encoded files) and ``path``; output batch: ``record`` (an ImageRecord's JSON
    line) and ``yolo`` (its label text, "" with ``ok`` False for an unreadable image).
    """

    def __init__(
        self,
        make_predict: Callable[[], PredictFn],
        keys: Mapping[str, str],
        names: Sequence[str],
        threads: int,
    ) -> None:
        import torch

        torch.set_num_threads(max(1, threads))  # actors share the machine: no oversubscription
        self.predict = make_predict()
        self.keys, self.names = dict(keys), list(names)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = []
        for data, path in zip(batch["bytes"], batch["path"], strict=True):
            key = self.keys[os.path.normpath("/" + str(path).lstrip("/"))]
            try:
                image, error = decode(bytes(data))
            except Exception as exc:  # noqa: BLE001 - one bad file is one error record, never a failed job
                image, error = None, f"cannot decode image: {exc}"
            items.append((key, image, error))
        labeled = label_images(self.predict, items, names=self.names)
        return {
            "record": np.array([json.dumps(x.record.to_json()) for x in labeled], dtype=object),
            "yolo": np.array([x.yolo or "" for x in labeled], dtype=object),
            "ok": np.array([x.yolo is not None for x in labeled], dtype=bool),
        }


def init_ray(address: str | None, num_cpus: int | None) -> None:
    """Connect to ``address``, or start a local Ray (no dashboard, no usage stats) when it is None."""
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)


class RayBackend:
    """Label on Ray Data: ``actors`` actors of ``cpus_per_actor`` / ``gpus_per_actor`` each.

    address: None starts a local Ray (``num_cpus``: its CPUs, None = all); else a cluster address.
    read_cpus: CPUs each read task asks for (a fraction leaves the actors theirs).
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        actors: int = 1,
        cpus_per_actor: float = 1.0,
        gpus_per_actor: float = 0.0,
        read_cpus: float = 0.25,
    ) -> None:
        if importlib.util.find_spec("ray") is None:
            raise ValueError('backend=ray needs Ray: pip install -e ".[ray]" (ray[data])')
        if actors < 1:
            raise ValueError(f"backend.actors={actors} must be >= 1")
        if cpus_per_actor <= 0 or gpus_per_actor < 0 or read_cpus <= 0:
            raise ValueError("backend.cpus_per_actor and backend.read_cpus must be > 0, gpus_per_actor >= 0")
        self.address, self.num_cpus = address, num_cpus
        self.actors, self.read_cpus = int(actors), float(read_cpus)
        self.cpus_per_actor, self.gpus_per_actor = float(cpus_per_actor), float(gpus_per_actor)

    def labeled_batches(
        self,
        paths: Sequence[Path],
        keys: Mapping[Path, str],
        *,
        batch: int,
        make_predict: Callable[[], PredictFn],
        names: Sequence[str],
    ) -> Iterator[list[Labeled]]:
        if not paths:
            return
        import ray.data

        init_ray(self.address, self.num_cpus)
        ray.data.DataContext.get_current().execution_options.preserve_order = True  # commit in order
        by_path = {os.path.normpath(str(p.resolve())): keys[p] for p in paths}
        files = ray.data.read_binary_files(
            [str(p.resolve()) for p in paths],
            include_paths=True,
            num_cpus=self.read_cpus,
        )
        labeled = files.map_batches(
            LabelActor,
            fn_constructor_kwargs={
                "make_predict": make_predict,
                "keys": by_path,
                "names": list(names),
                "threads": max(1, int(self.cpus_per_actor)),
            },
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            batch_size=batch,
            batch_format="numpy",
            num_cpus=self.cpus_per_actor,
            num_gpus=self.gpus_per_actor,
        )
        for out in labeled.iter_batches(batch_size=batch, batch_format="numpy", prefetch_batches=1):
            yield [
                Labeled(ImageRecord.from_json(json.loads(r)), str(y) if ok else None)
                for r, y, ok in zip(out["record"], out["yolo"], out["ok"], strict=True)
            ]


def shutdown() -> None:
    """Stop the local Ray this process started (nothing when none)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()


def describe() -> dict[str, Any]:
    """The cluster's resources as Ray reports them (for logs and benchmarks)."""
    import ray

    return dict(ray.cluster_resources()) if ray.is_initialized() else {}
