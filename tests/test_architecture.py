"""The layering rules of docs/architecture.md, checked on the source: every import (including
those only made for type checking) points to the same package or a lower layer, and no files
or packages import each other in a cycle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

#: Lower numbers are lower layers; a module may import its own package and lower layers.
LAYERS: dict[str, int] = {
    "selfmem.errors": 0,
    "selfmem.text": 0,
    "selfmem.records": 1,
    "selfmem.config": 2,
    "selfmem.learning": 3,
    "selfmem.retrieval": 3,
    "selfmem.security": 3,
    "selfmem.storage": 3,
    "selfmem.embeddings": 3,
    "selfmem.engine": 4,
    "selfmem.memory": 5,
    "selfmem": 5,  # the package's __init__: the public names
    "selfmem.cli": 6,
    "selfmem.mcp": 6,
    "selfmem.ui": 6,
    "selfmem.plots": 6,
    "selfmem.__main__": 6,
}
#: Imports between packages of the same layer that the architecture allows.
SAME_LAYER = {("selfmem.retrieval", "selfmem.learning"), ("selfmem.learning", "selfmem.security")}
#: What front ends (the CLI, MCP and the integration packages) may import of selfmem.
FACE = {"selfmem", "selfmem.memory", "selfmem.records", "selfmem.errors", "selfmem.config",
        "selfmem.embeddings"}  # fmt: skip
FRONT_ENDS = {"selfmem.cli", "selfmem.mcp", "selfmem.ui", "selfmem.plots", "selfmem.__main__"}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> Iterator[str]:
    """Absolute names of the selfmem modules (or names) ``path`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "selfmem")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "selfmem":
                continue
            if node.module is None or target == "selfmem":
                # ``from . import x`` may name submodules
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    yield sub if _is_module(sub) else target
            else:
                yield target


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _owner(name: str) -> str:
    """The layer entry that ``name`` belongs to (its longest matching prefix)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return prefix
    raise AssertionError(f"{name} is in no layer: add its package to LAYERS and the docs")


def _resolve_module(name: str) -> str:
    """The module file a dotted name lives in (drop trailing attribute names)."""
    parts = name.split(".")
    while parts and not _is_module(".".join(parts)):
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted((SRC / "selfmem").rglob("*.py")):
        module = _module_name(path, SRC)
        graph[module] = {_resolve_module(t) for t in _imports(path, module)} - {module}
    return graph


GRAPH = _graph()


def _violations() -> list[str]:
    found = []
    for module, targets in GRAPH.items():
        here = _owner(module)
        for target in targets:
            there = _owner(target)
            if there == here or module == "selfmem":
                continue
            if here in FRONT_ENDS:
                if there not in FACE and there not in FRONT_ENDS:
                    found.append(f"{module} -> {target}: front ends import the face and records")
                continue
            if LAYERS[there] > LAYERS[here] or (
                LAYERS[there] == LAYERS[here] and (here, there) not in SAME_LAYER
            ):
                found.append(f"{module} ({here}) -> {target} ({there})")
    return sorted(found)


def test_every_import_points_down_the_layers() -> None:
    assert _violations() == []


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """The nodes on (or only leading into) a cycle: what is left after peeling off sinks."""
    remaining = {node: set(targets) & set(graph) for node, targets in graph.items()}
    while sinks := [node for node, targets in remaining.items() if not targets]:
        for node in sinks:
            del remaining[node]
        for targets in remaining.values():
            targets.difference_update(sinks)
    return sorted(remaining)


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == ["a", "b", "c", "d"]


def test_no_two_files_import_each_other_in_a_cycle() -> None:
    # a package's __init__ re-exporting its own modules is not a cycle between files
    graph = {
        m: {t for t in ts if not (t == m.rpartition(".")[0] and _is_package(t))}
        for m, ts in GRAPH.items()
    }
    assert _cycles(graph) == []


def _is_package(name: str) -> bool:
    return (SRC.joinpath(*name.split(".")) / "__init__.py").exists()


def test_no_two_packages_import_each_other() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        if module == "selfmem":
            continue
        here = _owner(module)
        packages.setdefault(here, set()).update(_owner(t) for t in targets if _owner(t) != here)
    assert _cycles(packages) == []


def test_the_rules_catch_an_upward_import(tmp_path: Path) -> None:
    GRAPH["selfmem.storage.fake"] = {"selfmem.learning.learner"}
    try:
        assert _violations() == ["selfmem.storage.fake (selfmem.storage) -> "
                                 "selfmem.learning.learner (selfmem.learning)"]  # fmt: skip
    finally:
        del GRAPH["selfmem.storage.fake"]


INTEGRATIONS = [
    ROOT / "integrations/langchain/src",
    ROOT / "integrations/llama-index/llama-index-retrievers-selfmem",
    ROOT / "integrations/llama-index/llama-index-memory-selfmem",
]


@pytest.mark.parametrize("root", INTEGRATIONS, ids=lambda p: p.name)
def test_integrations_import_only_the_face_and_records(root: Path) -> None:
    bad = []
    for path in sorted(root.rglob("*.py")):
        if "tests" in path.parts:
            continue
        module = _module_name(path, root)
        bad += [f"{module} -> {t}" for t in _imports(path, module) if _owner(t) not in FACE]
    assert bad == []


def test_every_folder_of_the_package_is_described_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    folders = sorted(p.name for p in (SRC / "selfmem").iterdir() if (p / "__init__.py").exists())
    assert [f for f in folders if f"`{f}/`" not in doc] == []
    assert set(LAYERS) >= {f"selfmem.{f}" for f in folders}
