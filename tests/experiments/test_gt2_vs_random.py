"""The smoke experiment end to end: files, metrics for all three models per class and per seed, resume."""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from autolabel.data.split import read_manifest
from autolabel.data.views import load_truth
from autolabel.errors import DataError
from experiments import experiment
from experiments.experiment import run_experiment
from studies.more_epochs import main, more_epochs
from studies.score_check import score_check
from studies.subgroups import main as main_subgroups
from studies.subgroups import subgroups

pytestmark = pytest.mark.slow
CONF = Path(__file__).resolve().parents[2] / "conf"


def smoke_cfg(demo_smoke, *overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="gt2_vs_random", overrides=[*demo_smoke, "trainer.epochs=3", *overrides])


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, demo_smoke):
    run_dir = tmp_path_factory.mktemp("experiment")
    metrics = run_experiment(smoke_cfg(demo_smoke), run_dir)
    return run_dir, metrics


def test_smoke_experiment_writes_report_metrics_and_figures(smoke_run):
    run_dir, metrics = smoke_run
    assert (run_dir / "report.md").is_file() and (run_dir / "metrics.json").is_file()

    def no_nan(token):
        raise AssertionError(f"metrics.json is not strict JSON: {token}")

    saved = json.loads((run_dir / "metrics.json").read_text(), parse_constant=no_nan)
    json.loads((run_dir / "seed_0" / "result.json").read_text(), parse_constant=no_nan)
    assert saved["experiment"]["seeds"] == [0, 1]
    classes = saved["classes"]
    assert len(classes) == 6
    for seed in ("0", "1"):
        models = saved["per_seed"][seed]["models"]
        assert set(models) == {"CAL1", "CONTROL", "CONTROL_TIME", "CAL2", "CAL1_LONG"}
        for model in models.values():
            assert set(model["per_class"]) == set(classes)
            assert {"precision", "recall", "ap50", "ap50_95", "boost"} <= set(model["per_class"][classes[0]])
        selection = saved["per_seed"][seed]["selection"]
        assert selection["gt2"]["n"] == selection["control"]["n"]
        for chosen in (selection["gt2"], selection["control"]):  # default cost: 2 s an image, 10 s a box
            assert chosen["label_seconds"] == 2.0 * chosen["n"] + 10.0 * chosen["boxes"]
            assert chosen["boxes"] == sum(chosen["class_boxes"].values())
        assert (
            models["CAL2"]["n_train_images"]
            == models["CONTROL"]["n_train_images"]
            == 16 + selection["gt2"]["n"]
        )
        # CONTROL_TIME spends GT2's hand-labeling seconds, to within half of the dearest pool image
        same_time = selection["control_time"]
        pool = read_manifest(run_dir / f"seed_{seed}" / "cal1" / "manifest.csv").pool
        dearest = max(2.0 + 10.0 * len(load_truth(p, num_classes=6)) for p in pool)
        assert abs(same_time["label_seconds"] - selection["gt2"]["label_seconds"]) <= dearest / 2
        assert models["CONTROL_TIME"]["n_train_images"] == 16 + same_time["n"]
        assert models["CAL1"]["n_train_images"] == models["CAL1_LONG"]["n_train_images"] == 16
        stages = saved["per_seed"][seed]["stage_seconds"]
        assert {"cal1", "train_control", "train_control_time", "train_cal2", "train_cal1_long"} <= set(stages)
        # the baseline is CAL1 fine-tuned on GT1 alone for as many optimizer steps as CAL2's fine-tune
        args_file = run_dir / f"seed_{seed}" / "cal1_long" / "ultralytics" / "args.yaml"
        args = yaml.safe_load(args_file.read_text())
        assert args["epochs"] == round(1 * (16 + selection["gt2"]["n"]) / 16)  # finetune_epochs=1
        assert args["model"].endswith("cal1/weights.pt") and args["data"].endswith("cal1/data/data.yaml")
    for model in ("CAL1", "CONTROL", "CONTROL_TIME", "CAL2", "CAL1_LONG"):
        assert saved["summary"]["models"][model]["map50_95"]["n"] == 2
    for pair in ("CAL2-CONTROL_TIME", "CAL2-CONTROL", "CAL2-CAL1_LONG", "CONTROL_TIME-CAL1_LONG"):
        assert "significant" in saved["summary"]["paired"][pair]["map50_95"]
    report = (run_dir / "report.md").read_text()
    assert "| hand-label hours (cost model) |" in report
    assert "| CAL1_LONG |" in report and "CAL1 trained as long again on GT1 alone" in report
    verdict = [line for line in report.split("## Verdict")[1].splitlines() if line.startswith("- ")]
    # the same-time control is the headline, the same-size control the second comparison
    assert "CONTROL_TIME (random images, GT2's labeling time) in mAP50-95" in verdict[0]
    assert "CONTROL in mAP50-95" in verdict[2]
    assert "|  | GT2 | CONTROL | CONTROL_TIME |" in report
    for png in ("per_class_pr.png", "boost.png"):
        assert (run_dir / png).is_file() and png in report


def test_rerun_reuses_finished_seeds_and_redoes_an_interrupted_one(smoke_run, demo_smoke, monkeypatch):
    run_dir, _ = smoke_run
    seed0 = (run_dir / "seed_0" / "result.json").read_text()
    (run_dir / "seed_1" / "result.json").unlink()  # seed 1 was interrupted after CAL1, before it finished
    shutil.rmtree(run_dir / "seed_1" / "cal2")
    cal1_weights = run_dir / "seed_1" / "cal1" / "weights.pt"
    cal1_trained = cal1_weights.stat().st_mtime_ns
    calls = []
    real = experiment.run_seed
    monkeypatch.setattr(experiment, "run_seed", lambda cfg, d: calls.append(int(cfg.seed)) or real(cfg, d))
    run_experiment(smoke_cfg(demo_smoke), run_dir)
    assert calls == [1]
    assert (run_dir / "seed_0" / "result.json").read_text() == seed0
    assert (run_dir / "seed_1" / "result.json").is_file()
    assert cal1_weights.stat().st_mtime_ns == cal1_trained  # the finished CAL1 was kept, not retrained
    assert (run_dir / "seed_1" / "cal2" / "weights.pt").is_file()


def test_cost_matched_control_from_a_lent_cal1(smoke_run, demo_smoke, tmp_path):
    run_dir, first = smoke_run
    metrics = run_experiment(
        smoke_cfg(demo_smoke, "experiment.control=cost", f"experiment.cal1_from={run_dir}"), tmp_path
    )
    assert metrics["experiment"]["control"] == "cost"
    for seed in ("0", "1"):
        assert "CONTROL_TIME" not in metrics["per_seed"][seed]["models"]  # CONTROL is matched on time already
        # the same CAL1 (copied, not retrained): the same figures on VAL
        cal1 = metrics["per_seed"][seed]["models"]["CAL1"]
        assert cal1["map50_95"] == first["per_seed"][seed]["models"]["CAL1"]["map50_95"]
        sel = metrics["per_seed"][seed]["selection"]
        gt2, control = sel["gt2"], sel["control"]
        # the control spends GT2's labeling seconds, to within half of the dearest pool image
        pool = read_manifest(tmp_path / f"seed_{seed}" / "cal1" / "manifest.csv").pool
        dearest = max(2.0 + 10.0 * len(load_truth(p, num_classes=6)) for p in pool)
        assert abs(control["label_seconds"] - gt2["label_seconds"]) <= dearest / 2
        assert "matched on hand-labeling time" in control["reason"]
    assert "the same hand-labeling time as GT2" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "seed_0" / "cal1" / "model_card.json").is_file()


def test_a_lending_run_lends_its_control_when_it_is_the_same(smoke_run, demo_smoke, tmp_path):
    run_dir, first = smoke_run
    lent = run_dir / "seed_0" / "control" / "weights.pt"
    # another selection rule of the same size: the same random CONTROL, so it is copied, not retrained
    same = run_experiment(
        smoke_cfg(demo_smoke, "selection=boxes", "experiment.seeds=[0]", f"experiment.cal1_from={run_dir}"),
        tmp_path / "same",
    )
    assert same["per_seed"]["0"]["models"]["CONTROL"] == first["per_seed"]["0"]["models"]["CONTROL"]
    assert "train_control" not in same["per_seed"]["0"]["stage_seconds"]
    assert "train_cal2" in same["per_seed"]["0"]["stage_seconds"]
    copied = tmp_path / "same" / "seed_0" / "control" / "weights.pt"
    assert copied.read_bytes() == lent.read_bytes()
    # another fine-tune recipe: CONTROL is trained again
    other = run_experiment(
        smoke_cfg(
            demo_smoke,
            "experiment.finetune_epochs=2",
            "experiment.seeds=[0]",
            f"experiment.cal1_from={run_dir}",
        ),
        tmp_path / "other",
    )
    assert "train_control" in other["per_seed"]["0"]["stage_seconds"]


def test_a_lent_cal1_is_labeled_again_under_other_uncertainty_settings(smoke_run, demo_smoke, tmp_path):
    run_dir, _ = smoke_run
    cfg = smoke_cfg(
        demo_smoke,
        "uncertainty.scorer.pooling.method=mean",
        "experiment.seeds=[0]",
        f"experiment.cal1_from={run_dir}",
    )
    run_experiment(cfg, tmp_path)
    lent, ours = run_dir / "seed_0" / "cal1", tmp_path / "seed_0" / "cal1"
    assert (ours / "weights.pt").read_bytes() == (lent / "weights.pt").read_bytes()  # the same CAL1
    job = json.loads((ours / "pool_labels" / "autolabel_job.json").read_text())
    assert job["uncertainty"]["scorer"]["pooling"]["method"] == "mean"
    card = json.loads((ours / "model_card.json").read_text())
    assert {"recalibrate", "relabel_pool"} <= set(card["stage_seconds"])

    theirs = json.loads((lent / "pool_labels" / "autolabel_job.json").read_text())
    assert theirs["uncertainty"]["scorer"]["pooling"]["method"] == "sum"  # the lender's are left alone
    n_lines = len((ours / "pool_labels" / "predictions.jsonl").read_text().splitlines())
    assert n_lines == len((lent / "pool_labels" / "predictions.jsonl").read_text().splitlines())


def test_a_cal1_of_other_settings_is_not_lent(smoke_run, demo_smoke, tmp_path):
    run_dir, _ = smoke_run
    cfg = smoke_cfg(demo_smoke, "trainer.epochs=4", f"experiment.cal1_from={run_dir}")
    with pytest.raises(DataError, match=r"cal1_from: .* other settings \(differ in: trainer\)"):
        run_experiment(cfg, tmp_path)
    with pytest.raises(DataError, match="experiment.control"):
        run_experiment(smoke_cfg(demo_smoke, "experiment.control=hours"), tmp_path / "bad")
    # refused before the folder recorded the settings: the corrected command may use the same folder
    assert not (tmp_path / "experiment_config.yaml").exists()
    assert not (tmp_path / "bad" / "experiment_config.yaml").exists()


def test_other_settings_in_the_same_folder_are_refused(smoke_run, demo_smoke):
    run_dir, _ = smoke_run
    with pytest.raises(DataError, match="other settings"):
        run_experiment(smoke_cfg(demo_smoke, "trainer.epochs=4"), run_dir)


def test_more_epochs_baseline_fine_tunes_cal1_on_gt1_alone(smoke_run, capsys):
    run_dir, _ = smoke_run
    main([str(run_dir), "--seeds", "0"])
    assert (run_dir / "seed_0" / "more_epochs" / "weights.pt").is_file()
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("seed 0 mAP50-95: CAL1 ") and "GT1 + more epochs" in line
    with pytest.raises(DataError, match="seed_7"):
        more_epochs(run_dir, 7)


def test_score_check_reads_every_seed_against_the_hidden_truth(smoke_run):
    run_dir, _ = smoke_run
    out = score_check(run_dir, fraction=0.5)
    assert set(out["per_seed"]) == {"seed_0", "seed_1"}
    for seed in out["per_seed"].values():
        assert seed["n_images"] == 20  # 48 - 12 VAL - 16 GT1
        best = seed["top_share_errors"]["errors"]
        assert 0.5 <= best <= 1.0 and seed["top_share_errors"]["score"] <= best
    assert (run_dir / "score_check.json").is_file()
    with pytest.raises(DataError, match="not an experiment run folder"):
        score_check(run_dir / "seed_0")


def test_subgroups_split_selections_and_val_scores_by_a_meta_field(smoke_run, capsys):
    run_dir, metrics = smoke_run
    out = subgroups(run_dir, "lighting")
    assert out["seeds"] == [0, 1]
    for seed in ("0", "1"):
        images = out["per_seed"][seed]["images"]
        n = metrics["per_seed"][seed]["selection"]["gt2"]["n"]
        assert sum(images["GT2"].values()) == sum(images["CONTROL"].values()) == n
        time_n = metrics["per_seed"][seed]["selection"]["control_time"]["n"]
        assert sum(images["CONTROL_TIME"].values()) == time_n
        assert sum(images["POOL"].values()) == 20
        pool = out["per_seed"][seed]["pool"]
        assert sum(g["images"] for g in pool.values()) == 20
        assert all(0.0 <= g["failed_share"] <= 1.0 and g["mean_boxes"] >= 0.0 for g in pool.values())
        groups = out["per_seed"][seed]["map50_95"]
        assert sum(g["n_val"] for g in groups.values()) == 12
        assert set(groups) <= {"linear", "radial"}
        models = ["CAL1", "CONTROL", "CAL2", "CONTROL_TIME", "CAL1_LONG"]
        assert all(set(models) <= set(g) for g in groups.values())
    assert out["models"] == models
    assert all(-1 <= s["CAL2-CONTROL_TIME"]["mean"] <= 1 for s in out["summary"].values())
    assert (run_dir / "subgroups_lighting.json").is_file()
    main_subgroups([str(run_dir), "--field", "lighting"])
    printed = capsys.readouterr().out
    assert "CAL2 - CONTROL [" in printed and "CAL2 - CONTROL_TIME [" in printed
    with pytest.raises(DataError, match="has no field 'nope'"):
        subgroups(run_dir, "nope")
