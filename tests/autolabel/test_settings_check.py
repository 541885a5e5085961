"""Bad settings of the label, train and evaluate apps: one clear line, exit status 2, nothing written."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from autolabel.errors import DataError
from autolabel.settings_check import (
    check_device,
    check_evaluate_settings,
    check_label_settings,
    check_train_settings,
)

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose_app(name, overrides=()):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "run" / "weights.pt"
    path.parent.mkdir()
    path.write_bytes(b"\x80\x02 not really a model")
    return path


def label_cfg(tmp_path, weights, *overrides):
    required = [f"weights={weights}", f"source={tmp_path / 'images'}", f"output={tmp_path / 'out'}"]
    return compose_app("label", [*required, *overrides])


def test_the_shipped_configs_pass(tmp_path, weights):
    for option in ("mc_dropout", "none"):
        check_label_settings(label_cfg(tmp_path, weights, f"uncertainty={option}"))
        check_train_settings(compose_app("train", [f"uncertainty={option}"]))
        check_evaluate_settings(compose_app("evaluate", [f"weights={weights}", f"uncertainty={option}"]))
    check_train_settings(compose_app("train", ["experiment=smoke", "data=yolo", "data.path=/x/data.yaml"]))
    check_train_settings(compose_app("gt2_vs_random", ["experiment=smoke"]))


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("conf=1.5", "conf"),
        ("conf=abc", "conf"),
        ("iou=1.5", "iou"),
        ("iou=-0.1", "iou"),
        ("batch=0", "batch"),
        ("batch=many", "batch"),
        ("imgsz=16", "imgsz"),
        ("imgsz=2.5", "imgsz"),
        ("max_det=0", "max_det"),
        ("threads=0", "threads"),
        ("progress=maybe", "progress"),
        ("device=gpu", "device"),
        ("uncertainty.mc.passes=0", "uncertainty.mc.passes"),
        ("uncertainty.mc.p=0.1", "uncertainty.mc.p"),  # one pass (the default) with dropout
        ("uncertainty.mc.p=1.0", "uncertainty.mc.p"),
        ("uncertainty.mc.p=-0.1", "uncertainty.mc.p"),
        ("uncertainty.mc.branches=[head]", "uncertainty.mc.branches"),
        ("uncertainty.mc.matching=nearest", "uncertainty.mc.matching"),
        ("uncertainty.scorer.pooling.method=median", "uncertainty.scorer"),
        ("uncertainty.calibration.levels=[0.5,0.2]", "uncertainty.calibration.levels"),
    ],
)
def test_bad_label_settings_name_the_key(tmp_path, weights, override, key):
    with pytest.raises(DataError, match=rf"^{key}[=:]"):
        check_label_settings(label_cfg(tmp_path, weights, override))


@pytest.mark.parametrize("missing", ["weights", "source", "output"])
def test_a_missing_path_says_which(tmp_path, weights, missing):
    given = {"weights": f"weights={weights}", "source": "source=/x", "output": "output=/y"}
    cfg = compose_app("label", [v for k, v in given.items() if k != missing])
    with pytest.raises(DataError, match=f"^{missing} is not set: add {missing}="):
        check_label_settings(cfg)


def test_weights_that_do_not_exist(tmp_path):
    with pytest.raises(DataError, match="weights=.*nope.pt: file not found"):
        check_label_settings(label_cfg(tmp_path, tmp_path / "nope.pt"))


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("threshold=1.5", "threshold"),
        ("threshold=-0.2", "threshold"),
        ("trainer.epochs=0", "trainer.epochs"),
        ("trainer.epochs=2.5", "trainer.epochs"),
        ("trainer.batch=0", "trainer.batch"),
        ("trainer.head_dropout=1", "trainer.head_dropout"),
        ("model.imgsz=0", "model.imgsz"),
        ("seed=-1", "seed"),
        ("split.gt1=1.5", "split.gt1"),
        ("split.val=-3", "split.val"),
        ("label.batch=0", "label.batch"),
        ("cost.t_draw=-1", "cost"),
        ("device=cuda:x", "device"),
        ("uncertainty.mc.passes=0", "uncertainty.mc.passes"),
    ],
)
def test_bad_train_settings_name_the_key(override, key):
    with pytest.raises(DataError, match=rf"^{key}[=:]"):
        check_train_settings(compose_app("train", [override]))


def test_a_train_model_that_would_download_is_refused():
    from autolabel.model.detector import ModelError

    with pytest.raises(ModelError, match="nothing is downloaded"):
        check_train_settings(compose_app("train", ["model.name=yolov8n.pt"]))


@pytest.mark.parametrize(
    ("override", "key"), [("eval_split=test", "eval_split"), ("threshold=2", "threshold")]
)
def test_bad_evaluate_settings_name_the_key(weights, override, key):
    with pytest.raises(DataError, match=rf"^{key}="):
        check_evaluate_settings(compose_app("evaluate", [f"weights={weights}", override]))


def test_devices_must_exist_on_this_machine():
    check_device("cpu")
    check_device("auto")
    check_device("cuda:1", cuda_count=2)
    with pytest.raises(DataError, match="device=cuda:0: no such GPU.*sees no CUDA GPU.*device=cpu"):
        check_device("cuda:0", cuda_count=0)
    with pytest.raises(DataError, match="device=cuda:2: no such GPU.*sees 2 CUDA"):
        check_device("cuda:2", cuda_count=2)
    with pytest.raises(DataError, match="device=mps: this machine has no Apple GPU"):
        check_device("mps", mps=False)
    with pytest.raises(DataError, match="not a device"):
        check_device("0")  # ultralytics' short form: the toolkit's own inference needs cuda:0


def test_a_model_card_threshold_outside_0_1_is_refused_unless_conf_is_set(tmp_path, weights):
    card = weights.parent / "model_card.json"
    card.write_text(json.dumps({"evaluation": {"operating_threshold": 1.5}}))
    with pytest.raises(
        DataError, match=r"model_card.json: operating_threshold=1.5 is outside \[0, 1\]; set conf="
    ):
        check_label_settings(label_cfg(tmp_path, weights))
    check_label_settings(label_cfg(tmp_path, weights, "conf=0.3"))
    with pytest.raises(DataError, match="set threshold="):
        check_evaluate_settings(compose_app("evaluate", [f"weights={weights}"]))


def run_app(main, cfg, capsys):
    """Run a Hydra app's main on a composed config; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as done:
        main(cfg)
    return done.value.code, capsys.readouterr().err


@pytest.mark.parametrize("override", ["iou=1.5", "batch=0", "uncertainty.mc.passes=0", "device=cuda:99"])
def test_label_app_refuses_bad_settings_before_writing_anything(tmp_path, weights, capsys, override):
    from autolabel.label import main

    (tmp_path / "images").mkdir()
    code, err = run_app(main, label_cfg(tmp_path, weights, override), capsys)
    key = override.split("=")[0]
    assert code == 2 and err.startswith(f"error: {key}=") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"\x00\x01random bytes\xff" * 50, b"just some text\n"])
def test_label_app_refuses_weights_that_are_not_a_model(tmp_path, capsys, content):
    from autolabel.label import main

    (tmp_path / "images").mkdir()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    code, err = run_app(main, label_cfg(tmp_path, bad, "conf=0.3"), capsys)
    assert code == 2 and f"error: weights={bad}: not a YOLO model file" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "override", ["threshold=1.5", "trainer.epochs=0", "device=cuda:99", "model.imgsz=abc"]
)
def test_train_app_refuses_bad_settings_before_training(capsys, override):
    from autolabel.train import main

    code, err = run_app(main, compose_app("train", [override]), capsys)
    assert code == 2 and err.startswith(f"error: {override.split('=')[0]}=") and err.count("\n") == 1
