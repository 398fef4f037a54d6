"""What the pages show, gathered through the public API: episode filters and cursors, the
learning series, store size and retrieval latency."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..config import MAX_PAGE, is_remote
from ..errors import InvalidInputError
from ..memory import SelfLearningMemory
from ..records import Episode, OutcomeStatus, TaskType

__all__ = [
    "SIGNALS",
    "ChartCache",
    "EpisodeFilters",
    "LatencyLog",
    "Series",
    "learning_series",
    "page_cursor",
    "patterns_series",
    "store_size",
    "int_param",
    "PATTERNS_PAGE",
]

#: What each ranking signal means, shown beside the ask results.
SIGNALS = {
    "lexical": "BM25 over the task and step words, relative to the query's best match",
    "semantic": "cosine similarity of the embeddings (with an embedder)",
    "context": "fit of domain, language, framework, task type and tags the query states",
    "outcome": "the episode's reward, capped at 1 (failures score 0)",
    "recency": "halves every recency half-life",
    "superseded": "the procedure this run followed has since stopped working",
    "new_way": "a run since its task family's procedure changed, standing in for an older one",
    "failed_when_followed": "the latest runs that followed this run's plan failed",
    "effectiveness": "the pattern's confidence decayed by the age of its newest evidence",
    "relevance": "similarity of the task to the pattern's task family, or word overlap",
    "kind_prior": "how directly usable the kind is (tool sequences first)",
    "neighbours": "how many similar successful runs the sequence was read from",
}

_MAX_LIMIT = 200
_EVERY = 10**9  # "all of them" for list_patterns
#: Patterns per page of the patterns list.
PATTERNS_PAGE = 100


def _parse_time(text: str | None, field_name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        message = f"{field_name} is not an ISO date or time"
        raise InvalidInputError(message, field=field_name) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def int_param(text: str | None, default: int, field_name: str, low: int, high: int) -> int:
    """An integer query parameter within ``low`` and ``high`` (``default`` when absent)."""
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidInputError(f"{field_name} must be an integer", field=field_name) from None
    if not low <= value <= high:
        raise InvalidInputError(f"{field_name} must be between {low} and {high}", field=field_name)
    return value


def _choice(text: str | None, choices: list[str], field_name: str) -> str | None:
    if not text:
        return None
    if text not in choices:
        raise InvalidInputError(f"unknown {field_name} {text!r}", field=field_name)
    return text


def _task_type(text: str | None) -> str | None:
    """A known or custom task type (the store holds any); the shape is checked here."""
    if not text or not text.strip():
        return None
    try:
        return TaskType(text.strip()).value
    except ValueError:
        raise InvalidInputError(
            f"invalid task_type {text[:80]!r}: lowercase letters, digits, '_' or '-', "
            "starting with a letter",
            field="task_type",
        ) from None


@dataclass(frozen=True)
class EpisodeFilters:
    """The episode list's query string: filters, full-text search and a cursor.

    The cursor is the start time of the last episode shown (``before``) and how many shown
    episodes started at exactly that time (``skip``): the next page asks for episodes started
    before it (an indexed range scan), so paging stays fast however deep it goes.
    """

    outcome: str | None = None
    task_type: str | None = None
    domain: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""
    limit: int = 50
    before: datetime | None = None
    skip: int = 0

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> EpisodeFilters:
        return cls(
            outcome=_choice(params.get("outcome"), [o.value for o in OutcomeStatus], "outcome"),
            task_type=_task_type(params.get("task_type")),
            domain=params.get("domain") or None,
            since=_parse_time(params.get("since"), "since"),
            until=_parse_time(params.get("until"), "until"),
            q=(params.get("q") or "").strip(),
            limit=int_param(params.get("limit"), 50, "limit", 1, _MAX_LIMIT),
            before=_parse_time(params.get("before"), "before"),
            skip=int_param(params.get("skip"), 0, "skip", 0, MAX_PAGE),
        )

    def query_string(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters (cursor left out unless given in ``changes``)."""
        values = {
            "outcome": self.outcome, "task_type": self.task_type, "domain": self.domain,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "q": self.q or None, "limit": str(self.limit) if self.limit != 50 else None,
        }  # fmt: skip
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def page(self, memory: SelfLearningMemory) -> list[Episode]:
        """One page of episodes, newest first (no steps: the list does not show them)."""
        until = self.until
        if self.before is not None:
            bound = self.before + timedelta(microseconds=1)  # ties at ``before`` are skipped
            until = bound if until is None else min(until, bound)
        return memory.list_episodes(
            outcome=self.outcome, task_type=self.task_type, domain=self.domain,
            started_after=self.since, started_before=until, limit=self.limit,
            offset=self.skip if self.before is not None else 0, include_steps=False,
        )  # fmt: skip

    def search(self, memory: SelfLearningMemory, latency: LatencyLog) -> list[Any]:
        """Full-text search: the retrieval ranking (completed episodes only)."""
        with latency.measure():
            result = memory.retrieve_relevant_context(
                self.q, limit=min(self.limit, 100), task_type=self.task_type,
                domain=self.domain, since=self.since, until=self.until,
            )  # fmt: skip
        wanted = self.outcome
        return [
            s for s in result.episodes
            if wanted is None or (s.episode.outcome and s.episode.outcome.status.value == wanted)
        ]  # fmt: skip


def page_cursor(filters: EpisodeFilters, page: list[Episode]) -> tuple[str, int] | None:
    """The cursor of the page after ``page``, or None when it was the last one."""
    if len(page) < filters.limit:
        return None
    last = page[-1].start_time
    ties = sum(1 for episode in page if episode.start_time == last)
    if filters.before is not None and last == filters.before:
        ties += filters.skip  # the whole page sits on the same instant as the previous cursor
    return last.isoformat(), ties


@dataclass
class LatencyLog:
    """Wall-clock times of the retrievals this process ran, for percentiles."""

    size: int = 1000
    _times: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def measure(self) -> _Timer:
        return _Timer(self)

    def add(self, ms: float) -> None:
        with self._lock:
            self._times.append(ms)
            while len(self._times) > self.size:
                self._times.popleft()

    def percentiles(self) -> dict[str, float]:
        with self._lock:
            times = sorted(self._times)
        if not times:
            return {}
        def at(q: float) -> float:
            return times[min(len(times) - 1, int(q * len(times)))]
        return {"count": float(len(times)), "p50": at(0.5), "p95": at(0.95), "p99": at(0.99),
                "max": times[-1]}  # fmt: skip


class _Timer:
    def __init__(self, log: LatencyLog) -> None:
        self._log = log
        self._start = 0.0

    def __enter__(self) -> None:
        import time

        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        import time

        self._log.add((time.perf_counter() - self._start) * 1000.0)


@dataclass
class ChartCache:
    """What the learning page draws, per namespace, computed at most every ``max_age_s``.

    Its series read the latest 2,000 completed episodes and every pattern (about 0.2 s at
    100,000 episodes), and they move slowly: a page view within ``max_age_s`` of the last
    computation reuses it, and the page says how old it is.
    """

    max_age_s: float = 30.0
    _entries: dict[str, tuple[float, float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, namespace: str, compute: Callable[[], Any]) -> tuple[Any, float]:
        """The value for ``namespace`` and the wall-clock time it was computed at."""
        import time

        with self._lock:
            entry = self._entries.get(namespace)
        if entry is not None and time.monotonic() - entry[0] < self.max_age_s:
            return entry[2], entry[1]
        value = compute()
        with self._lock:
            self._entries[namespace] = (time.monotonic(), time.time(), value)
        return value, time.time()


@dataclass
class Series:
    """One line of a chart: a name and its (x, y) points."""

    name: str
    points: list[tuple[float, float]]


def _recent_completed(memory: SelfLearningMemory, most: int) -> list[Episode]:
    found: list[Episode] = []
    while len(found) < most:
        page = memory.list_episodes(
            completed_only=True, include_steps=False, limit=min(MAX_PAGE, most - len(found)),
            after=found[-1] if found else None,
        )  # fmt: skip
        found += page
        if len(page) < MAX_PAGE:
            break
    return sorted(found, key=lambda e: e.start_time)


def learning_series(
    memory: SelfLearningMemory, most: int = 2000, buckets: int = 12
) -> tuple[list[Series], list[Series], int]:
    """Success rate and mean reward per task family (task type) over the latest ``most``
    completed episodes, each family's runs split into up to ``buckets`` windows in order.
    x is the position of a window's last episode in the whole sequence."""
    episodes = _recent_completed(memory, most)
    position = {e.id: i + 1 for i, e in enumerate(episodes)}
    families: dict[str, list[Episode]] = {}
    for episode in episodes:
        if episode.outcome is not None and episode.outcome.is_abandoned:
            continue  # no verdict: in no success rate or mean reward
        families.setdefault(episode.task_type.value, []).append(episode)
    rates, rewards = [], []
    for name, runs in sorted(families.items()):
        size = max(1, -(-len(runs) // buckets))
        rate_points, reward_points = [], []
        for start in range(0, len(runs), size):
            window = runs[start : start + size]
            x = float(position[window[-1].id])
            ok = sum(1 for e in window if e.outcome is not None and e.outcome.is_success)
            rate_points.append((x, ok / len(window)))
            total = sum(e.reward.total if e.reward else 0.0 for e in window)
            reward_points.append((x, total / len(window)))
        rates.append(Series(name, rate_points))
        rewards.append(Series(name, reward_points))
    return rates, rewards, len(episodes)


def patterns_series(memory: SelfLearningMemory) -> list[Series]:
    """The patterns served now, counted by when each was first seen (x in days since the
    first one): all of them, and per kind. Unserved candidates are left out: they are most
    of the patterns of a large store (2,187 of 2,432 at 100,000 episodes), and reading them
    all would cost the page more than everything else on it."""
    patterns = memory.list_patterns(limit=_EVERY)
    if not patterns:
        return []
    ordered = sorted(patterns, key=lambda p: p.first_seen)
    origin = ordered[0].first_seen
    lines: dict[str, list[tuple[float, float]]] = {"served patterns": []}
    for pattern in ordered:
        days = (pattern.first_seen - origin).total_seconds() / 86_400
        for name in ("served patterns", pattern.kind.value.replace("_", " ")):
            points = lines.setdefault(name, [])
            points.append((days, float(len(points) + 1)))
    return [Series(name, points) for name, points in lines.items()]


def store_size(location: str | None) -> int | None:
    """Bytes of a local store directory (None for a server or an unknown location)."""
    if not location or is_remote(location):
        return None
    root = Path(location)
    if not root.is_dir():
        return None
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
