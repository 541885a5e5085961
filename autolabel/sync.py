"""``python -m autolabel.sync action=push|pull``: the loop's round trip with a live Label Studio.

push: a batch from ``autolabel.select`` becomes tasks with predictions in a project, tasks already there
get the new model's scores, and the project serves the most uncertain image under that model first.
pull: the project's JSON export comes back as human labels beside the images (``autolabel.import_labels``
does the same from a file). See :mod:`autolabel.review.label_studio_sync`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from autolabel.cli import clear_errors
from autolabel.review.label_studio_client import LabelStudio
from autolabel.review.label_studio_sync import pull_labels, push_batch
from autolabel.settings_check import check_sync_settings

log = logging.getLogger("autolabel.sync")


@hydra.main(version_base="1.3", config_path="../conf", config_name="sync")
@clear_errors
def main(cfg: DictConfig) -> dict:
    check_sync_settings(cfg)
    client = LabelStudio.from_env(timeout=cfg.timeout)
    client.check()
    if cfg.action == "push":
        summary = push_batch(client, Path(cfg.batch).expanduser(), project=cfg.project)
    else:
        folders = [Path(b).expanduser() for b in cfg.batches]
        reviews = Path(cfg.reviews).expanduser() if cfg.reviews else None
        report, summary = pull_labels(
            client, folders, project=cfg.project, overwrite=cfg.overwrite, reviews=reviews
        )
        if report.conflicts:
            log.warning(
                "%d images already had a different human label, kept: %s",
                len(report.conflicts),
                ", ".join(report.conflicts[:5]),
            )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
