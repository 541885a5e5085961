"""What a label job records about the settings and files that decide its records, and when a rerun may
resume its folder (:mod:`autolabel.job.runner` writes the marker and raises the refusal).

``autolabel_job.json`` (MARKER) holds the job's settings. A rerun resumes only when every RESUME_KEY is the
same: the weights (path and sha256), the calibration files beside them (path -> sha256, None for a file that
was not there), the source, classes, threshold, NMS and input size, the uncertainty settings, and the
two-level ``t_high`` (absent: one level). A content hash (HASH_KEYS) is compared when both runs recorded it,
so folders written before it was recorded still resume (with a warning). ``conf_source`` only explains a
refusal: the same threshold from another source labels the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autolabel.job.label_files import file_sha256

MARKER = "autolabel_job.json"
# What decides a record; a resume must match all of it. conf_source is recorded to explain a refusal only:
# the same threshold from another source gives the same records.
RESUME_KEYS = (
    "weights",
    "weights_sha256",
    "calibration_files",
    "source",
    "names",
    "conf",
    "iou",
    "imgsz",
    "uncertainty",
    "t_high",
)
HASH_KEYS = ("weights_sha256", "calibration_files")  # compared when both runs recorded them (older: warn)


def with_hashes(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` with the content hashes a resume compares: ``weights_sha256`` when ``weights`` names a
    file, and ``calibration_files`` (a list of paths) as ``{path: sha256, or None when absent}``."""
    meta = dict(meta)
    weights = meta.get("weights")
    if "weights_sha256" not in meta and weights and Path(weights).is_file():
        meta["weights_sha256"] = file_sha256(weights)
    files = meta.get("calibration_files")
    if isinstance(files, (list, tuple)):
        meta["calibration_files"] = {str(f): file_sha256(f) if Path(f).is_file() else None for f in files}
    return meta


def _file_changes(old: Mapping[str, str | None], new: Mapping[str, str | None]) -> list[str]:
    """What became of each recorded file: removed, added or replaced (with the sha256 prefixes)."""
    changes = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        if not after:
            changes.append(f"{path} was removed (sha256 {before[:12]})")
        elif not before:
            changes.append(f"{path} was added (sha256 {after[:12]}; absent when this folder was started)")
        else:
            changes.append(f"{path} was replaced (sha256 {before[:12]} -> {after[:12]})")
    return changes


def resume_refusal(output: Path, previous: Mapping[str, Any], meta: Mapping[str, Any]) -> str | None:
    """Why ``meta`` may not resume the folder ``previous`` started (one line), or None when it may.

    Settings must be equal; a content hash (HASH_KEYS) is compared when both runs recorded it.
    """
    changed = [k for k in RESUME_KEYS if k not in HASH_KEYS and previous.get(k) != meta.get(k)]
    old_hash, new_hash = previous.get("weights_sha256"), meta.get("weights_sha256")
    if old_hash and new_hash and old_hash != new_hash:
        changed.append("weights_sha256")
    old_files, new_files = previous.get("calibration_files"), meta.get("calibration_files")
    files = _file_changes(old_files, new_files) if old_files is not None and new_files is not None else []
    if not changed and not files:
        return None
    parts = []
    if changed:
        diffs = ", ".join(_diff(k, previous, meta) for k in changed)
        parts.append(f"it was written by a job with other settings ({diffs})")
        if changed == ["weights_sha256"]:
            parts[-1] += (
                f" (the weights file {meta.get('weights')} was replaced since this folder was started; "
                "labels of two models would mix)"
            )
    if files:
        parts.append(
            f"the calibration beside the weights changed since it was started ({'; '.join(files)}), "
            "so records banded by two fits would mix: restore the files as they were then"
        )
    return (
        f"output={output}: {'; '.join(parts)}; rerun with the same settings and files to resume, "
        "or choose a new output folder"
    )


def leaf_changes(key: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """(dotted key, old, new) for every leaf that differs between two settings values (nested mappings
    are walked; a key absent on one side is None there)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[tuple[str, Any, Any]] = []
        for sub in [*old, *(k for k in new if k not in old)]:
            out += leaf_changes(f"{key}.{sub}", old.get(sub), new.get(sub))
        return out
    return [] if old == new else [(key, old, new)]


def _diff(key: str, previous: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    """``key: old -> new``; the threshold also says where each value came from, when recorded. A nested
    setting (``uncertainty``) lists only its changed leaves, and how to set them back."""
    old, new = previous.get(key), meta.get(key)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        leaves = leaf_changes(key, old, new)
        listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in leaves)
        back = " ".join(f"{k}={_override(a)}" for k, a, b in leaves if a is not None and b is not None)
        return f"{listed} (to resume: {back})" if back else listed

    def value(m: Mapping[str, Any]) -> str:
        source = m.get("conf_source") if key == "conf" else None
        return f"{m.get(key)!r} ({source})" if source else repr(m.get(key))

    return f"{key}: {value(previous)} -> {value(meta)}"


def _override(value: Any) -> str:
    """``value`` as a Hydra command-line override value (lists in brackets, None as null)."""
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_override(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
