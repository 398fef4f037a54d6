"""OpenTelemetry spans and metrics, when ``opentelemetry-api`` is installed (``selfmem[otel]``).

Nothing here imports OpenTelemetry until a memory is used, and without the package every
hook is a no-op (one global check). The public methods are traced by :func:`traced`; what
happens inside the engine (cache lookups, learning jobs, the learning queue) reaches
OpenTelemetry through the engine's own hooks (:mod:`.observer`), which :func:`observer`
implements. With the API but no SDK configured, OpenTelemetry's own
no-op implementations apply. Names follow the semantic-convention style: spans
``selfmem.episode.start`` / ``.log_step`` / ``.complete``, ``selfmem.retrieve``,
``selfmem.learn``; attributes under ``selfmem.*``, with ``gen_ai.tool.name`` for a step's tool.

Metrics (meter ``selfmem``): ``selfmem.episodes`` (completed, by outcome and task type),
``selfmem.steps`` (by tool and success), ``selfmem.retrieval.duration`` (histogram, seconds),
``selfmem.learning.queue.depth`` and ``selfmem.learning.failures`` (observed), and
``selfmem.cache.hits`` / ``selfmem.cache.misses`` (episode cache lookups).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, TypeVar

from .observer import NO_OBSERVER, EngineObserver, QueueProbe

__all__ = ["observer", "traced"]

_P = ParamSpec("_P")
_T = TypeVar("_T")
Attributes = Callable[[tuple[Any, ...], dict[str, Any], Any], dict[str, Any]]

_lock = threading.Lock()
_state: _Instruments | None = None
_checked = False  # whether OpenTelemetry was looked for (it is at most once)
_queues: weakref.WeakSet[QueueProbe] = weakref.WeakSet()


class _Instruments:
    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        __version__ = _version()
        self.trace = trace
        self.tracer = trace.get_tracer("selfmem", __version__)
        meter = metrics.get_meter("selfmem", __version__)
        self.episodes = meter.create_counter(
            "selfmem.episodes", unit="{episode}", description="Episodes completed"
        )
        self.steps = meter.create_counter(
            "selfmem.steps", unit="{step}", description="Steps logged"
        )
        self.retrieval = meter.create_histogram(
            "selfmem.retrieval.duration", unit="s", description="retrieve_relevant_context time"
        )
        self.hits = meter.create_counter("selfmem.cache.hits", unit="{lookup}")
        self.misses = meter.create_counter("selfmem.cache.misses", unit="{lookup}")
        meter.create_observable_gauge(
            "selfmem.learning.queue.depth", [_queue_depth], unit="{episode}",
            description="Completed episodes waiting to be learned from",
        )  # fmt: skip
        meter.create_observable_gauge(
            "selfmem.learning.failures", [_learning_failures], unit="{episode}",
            description="Episodes whose learning failed twice",
        )  # fmt: skip


def _version() -> str:
    """selfmem's version, for the instrumentation scope."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("selfmem")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def _instruments() -> _Instruments | None:
    global _state, _checked
    if not _checked:
        with _lock:
            if not _checked:
                if importlib.util.find_spec("opentelemetry") is not None:
                    _state = _Instruments()
                _checked = True
    return _state


def _observe(read: Callable[[Any], int]) -> Iterator[Any]:
    from opentelemetry.metrics import Observation

    yield Observation(sum(read(queue) for queue in list(_queues)))


def _queue_depth(options: Any) -> Iterator[Any]:
    return _observe(lambda queue: int(queue.pending()))


def _learning_failures(options: Any) -> Iterator[Any]:
    return _observe(lambda queue: len(queue.failed))


def traced(name: str, attributes: Attributes) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Run the method in a span ``name``; ``attributes(args, kwargs, result)`` names what it
    did (``result`` is None when it raised). Retrieval also feeds the latency histogram."""

    def decorate(method: Callable[_P, _T]) -> Callable[_P, _T]:
        @functools.wraps(method)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            otel = _instruments()
            if otel is None:
                return method(*args, **kwargs)
            return _run(otel, name, attributes, method, args, kwargs)

        return wrapper

    return decorate


def _run(
    otel: _Instruments, name: str, attributes: Attributes, method: Callable[..., _T],
    args: tuple[Any, ...], kwargs: dict[str, Any],
) -> _T:  # fmt: skip
    started = time.perf_counter()
    with otel.tracer.start_as_current_span(name, record_exception=True) as span:
        result = None
        try:
            result = method(*args, **kwargs)
            return result
        finally:
            values = attributes(args, kwargs, result)
            span.set_attributes({k: v for k, v in values.items() if v is not None})
            _count(otel, name, values, time.perf_counter() - started, result is not None)


def _count(otel: _Instruments, name: str, values: dict[str, Any], seconds: float, ok: bool) -> None:
    if name == "selfmem.retrieve":
        otel.retrieval.record(seconds, {"selfmem.namespace": values["selfmem.namespace"]})
    elif name == "selfmem.episode.complete" and ok:
        otel.episodes.add(1, {k: values[k] for k in ("selfmem.outcome", "selfmem.task_type")})
    elif name == "selfmem.episode.log_step" and ok:
        otel.steps.add(1, {"gen_ai.tool.name": values["gen_ai.tool.name"],
                           "selfmem.step.success": values["selfmem.step.success"]})  # fmt: skip


class _Telemetry(EngineObserver):
    """The engine's hooks as OpenTelemetry: cache lookups counted, learning jobs traced,
    learning queues read by the gauges."""

    def __init__(self, otel: _Instruments) -> None:
        self._otel = otel

    def queue_opened(self, queue: QueueProbe) -> None:
        _queues.add(queue)

    def cache_lookup(self, namespace: str, hit: bool) -> None:
        counter = self._otel.hits if hit else self._otel.misses
        counter.add(1, {"selfmem.namespace": namespace})

    def learning(self, episodes: int) -> AbstractContextManager[object]:
        return self._otel.tracer.start_as_current_span(
            "selfmem.learn", attributes={"selfmem.learn.episodes": episodes}
        )


def observer() -> EngineObserver:
    """The engine observer to use: OpenTelemetry's when it is installed, else one that does
    nothing (looking OpenTelemetry up the first time)."""
    otel = _instruments()
    return NO_OBSERVER if otel is None else _Telemetry(otel)


# -- the attributes of each operation ---------------------------------------------------------


def start_attributes(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> dict[str, Any]:
    task_type = args[3] if len(args) > 3 else kwargs.get("task_type")
    return {"selfmem.namespace": args[0].namespace, "selfmem.episode.id": result,
            "selfmem.task_type": str(task_type) if task_type is not None else "other"}  # fmt: skip


def step_attributes(args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> dict[str, Any]:
    return {
        "selfmem.namespace": args[0].namespace,
        "selfmem.episode.id": args[1] if len(args) > 1 else kwargs.get("episode_id"),
        "gen_ai.tool.name": getattr(result, "tool", None),
        "selfmem.step.success": getattr(result, "success", None),
        "selfmem.step.number": getattr(result, "step_number", None),
    }


def complete_attributes(
    args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> dict[str, Any]:
    outcome = getattr(result, "outcome", None)
    reward = getattr(result, "reward", None)
    return {
        "selfmem.namespace": args[0].namespace,
        "selfmem.episode.id": args[1] if len(args) > 1 else kwargs.get("episode_id"),
        "selfmem.outcome": outcome.status.value if outcome is not None else None,
        "selfmem.task_type": result.task_type.value if result is not None else None,
        "selfmem.reward": reward.total if reward is not None else None,
        "selfmem.step.count": len(result.steps) if result is not None else None,
    }


def retrieve_attributes(
    args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> dict[str, Any]:
    return {
        "selfmem.namespace": args[0].namespace,
        "selfmem.retrieval.limit": args[3] if len(args) > 3 else kwargs.get("limit", 5),
        "selfmem.retrieval.episodes": len(result.episodes) if result is not None else None,
        "selfmem.retrieval.patterns": len(result.patterns) if result is not None else None,
    }
