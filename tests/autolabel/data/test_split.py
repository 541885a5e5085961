from pathlib import Path

import pytest

from autolabel.data.split import read_manifest, resolve_size, split_dataset, write_manifest
from autolabel.errors import DataError
from autolabel.formats.yolo import DatasetSpec


def spec(n_train: int, n_val: int = 0) -> DatasetSpec:
    train = tuple(Path(f"/data/images/train/{i:04d}.jpg") for i in range(n_train))
    val = tuple(Path(f"/data/images/val/{i:04d}.jpg") for i in range(n_val)) or None
    return DatasetSpec(
        yaml_path=Path("/data/data.yaml"), root=Path("/data"), names=("a", "b"), train=train, val=val
    )


def test_default_fractions_mirror_superb_ai_sizes():
    split = split_dataset(spec(774), val=0.23, gt1=0.23, seed=0)
    assert split.sizes() == {"val": 178, "gt1": 178, "pool": 418}


def test_counts_and_fractions_and_disjoint_cover():
    s = spec(100)
    split = split_dataset(s, val=20, gt1=0.1, seed=3)
    assert split.sizes() == {"val": 20, "gt1": 10, "pool": 70}
    assert not set(split.val) & set(split.gt1) and not set(split.gt1) & set(split.pool)
    assert not set(split.val) & set(split.pool)
    assert set(split.val + split.gt1 + split.pool) == set(s.train)


def test_same_seed_same_split_other_seed_differs():
    a = split_dataset(spec(200), val=0.2, gt1=0.2, seed=7)
    b = split_dataset(spec(200), val=0.2, gt1=0.2, seed=7)
    c = split_dataset(spec(200), val=0.2, gt1=0.2, seed=8)
    assert a == b
    assert a.gt1 != c.gt1


def test_shipped_val_is_kept_as_val():
    split = split_dataset(spec(50, n_val=10), val=0.5, gt1=5, seed=0)
    assert split.val == spec(50, n_val=10).val
    assert len(split.gt1) == 5 and len(split.pool) == 45


@pytest.mark.parametrize(
    ("val", "gt1", "match"),
    [
        (50, 50, "empty pool"),
        (0.5, 0.5, "empty pool"),
        (1.5, 10, "split.val"),
        (10, 0, "split.gt1"),
        (10, "many", "split.gt1"),
        (10, True, "split.gt1"),
        (-1, 10, "split.val"),
    ],
)
def test_bad_sizes_name_the_setting(val, gt1, match):
    with pytest.raises(DataError, match=match):
        split_dataset(spec(100), val=val, gt1=gt1, seed=0)


def test_resolve_size_rounds_fractions():
    assert resolve_size(0.23, total=774, key="k") == 178
    assert resolve_size(12, total=774, key="k") == 12


def test_manifest_round_trip(tmp_path):
    split = split_dataset(spec(30), val=5, gt1=5, seed=11)
    path = write_manifest(split, tmp_path / "manifest.csv")
    assert read_manifest(path) == split
    lines = path.read_text().splitlines()
    assert lines[0] == "image,split,seed" and len(lines) == 31


def test_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("image,split,seed\n/a.jpg,train,0\n")
    with pytest.raises(DataError, match=r"bad.csv:2: unknown split"):
        read_manifest(bad)


def test_split_never_touches_files(tmp_path):
    # the spec's paths do not exist: splitting is pure bookkeeping
    split_dataset(spec(10), val=2, gt1=2, seed=0)


def files_spec(root, contents, *, val_contents=()):
    """A spec over real files: image i holds ``contents[i]`` (equal bytes = byte-identical images)."""
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    train = []
    for i, data in enumerate(contents):
        path = folder / f"{i:04d}.png"
        path.write_bytes(data)
        train.append(path)
    val = []
    for i, data in enumerate(val_contents):
        path = folder / f"val{i:04d}.png"
        path.write_bytes(data)
        val.append(path)
    return DatasetSpec(
        yaml_path=root / "data.yaml", root=root, names=("a",), train=tuple(train), val=tuple(val) or None
    )


def test_a_set_without_duplicates_splits_exactly_as_before(tmp_path):
    spec = files_spec(tmp_path, [f"image {i}".encode() for i in range(60)])
    for seed in range(5):
        grouped = split_dataset(spec, val=0.2, gt1=10, seed=seed)
        assert grouped == split_dataset(spec, val=0.2, gt1=10, seed=seed, group_duplicates=False)
        a = write_manifest(grouped, tmp_path / f"a{seed}.csv")
        b = write_manifest(split_dataset(spec, val=0.2, gt1=10, seed=seed), tmp_path / f"b{seed}.csv")
        assert a.read_bytes() == b.read_bytes()


def test_byte_identical_images_stay_in_one_split_and_are_named(tmp_path, caplog):
    contents = [f"image {i}".encode() for i in range(60)]
    contents[7] = contents[3]  # the same picture saved twice under two names
    contents[40] = contents[41] = contents[12]  # three copies
    spec = files_spec(tmp_path, contents)
    with caplog.at_level("WARNING", logger="autolabel.data.split"):
        split_dataset(spec, val=0.2, gt1=10, seed=0)
    assert "2 group(s) of byte-identical images (5 images)" in caplog.text
    assert "images/0003.png = images/0007.png" in caplog.text
    groups = [{spec.train[3], spec.train[7]}, {spec.train[12], spec.train[40], spec.train[41]}]
    for seed in range(30):
        split = split_dataset(spec, val=0.2, gt1=10, seed=seed)
        assert sorted(split.val + split.gt1 + split.pool) == sorted(spec.train)  # each image once
        for group in groups:
            homes = [name for name in ("val", "gt1", "pool") if group & set(split[name])]
            assert len(homes) == 1, (seed, group, homes)


def test_a_train_copy_of_a_shipped_val_image_joins_val(tmp_path):
    contents = [f"image {i}".encode() for i in range(30)]
    contents[5] = b"val picture 1"
    spec = files_spec(tmp_path, contents, val_contents=[b"val picture 0", b"val picture 1"])
    for seed in range(10):
        split = split_dataset(spec, val=0.5, gt1=5, seed=seed)
        assert spec.train[5] in split.val and spec.train[5] not in split.gt1 + split.pool
        assert len(split.gt1) == 5 and len(split.pool) == 24


def labeled_spec(tmp_path: Path, n: int, labeled: set[int]) -> DatasetSpec:
    """A dataset of ``n`` image paths under tmp_path/images of which ``labeled`` have a label file."""
    images = tuple(tmp_path / "images" / f"{i:03d}.png" for i in range(n))
    (tmp_path / "labels").mkdir(parents=True, exist_ok=True)
    for i in labeled:
        (tmp_path / "labels" / f"{i:03d}.txt").write_text("")
    return DatasetSpec(yaml_path=tmp_path / "data.yaml", root=tmp_path, names=("a",), train=images, val=None)


def test_split_labeled_pool_is_the_unlabeled_images(tmp_path):
    from autolabel.data.split import split_labeled

    s = labeled_spec(tmp_path, 20, set(range(8)))
    split = split_labeled(s, val=0.25, seed=0, group_duplicates=False)
    assert split.sizes() == {"val": 2, "gt1": 6, "pool": 12}
    assert set(split.pool) == set(s.train[8:])
    assert set(split.val + split.gt1) == set(s.train[:8])


def test_split_labeled_keeps_val_of_an_earlier_manifest(tmp_path):
    from autolabel.data.split import split_labeled

    s = labeled_spec(tmp_path, 20, set(range(8)))
    first = split_labeled(s, val=2, seed=0, group_duplicates=False)
    for i in range(8, 12):  # a person labeled four more pool images
        (tmp_path / "labels" / f"{i:03d}.txt").write_text("")
    second = split_labeled(s, val=2, seed=5, val_from=first.val, group_duplicates=False)
    assert second.val == first.val
    assert set(second.gt1) == set(s.train[:12]) - set(first.val)
    assert len(second.pool) == 8


def test_split_labeled_errors_name_the_problem(tmp_path):
    from autolabel.data.split import split_labeled

    s = labeled_spec(tmp_path, 5, set())
    with pytest.raises(DataError, match="leaves VAL empty"):
        split_labeled(s, val=1, seed=0, group_duplicates=False)
    s = labeled_spec(tmp_path / "b", 5, {0, 1})
    with pytest.raises(DataError, match="not labeled images"):
        split_labeled(s, val=1, seed=0, val_from=[tmp_path / "elsewhere.png"], group_duplicates=False)
