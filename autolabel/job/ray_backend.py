"""The auto-label job on Ray Data (``backend=ray``; ``pip install -e ".[ray]"``).

The pending images go to Ray Data as rows of (path, key), and a pool of actors (:class:`LabelActor`,
``ActorPoolStrategy(size=actors)``) reads, decodes and labels them: each actor reads a file with the local
backend's own reader (:func:`autolabel.data.images.read_image`) and holds the same predictor, built once
per actor from a picklable factory, so every file gives the record it gives locally: a corrupt or empty
file, a symlink loop, a dangling link or a FIFO is one error record with the same message, never a failed
job (``read_binary_files`` stopped the job on a file it could not open, and ``Path.resolve`` raised on a
symlink loop before anything was read). Results come back to the job in the order given, batch by batch,
and the job commits them exactly as it does locally: the backend writes nothing. A local Ray is started
when none is given (``address=null``); ``address=auto`` or ``ray://host:10001`` joins a cluster whose
workers can import this package and read the images' paths.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autolabel.data.images import read_image
from autolabel.job.backends import Labeled, PredictFn, label_images
from autolabel.records import ImageRecord

# Ray's own usage statistics stay off (no data leaves the machine); set before ray is imported.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


class LabelActor:
    """A Ray Data callable class: reads and decodes a batch of files and labels it with its own predictor.

    Input batch: ``path`` (the file, as the job listed it) and ``key`` (its record's image key); output
    batch: ``record`` (an ImageRecord's JSON line) and ``yolo`` (its label text, "" with ``ok`` False for
    an unreadable image).
    """

    def __init__(
        self,
        make_predict: Callable[[], PredictFn],
        names: Sequence[str],
        threads: int,
    ) -> None:
        import torch

        torch.set_num_threads(max(1, threads))  # actors share the machine: no oversubscription
        self.predict = make_predict()
        self.names = list(names)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = []
        for path, key in zip(batch["path"], batch["key"], strict=True):
            loaded = read_image(Path(str(path)))  # never raises: an unreadable file comes back with its error
            items.append((str(key), loaded.image, loaded.error))
        labeled = label_images(self.predict, items, names=self.names)
        return {
            "record": np.array([json.dumps(x.record.to_json()) for x in labeled], dtype=object),
            "yolo": np.array([x.yolo or "" for x in labeled], dtype=object),
            "ok": np.array([x.yolo is not None for x in labeled], dtype=bool),
        }


def check_address(address: str | None) -> str | None:
    """``address`` if Ray can join it: None (start a local Ray), ``auto``, ``local``, ``ray://host:port``
    (Ray Client) or ``host:port`` (the head's GCS); else a ValueError naming the expected forms."""
    if address is None or address in ("auto", "local"):
        return address
    expected = (
        "use null (start a local Ray), auto (the cluster this machine belongs to), ray://host:10001 "
        "(Ray Client) or host:6379 (the head's GCS address)"
    )
    if not isinstance(address, str):
        raise ValueError(f"backend.address={address!r} is not a Ray address; {expected}")
    client = address.startswith("ray://")
    rest = address.removeprefix("ray://")
    host, colon, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    port_ok = port.isdigit() and 0 < int(port) < 65536
    if not host or "/" in rest or not (port_ok or (client and not colon)):  # ray://host: the default port
        raise ValueError(f"backend.address={address!r} is not a Ray address; {expected}")
    return address


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
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        actors: int = 1,
        cpus_per_actor: float = 1.0,
        gpus_per_actor: float = 0.0,
    ) -> None:
        if importlib.util.find_spec("ray") is None:
            raise ValueError('backend=ray needs Ray: pip install -e ".[ray]" (ray[data])')
        if actors < 1:
            raise ValueError(f"backend.actors={actors} must be >= 1")
        if cpus_per_actor <= 0 or gpus_per_actor < 0:
            raise ValueError("backend.cpus_per_actor must be > 0, backend.gpus_per_actor >= 0")
        self.address, self.num_cpus = check_address(address), num_cpus
        self.actors = int(actors)
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
        # The paths as listed (absolute, links not resolved: a link is read as the local reader reads it).
        rows = [{"path": os.path.abspath(p), "key": keys[p]} for p in paths]
        labeled = ray.data.from_items(rows).map_batches(
            LabelActor,
            fn_constructor_kwargs={
                "make_predict": make_predict,
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
