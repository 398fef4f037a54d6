"""The two distributions are PEP 420 namespace portions beside llama-index-core."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import llama_index.core
import llama_index.memory.selfmem
import llama_index.retrievers.selfmem
import pytest

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTIONS = {
    "llama-index-retrievers-selfmem": ("retrievers", llama_index.retrievers.selfmem),
    "llama-index-memory-selfmem": ("memory", llama_index.memory.selfmem),
}


def test_public_names_are_pinned() -> None:
    assert llama_index.retrievers.selfmem.__all__ == ["SelfMemRetriever"]
    assert llama_index.memory.selfmem.__all__ == [
        "OutcomeJudge",
        "RunRecord",
        "SelfMemMemoryBlock",
        "SelfMemRecorder",
        "default_judge",
    ]
    for module in (llama_index.retrievers.selfmem, llama_index.memory.selfmem):
        for name in module.__all__:
            assert getattr(module, name) is not None


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_namespace_layout(distribution: str) -> None:
    kind, module = DISTRIBUTIONS[distribution]
    project = ROOT / distribution
    assert not (project / "llama_index" / "__init__.py").exists()
    assert not (project / "llama_index" / kind / "__init__.py").exists()
    assert (project / "llama_index" / kind / "selfmem" / "py.typed").is_file()
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(project.resolve())
    assert importlib.metadata.version(distribution) == "0.1.0"
    requires = importlib.metadata.requires(distribution) or []
    assert any(r.startswith("llama-index-core") and ">=0.14" in r for r in requires)


def test_core_still_imports_from_its_own_distribution() -> None:
    assert llama_index.core.__file__ is not None
    assert "site-packages" in llama_index.core.__file__
