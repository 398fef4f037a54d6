"""Fixtures for the LlamaIndex integration: a real selfmem memory on disk, learning inline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.memory.selfmem import SelfMemRecorder

from selfmem import SelfLearningMemory

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    """A libSQL + LMDB memory in a temporary directory that learns inside ``complete_episode``."""
    with SelfLearningMemory.open(tmp_path / "mem", learn_inline=True) as mem:
        yield mem


@pytest.fixture
def recorder(memory: SelfLearningMemory) -> Iterator[SelfMemRecorder]:
    """A recorder attached to the root dispatcher for the duration of one test."""
    with SelfMemRecorder(memory) as attached:
        yield attached


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Silence deprecation noise from inside LlamaIndex that is not ours to fix: its workflows
    inspect pydantic models with ``inspect.getmembers`` (pydantic warns about its own deprecated
    attributes), and ``ReActAgent`` calls a deprecated ``Context.is_running``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:inspect"))
            item.add_marker(pytest.mark.filterwarnings("ignore:is_running called from within"))
