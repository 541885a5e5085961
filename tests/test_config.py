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
    # the experiment app's defaults list has every group
    extra = ["data.path=/x/data.yaml"] if option == "yolo" else []
    cfg = compose_app("gt2_vs_random", [f"{group}={option}", *extra])
    assert cfg.seed == 0


@pytest.mark.parametrize("option", ["difficulty", "topk", "random"])
def test_selection_options_instantiate_a_strategy(option):
    strategy = instantiate(compose_app("gt2_vs_random", [f"selection={option}"]).selection)
    assert callable(strategy.select)


def test_experiment_keys_and_group_coexist():
    cfg = compose_app("gt2_vs_random", ["experiment=smoke", "experiment.seeds=[3,4]"])
    assert list(cfg.experiment.seeds) == [3, 4] and cfg.experiment.name == "smoke" and cfg.trainer.epochs == 2


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


@pytest.mark.parametrize("option", ["mc_dropout", "none"])
@pytest.mark.parametrize(
    ("app", "required"),
    [("train", []), ("label", ["weights=w.pt", "source=s", "output=o"]), ("evaluate", ["weights=w.pt"])],
)
def test_every_app_composes_with_every_uncertainty_option(app, required, option):
    cfg = compose_app(app, [*required, f"uncertainty={option}"])
    assert cfg.uncertainty.enabled == (option == "mc_dropout")


def test_uncertainty_scorer_instantiates():
    from uncertainty.image_score import ImageScorer

    scorer = instantiate(compose_app("train").uncertainty.scorer)
    assert isinstance(scorer, ImageScorer) and scorer.pooling.method == "sum"
