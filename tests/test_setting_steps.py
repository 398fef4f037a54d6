"""A sequence offered to a task fitted to its setting: a step whose calls fail under one of
the task's features is left out when it only ever "does not apply", replaced when a served
recovery replaces it, and kept when it fails there with an error of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence
from selfmem.learning.setting_steps import fitted, unfit_steps
from selfmem.records.learned import ChoiceStats, ContextPattern, ErrorRecovery

NS = "ns"
STATE = "not applicable now"


def _failing(tool: str, feature: str = "tag=staging") -> ContextPattern:
    return ContextPattern(id=f"c-{tool}", namespace=NS, key=f"f|{feature}|{tool}", family="f",
                          feature=feature, tool=tool, measure="calls", association="failure",
                          support=6, successes=0)  # fmt: skip


def _error(tool: str, error: str, replace_by: str | None = None) -> ErrorRecovery:
    found = ErrorRecovery(id=f"e-{tool}-{error}", namespace=NS, key=f"{tool}|{error}",
                          tool=tool, error_class=error, support=6)  # fmt: skip
    if replace_by:
        found.replacements = {replace_by: ChoiceStats(n=6, successes=6)}
        found.best_recovery, found.best_mode = replace_by, "replace"
    return found


def test_a_step_is_left_out_replaced_or_kept_by_what_it_raised_under_the_feature() -> None:
    patterns = [
        _failing("approve"), _error("approve", STATE),  # only "does not apply": left out
        _failing("issue_cert"), _error("issue_cert", STATE),
        _error("issue_cert", "rate limit reached", replace_by="issue_internal_cert"),
        _failing("reload"), _error("reload", STATE), _error("reload", "connection reset"),
    ]  # fmt: skip
    unfit = unfit_steps(patterns, lambda p: True, {STATE})
    assert unfit == {
        ("f", "tag=staging", "approve"): None,
        ("f", "tag=staging", "issue_cert"): "issue_internal_cert",
    }, "reload fails there with an error of its own: it stays, the agent meets it"
    tools = ["csr", "issue_cert", "approve", "install", "reload"]
    assert fitted(tools, {"tag=staging"}, {"f"}, unfit) == [
        "csr", "issue_internal_cert", "install", "reload"
    ]
    # another setting, or another family's patterns: unchanged
    assert fitted(tools, {"tag=prod"}, {"f"}, unfit) == tools
    assert fitted(tools, {"tag=staging"}, {"g"}, unfit) == tools
    # a pattern that is not served says nothing
    assert unfit_steps(patterns, lambda p: not isinstance(p, ContextPattern), {STATE}) == {}


OLD = datetime.now(UTC) - timedelta(days=1)
PROD = ["generate_csr", "issue_cert", "approve", "install_cert"]


def _rotate(memory: SelfLearningMemory, i: int, tag: str) -> None:
    """Production runs need an approval and succeed; staging runs that called it were told
    it does not apply (as were the other tools they tried) and ran out of calls."""
    ctx = TaskContext(domain="infra", tags=[tag])
    eid = memory.start_episode(f"Rotate the TLS certificate of service {i}", ctx,
                               start_time=OLD + timedelta(minutes=i))  # fmt: skip
    if tag == "prod":
        for tool in PROD:
            memory.log_step(eid, tool=tool, observation="ok")
        memory.complete_episode(eid, TaskOutcome.success("rotated"))
        return
    memory.log_step(eid, tool="generate_csr", observation="ok")
    memory.log_step(eid, tool="issue_cert", observation="ok")
    for tool in ("approve", "page_oncall", "scale_pool", "open_ticket", "read_logs"):
        memory.log_step(eid, tool=tool, error="not applicable now")
    memory.complete_episode(eid, TaskOutcome.failure("out of calls"))


def test_a_staging_task_is_not_offered_the_approval_only_production_has(tmp_path: Path) -> None:
    with SelfLearningMemory.open(tmp_path, learn_inline=True) as memory:
        for i in range(24):
            _rotate(memory, i, "staging" if i % 3 == 2 else "prod")

        def first(tag: str) -> list[str]:
            found = memory.recommend_patterns("Rotate the TLS certificate of service 99",
                                              TaskContext(domain="infra", tags=[tag]))  # fmt: skip
            return next(s.pattern.tools for s in found if isinstance(s.pattern, ToolSequence))

        assert first("prod") == PROD
        assert first("staging") == ["generate_csr", "issue_cert", "install_cert"]
