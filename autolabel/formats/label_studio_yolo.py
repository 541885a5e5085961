"""Reader of Label Studio's YOLO export folder (``classes.txt``, ``notes.json``, ``labels/``, ``images/``).

Quirks of Label Studio's converter (label-studio-converter ``Converter.convert_to_yolo``) handled here:
- Class ids are Label Studio's own: labels without a ``category`` attribute are numbered ALPHABETICALLY,
  not in the labeling config's order. ``notes.json`` (``{"categories": [{"id", "name"}]}``) holds the true
  id -> name map; ``classes.txt`` lists the names in category order. Classes are mapped by name.
- A task without annotations, and a task whose saved annotation has no box, both get an EMPTY label
  file. An empty file is therefore skipped and counted (not read as "no objects") unless
  ``empty_means_no_objects=True``.
- Rotation is dropped (the unrotated box is written), and of several annotations of a task the file keeps
  the last one written (the oldest); the JSON export (:func:`read_label_studio_json`) has neither problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from autolabel.errors import DataError
from autolabel.formats.reviewed import ExportError, ReadReport, ReviewedImage, check_class_names
from autolabel.formats.yolo import IMAGE_SUFFIXES, image_size, read_yolo_labels


def read_label_studio_yolo(
    folder: str | Path,
    *,
    names: Sequence[str],
    sizes: Mapping[str, tuple[int, int]] | None = None,
    empty_means_no_objects: bool = False,
) -> tuple[list[ReviewedImage], ReadReport]:
    """The reviewed images of a Label Studio YOLO export folder, and what was skipped.

    Key: the image's file name in ``images/`` (same stem as the label file). Image size in pixels: read
    from that file (EXIF-rotated as ultralytics reads it), else ``sizes`` (keys: file names or paths,
    matched by stem; the key found becomes the image key). Boxes are returned in pixels, clipped to the
    image. Images without a label file and empty label files count as report.unlabeled. ExportError naming
    the file (and line) for a missing ``labels/`` folder or class list, a bad line, a class id not in the
    class list, an image of unknown size, or class names not in ``names``.
    """
    folder = Path(folder)
    labels_dir = folder / "labels"
    if not labels_dir.is_dir():
        raise ExportError(f"{folder}: no labels/ folder; is it a Label Studio YOLO export?")
    classes = _classes(folder)
    image_files = _images_by_stem(folder / "images")
    size_keys = _keys_by_stem(sizes or {})
    label_files = sorted(labels_dir.glob("*.txt"))
    report = ReadReport(source=str(folder), n_entries=len(label_files))
    reviewed = []
    for label_file in label_files:
        stem = label_file.stem
        image = image_files.get(stem)
        key = image.name if image is not None else size_keys.get(stem, stem)
        try:
            empty = not label_file.read_text(encoding="utf-8-sig").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ExportError(f"{label_file}: cannot read label file: {exc}") from exc
        if empty and not empty_means_no_objects:
            report.unlabeled.append(key)
            continue
        if image is not None:
            try:
                width, height = image_size(image)
            except DataError as exc:
                raise ExportError(str(exc)) from exc
        elif sizes is not None and key in sizes:
            width, height = (int(v) for v in sizes[key])
        else:
            raise ExportError(
                f"{label_file}: no image {stem}.* in {folder / 'images'} and no size for it in sizes="
            )
        try:
            truth = read_yolo_labels(label_file, num_classes=max(classes) + 1, width=width, height=height)
        except DataError as exc:
            raise ExportError(f"{exc} (class ids of {folder}: {classes})") from exc
        missing = sorted({int(c) for c in truth.cls} - set(classes))
        if missing:
            raise ExportError(f"{label_file}: class ids {missing} are not in the export's classes {classes}")
        reviewed.append(
            ReviewedImage(
                image=key,
                xyxy=truth.xyxy,
                labels=tuple(classes[int(c)] for c in truth.cls),
                width=width,
                height=height,
                source=str(label_file),
                extra={"label_file": label_file.name},
            )
        )
    without_file = set(image_files) - {f.stem for f in label_files}
    report.unlabeled.extend(sorted(image_files[stem].name for stem in without_file))
    check_class_names((label for r in reviewed for label in r.labels), names, folder)
    return reviewed, report


def _classes(folder: Path) -> dict[int, str]:
    """Class id -> name: from ``notes.json`` when present (it has the ids), else ``classes.txt`` lines."""
    notes, listing = folder / "notes.json", folder / "classes.txt"
    from_list = None
    if listing.is_file():
        lines = listing.read_text(encoding="utf-8-sig").splitlines()
        from_list = dict(enumerate(line.strip() for line in lines if line.strip()))
    if notes.is_file():
        try:
            categories = json.loads(notes.read_text(encoding="utf-8-sig"))["categories"]
            by_id = {int(c["id"]): str(c["name"]) for c in categories}
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ExportError(f"{notes}: not Label Studio's notes.json ({exc!r})") from exc
        if from_list is not None and sorted(from_list.values()) != sorted(by_id.values()):
            raise ExportError(f"{notes} and {listing} name different classes")
        if not by_id:
            raise ExportError(f"{notes}: no categories")
        return by_id
    if from_list is None:
        raise ExportError(f"{folder}: neither classes.txt nor notes.json; the class ids cannot be named")
    if not from_list:
        raise ExportError(f"{listing}: no class names")
    return from_list


def _images_by_stem(images: Path) -> dict[str, Path]:
    if not images.is_dir():
        return {}
    return {p.stem: p for p in sorted(images.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def _keys_by_stem(sizes: Mapping[str, tuple[int, int]]) -> dict[str, str]:
    by_stem: dict[str, str] = {}
    for key in sizes:
        stem = Path(key).stem
        if stem in by_stem:
            raise ExportError(f"sizes: {by_stem[stem]!r} and {key!r} have the same file stem {stem!r}")
        by_stem[stem] = key
    return by_stem
