"""Every test under tests/reliability/ carries the ``reliability`` marker, so
``pytest -m reliability`` runs the suite on its own; the README test command runs it too."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
