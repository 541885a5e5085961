"""Every config in every group composes with every app that uses its group, and its `_target_`
instantiates (lightning-hydra-template's check); the experiment configs reproduce the studies."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from autolabel.job.stages import PlainLabels, uncertainty_settings
from autolabel.model.efficiency import CostModel

CONF = Path(__file__).resolve().parents[1] / "conf"
APPS = ("train", "label", "evaluate", "gt2_vs_random", "select", "import_labels")
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra")
REQUIRED = {
    "label": ["weights=w.pt", "source=s", "output=o"],
    "evaluate": ["weights=w.pt"],
    "select": ["labels=l"],
    "import_labels": ["export=e.json", "batches=[b]"],
}


def compose_app(name, overrides=()):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=name, overrides=[*REQUIRED.get(name, []), *overrides])


def uses(app: str, group: str) -> bool:
    defaults = OmegaConf.load(CONF / f"{app}.yaml").defaults
    return any(OmegaConf.is_dict(d) and group in d for d in defaults)


CASES = [
    (app, g, p.stem)
    for app in APPS
    for g in GROUPS
    for p in sorted((CONF / g).glob("*.yaml"))
    if uses(app, g) and (g != "experiment" or app == "gt2_vs_random" or p.stem == "smoke")
]  # the studies in experiment/ are the experiment's; smoke also sizes the train and evaluate apps


@pytest.mark.parametrize(("app", "group", "option"), CASES)
def test_every_option_composes_and_instantiates(app, group, option, tmp_path):
    extra = {"yolo": ["data.path=/x/data.yaml"], "demo": [f"data.root={tmp_path}", "data.n_images=4"]}
    extra["demo_shift"] = extra["demo"]
    cfg = compose_app(app, [f"{group}={option}", *extra.get(option, [])])
    if group == "experiment":  # overrides other groups: everything it touches must still instantiate
        nodes = [cfg[g] for g in ("selection", "uncertainty", "cost") if g in cfg]
    else:
        nodes = [cfg[group]] if "_target_" in cfg[group] else []
    for node in nodes:
        if option == "yolo":  # a dataset that is not there is a clear error naming the file
            with pytest.raises(InstantiationException, match="/x/data.yaml"):
                instantiate(node)
            continue
        assert instantiate(node) is not None


def test_every_app_uses_the_shared_hydra_block():
    for app in APPS:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name=app, overrides=REQUIRED.get(app, []), return_hydra_config=True)
        sweep = OmegaConf.to_container(cfg.hydra.sweep, resolve=False)
        # the experiment's multirun jobs share its run folder, each job's Hydra record in its seed's subdir
        subdir = "jobs/seed_${experiment.seed}" if app == "gt2_vs_random" else "${hydra.job.num}"
        assert cfg.hydra.job.chdir is False and sweep["subdir"] == subdir
    assert compose_app("gt2_vs_random", ["experiment=oracle"]).experiment.name == "oracle"


def test_selection_options_instantiate_a_strategy():
    for option in ("difficulty", "topk", "random", "boxes", "oracle"):
        strategy = instantiate(compose_app("gt2_vs_random", [f"selection={option}"]).selection)
        assert callable(strategy.select) and isinstance(strategy.requires, frozenset)


def test_experiment_keys_and_group_coexist():
    cfg = compose_app("gt2_vs_random", ["experiment=smoke", "experiment.seeds=[3,4]"])
    assert list(cfg.experiment.seeds) == [3, 4] and cfg.experiment.name == "smoke"


@pytest.mark.parametrize(
    ("study", "expected"),
    [
        ("cal1_60ep", {"trainer.epochs": 60}),
        ("cost_matched", {"experiment.control": "cost", "experiment.cal1_from": "runs/gt2_vs_random/demo"}),
        ("box_count", {"selection._target_": "autolabel.review.selection.BoxCountSelection"}),
        ("oracle", {"selection._target_": "studies.oracle.OracleSelection"}),
        ("mean_pooling", {"uncertainty.scorer.pooling.method": "mean"}),
        ("shift", {"data.shift_share": 0.15, "experiment.seeds": [0]}),
        ("rounds", {"experiment.rounds": 3, "experiment.name": "demo"}),
        ("ten_seeds", {"experiment.seeds": list(range(10)), "experiment.name": "demo"}),
    ],
)
def test_each_study_is_an_experiment_config(study, expected):
    cfg = compose_app("gt2_vs_random", [f"experiment={study}"])
    for key, value in expected.items():
        got = OmegaConf.select(cfg, key)
        assert (list(got) if OmegaConf.is_list(got) else got) == value, key


def test_cost_group_instantiates_the_cost_model():
    assert isinstance(instantiate(compose_app("train").cost), CostModel)


def test_demo_data_instantiates(tmp_path):
    cfg = compose_app("train", [f"data.root={tmp_path / 'demo'}", "data.n_images=6"])
    spec = instantiate(cfg.data)
    assert len(spec.train) == 6 and len(spec.names) == 6


def test_yolo_data_without_path_is_a_clear_error():
    from autolabel.errors import DataError

    with pytest.raises(InstantiationException, match="data.path") as info:
        instantiate(compose_app("train", ["data=yolo"]).data)
    assert isinstance(info.value.__cause__, DataError)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="trainer.epoch"):
        compose_app("train", ["trainer.epoch=3"])


def test_label_app_needs_its_paths():
    cfg = compose_app("label")
    assert cfg.conf is None and cfg.batch == 16


@pytest.mark.parametrize("option", ["mc_dropout", "none"])
@pytest.mark.parametrize("app", ["train", "label", "evaluate"])
def test_every_app_builds_every_uncertainty_stage(app, option):
    stage = instantiate(compose_app(app, [f"uncertainty={option}"]).uncertainty)
    assert ("score" in stage.provides) == (option == "mc_dropout") and "boxes" in stage.provides
    assert isinstance(stage, PlainLabels) == (option == "none")


@pytest.mark.parametrize("option", ["logistic", "boosting", "none"])
@pytest.mark.parametrize("app", ["train", "label", "evaluate"])
def test_every_app_builds_every_error_model(app, option):
    from uncertainty.error_model import ErrorModel

    stage = instantiate(compose_app(app, [f"uncertainty/error_model={option}"]).uncertainty)
    assert isinstance(stage.error_model, ErrorModel) == (option != "none")
    if option != "none":
        assert hasattr(stage.error_model.box, "predict_proba") and not stage.error_model.mc_features


def test_recorded_uncertainty_settings_keep_the_old_shape():
    """Old label folders and run folders recorded an `enabled` flag: the settings compare equal."""
    new = OmegaConf.to_container(compose_app("train").uncertainty, resolve=True)
    # older folders knew no `embedding` key: at its default (off) it is not recorded, so they still match
    old = {"enabled": True, **{k: v for k, v in new.items() if k not in ("_target_", "embedding")}}
    assert uncertainty_settings(new) == uncertainty_settings(old) == old
    assert uncertainty_settings({**new, "embedding": True}) == {**old, "embedding": True}
    none = OmegaConf.to_container(compose_app("train", ["uncertainty=none"]).uncertainty)
    assert uncertainty_settings(none) == uncertainty_settings({"enabled": False}) == {"enabled": False}


def test_uncertainty_scorer_instantiates():
    from uncertainty.image_score import ImageScorer

    scorer = instantiate(compose_app("train").uncertainty.scorer)
    assert isinstance(scorer, ImageScorer) and scorer.pooling.method == "sum"


@pytest.mark.parametrize("data", ["demo", "yolo"])
def test_a_run_folder_saved_by_an_older_version_compares_equal(data):
    """Folders saved before `uncertainty` was a stage, and before `data.allow_unlabeled`,
    `experiment.control`, `experiment.time_control` and the two-level costs existed, still resume."""
    from experiments.experiment import comparable

    overrides = [f"data={data}"] + (["data.path=/x/data.yaml"] if data == "yolo" else [])
    new = OmegaConf.to_container(compose_app("gt2_vs_random", overrides), resolve=True)
    old = {**new, "uncertainty": {"enabled": True, **new["uncertainty"]}, "data": dict(new["data"])}
    del old["uncertainty"]["_target_"]
    old["data"].pop("allow_unlabeled", None)
    old["experiment"] = {k: v for k, v in new["experiment"].items() if k not in ("control", "time_control")}
    old["cost"] = {k: v for k, v in new["cost"].items() if k not in ("t_ignore", "t_accept")}
    new["experiment"]["time_control"] = (
        False  # such folders trained no CONTROL_TIME: today's command with it off
    )
    assert comparable(old) == comparable(new)
    assert comparable({**new, "experiment": {**new["experiment"], "time_control": True}}) != comparable(old)
    changed = {**new, "data": {**new["data"], "allow_unlabeled": True}} if data == "yolo" else None
    if changed:
        assert comparable(changed) != comparable(new)
