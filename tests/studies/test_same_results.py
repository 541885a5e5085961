"""studies.same_results: timing fields are ignored, anything else is a difference."""

import json

from studies.same_results import compare_runs, differences, without_timings


def make_run(folder, *, map50, seconds, selection=b'{"n": 3}'):
    (folder / "seed_0").mkdir(parents=True)
    metrics = {"summary": {"CAL1": {"map50": map50}}, "stage_seconds": {"cal1": seconds}, "x": [1, 2]}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "seed_0" / "selection.json").write_bytes(selection)
    return folder


def test_timings_are_left_out_at_any_depth():
    assert without_timings({"a": 1, "stage_seconds": 2, "b": [{"seconds": 3, "c": 4}]}) == {
        "a": 1,
        "b": [{"c": 4}],
    }


def test_same_results_except_timings_compare_equal(tmp_path):
    a = make_run(tmp_path / "a", map50=0.5, seconds=10.0)
    b = make_run(tmp_path / "b", map50=0.5, seconds=99.0)
    assert compare_runs(a, b) == []


def test_a_changed_figure_or_selection_is_named(tmp_path):
    a = make_run(tmp_path / "a", map50=0.5, seconds=1.0)
    b = make_run(tmp_path / "b", map50=0.51, seconds=1.0, selection=b'{"n": 4}')
    found = compare_runs(a, b)
    assert found == [
        "metrics.json: summary.CAL1.map50: 0.5 != 0.51",
        "seed_0/selection.json: n: 3 != 4",
    ]
    assert differences({"a": 1}, {"b": 1}) == ["a: only in a", "b: only in b"]
