"""A batch to a live Label Studio project and people's labels back (the loop's two network steps).

:func:`push_batch` creates the project (labeling config for the batch's classes) on first use, adds a
local-files storage over the images, imports a task for every pick not in the project yet, gives every
task already there that is still unlabeled the new model's prediction (rescoring), and switches the
project to that ``model_version`` with "Uncertainty sampling", so annotators are served the most uncertain
image under the newest model first. Tasks are matched by the real image path (``data.autolabel_image``),
which stays the same across rounds. :func:`pull_labels` exports the project (JSON) and imports it like
``autolabel.import_labels``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autolabel.atomic_files import write_text_atomic
from autolabel.errors import DataError
from autolabel.formats.label_studio import labeling_config, ls_prediction, read_label_studio_json
from autolabel.records import read_folder_records
from autolabel.review.exports import batch_root
from autolabel.review.human_labels import REVIEWS, ImportReport, import_reviewed
from autolabel.review.label_studio_client import LabelStudio, LabelStudioError
from autolabel.review.picks import job_source, read_picks

log = logging.getLogger("autolabel.label_studio")
EXPORT = "label_studio_export.json"  # the pulled export, kept beside the review log


def read_batch(folder: Path) -> dict[str, Any]:
    """A select output's ``batch.json``; DataError naming the folder when it is not a batch."""
    path = Path(folder) / "batch.json"
    if not path.is_file():
        raise DataError(
            f"{folder}: not a batch (no batch.json); give an output of `python -m autolabel.select`"
        )
    return json.loads(path.read_text())


def project_labels(label_config: str) -> set[str]:
    """The ``<Label value=...>`` names of a labeling config."""
    return set(re.findall(r'<Label\s[^>]*value="([^"]*)"', label_config))


def ensure_project(client: LabelStudio, title: str, names: Sequence[str]) -> int:
    """The id of the project called ``title``, created for ``names`` if absent; its classes must match."""
    pid = client.find_project(title)
    if pid is None:
        return client.create_project(title, labeling_config(names), description="autolabel batches")
    labels = project_labels(client.project(pid)["label_config"])
    if labels and labels != set(names):
        raise DataError(
            f"Label Studio project {title!r} ({client.url}) labels {sorted(labels)}, the batch has classes "
            f"{sorted(names)}: push to another project (project=...)"
        )
    return pid


def current_records(batch: dict[str, Any]) -> dict[str, Any]:
    """Real image path -> record of the auto-label folder the batch was picked from (the new model's)."""
    labels = Path(batch["labels"])
    source = job_source(labels)
    return {str((source / r.image).resolve()): r for r in read_folder_records(labels) if r.ok}


def push_batch(client: LabelStudio, folder: Path, *, project: str) -> dict[str, Any]:
    """Push a batch (see the module docstring); returns what was done."""
    batch = read_batch(folder)
    names, version = batch["names"], batch["model_version"]
    tasks = json.loads((folder / "label_studio_tasks.json").read_text())
    picks = read_picks(folder)
    pid = ensure_project(client, project, names)
    client.add_local_storage(pid, str(batch_root(picks)), title=f"autolabel {folder.name}")
    existing = {t["data"].get("autolabel_image"): t for t in client.tasks(pid)}
    new = [t for t in tasks if t["data"]["autolabel_image"] not in existing]
    client.import_tasks(pid, new)
    records = current_records(batch)
    rescored = []
    for path, task in existing.items():
        versions = {p.get("model_version") for p in task.get("predictions") or []}
        if path in records and not task.get("total_annotations") and version not in versions:
            prediction = ls_prediction(records[path], model_version=version, t_high=batch.get("t_high"))
            rescored.append({"task": task["id"], **prediction})
    client.add_predictions(pid, rescored)
    client.set_sampling(pid)
    client.set_model_version(pid, version)
    done = {"project": pid, "url": client.url, "model_version": version, "new_tasks": len(new)}
    done |= {"rescored_tasks": len(rescored), "tasks_in_project": len(existing) + len(new)}
    log.info("pushed %s to Label Studio project %r: %s", folder, project, done)
    return done


def pull_labels(
    client: LabelStudio, folders: Sequence[Path], *, project: str, overwrite: bool, reviews: Path | None
) -> tuple[ImportReport, dict[str, Any]]:
    """Export ``project`` and import its labels through the batches in ``folders``."""
    pid = client.find_project(project)
    if pid is None:
        raise LabelStudioError(f"no Label Studio project called {project!r} at {client.url}")
    batches = [read_batch(f) for f in folders]
    names = batches[0]["names"]
    if any(b["names"] != names for b in batches):
        raise DataError(f"batches={[str(f) for f in folders]} were made with different classes")
    export = Path(folders[0]) / EXPORT
    write_text_atomic(export, json.dumps(client.export(pid)))
    reviewed, read = read_label_studio_json(export, names=names)
    picks = [p for f in folders for p in read_picks(f)]
    log_path = reviews or Path(folders[0]) / REVIEWS
    report = import_reviewed(
        reviewed, picks, names=names, log_path=log_path, overwrite=overwrite, tool="label_studio"
    )
    summary = {"export": str(export), "imported": len(reviewed), "unlabeled_skipped": len(read.unlabeled)}
    return report, summary | report.counts() | {"reviews": str(log_path)}
