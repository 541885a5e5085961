"""``python -m autolabel.select labels=DIR``: ranks on demand, the next images a person labels.

Reads an auto-label output folder, leaves out images that already have a human label (and unreadable
ones, and those outside ``include`` / ``image_list``), ranks the rest with the strategy of
``conf/selection/`` and keeps ``n`` images or as many as fit ``seconds`` of labeling. Writes the batch
(``picks.jsonl``, ``picks.csv``, ``batch.json``) and the files annotation tools open
(:mod:`autolabel.review.exports`) to ``output``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autolabel.cli import clear_errors
from autolabel.errors import DataError
from autolabel.records import read_folder_records
from autolabel.review.cost_aware import estimated_seconds, images_within_seconds
from autolabel.review.exports import write_batch_exports
from autolabel.review.picks import candidates, choose, picks_of, read_job, write_picks
from autolabel.settings_check import check_document_root, check_select_settings

log = logging.getLogger("autolabel.select")
SHOW = 10  # picks printed on the console


def model_version(job: dict) -> str:
    """The default name of a job's predictions: the weights' stem and the first 8 hex of their sha256."""
    return f"{Path(job['weights']).stem}-{str(job.get('weights_sha256', ''))[:8] or 'unknown'}"


@hydra.main(version_base="1.3", config_path="../conf", config_name="select")
@clear_errors
def main(cfg: DictConfig) -> dict:
    labels = check_select_settings(cfg)
    job = read_job(labels)
    source = Path(job["source"])
    root = check_document_root(cfg, source)  # before anything is written
    records = read_folder_records(labels)
    if not records:
        raise DataError(f"labels={labels}: the auto-label job recorded no images yet")
    image_list = None
    if cfg.image_list is not None:
        image_list = Path(cfg.image_list).expanduser().read_text().splitlines()
    pool, left_out = candidates(
        records,
        source=source,
        include=list(cfg.include),
        image_list=image_list,
        skip_labeled=cfg.skip_labeled,
    )
    if not pool:
        raise DataError(f"nothing left to pick in {labels}: {left_out}")
    selection_cfg = OmegaConf.to_container(cfg.selection, resolve=True)
    cost = instantiate(cfg.cost)
    if cfg.seconds is not None:
        # as many images as the seconds could buy at most (the cheapest), then cut by seconds: a diversity
        # strategy then orders only what can be picked, not the whole pool
        most = images_within_seconds(estimated_seconds(pool, cost), float(cfg.seconds))
        selection_cfg["budget"] = max(1, most)
    elif cfg.n is not None:
        selection_cfg["budget"] = int(cfg.n)
    strategy = instantiate(selection_cfg)
    try:
        selection, estimate = choose(
            pool,
            strategy,
            rng=np.random.default_rng(cfg.seed),
            seconds=cfg.seconds,
            cost=cost,
        )
    except ValueError as exc:  # a strategy that cannot rank these records says why
        raise DataError(f"selection={selection_cfg['_target_']}: {exc}") from exc
    picks = picks_of(pool, selection, estimate, source=source)
    output = Path(cfg.output).expanduser() if cfg.output else Path(HydraConfig.get().runtime.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    write_picks(output, picks)
    version = cfg.model_version or model_version(job)
    t_high = job.get("t_high")  # a two-level job: its suggestions are marked in the exports
    exports = write_batch_exports(
        output,
        picks,
        {r.image: r for r in pool},
        names=job["names"],
        model_version=version,
        document_root=root,
        t_high=t_high,
    )
    batch = {
        "labels": str(labels.resolve()),
        "source": str(source),
        "names": job["names"],
        "weights": job["weights"],
        "model_version": version,
        "document_root": str(root),
        "t_high": t_high,
        "selection": selection_cfg,
        "reason": selection.reason,
        "n": len(picks),
        "estimated_seconds": float(sum(p.seconds for p in picks)),
        "left_out": left_out,
        "exports": exports,
    }
    (output / "batch.json").write_text(json.dumps(batch, indent=2) + "\n")
    log.info("%s", selection.reason)
    for p in picks[:SHOW]:
        score = "-" if p.score is None else f"{p.score:.3f}"
        log.info("%4d  %-40s score %s  band %s  boxes %d", p.rank, p.image, score, p.band, p.n_boxes)
    log.info("picked %d images (%.0f s estimated) into %s", len(picks), batch["estimated_seconds"], output)
    print(
        json.dumps(
            {k: batch[k] for k in ("n", "estimated_seconds", "model_version", "reason")}
            | {"output": str(output)}
        )
    )
    return batch


if __name__ == "__main__":
    main()
