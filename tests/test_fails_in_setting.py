"""A way learned in one setting, offered in another where one of its steps fails: staging
runs renew a certificate with ``issue_internal_certificate``; in production that call is
refused every time, and production runs got on with ``issue_certificate`` and an approval.
A production task is offered what production runs did, not the staging way; a step that
fails in production at first and works once retried is still offered."""

from __future__ import annotations

from pathlib import Path

from selfmem import SelfLearningMemory, TaskContext, TaskOutcome, ToolSequence

HOSTS = ["api", "web", "mail", "vpn", "cdn", "git", "ci", "db"]
STAGING = ["generate_csr", "issue_internal_certificate", "install_certificate", "reload_service"]
PRODUCTION = ["generate_csr", "issue_certificate", "request_change_approval", "install_certificate"]


def _ctx(where: str) -> TaskContext:
    return TaskContext(domain="infrastructure", tags=[where])


def _run(memory: SelfLearningMemory, host: str, where: str, calls: list[tuple[str, str]]) -> None:
    eid = memory.start_episode(f"Renew the TLS certificate of {host}.example.com", _ctx(where))
    for tool, error in calls:
        memory.log_step(eid, tool=tool, error=error or None, observation=None if error else "ok")
    done = all(tool != "reload_service" or not error for tool, error in calls) and any(
        tool == "reload_service" for tool, _ in calls
    )
    outcome = TaskOutcome.success("renewed") if done else TaskOutcome.failure("not renewed")
    memory.complete_episode(eid, outcome)


def _first(memory: SelfLearningMemory, where: str) -> tuple[list[str], dict[str, float]]:
    task = "Renew the TLS certificate of shop.example.com"
    found = memory.recommend_patterns(task, _ctx(where), include_partial=True)
    first = next(s for s in found if isinstance(s.pattern, ToolSequence))
    assert isinstance(first.pattern, ToolSequence)
    return first.pattern.tools, first.signals


def test_a_production_task_is_offered_what_production_runs_did_not_the_staging_way(
    tmp_path: Path,
) -> None:
    refused = [("generate_csr", ""), ("issue_internal_certificate", "not applicable in production")]
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        for host in HOSTS:
            _run(memory, host, "staging", [(tool, "") for tool in STAGING])
        for host in HOSTS[:6]:  # production: refused, then a way that gets further
            _run(memory, host, "prod", [*refused, *((tool, "") for tool in PRODUCTION[1:])])
        tools, signals = _first(memory, "prod")
        assert tools == PRODUCTION and signals["left_out_here"] == 1.0
        tools, signals = _first(memory, "staging")
        assert tools == STAGING and "left_out_here" not in signals


def test_a_step_that_works_once_retried_in_production_is_still_offered(tmp_path: Path) -> None:
    retried = [("issue_internal_certificate", "timed out"), ("issue_internal_certificate", "")]
    with SelfLearningMemory.open(tmp_path, learn_inline=True, flush_interval_s=None) as memory:
        for host in HOSTS:
            _run(memory, host, "staging", [(tool, "") for tool in STAGING])
        for host in HOSTS[:6]:
            _run(memory, host, "prod", [("generate_csr", ""), *retried,
                                        *((tool, "") for tool in STAGING[2:])])  # fmt: skip
        tools, signals = _first(memory, "prod")
        assert tools == STAGING and "left_out_here" not in signals
