"""The environment the model layer reads: every unusable value is named in one line, usable ones pass."""

from __future__ import annotations

import pytest

from autolabel.model.offline import environment_problems


def test_usable_environment_has_no_problems(tmp_path):
    env = {
        "AUTOLABEL_THREADS": "2",
        "XDG_CACHE_HOME": str(tmp_path / "new"),
        "YOLO_CONFIG_DIR": str(tmp_path),
    }
    assert environment_problems(env) == []
    assert environment_problems({}) == []


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("AUTOLABEL_THREADS", "abc", "whole number >= 1"),
        ("AUTOLABEL_THREADS", "-3", "whole number >= 1"),
        ("AUTOLABEL_THREADS", "0", "whole number >= 1"),
        ("XDG_CACHE_HOME", "cache", "absolute path"),
        ("YOLO_CONFIG_DIR", "FILE", "is a file, not a folder"),
    ],
)
def test_each_unusable_value_is_one_line_naming_the_variable(tmp_path, name, value, words):
    (tmp_path / "file").write_text("x")
    value = str(tmp_path / "file") if value == "FILE" else value
    (problem,) = environment_problems({name: value})
    assert problem.startswith(f"{name}=") and words in problem and "\n" not in problem
