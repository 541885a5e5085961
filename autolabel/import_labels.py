"""``python -m autolabel.import_labels export=PATH batches=[DIR]``: people's labels back into the dataset.

Reads an annotation tool's export with the ``reader`` of ``conf/reader/`` (Label Studio JSON or YOLO,
COCO, CVAT XML), maps every entry to its image through the batches it was sent in, and writes YOLO label
files beside the images (:mod:`autolabel.review.human_labels`): the dataset becomes partly labeled, and
``python -m autolabel.train data=yolo data.path=... split=labeled`` trains the next model on it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from autolabel.cli import clear_errors
from autolabel.errors import DataError
from autolabel.formats.reviewed import ReadReport
from autolabel.review.human_labels import REVIEWS, import_reviewed
from autolabel.review.picks import read_picks
from autolabel.settings_check import check_import_settings

log = logging.getLogger("autolabel.import_labels")
SHOW = 5


def batch_names(folders: list[Path]) -> list[str]:
    """The class names the batches were labeled with (all batches must agree)."""
    names = {tuple(json.loads((f / "batch.json").read_text())["names"]) for f in folders}
    if len(names) != 1:
        raise DataError(
            f"batches={[str(f) for f in folders]} were made with different classes: {sorted(names)}"
        )
    return list(names.pop())


@hydra.main(version_base="1.3", config_path="../conf", config_name="import_labels")
@clear_errors
def main(cfg: DictConfig) -> dict:
    export, folders = check_import_settings(cfg)
    names = batch_names(folders)
    picks = [p for folder in folders for p in read_picks(folder)]
    read = instantiate(cfg.reader)
    result = read(export, names=names)
    reviewed, report = result if isinstance(result, tuple) else (result, ReadReport(source=str(export)))
    log_path = Path(cfg.reviews).expanduser() if cfg.reviews else folders[0] / REVIEWS
    done = import_reviewed(
        reviewed, picks, names=names, log_path=log_path, overwrite=cfg.overwrite, tool=cfg.reader._target_
    )
    summary = {
        "export": str(export),
        "entries": report.n_entries,
        "imported": len(reviewed),
        **done.counts(),
        "unlabeled_skipped": len(report.unlabeled),
        "annotation_conflicts": len(report.conflicts),
        "ignored_regions": report.ignored_regions,
        "rotated": report.rotated,
        "reviews": str(log_path),
    }
    log.info("imported %s: %s", export, summary)
    if done.conflicts:
        log.warning(
            "%d images already had a different human label, kept (overwrite=true replaces): %s",
            len(done.conflicts),
            ", ".join(done.conflicts[:SHOW]),
        )
    if report.unlabeled:
        log.info("%d tasks had no saved annotation and were skipped", len(report.unlabeled))
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
