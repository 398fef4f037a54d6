"""The Python examples of README.md and docs/*.md run as written, and show what they claim.

A block runs when it starts with ``from selfmem`` (a complete example, not a fragment that
continues the one before it) and no ``<!-- not-run -->`` comment stands on the line before
its fence. Each runs in its own empty working directory, offline, with no ``SELFMEM_*``
variable set, as a reader pasting it into a fresh shell would run it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from selfmem import SelfLearningMemory

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "<!-- not-run -->"

_FENCE = re.compile(r"^(?P<before>[^\n]*)\n```python\n(?P<code>.*?)^```", re.DOTALL | re.MULTILINE)

#: What a block's output must show, by document and the block's first distinctive line.
CLAIMS: dict[tuple[str, str], list[str]] = {
    # the failing run_tests and then the passing one: a recovered error, and its bonus
    ("README.md", "Fix the failing login test"): [r"recovered from 1 error\b", r"learning bonus"],
    ("docs/index.md", "Fix the failing login test"): [r"recovered from 1 error\b"],
}

#: Blocks of guides kept by others that start like an example but cannot run here as they
#: stand; each wants a ``<!-- not-run -->`` line before its fence (then its entry goes).
NOT_RUNNABLE_YET: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Example:
    document: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def _examples() -> list[Example]:
    found = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        for match in _FENCE.finditer(text):
            code = match.group("code")
            if NOT_RUN in match.group("before") or not code.startswith("from selfmem"):
                continue
            line = text.count("\n", 0, match.start("code")) + 1
            found.append(Example(name, line, code))
    return found


EXAMPLES = _examples()


def _not_runnable(example: Example) -> str | None:
    return next(
        (why for (document, marker), why in NOT_RUNNABLE_YET.items()
         if document == example.document and marker in example.code),
        None,
    )  # fmt: skip


def _claims(example: Example) -> list[str]:
    return [
        pattern
        for (document, marker), patterns in CLAIMS.items()
        if document == example.document and marker in example.code
        for pattern in patterns
    ]


@pytest.fixture
def reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, offline, and none of the environment's selfmem settings."""
    for name in [n for n in os.environ if n.startswith(("SELFMEM_", "TURSO_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_and_the_guides_have_examples_that_run() -> None:
    documents = {example.document for example in EXAMPLES}
    assert {"README.md", "docs/index.md", "docs/concepts.md"} <= documents
    for document, marker in [*CLAIMS, *NOT_RUNNABLE_YET]:
        assert any(e.document == document and marker in e.code for e in EXAMPLES), (
            f"no example of {document} contains {marker!r} any more: update this test"
        )


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_runs(example: Example, reader: Path) -> None:
    why = _not_runnable(example)
    if why is not None:
        pytest.skip(f"{example.id}: {why} (mark it {NOT_RUN})")
    printed = io.StringIO()
    compiled = compile(example.code, f"{ROOT / example.document}:{example.line}", "exec")
    names: dict[str, object] = {"__name__": "__doc_example__"}
    try:
        with contextlib.redirect_stdout(printed):
            exec(compiled, names)
    finally:  # a script's handles close at exit; here, before the working directory changes
        for value in names.values():
            if isinstance(value, SelfLearningMemory):
                value.close()
    output = printed.getvalue()
    for pattern in _claims(example):
        assert re.search(pattern, output), f"{example.id} does not show {pattern!r}:\n{output}"
