"""find_recovery: what was learned about a tool failing with an error, from the message the
agent sees (its ids, numbers and secrets differ from the ones stored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfmem import InvalidInputError, SelfLearningMemory, TaskContext, TaskOutcome

CTX = TaskContext(domain="release", language="python")


def _release(memory: SelfLearningMemory, i: int, error: str, *, fixed: bool = True) -> None:
    eid = memory.start_episode(f"Publish version {i} of the package", CTX)
    memory.log_step(eid, tool="build_wheel", observation="built")
    memory.log_step(eid, tool="upload_package", error=error)
    if fixed:
        memory.log_step(eid, tool="refresh_upload_token", observation="new token")
        memory.log_step(eid, tool="upload_package", observation="uploaded")
        memory.complete_episode(eid, TaskOutcome.success("published"))
    else:
        memory.complete_episode(eid, TaskOutcome.failure("not published"))


def _expired(i: int) -> str:
    # the token and the numbers differ in every message; the token is redacted when stored
    token = f"pypi-AgEIcHlwaS5vcmc{i:04d}xyzzy"
    return f"403 Forbidden: upload token {token} expired {7 + i} minutes ago"


def test_the_recovery_learned_for_a_tool_and_an_error_is_found_from_a_new_message(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(3):
            _release(memory, i, _expired(i))
        found = memory.find_recovery("upload_package", _expired(41))
        assert found is not None
        assert (found.tool, found.best_mode, found.best_recovery) == (
            "upload_package", "fix", "refresh_upload_token",
        )  # fmt: skip
        assert found.recoveries["refresh_upload_token"].successes == 3
        assert "pypi-" not in found.error_class and "xyzzy" not in found.error_class
        assert "refresh_upload_token recovered it 3 of 3 times" in found.describe()
        # another tool, or another error of the same tool: nothing was learned about it
        assert memory.find_recovery("build_wheel", _expired(41)) is None
        assert memory.find_recovery("upload_package", "500 Internal Server Error") is None


def test_an_error_fixed_once_is_found_with_its_one_fix_as_a_lead(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        assert memory.find_recovery("upload_package", _expired(9)) is None
        _release(memory, 0, _expired(0))
        found = memory.find_recovery("upload_package", _expired(9))
        assert found is not None and found.best_recovery == "refresh_upload_token"
        assert "recovered it 1 of 1 times" in found.describe()
        assert found.confidence < 0.3  # a lead, not yet trusted
        _release(memory, 1, _expired(1), fixed=False)  # the token was not refreshed
        _release(memory, 2, _expired(2))
        found = memory.find_recovery("upload_package", _expired(9))
        assert found is not None and found.best_recovery == "refresh_upload_token"
        assert "recovered it 2 of 2 times" in found.describe()
        assert found.confidence > 0.3


def test_an_error_nothing_fixed_is_found_as_having_no_known_recovery(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(4):
            eid = memory.start_episode(f"Publish version {i} of the package", CTX)
            for _ in range(2):  # retried in vain
                memory.log_step(eid, tool="upload_package", error=f"413 file too large ({i} MB)")
            memory.complete_episode(eid, TaskOutcome.failure("not published"))
        found = memory.find_recovery("upload_package", "413 file too large (812 MB)")
        assert found is not None
        assert found.best_mode is None and found.best_recovery is None
        assert "has no known recovery" in found.describe()


def test_bad_arguments_get_a_clear_error(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path) as memory:
        with pytest.raises(InvalidInputError, match="error"):
            memory.find_recovery("upload_package", "  ")
        with pytest.raises(InvalidInputError, match="tool"):
            memory.find_recovery(42, "boom")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="tool"):
            memory.find_recovery("", "boom")


async def test_the_async_twin_finds_the_same(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(3):
            _release(memory, i, _expired(i))
        found = await memory.afind_recovery("upload_package", _expired(77))
        assert found is not None and found.best_recovery == "refresh_upload_token"


def test_a_lead_is_offered_to_a_query_that_names_its_tool_not_to_a_new_task(
    tmp_path: Path,
) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(3):  # a family of releases, one of which met the error
            eid = memory.start_episode(f"Publish version {i} of the package", CTX)
            memory.log_step(eid, tool="build_wheel", observation="built")
            memory.log_step(eid, tool="upload_package", observation="uploaded")
            memory.complete_episode(eid, TaskOutcome.success("published"))
        _release(memory, 3, _expired(3))

        def recoveries(query: str) -> list[str]:
            offers = memory.recommend_patterns(query, CTX, limit=10)
            return [o.pattern.tool for o in offers if o.pattern.kind == "error_recovery"]

        assert recoveries("Publish version 7 of the package") == []
        assert recoveries(f"upload_package failed with {_expired(7)}") == ["upload_package"]
        context = memory.retrieve_relevant_context("Publish version 7 of the package", CTX)
        assert "When upload_package fails" not in context.render()  # no rule from one use
