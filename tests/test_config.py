"""Every config in every group composes, and its `_target_` instantiates."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, InstantiationException
from hydra.utils import instantiate

from autolabel.efficiency import CostModel

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())


def compose_app(name, overrides=()):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


@pytest.mark.parametrize(
    ("group", "option"),
    [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))],
)
def test_every_option_composes(group, option):
    cfg = compose_app(
        "train", [f"{group}={option}"] + (["data.path=/x/data.yaml"] if option == "yolo" else [])
    )
    assert cfg.seed == 0


def test_cost_group_instantiates_the_cost_model():
    assert isinstance(instantiate(compose_app("train").cost), CostModel)


def test_demo_data_instantiates(tmp_path):
    cfg = compose_app("train", ["experiment=smoke", f"data.root={tmp_path / 'demo'}", "data.n_images=6"])
    spec = instantiate(cfg.data)
    assert len(spec.train) == 6 and len(spec.names) == 6


def test_yolo_data_without_path_is_a_clear_error():
    from autolabel.yolo_format import DataError

    with pytest.raises(InstantiationException, match="data.path") as info:
        instantiate(compose_app("train", ["data=yolo"]).data)
    assert isinstance(info.value.__cause__, DataError)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="trainer.epoch"):
        compose_app("train", ["trainer.epoch=3"])


def test_label_app_needs_its_paths():
    cfg = compose_app("label", ["weights=w.pt", "source=s", "output=o"])
    assert cfg.conf is None and cfg.batch == 16
