"""Tests of the synthetic weld-defect demo set (autolabel.data.synthetic.demo)."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from autolabel.data.synthetic import demo
from autolabel.data.synthetic.demo import CLASS_NAMES, generate_demo
from autolabel.data.synthetic.writer import generate_once
from autolabel.structures import box_iou

N_BIG = 150


def _files(root: Path, sub: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / sub).iterdir())}


def _labels(root: Path) -> dict[str, np.ndarray]:
    """label file stem -> (N, 5) float array of ``cls cx cy w h``; every line must parse."""
    out = {}
    for p in sorted((root / "labels").glob("*.txt")):
        rows = []
        for line in p.read_text().splitlines():
            parts = line.split()
            assert len(parts) == 5, f"{p.name}: bad line {line!r}"
            assert parts[0].isdigit(), f"{p.name}: class id {parts[0]!r}"
            rows.append([float(v) for v in parts])
        out[p.stem] = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return out


def _meta(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "meta.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo_big") / "set"
    generate_demo(root, n_images=N_BIG, seed=0)
    return root


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = generate_demo(tmp_path / "a", n_images=8, seed=3).parent
    b = generate_demo(tmp_path / "b", n_images=8, seed=3).parent
    c = generate_demo(tmp_path / "c", n_images=8, seed=4).parent
    assert _files(a, "images") == _files(b, "images")
    assert _files(a, "labels") == _files(b, "labels")
    assert (a / "meta.jsonl").read_bytes() == (b / "meta.jsonl").read_bytes()
    img_a, img_c = _files(a, "images"), _files(c, "images")
    assert all(img_a[k] != img_c[k] for k in img_a)


def test_prefix_property(tmp_path):
    small = generate_demo(tmp_path / "small", n_images=5, seed=7).parent
    large = generate_demo(tmp_path / "large", n_images=10, seed=7).parent
    s_img, l_img = _files(small, "images"), _files(large, "images")
    assert len(s_img) == 5 and len(l_img) == 10
    assert all(s_img[k] == l_img[k] for k in s_img)
    assert all(v == _files(large, "labels")[k] for k, v in _files(small, "labels").items())
    assert _meta(large)[:5] == _meta(small)


def test_layout_and_data_yaml(big):
    data = yaml.safe_load((big / "data.yaml").read_text())
    assert data["path"] == str(big.resolve())
    assert data["train"] == "images" and "val" not in data
    assert data["names"] == dict(enumerate(CLASS_NAMES))
    images = sorted(p.name for p in (big / "images").iterdir())
    labels = sorted(p.name for p in (big / "labels").iterdir())
    assert images == [f"{i:05d}.jpg" for i in range(N_BIG)]
    assert labels == [f"{i:05d}.txt" for i in range(N_BIG)]
    img = cv2.imread(str(big / "images" / "00000.jpg"), cv2.IMREAD_COLOR)
    assert img.shape == (256, 256, 3)
    assert not list(big.parent.glob(".*tmp*")), "temporary folder left behind"


def test_labels_valid_and_match_meta(big):
    labels, metas = _labels(big), _meta(big)
    assert [m["image"] for m in metas] == [f"{i:05d}.jpg" for i in range(N_BIG)]
    for m in metas:
        rows = labels[Path(m["image"]).stem]
        assert len(rows) == len(m["objects"]) == m["n_objects"]
        if len(rows):
            assert np.all((rows[:, 0] >= 0) & (rows[:, 0] < len(CLASS_NAMES)))
            assert np.all((rows[:, 1:] >= 0) & (rows[:, 1:] <= 1))
            assert np.all(rows[:, 3:] * 256 >= 3 - 1e-3), "boxes must be >= 3 px"
            xyxy = np.concatenate([rows[:, 1:3] - rows[:, 3:] / 2, rows[:, 1:3] + rows[:, 3:] / 2], 1) * 256
            assert np.all(xyxy > -1e-3) and np.all(xyxy < 256 + 1e-3)
            np.testing.assert_allclose(xyxy, [o["xyxy"] for o in m["objects"]], atol=1e-3)
            assert rows[:, 0].astype(int).tolist() == [o["cls"] for o in m["objects"]]
        for key in ("difficulty", "lighting_strength", "noise_sigma", "clutter_count"):
            assert key in m
        assert 0 <= m["difficulty"] <= 1
        for o in m["objects"]:
            assert o["contrast_level"] in ("clear", "subtle", "low")
            assert {"tiny", "low_contrast", "overlapping", "confusable", "size_px"} <= o.keys()


def test_difficulty_structure(big):
    labels, metas = _labels(big), _meta(big)
    rows = np.concatenate([r for r in labels.values() if len(r)])
    counts = Counter(rows[:, 0].astype(int).tolist())
    assert set(counts) == set(range(len(CLASS_NAMES))), counts
    assert max(counts.values()) >= 3 * min(counts.values()), counts
    assert sum(len(r) == 0 for r in labels.values()) >= 3, "some images must be empty"
    assert any(len(r) >= 5 for r in labels.values())
    side = np.maximum(rows[:, 3], rows[:, 4]) * 256
    assert (side < 12).sum() >= 5, "some boxes must be tiny"
    assert (side > 40).sum() >= 20
    n_overlap = 0
    for r in labels.values():
        if len(r) >= 2:
            xyxy = np.concatenate([r[:, 1:3] - r[:, 3:] / 2, r[:, 1:3] + r[:, 3:] / 2], 1)
            iou = box_iou(xyxy, xyxy)
            np.fill_diagonal(iou, 0)
            n_overlap += bool((iou > 0).any())
    assert n_overlap >= 3, "some images must hold overlapping boxes"
    objs = [o for m in metas for o in m["objects"]]
    levels = Counter(o["contrast_level"] for o in objs)
    assert levels["clear"] > levels["subtle"] > 0 and levels["low"] > 0, levels
    assert any(o["confusable"] for o in objs) and any(m["clutter_count"] == 0 for m in metas)
    assert max(m["clutter_count"] for m in metas) >= 4
    # harder images carry more low-contrast objects and more clutter
    hard = [m for m in metas if m["difficulty"] > 0.5]
    easy = [m for m in metas if m["difficulty"] <= 0.5]

    def low_frac(ms):
        ob = [o for m in ms for o in m["objects"]]
        return np.mean([o["contrast_level"] != "clear" for o in ob])

    assert low_frac(hard) > low_frac(easy)
    assert np.mean([m["clutter_count"] for m in hard]) > np.mean([m["clutter_count"] for m in easy])


def test_cache_reuses_and_regenerates(tmp_path):
    out = tmp_path / "demo"
    yaml_path = generate_demo(out, n_images=4, seed=1)
    assert yaml_path == out.resolve() / "data.yaml"
    files = [out / "images" / "00000.jpg", yaml_path, out / "meta.jsonl", out / "labels" / "00003.txt"]

    def stamps():
        return [(f.stat().st_ino, f.stat().st_mtime_ns) for f in files]

    before = stamps()
    time.sleep(0.02)
    assert generate_demo(out, n_images=4, seed=1) == yaml_path
    assert generate_demo(str(out), n_images=4, seed=1, image_size=256) == yaml_path
    assert stamps() == before
    # other parameters: rebuilt in place
    generate_demo(out, n_images=6, seed=1)
    assert len(list((out / "images").iterdir())) == 6
    assert json.loads((out / "demo.json").read_text())["n_images"] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"], "temporary or old folders left behind"


def test_jobs_asking_for_one_set_at_once_build_it_once(tmp_path):
    """The seeds of a multirun start together on a fresh cache: one builds the set, the others reuse it."""
    out, built = tmp_path / "set", []

    def write(tmp, final):
        built.append(tmp)
        time.sleep(0.2)  # the others ask meanwhile
        (tmp / "data.yaml").write_text(f"path: {final}\n")
        (tmp / "set.json").write_text(json.dumps({"n": 1}))

    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda _: generate_once(out, {"n": 1}, write, marker="set.json"), range(3)))
    assert paths == [out / "data.yaml"] * 3 and len(built) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"], "temporary or old folders left behind"


def test_refuses_non_demo_folder(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a demo"):
        generate_demo(out, n_images=2)
    assert (out / "precious.txt").read_text() == "keep me"
    # an existing empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert generate_demo(empty, n_images=2).is_file()


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    real = demo.render_demo_image

    def flaky(index, **kw):
        if index == 3:
            raise KeyboardInterrupt
        return real(index, **kw)

    monkeypatch.setattr(demo, "render_demo_image", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate_demo(tmp_path / "x", n_images=6)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_images": 0}, "n_images"),
        ({"n_images": 2.5}, "n_images"),
        ({"image_size": 32}, "image_size"),
        ({"image_size": "256"}, "image_size"),
        ({"seed": -1}, "seed"),
        ({"shift_share": 1.0}, "shift_share"),
        ({"shift_share": -0.1}, "shift_share"),
        ({"shift_share": "0.1"}, "shift_share"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        generate_demo(tmp_path / "bad", **kwargs)
    assert not (tmp_path / "bad").exists()


def test_other_image_sizes(tmp_path):
    root = generate_demo(tmp_path / "s", n_images=6, image_size=96, seed=2).parent
    for i in range(6):
        assert cv2.imread(str(root / "images" / f"{i:05d}.jpg")).shape == (96, 96, 3)
    for m in _meta(root):
        for o in m["objects"]:
            x0, y0, x1, y1 = o["xyxy"]
            assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 96 and x1 - x0 >= 3 and y1 - y0 >= 3


def test_a_second_imaging_line_inverts_its_images_and_leaves_line_a_unchanged(tmp_path):
    one = generate_demo(tmp_path / "one", n_images=30, image_size=64, seed=5).parent
    two = generate_demo(tmp_path / "two", n_images=30, image_size=64, seed=5, shift_share=0.3).parent
    lines = [m["line"] for m in _meta(two)]
    assert {m["line"] for m in _meta(one)} == {"A"}
    assert 3 <= lines.count("B") <= 18  # about 30% of 30 images
    for i, (a, b, line) in enumerate(zip(_meta(one), _meta(two), lines, strict=True)):
        same_labels = (one / "labels" / f"{i:05d}.txt").read_text() == (
            two / "labels" / f"{i:05d}.txt"
        ).read_text()
        assert same_labels and a["objects"] == b["objects"]  # the same scene and boxes on both lines
        img_a, img_b = (root / "images" / f"{i:05d}.jpg" for root in (one, two))
        if line == "A":
            assert img_a.read_bytes() == img_b.read_bytes()
        else:  # gray levels inverted (up to JPEG rounding)
            diff = cv2.imread(str(img_a)).astype(int) + cv2.imread(str(img_b)).astype(int) - 255
            assert np.abs(diff).mean() < 3
    assert json.loads((two / "demo.json").read_text())["shift_share"] == 0.3
    assert "shift_share" not in json.loads((one / "demo.json").read_text())
