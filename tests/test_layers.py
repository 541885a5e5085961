"""The layers import downward only (README, Layout): checked on the source, so a new import that runs back
up a layer fails here rather than in a review."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = {"autolabel.train", "autolabel.label", "uncertainty.evaluate", "experiments.gt2_vs_random"}
# package -> packages it must never import
FORBIDDEN = {
    "autolabel": ("uncertainty", "experiments", "studies"),
    "uncertainty": ("experiments", "studies"),
    "experiments": ("studies",),
}
TORCH_FREE = (
    "autolabel/structures.py",
    "autolabel/records.py",
    "uncertainty/samples.py",
    "uncertainty/scores.py",
)


def imports(path: Path) -> set[str]:
    """Every module a source file imports (at any depth: function-level imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_downward_only(package):
    bad = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in imports(path)
        if name.split(".")[0] in FORBIDDEN[package]
    }
    assert not bad, sorted(bad)


def test_no_module_imports_an_app():
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in ("autolabel", "uncertainty", "experiments", "studies", "benchmarks")
        for path in modules(package)
        for name in imports(path)
        if name in APPS
    ]
    assert not bad, bad


@pytest.mark.parametrize("relative", TORCH_FREE)
def test_structures_and_scores_do_not_need_torch(relative):
    """Pure layers stay importable without torch (transitively too, within the project)."""
    seen, todo = set(), [ROOT / relative]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imports(path):
            assert name.split(".")[0] not in ("torch", "ultralytics"), (
                f"{path.relative_to(ROOT)} imports {name}"
            )
            candidate = ROOT / (name.replace(".", "/") + ".py")
            if candidate.is_file():
                todo.append(candidate)


def test_only_the_record_module_knows_the_log_file_name():
    holders = [
        str(path.relative_to(ROOT))
        for package in ("autolabel", "uncertainty", "experiments", "studies", "benchmarks")
        for path in modules(package)
        if "predictions.jsonl" in path.read_text()
    ]
    assert holders == ["autolabel/records.py"]
