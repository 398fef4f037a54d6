"""OpenTelemetry spans and metrics, captured with the SDK's in-memory span exporter and
metric reader over a real embedded store; and nothing of OpenTelemetry imported by
``import selfmem`` or used when it is not installed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (selfmem[test])")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from selfmem import ExecutionStep, NotFoundError, SelfLearningMemory, TaskContext, TaskOutcome

_SPANS = InMemorySpanExporter()
_METRICS = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers() -> Iterator[None]:
    """The process-wide providers (OpenTelemetry lets them be set once per process)."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_SPANS))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[_METRICS]))
    yield


def _metric_points() -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    data = _METRICS.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            if scope.scope.name != "selfmem":
                continue
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def test_spans_and_metrics_of_a_recorded_and_retrieved_episode(tmp_path: Path) -> None:
    _SPANS.clear()
    with SelfLearningMemory.open(tmp_path / "m", flush_interval_s=None, learn_inline=True,
                                 namespace="otel") as memory:  # fmt: skip
        for i in range(3):
            eid = memory.start_episode(f"fix the flaky login test {i}", TaskContext(domain="web"),
                                       "debugging")  # fmt: skip
            memory.log_step(eid, ExecutionStep(tool="run_tests", observation="1 failed"))
            memory.log_step(eid, ExecutionStep(tool="edit_file", error="permission denied"))
            memory.complete_episode(eid, TaskOutcome.failure("no edit"))
        memory.get_episode(eid)  # cached: a hit
        with pytest.raises(NotFoundError):
            memory.get_episode("never-recorded")  # not cached: a miss
        result = memory.retrieve_relevant_context("flaky login test", limit=3)
        assert result.episodes
        depth = _metric_points()["selfmem.learning.queue.depth"]
        assert sum(p.value for p in depth) == memory.stats().pending_learning == 0

    spans = {s.name: s for s in _SPANS.get_finished_spans()}
    assert {"selfmem.episode.start", "selfmem.episode.log_step", "selfmem.episode.complete",
            "selfmem.retrieve", "selfmem.learn"} <= set(spans)  # fmt: skip
    start = spans["selfmem.episode.start"].attributes or {}
    assert start["selfmem.namespace"] == "otel" and start["selfmem.task_type"] == "debugging"
    step = spans["selfmem.episode.log_step"].attributes or {}
    assert step["gen_ai.tool.name"] == "edit_file" and step["selfmem.step.success"] is False
    done = spans["selfmem.episode.complete"].attributes or {}
    assert done["selfmem.outcome"] == "failure" and done["selfmem.step.count"] == 2
    assert done["selfmem.episode.id"] == eid
    found = spans["selfmem.retrieve"].attributes or {}
    assert found["selfmem.retrieval.episodes"] == len(result.episodes)
    assert (spans["selfmem.learn"].attributes or {})["selfmem.learn.episodes"] == 1
    learned = [s for s in _SPANS.get_finished_spans() if s.name == "selfmem.learn"]
    assert len(learned) == 3  # one learning job per completed episode (learned inline)
    # the job ran inside the completion that submitted it
    complete_ids = {s.context.span_id for s in _SPANS.get_finished_spans()
                    if s.name == "selfmem.episode.complete"}  # fmt: skip
    assert all(s.parent is not None and s.parent.span_id in complete_ids for s in learned)

    points = _metric_points()
    episodes = points["selfmem.episodes"]
    assert sum(p.value for p in episodes) == 3
    assert dict(episodes[0].attributes) == {"selfmem.outcome": "failure",
                                            "selfmem.task_type": "debugging"}  # fmt: skip
    assert sum(p.value for p in points["selfmem.steps"]) == 6
    latency = points["selfmem.retrieval.duration"][0]
    assert latency.count == 1 and latency.sum > 0
    assert sum(p.value for p in points["selfmem.cache.hits"]) >= 1
    misses = points["selfmem.cache.misses"]
    assert sum(p.value for p in misses) >= 1
    assert dict(misses[0].attributes) == {"selfmem.namespace": "otel"}
    assert "selfmem.learning.queue.depth" in points and "selfmem.learning.failures" in points


def test_a_failing_call_is_a_span_with_an_error(tmp_path: Path) -> None:
    _SPANS.clear()
    with (
        SelfLearningMemory.open(tmp_path / "m", flush_interval_s=None) as memory,
        pytest.raises(NotFoundError, match="not found"),
    ):
        memory.log_step("missing", tool="x")
    span = next(s for s in _SPANS.get_finished_spans() if s.name == "selfmem.episode.log_step")
    assert span.status.status_code is trace.StatusCode.ERROR
    assert any(event.name == "exception" for event in span.events)


_PROBE = """
import sys
{prelude}
import selfmem
assert not any(m.startswith("opentelemetry") and sys.modules[m] for m in sys.modules), "early"
from selfmem import SelfLearningMemory, TaskOutcome
with SelfLearningMemory() as memory:
    eid = memory.start_episode("a task")
    memory.log_step(eid, tool="t")
    memory.complete_episode(eid, TaskOutcome.success())
    memory.retrieve_relevant_context("a task")
print(sorted(m for m in sys.modules if m.startswith("opentelemetry") and sys.modules[m]))
"""


def test_import_selfmem_does_not_import_opentelemetry() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(prelude="")],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "opentelemetry.trace" in out.stdout  # used once a memory works, not before


def test_without_opentelemetry_nothing_is_imported_or_emitted() -> None:
    hide = "sys.modules['opentelemetry'] = None  # as if it were not installed"
    out = subprocess.run([sys.executable, "-c", _PROBE.format(prelude=hide)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"
