"""experiments.rounds: label savings and the per-round summary on known numbers; rounds end to end (smoke)."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from autolabel.errors import DataError
from autolabel.model.efficiency import CostModel
from experiments import rounds as rounds_module
from experiments.experiment import run_experiment
from experiments.reporting.summary import report_folder
from experiments.round_stats import label_savings, summarize_rounds
from experiments.rounds import check_rounds
from studies.same_results import without_timings

CONF = Path(__file__).resolve().parents[2] / "conf"


def cfg_with(*overrides, smoke=("experiment=smoke",)):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="gt2_vs_random", overrides=[*smoke, *overrides])


def test_label_savings_interpolates_the_crossing():
    # random ends at 0.18 with 220 labeled (120 added to GT1's 100); uncertainty crosses 0.18 between
    # 140 (0.15) and 180 (0.20): 140 + 0.6 * 40 = 164 labeled, 64 added = 53.3% of random's 120.
    out = label_savings([100, 140, 180, 220], [0.10, 0.15, 0.20, 0.22], 0.18, 220)
    assert out["needed"] == pytest.approx(164.0) and out["unit"] == "labeled images"
    assert out["fraction_needed"] == pytest.approx(64 / 120, abs=1e-4)
    assert out["fraction"] == pytest.approx(1 - 64 / 120, abs=1e-4)
    assert "164 labeled images" in out["explanation"]


def test_label_savings_when_never_reached_or_reached_at_once():
    never = label_savings([100, 140, 180], [0.10, 0.12, 0.13], 0.18, 180)
    assert never["fraction"] is None and "did not reach" in never["explanation"]
    at_once = label_savings([100, 140, 180], [0.20, 0.21, 0.22], 0.18, 180)
    assert at_once["fraction"] == 1.0 and at_once["needed"] == 100.0
    equal_curves = label_savings([100, 140, 180], [0.10, 0.14, 0.18], 0.18, 180)
    assert equal_curves["fraction"] == pytest.approx(0.0)


def _curve(strategy, maps, start=100, step=40, seconds=720.0):
    return [
        {
            "strategy": strategy,
            "labeled": start + step * r,
            "added_boxes": 0 if r == 0 else 90,
            "added_seconds": 0.0 if r == 0 else seconds,
            "map50_95": m,
            "map50": m * 2,
            "boost": 1.5,
        }
        for r, m in enumerate(maps)
    ]


def test_summarize_rounds_means_cis_and_savings():
    per_seed = [
        {
            "uncertainty": _curve("uncertainty", [0.10, 0.16, 0.20]),
            "random": _curve("random", [0.10, 0.13, 0.16]),
        },
        {
            "uncertainty": _curve("uncertainty", [0.12, 0.18, 0.22]),
            "random": _curve("random", [0.12, 0.15, 0.18]),
        },
    ]
    out = summarize_rounds(per_seed, budget=40)
    unc, rnd = out["strategies"]["uncertainty"], out["strategies"]["random"]
    assert unc["labeled"] == [100.0, 140.0, 180.0] and out["budget"] == 40 and out["seeds"] == 2
    assert [s["mean"] for s in unc["map50_95"]] == pytest.approx([0.11, 0.17, 0.21])
    assert rnd["map50_95"][2]["ci95"][0] < 0.17 < rnd["map50_95"][2]["ci95"][1]
    # random's final mean 0.17 is reached by uncertainty at round 1 exactly: 40 of 80 added images
    assert out["label_savings"]["fraction"] == pytest.approx(0.5)
    paired = out["paired_map50_95"]  # uncertainty - random per seed: round 1 +0.03 twice, round 2 +0.04
    assert [p["mean"] for p in paired] == pytest.approx([0.0, 0.03, 0.04])
    assert paired[0]["significant"] is False and paired[2]["values"] == pytest.approx([0.04, 0.04])
    # same seconds a round for both: hours 0, 0.2, 0.4, and the same 50% saved per hour as per image
    assert unc["hours"] == pytest.approx([0.0, 0.2, 0.4]) and rnd["hours"] == pytest.approx([0.0, 0.2, 0.4])
    assert out["hour_savings"]["fraction"] == pytest.approx(0.5)
    assert out["hour_savings"]["unit"] == "labeling hours"


def test_hour_savings_differ_from_image_savings_when_the_picks_cost_more():
    # uncertainty reaches random's final mAP after one round of 40 images (half of random's 80), but
    # its images hold more boxes: 2,160 s a round against random's 720 s, so per hour it spends 0.6 h
    # against random's 0.4 h: 50% fewer images, -50% hours (it needs more labeling time, not less)
    per_seed = [
        {
            "uncertainty": _curve("uncertainty", [0.10, 0.17, 0.21], seconds=2160.0),
            "random": _curve("random", [0.10, 0.13, 0.17]),
        }
    ]
    out = summarize_rounds(per_seed, budget=40)
    assert out["label_savings"]["fraction"] == pytest.approx(0.5)
    assert out["strategies"]["uncertainty"]["hours"] == pytest.approx([0.0, 0.6, 1.2])
    assert out["hour_savings"]["fraction"] == pytest.approx(-0.5)
    assert out["hour_savings"]["needed"] == pytest.approx(0.6)


def test_hour_savings_unknown_for_rounds_saved_without_seconds():
    curves = {s: _curve(s, [0.10, 0.15, 0.20]) for s in ("uncertainty", "random")}
    for curve in curves.values():
        for r in curve:
            del r["added_seconds"]
    out = summarize_rounds([curves], budget=40)
    assert out["label_savings"]["fraction"] == pytest.approx(0.0)
    assert out["hour_savings"]["fraction"] is None and "Not known" in out["hour_savings"]["explanation"]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["experiment.rounds=-1"], "experiment.rounds"),
        (["experiment.rounds=2", "experiment.budget=0"], "experiment.budget"),
        (["experiment.rounds=2", "selection=random"], "selection=RandomSelection"),
    ],
)
def test_bad_round_settings_are_refused_by_name(overrides, match):
    with pytest.raises(DataError, match=match):
        check_rounds(cfg_with(*overrides))
    assert check_rounds(cfg_with()) == (0, 42)


@pytest.mark.slow
def test_rounds_end_to_end_and_resume(tmp_path, demo_smoke, monkeypatch):
    overrides = ["experiment.seeds=[0]", "experiment.rounds=2", "experiment.budget=4", "trainer.epochs=3"]
    cfg = cfg_with(*overrides, smoke=demo_smoke)
    metrics = run_experiment(cfg, tmp_path)
    rounds = metrics["rounds"]
    for strategy in ("uncertainty", "random"):
        curve = rounds["strategies"][strategy]
        assert curve["labeled"] == [16.0, 20.0, 24.0] and len(curve["map50_95"]) == 3
        results = [
            json.loads((tmp_path / "seed_0" / "rounds" / strategy / f"round_{r}" / "result.json").read_text())
            for r in (1, 2)
        ]
        first, second = (set(r["pool_labeled"]) for r in results)
        assert len(first) == 4 and len(second) == 8 and first < second  # each round adds new pool images
        # hand-labeling seconds of each round's picks: 4 images x t_image + their true boxes x t_draw
        cost = CostModel()
        assert [r["added_seconds"] for r in results] == pytest.approx(
            [cost.hand_label_seconds(4, r["added_boxes"]) for r in results]
        )
        assert curve["hours"] == pytest.approx(
            [0.0, results[0]["added_seconds"] / 3600, sum(r["added_seconds"] for r in results) / 3600]
        )
    assert (tmp_path / "seed_0" / "rounds" / "uncertainty" / "round_2" / "pool_labels").is_dir()
    assert "rounds" in metrics["stage_seconds"]
    report = (tmp_path / "report.md").read_text()
    assert "## Rounds" in report and (tmp_path / "rounds.png").is_file()
    sequential = json.loads((tmp_path / "metrics.json").read_text())
    report_folder(tmp_path)  # the report step reads the same rounds back from the folder
    assert without_timings(json.loads((tmp_path / "metrics.json").read_text())) == without_timings(sequential)

    (tmp_path / "seed_0" / "rounds" / "random" / "round_2" / "result.json").unlink()  # interrupted
    calls = []
    real = rounds_module.run_round
    monkeypatch.setattr(
        rounds_module,
        "run_round",
        lambda cfg, **kw: calls.append((kw["strategy"], kw["round_index"])) or real(cfg, **kw),
    )
    run_experiment(cfg_with(*overrides, smoke=demo_smoke), tmp_path)
    assert calls == [("random", 2)]
    other_budget = [*overrides[:-2], "experiment.budget=5", "trainer.epochs=3"]
    with pytest.raises(DataError, match="another experiment.budget"):
        run_experiment(cfg_with(*other_budget, smoke=demo_smoke), tmp_path)


@pytest.mark.slow
def test_round_one_reuses_the_seed_studys_models_trained_on_the_same_images(
    tmp_path, demo_smoke, monkeypatch
):
    base = ["experiment.seeds=[0]", "trainer.epochs=3", "experiment.time_control=false"]
    run_experiment(cfg_with(*base, smoke=demo_smoke), tmp_path)
    selection = json.loads((tmp_path / "seed_0" / "selection.json").read_text())
    size = selection["gt2"]["n"]
    fits = []
    real_fit = rounds_module.fit
    monkeypatch.setattr(rounds_module, "fit", lambda *a, **kw: fits.append(a[2]) or real_fit(*a, **kw))
    rounds = [*base, "experiment.rounds=2", f"experiment.budget={size}"]
    run_experiment(cfg_with(*rounds, smoke=demo_smoke), tmp_path)
    seed = tmp_path / "seed_0"
    read = lambda s, r: json.loads((seed / "rounds" / s / f"round_{r}" / "result.json").read_text())  # noqa: E731
    random_1, unc_1 = read("random", 1), read("uncertainty", 1)
    # random's round 1 is the seed's CONTROL draw, and its model is CONTROL's (not trained again)
    control = sorted(p.resolve() for p in (seed / "cal1" / "data" / "images" / "control").iterdir())
    gt1 = {p.resolve() for p in (seed / "cal1" / "data" / "images" / "gt1").iterdir()}
    assert sorted(Path(p).resolve() for p in random_1["pool_labeled"]) == [p for p in control if p not in gt1]
    assert (
        random_1["weights"] == str(seed / "control" / "weights.pt")
        and "the seed's control" in random_1["reason"]
    )
    assert seed / "rounds" / "random" / "round_1" not in fits
    # uncertainty's round 1 reuses CAL2 exactly when it picked GT2's images
    gt2 = {p.resolve() for p in (seed / "cal1" / "data" / "images" / "cal2").iterdir()} - gt1
    same = {Path(p).resolve() for p in unc_1["pool_labeled"]} == gt2
    assert (unc_1["weights"] == str(seed / "cal2" / "weights.pt")) == same
    assert (seed / "rounds" / "uncertainty" / "round_1" in fits) != same
    # round 2 trains from the reused model: new weights, more images
    assert (
        seed / "rounds" / "random" / "round_2" in fits
        and read("random", 2)["labeled"] == random_1["labeled"] + size
    )
    assert read("random", 2)["map50_95"] is not None
