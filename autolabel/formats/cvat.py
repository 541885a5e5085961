"""CVAT for images 1.1 XML: auto-labels out (scores as box attributes), reviewed boxes back in.

Format (CVAT's "XML annotation format", version 1.1): ``<annotations><version>1.1</version><meta><task>
... <labels><label><name>..</name><attributes>..`` then one ``<image id name width height>`` per image with
``<box label source occluded xtl ytl xbr ybr z_order>`` children; coordinates are pixels of the image, xtl/ytl
the top-left and xbr/ybr the bottom-right corner; ``rotation`` (degrees, clockwise about the box centre)
is optional.

Attributes: CVAT keeps a shape's attribute on import only if the task's label declares it; the importer
(cvat-ai/cvat ``cvat/apps/dataset_manager/bindings.py``, ``_import_shape``) keeps only attributes for which
``_get_attribute_id(label_id, name)`` finds a spec. So ``score`` (box confidence) and ``uncertainty``
(image score) are declared on every label in the meta block, as ``text`` attributes: CVAT's ``number``
attributes are integer ranges (``cvat-sdk/cvat_sdk/attributes.py``: ``_NumberAttributeValueValidator``
parses min, max, step and the value with ``int()``), which a confidence in [0, 1] does not fit. Give the
CVAT task these labels with these attributes, or the values are dropped when the XML is uploaded.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET  # expat >= 2.4.1 refuses entity expansion bombs; no external entities
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from autolabel.formats.reviewed import ExportError, ReviewedImage, check_class_names
from autolabel.records import ImageRecord

VERSION = "1.1"
SCORE = "score"  # box attribute: the detection confidence, 6 decimals
UNCERTAINTY = "uncertainty"  # box attribute: the image's uncertainty score ("" when undefined)
ATTRIBUTE_SPEC = {"mutable": "False", "input_type": "text", "default_value": "", "values": ""}


def cvat_xml(
    records: Iterable[ImageRecord],
    *,
    names: Sequence[str],
    image_names: Mapping[str, str] | None = None,
    task_name: str = "autolabel",
) -> str:
    """CVAT for images 1.1 XML of the auto-labels of ``records``, boxes marked ``source="auto"``.

    names: the project's class names (every label, each declaring the ``score`` and ``uncertainty``
    attributes). image_names: record key -> image name in the CVAT task (default: the key). Records of
    unreadable images are skipped. Boxes are clipped to the image, corners in pixels with 2 decimals.
    ValueError for a box label not in ``names`` or two records with the same image name.
    """
    if not names or len(set(names)) != len(names):
        raise ValueError(f"names must be a non-empty list of distinct class names, got {list(names)}")
    readable = [r for r in records if r.ok and r.width and r.height]
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = VERSION
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    for key, value in (("name", task_name), ("size", str(len(readable))), ("mode", "annotation")):
        ET.SubElement(task, key).text = value
    labels = ET.SubElement(task, "labels")
    for name in names:
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = str(name)
        attributes = ET.SubElement(label, "attributes")
        for attribute in (SCORE, UNCERTAINTY):
            spec = ET.SubElement(attributes, "attribute")
            for key, value in {"name": attribute, **ATTRIBUTE_SPEC}.items():
                ET.SubElement(spec, key).text = value
    seen: set[str] = set()
    for index, record in enumerate(readable):
        name = (image_names or {}).get(record.image, record.image)
        if name in seen:
            raise ValueError(f"two records have the CVAT image name {name!r}")
        seen.add(name)
        width, height = int(record.width or 0), int(record.height or 0)
        image = ET.SubElement(root, "image", id=str(index), name=name, width=str(width), height=str(height))
        score = record.score_value
        uncertainty = f"{score:.6g}" if math.isfinite(score) else ""
        det = record.detections
        corners = np.clip(det.xyxy.astype(np.float64), 0, [width, height, width, height])
        for i, label in enumerate(record.labels):
            if label not in names:
                raise ValueError(f"{record.image}: box label {label!r} is not in names {list(names)}")
            x1, y1, x2, y2 = (f"{v:.2f}" for v in corners[i])
            box = ET.SubElement(
                image, "box", label=label, source="auto", occluded="0",
                xtl=x1, ytl=y1, xbr=x2, ybr=y2, z_order="0",
            )  # fmt: skip
            ET.SubElement(box, "attribute", name=SCORE).text = f"{float(det.conf[i]):.6f}"
            ET.SubElement(box, "attribute", name=UNCERTAINTY).text = uncertainty
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def read_cvat_xml(path: str | Path, *, names: Sequence[str]) -> list[ReviewedImage]:
    """The reviewed images of a CVAT for images 1.1 XML export, one per ``<image>``, in file order.

    Key: the image's ``name``. Boxes in pixels (a rotated box becomes its axis-aligned bounding box,
    clipped to the image); boxes marked ``outside`` are left out. Other shapes (polygons, points, tags...)
    are ignored and counted in ``extra["ignored_shapes"]``; ``extra["sources"]`` counts the boxes by CVAT's
    ``source`` (auto, manual, semi-auto...). CVAT exports every image of the task, reviewed or not: an
    image without boxes may be one nobody looked at. ``changed`` and ``lead_time`` are unknown (None).
    ExportError naming the file for malformed XML, a video (track) export, a bad box, or unknown labels.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ExportError(f"{path}: not well-formed XML ({exc})") from exc
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the CVAT export: {exc}") from exc
    if root.tag != "annotations":
        raise ExportError(f"{path}: the root element is <{root.tag}>, not CVAT's <annotations>")
    if root.find("track") is not None:
        raise ExportError(f"{path}: has <track> elements (CVAT for video); export as CVAT for images 1.1")
    reviewed = []
    for k, image in enumerate(root.findall("image")):
        name = image.get("name")
        where = f"{path}: image {image.get('id', k)}"
        if not name:
            raise ExportError(f"{where}: no name")
        where = f"{where} ({name})"
        width, height = _size(image, where)
        xyxy, labels, ignored, sources, rotated = [], [], Counter(), Counter(), 0
        for shape in image:
            if shape.tag != "box":
                ignored[shape.tag] += 1
                continue
            if shape.get("outside") == "1":
                continue
            box, turned = _box(shape, where, width, height)
            xyxy.append(box)
            labels.append(shape.get("label") or "")
            sources[shape.get("source", "")] += 1
            rotated += turned
        extra = {"image_id": image.get("id"), "sources": dict(sources)}
        if ignored:
            extra["ignored_shapes"] = dict(ignored)
        if rotated:
            extra["rotated_boxes"] = rotated
        reviewed.append(
            ReviewedImage(
                image=name,
                xyxy=np.array(xyxy, dtype=np.float64).reshape(-1, 4),
                labels=tuple(labels),
                width=width,
                height=height,
                source=where,
                extra=extra,
            )
        )
    check_class_names((label for r in reviewed for label in r.labels), names, path)
    return reviewed


def _size(image: ET.Element, where: str) -> tuple[int | None, int | None]:
    if image.get("width") is None or image.get("height") is None:
        return None, None
    try:
        width, height = int(image.get("width", "")), int(image.get("height", ""))
    except ValueError:
        raise ExportError(f"{where}: width and height must be integers") from None
    if width < 1 or height < 1:
        raise ExportError(f"{where}: size {width}x{height}")
    return width, height


def _box(shape: ET.Element, where: str, width: int | None, height: int | None) -> tuple[list[float], bool]:
    """Pixel xyxy of a ``<box>`` (its bounding box when rotated, clipped to a known size); rotated or not."""
    if not shape.get("label"):
        raise ExportError(f"{where}: a box without a label")
    try:
        x1, y1, x2, y2 = (float(shape.get(k, "")) for k in ("xtl", "ytl", "xbr", "ybr"))
        rotation = float(shape.get("rotation", "0"))
    except ValueError:
        raise ExportError(f"{where}: a box needs numeric xtl, ytl, xbr, ybr (and rotation)") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2, rotation)) or x2 < x1 or y2 < y1:
        raise ExportError(f"{where}: bad box corners {(x1, y1, x2, y2)}")
    turned = rotation % 360 != 0
    if turned:
        cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        c, s = abs(math.cos(math.radians(rotation))), abs(math.sin(math.radians(rotation)))
        dx, dy = hw * c + hh * s, hw * s + hh * c
        x1, y1, x2, y2 = cx - dx, cy - dy, cx + dx, cy + dy
    if width is not None and height is not None:
        x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
        y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
    return [x1, y1, x2, y2], turned
