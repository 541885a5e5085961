"""The layers import downward only (README, Layout): checked on the source, so a new import that runs back
up a layer fails here rather than in a review.

Layers, bottom up: the shared types (``autolabel.structures``, ``.records``, ``.errors``, ``.atomic_files``);
``autolabel.formats`` and ``autolabel.data``; ``autolabel.model`` and ``uncertainty``; ``autolabel.job``
and ``autolabel.review``; ``autolabel.pipeline`` and ``experiments``; the apps; ``studies``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autolabel", "uncertainty", "experiments", "studies", "benchmarks")
APPS = {
    "autolabel.train",
    "autolabel.label",
    "autolabel.select",
    "autolabel.sync",
    "autolabel.import_labels",
    "uncertainty.evaluate",
    "experiments.gt2_vs_random",
    "experiments.report",
    "experiments.results_doc",
}
SHARED = ("autolabel.structures", "autolabel.records", "autolabel.errors", "autolabel.atomic_files")
# what autolabel/ may hold at its top level: the shared types, the apps and their helpers
TOP_LEVEL = {*SHARED, *(a for a in APPS if a.startswith("autolabel.")), "autolabel.pipeline"} | {
    "autolabel.cli",
    "autolabel.settings_check",
}
# module prefix -> prefixes it must never import
FORBIDDEN = {
    **{shared: ("autolabel.", "uncertainty", "experiments", "studies") for shared in SHARED},
    "autolabel.formats": ("autolabel.data", "autolabel.model", "autolabel.job", "autolabel.review"),
    "autolabel.data": ("autolabel.model", "autolabel.job", "autolabel.review"),
    "autolabel.model": ("autolabel.job", "autolabel.review"),
    "autolabel.job": ("autolabel.review",),
    "autolabel": ("uncertainty", "experiments", "studies"),
    "uncertainty": ("autolabel.job", "autolabel.review", "experiments", "studies"),
    "experiments": ("studies",),
}
TORCH_FREE = (
    "autolabel/structures.py",
    "autolabel/records.py",
    "autolabel/errors.py",
    "autolabel/atomic_files.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "autolabel/formats").glob("*.py"))),
    "uncertainty/samples.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "uncertainty/scores").glob("*.py"))),
)


def imports(path: Path) -> set[str]:
    """Every module a source file imports (at any depth: function-level imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from package import module`` imports that module
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (ROOT / node.module.replace(".", "/") / f"{alias.name}.py").is_file()
            )
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def under(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(prefix if prefix.endswith(".") else prefix + ".")


def rule_of(module: str) -> tuple[str, ...]:
    """The forbidden prefixes of the most specific rule that covers ``module`` (an app may import any
    library module)."""
    if module in APPS:
        return ("studies",)
    covering = [prefix for prefix in FORBIDDEN if under(module, prefix)]
    return FORBIDDEN[max(covering, key=len)] if covering else ()


@pytest.mark.parametrize("package", ["autolabel", "uncertainty", "experiments"])
def test_packages_import_downward_only(package):
    bad = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in imports(path)
        if any(under(name, prefix) for prefix in rule_of(module_name(path)))
        and not under(name, module_name(path))
        and name not in SHARED
    )
    assert not bad, bad


def test_no_module_imports_an_app():
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in PACKAGES
        for path in modules(package)
        for name in imports(path)
        if name in APPS
    ]
    assert not bad, bad


def test_no_import_circle():
    """The imports between the project's modules (function-level ones too) form no cycle."""
    graph = {
        module_name(path): imports(path)
        for package in ("autolabel", "uncertainty", "experiments")
        for path in modules(package)
    }
    graph = {m: {n for n in names if n in graph and n != m} for m, names in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_autolabel_top_level_holds_only_shared_types_and_apps():
    top = {module_name(p) for p in (ROOT / "autolabel").glob("*.py") if p.name != "__init__.py"}
    assert top <= TOP_LEVEL, sorted(top - TOP_LEVEL)


@pytest.mark.parametrize("package", ["autolabel", "uncertainty", "experiments"])
def test_no_folder_holds_more_than_a_dozen_modules(package):
    crowded = {
        str(folder.relative_to(ROOT)): n
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*") if p.is_dir())]
        if "__pycache__" not in folder.parts
        and (n := len([p for p in folder.glob("*.py") if p.name != "__init__.py"])) > 12
    }
    assert not crowded, crowded


@pytest.mark.parametrize("relative", TORCH_FREE)
def test_structures_formats_and_scores_do_not_need_torch(relative):
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
        for package in PACKAGES
        for path in modules(package)
        if "predictions.jsonl" in path.read_text()
    ]
    assert holders == ["autolabel/records.py"]
