"""Reading and writing ultralytics' YOLO dataset format, with errors that name the file and line at fault.

- ``data.yaml``: ultralytics' layout (``path``, ``train``, ``val``, ``names``, optional ``nc``; ``test`` is
  ignored). ``path`` is relative to the yaml's folder and defaults to it.
- Label files: one object per line, ``cls cx cy w h`` normalised to [0, 1], or a polygon
  ``cls x1 y1 x2 y2 x3 y3 ...`` (converted to its bounding box). A missing label file is an image with
  no objects. Values may overshoot [0, 1] by ``COORD_TOLERANCE`` (ultralytics' 1 %); boxes are then
  clipped to the image.
- In memory everything is pixel ``xyxy`` float32, shape (N, 4), with int64 class ids (N,), as in
  ``autolabel.structures``.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from autolabel.atomic_files import write_text_atomic
from autolabel.errors import DataError, LabelError
from autolabel.structures import GroundTruth

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# ultralytics accepts label values up to 1 % outside [0, 1] (``verify_image_label``); so do we.
COORD_TOLERANCE = 0.01
# EXIF orientations that rotate by 90 degrees, so decoders (cv2, ultralytics) swap width and height.
_EXIF_ORIENTATION_TAG = 274
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed ``data.yaml``.

    yaml_path: the yaml file (absolute); root: the resolved dataset root; names: class names, index =
    class id; train / val: absolute image paths, sorted and de-duplicated; val is None when the dataset
    ships no val split of its own.
    """

    yaml_path: Path
    root: Path
    names: tuple[str, ...]
    train: tuple[Path, ...]
    val: tuple[Path, ...] | None

    @property
    def num_classes(self) -> int:
        return len(self.names)


# ----------------------------------------------------------------------------------------------- data.yaml


def load_data_yaml(path: str | Path) -> DatasetSpec:
    """Parse and check an ultralytics ``data.yaml``; every image it names must exist.

    Raises DataError naming the yaml file and key at fault. Warns (and sets ``val=None``) when ``val``
    resolves to exactly the training images.
    """
    yaml_path = Path(path).expanduser().absolute()
    if not yaml_path.is_file():
        raise DataError(f"data.yaml not found: {yaml_path} (set data.path)")
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise DataError(f"{yaml_path}: cannot parse data.yaml: {e}") from e
    if not isinstance(data, dict):
        raise DataError(f"{yaml_path}: data.yaml must be a mapping of keys, got {type(data).__name__}")

    names = _parse_names(yaml_path, data)
    root = _parse_root(yaml_path, data.get("path"))
    if data.get("train") in (None, "", []):
        raise DataError(f"{yaml_path}: required key 'train' is missing or empty")
    train = _resolve_split(yaml_path, root, "train", data["train"])
    val = None
    if data.get("val") not in (None, "", []):
        val = _resolve_split(yaml_path, root, "val", data["val"])
        if val == train:
            warnings.warn(
                f"{yaml_path}: 'val' resolves to the same {len(train)} images as 'train'; "
                "treating the dataset as having no val split of its own",
                stacklevel=2,
            )
            val = None
    return DatasetSpec(yaml_path=yaml_path, root=root, names=names, train=train, val=val)


def _parse_names(yaml_path: Path, data: dict) -> tuple[str, ...]:
    raw = data.get("names")
    if raw is None:
        raise DataError(f"{yaml_path}: required key 'names' is missing")
    if isinstance(raw, dict):
        keys = list(raw)
        if any(not isinstance(k, int) or isinstance(k, bool) for k in keys):
            raise DataError(f"{yaml_path}: 'names' keys must be integer class ids, got {keys}")
        if sorted(keys) != list(range(len(keys))):
            raise DataError(f"{yaml_path}: 'names' ids must be 0..{len(keys) - 1}, got {sorted(keys)}")
        values = [raw[k] for k in range(len(keys))]
    elif isinstance(raw, list):
        values = raw
    else:
        raise DataError(f"{yaml_path}: 'names' must be a list or a mapping {{id: name}}, got {raw!r}")
    if not values:
        raise DataError(f"{yaml_path}: 'names' is empty; a dataset needs at least one class")
    names = []
    for i, v in enumerate(values):
        # YAML turns unquoted yes/no/null into bool/None; refuse rather than invent a name like 'True'.
        if isinstance(v, bool) or not isinstance(v, (str, int)) or str(v).strip() == "":
            raise DataError(
                f"{yaml_path}: 'names' entry {i} is {v!r}; class names must be strings (quote it)"
            )
        names.append(str(v))
    nc = data.get("nc")
    if nc is not None and (isinstance(nc, bool) or not isinstance(nc, int) or nc != len(names)):
        raise DataError(f"{yaml_path}: 'nc: {nc!r}' does not match the {len(names)} entries of 'names'")
    return tuple(names)


def _parse_root(yaml_path: Path, raw: object) -> Path:
    if raw in (None, ""):
        return yaml_path.parent.resolve()
    if not isinstance(raw, str):
        raise DataError(f"{yaml_path}: 'path' must be a string, got {raw!r}")
    root = (yaml_path.parent / Path(raw).expanduser()).resolve()
    if not root.is_dir():
        raise DataError(f"{yaml_path}: 'path' dataset root does not exist: {root}")
    return root


def _resolve_split(yaml_path: Path, root: Path, key: str, raw: object) -> tuple[Path, ...]:
    entries = raw if isinstance(raw, list) else [raw]
    images: set[Path] = set()
    for entry in entries:
        if not isinstance(entry, str) or not entry:
            raise DataError(f"{yaml_path}: '{key}' entries must be non-empty strings, got {entry!r}")
        target = (root / Path(entry).expanduser()).resolve()
        if target.is_dir():
            images.update(list_images(target))
        elif target.is_file() and target.suffix.lower() == ".txt":
            images.update(_read_image_list(yaml_path, key, target, root))
        elif target.is_file() and target.suffix.lower() in IMAGE_SUFFIXES:
            images.add(target)
        elif target.exists():
            raise DataError(
                f"{yaml_path}: '{key}' entry {entry!r} is neither a directory, a .txt image list nor an "
                f"image: {target}"
            )
        else:
            raise DataError(f"{yaml_path}: '{key}' entry {entry!r} does not exist: {target}")
    if not images:
        raise DataError(
            f"{yaml_path}: '{key}' has no images (looked in {entries}, suffixes {IMAGE_SUFFIXES})"
        )
    return tuple(sorted(images, key=str))


def _read_image_list(yaml_path: Path, key: str, list_file: Path, root: Path) -> list[Path]:
    """Image paths of a ``.txt`` list: './x' is relative to the list's folder, other relative paths to root.

    Lines without an image suffix are skipped, as ultralytics does.
    """
    try:
        lines = list_file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{yaml_path}: '{key}' list file {list_file} is unreadable: {e}") from e
    images = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or Path(line).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        base = list_file.parent if line.startswith("./") else root
        image = Path(os.path.normpath(base / Path(line).expanduser()))
        if not image.is_file():
            raise DataError(
                f"{list_file}:{number}: image not found: {image} (listed by '{key}' in {yaml_path})"
            )
        images.append(image)
    return images


def list_images(directory: Path) -> list[Path]:
    """Image files under ``directory``, recursively, sorted by path; hidden files and folders are skipped.

    Follows symlinked folders (as ultralytics' glob does) but visits each real folder once.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"image directory not found: {directory}")
    found: list[Path] = []
    seen: set[str] = set()
    for current, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(current, f)
            for f in files
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES
        )
    return sorted(found, key=str)


# ---------------------------------------------------------------------------------------------- per image


def label_path_for(image: Path) -> Path:
    """The label file of an image, by ultralytics' rule (``img2label_paths``).

    The last ``/images/`` path component becomes ``/labels/`` and the suffix becomes ``.txt``; an image
    outside any ``images`` folder gets its label file beside it.
    """
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sb.join(os.fspath(image).rsplit(sa, 1))).with_suffix(".txt")


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` in pixels, read from the header only.

    Width and height are swapped for EXIF orientations 5-8, because ultralytics (and cv2) decode such
    images rotated, and their labels are in the rotated frame. Raises DataError naming an unreadable file.
    """
    try:
        with Image.open(path) as img:
            width, height = img.size
            try:
                orientation = img.getexif().get(_EXIF_ORIENTATION_TAG)
            except (OSError, ValueError, SyntaxError):
                orientation = None  # a broken EXIF block does not make the image unreadable
    except (OSError, UnidentifiedImageError, ValueError, ImportError) as e:
        # ImportError: ultralytics patches Image.open to try an optional HEIF plugin on unknown files
        raise DataError(f"{path}: cannot read image: {e}") from e
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return int(width), int(height)


# ------------------------------------------------------------------------------------------------- labels


def read_yolo_labels(label_path: Path, *, num_classes: int, width: int, height: int) -> GroundTruth:
    """Boxes of one YOLO label file, in pixels of a ``width`` x ``height`` image.

    Returns GroundTruth with xyxy (N, 4) float32 pixels, clipped to the image, and cls (N,) int64. A
    missing file gives an empty GroundTruth. Raises LabelError naming the file and line for a bad line.
    """
    if num_classes < 1 or width < 1 or height < 1:
        raise ValueError(f"need num_classes, width, height >= 1, got {num_classes}, {width}, {height}")
    label_path = Path(label_path)
    if not label_path.exists():
        return GroundTruth.empty()
    try:
        lines = label_path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{label_path}: cannot read label file: {e}") from e
    boxes, classes = [], []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if fields:
            cls, box = _parse_label_line(fields, num_classes, label_path, number)
            classes.append(cls)
            boxes.append(box)
    if not boxes:
        return GroundTruth.empty()
    xyxy = np.asarray(boxes, dtype=np.float64) * np.array([width, height, width, height], dtype=np.float64)
    return GroundTruth(xyxy.astype(np.float32), np.asarray(classes, dtype=np.int64))


def _parse_label_line(
    fields: list[str], num_classes: int, path: Path, line: int
) -> tuple[int, tuple[float, float, float, float]]:
    """One label line -> (class id, normalised xyxy clipped to [0, 1])."""
    n = len(fields)
    if n != 5 and (n < 7 or n % 2 == 0):
        hint = " (6 fields look like a prediction with confidence; labels have 5)" if n == 6 else ""
        raise LabelError(
            path,
            line,
            f"expected 5 fields 'cls cx cy w h' or a polygon 'cls x1 y1 x2 y2 x3 y3 ...' "
            f"(an odd count >= 7), got {n}{hint}",
        )
    cls = _parse_class_id(fields[0], num_classes, path, line)
    values = []
    for i, text in enumerate(fields[1:], start=2):
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise LabelError(path, line, f"field {i} is not a finite number: {text!r}")
        if not -COORD_TOLERANCE <= v <= 1 + COORD_TOLERANCE:
            raise LabelError(path, line, f"field {i} = {text} is outside [0, 1] (labels must be normalised)")
        values.append(v)
    if n == 5:
        cx, cy, w, h = values
        if w <= 0 or h <= 0:
            raise LabelError(path, line, f"zero-area box: width {fields[3]}, height {fields[4]}")
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    else:
        xs, ys = values[0::2], values[1::2]
        x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    x1, x2 = min(max(x1, 0.0), 1.0), min(max(x2, 0.0), 1.0)
    y1, y2 = min(max(y1, 0.0), 1.0), min(max(y2, 0.0), 1.0)
    if x2 <= x1 or y2 <= y1:
        raise LabelError(path, line, "zero-area box (inside the image)")
    return cls, (x1, y1, x2, y2)


def _parse_class_id(text: str, num_classes: int, path: Path, line: int) -> int:
    try:
        cls = int(text)
    except ValueError:
        try:
            value = float(text)  # ultralytics accepts integral floats such as '3.0'
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value.is_integer()):
            raise LabelError(path, line, f"class id {text!r} is not an integer") from None
        cls = int(value)
    if not 0 <= cls < num_classes:
        raise LabelError(path, line, f"class id {cls} out of range 0..{num_classes - 1}")
    return cls


def format_yolo_lines(
    xyxy: np.ndarray, cls: np.ndarray, *, width: int, height: int, conf: np.ndarray | None = None
) -> str:
    """YOLO label text for boxes in pixels: ``cls cx cy w h [conf]`` per line, 6 decimals, '\\n'-terminated.

    xyxy: (N, 4) pixels; cls: (N,) integer class ids >= 0; conf: optional (N,) scores in [0, 1], written
    as a sixth column (ultralytics' ``save_conf`` format). Boxes are clipped to the image first; boxes
    left with zero width or height (at 6 decimals) cannot be read back and are dropped with a warning.
    Returns '' for no boxes.
    """
    if width < 1 or height < 1:
        raise ValueError(f"width and height must be >= 1, got {width}, {height}")
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    classes = np.asarray(cls).reshape(-1)
    scores = None if conf is None else np.asarray(conf, dtype=np.float64).reshape(-1)
    if len(classes) != len(boxes) or (scores is not None and len(scores) != len(boxes)):
        n_conf = None if scores is None else len(scores)
        raise ValueError(f"lengths differ: xyxy {len(boxes)}, cls {len(classes)}, conf {n_conf}")
    if not np.isfinite(boxes).all() or (scores is not None and not np.isfinite(scores).all()):
        raise ValueError("boxes and confidences must be finite")
    if (boxes[:, 2:] < boxes[:, :2]).any():
        raise ValueError("boxes must be xyxy with x2 >= x1 and y2 >= y1")
    if len(classes) and (not np.all(np.mod(classes, 1) == 0) or classes.min() < 0):
        raise ValueError(f"class ids must be integers >= 0, got {classes}")
    scale = np.array([width, height, width, height], dtype=np.float64)
    norm = np.clip(boxes / scale, 0.0, 1.0)
    cxcywh = np.round(np.concatenate([(norm[:, :2] + norm[:, 2:]) / 2, norm[:, 2:] - norm[:, :2]], axis=1), 6)
    keep = (cxcywh[:, 2] > 0) & (cxcywh[:, 3] > 0)
    if not keep.all():
        warnings.warn(f"dropped {int((~keep).sum())} box(es) of zero area inside the image", stacklevel=2)
    lines = []
    for i in np.flatnonzero(keep):
        cx, cy, w, h = cxcywh[i]
        line = f"{int(classes[i])} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"
        if scores is not None:
            line += f" {scores[i]:.6f}"
        lines.append(line + "\n")
    return "".join(lines)


def write_yolo_labels(
    label_path: Path,
    xyxy: np.ndarray,
    cls: np.ndarray,
    *,
    width: int,
    height: int,
    conf: np.ndarray | None = None,
) -> None:
    """Write one label file atomically (see ``format_yolo_lines`` for the format); creates parent folders.

    No boxes writes an empty file, which ultralytics reads as an image with no objects.
    """
    write_text_atomic(Path(label_path), format_yolo_lines(xyxy, cls, width=width, height=height, conf=conf))
