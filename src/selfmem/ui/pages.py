"""The dashboard's pages. Handlers are plain functions (Starlette runs them in a worker
thread, the memory is thread-safe) that read the memory through its public API and render
a template."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..config import MAX_PAGE
from ..errors import InvalidInputError, NotFoundError
from ..memory import SelfLearningMemory
from ..records import AnyPattern, Episode, OutcomeStatus, TaskType
from ..records.html import episode_html, heuristics_html, patterns_html, retrieval_html
from .charts import line_chart
from .views import (
    PATTERNS_PAGE,
    SIGNALS,
    ChartCache,
    EpisodeFilters,
    LatencyLog,
    int_param,
    learning_series,
    page_cursor,
    patterns_series,
    store_size,
)

__all__ = ["Dashboard"]


@dataclass
class Dashboard:
    """The state the pages share: the memory, the templates, what is allowed."""

    memory: SelfLearningMemory
    templates: Environment
    allow_writes: bool = False
    location: str | None = None
    latency: LatencyLog = field(default_factory=LatencyLog)
    charts: ChartCache = field(default_factory=ChartCache)

    # -- helpers ----------------------------------------------------------------------------

    def scoped(self, request: Request) -> SelfLearningMemory:
        ns = request.query_params.get("ns") or self.memory.namespace
        return self.memory if ns == self.memory.namespace else self.memory.scoped(ns)

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        ns = request.query_params.get("ns") or self.memory.namespace
        links = _Links(ns if ns != self.memory.namespace else None)
        page = self.templates.get_template(name).render(
            ns=ns, links=links, allow_writes=self.allow_writes, path=request.url.path, **values
        )
        return HTMLResponse(page, status_code=status)

    # -- pages ------------------------------------------------------------------------------

    def episodes(self, request: Request) -> Response:
        memory = self.scoped(request)
        filters = EpisodeFilters.parse(request.query_params)
        found: list[Episode] = []
        scored: list[Any] = []
        cursor = None
        if filters.q:
            scored = filters.search(memory, self.latency)
        else:
            found = filters.page(memory)
            cursor = page_cursor(filters, found)
        next_query = (
            filters.query_string(before=cursor[0], skip=cursor[1]) if cursor else None
        )
        return self.render(
            request, "episodes.html", title="Episodes", filters=filters, episodes=found,
            scored=scored, next_query=next_query, first_query=filters.query_string(),
            outcomes=[o.value for o in OutcomeStatus], task_types=[t.value for t in TaskType],
            paged=filters.before is not None,
        )  # fmt: skip

    def episode(self, request: Request) -> Response:
        memory = self.scoped(request)
        episode = memory.get_episode(request.path_params["episode_id"])
        contributed = memory.list_patterns(include_unserved=True, limit=MAX_PAGE,
                                           episode_id=episode.id)  # fmt: skip
        links = _Links(self._ns_param(request))
        body = episode_html(
            episode, patterns=contributed, link_pattern=links.pattern,
            link_episode=links.episode, standalone=False,
        )  # fmt: skip
        # the feedback form (writes only) offers the served patterns
        served = memory.list_patterns(limit=MAX_PAGE) if self.allow_writes else []
        pattern_ids = [p.id for p in served]
        return self.render(request, "episode.html", title=episode.task_description[:80],
                           episode=episode, body=Markup(body), pattern_ids=pattern_ids)  # fmt: skip

    def patterns(self, request: Request) -> Response:
        memory = self.scoped(request)
        params = request.query_params
        unserved = params.get("all") == "1"
        offset = int_param(params.get("offset"), 0, "offset", 0, 10**9)
        # one page (and one more pattern, to know whether there is a next page)
        found = memory.list_patterns(include_unserved=unserved, limit=PATTERNS_PAGE + 1,
                                     offset=offset)  # fmt: skip
        more, found = len(found) > PATTERNS_PAGE, found[:PATTERNS_PAGE]
        rules = memory.list_heuristics(limit=MAX_PAGE)
        links = _Links(self._ns_param(request))
        decayed = memory.pattern_effectiveness([p.id for p in found])
        table = patterns_html(found, link_pattern=links.pattern, link_episode=links.episode,
                              effectiveness=decayed, standalone=False)  # fmt: skip
        rule_table = heuristics_html(rules, link_pattern=links.pattern,
                                     link_episode=links.episode, standalone=False)  # fmt: skip
        pages = _pattern_pages(links, unserved, offset, more)
        return self.render(request, "patterns.html", title="Patterns and heuristics",
                           table=Markup(table), rules=Markup(rule_table), unserved=unserved,
                           first=offset + 1, last=offset + len(found), pages=pages,
                           rule_count=len(rules))  # fmt: skip

    def pattern(self, request: Request) -> Response:
        memory = self.scoped(request)
        pattern = memory.get_pattern(request.path_params["pattern_id"])
        evidence: list[tuple[str, Episode | None]] = []
        for episode_id in reversed(pattern.episode_ids):
            try:
                evidence.append((episode_id, memory.get_episode(episode_id)))
            except NotFoundError:
                evidence.append((episode_id, None))
        rules = [h for h in memory.list_heuristics(limit=MAX_PAGE)
                 if pattern.id in h.source_pattern_ids]  # fmt: skip
        links = _Links(self._ns_param(request))
        rule_table = heuristics_html(rules, link_pattern=links.pattern,
                                     link_episode=links.episode, standalone=False)  # fmt: skip
        return self.render(request, "pattern.html", title=pattern.describe()[:80],
                           pattern=pattern, evidence=evidence, rules=Markup(rule_table),
                           fields=_pattern_fields(pattern, memory.pattern_effectiveness(
                               [pattern.id]).get(pattern.id, 0.0)))  # fmt: skip

    def learning(self, request: Request) -> Response:
        memory = self.scoped(request)
        (charts, count), computed = self.charts.get(memory.namespace, lambda: _charts(memory))
        return self.render(request, "learning.html", title="Learning over time",
                           charts=[Markup(c) for c in charts], count=count,
                           computed=datetime.fromtimestamp(computed, UTC),
                           max_age=self.charts.max_age_s)  # fmt: skip

    def ask(self, request: Request) -> Response:
        memory = self.scoped(request)
        params = request.query_params
        task = (params.get("task") or "").strip()
        context = {k: params[k].strip() for k in ("domain", "language", "framework")
                   if params.get(k, "").strip()}  # fmt: skip
        tags = [t for t in (params.get("tags") or "").split(",") if t.strip()]
        if tags:
            context["tags"] = tags  # type: ignore[assignment]
        task_type = params.get("task_type") or None
        answer = recommended = None
        if task:
            links = _Links(self._ns_param(request))
            with self.latency.measure():
                result = memory.retrieve_relevant_context(
                    task, context or None, limit=5, task_type=task_type)  # fmt: skip
            with self.latency.measure():
                recommended = memory.recommend_patterns(task, context or None, 5,
                                                        task_type=task_type)  # fmt: skip
            answer = Markup(retrieval_html(
                task, result.episodes, result.patterns, result.heuristics, result.render(),
                link_episode=links.episode, link_pattern=links.pattern, standalone=False,
            ))  # fmt: skip
        return self.render(request, "ask.html", title="Ask", task=task, params=params,
                           answer=answer, recommended=recommended, signals=SIGNALS,
                           task_types=[t.value for t in TaskType])  # fmt: skip

    def health(self, request: Request) -> Response:
        memory = self.scoped(request)
        stats = memory.stats()
        return self.render(
            request, "health.html", title="Health", stats=dataclasses.asdict(stats),
            size=store_size(self.location), location=self.location,
            failures=memory.learning_failures, latency=self.latency.percentiles(),
            lookups=memory.cache_lookups(),
        )  # fmt: skip

    # -- writes (only with allow_writes) ----------------------------------------------------

    async def delete(self, request: Request) -> Response:
        self._check_writes()
        from starlette.concurrency import run_in_threadpool

        memory = self.scoped(request)
        await run_in_threadpool(memory.delete_episode, request.path_params["episode_id"])
        return RedirectResponse(_Links(self._ns_param(request)).home(), status_code=303)

    async def feedback(self, request: Request) -> Response:
        self._check_writes()
        from starlette.concurrency import run_in_threadpool

        form = await request.form()
        ids = [str(v) for v in form.getlist("pattern_id") if str(v)]
        if not ids:
            raise InvalidInputError("choose at least one pattern", field="pattern_id")
        memory = self.scoped(request)
        episode_id = request.path_params["episode_id"]
        await run_in_threadpool(memory.record_feedback, episode_id, ids)
        return RedirectResponse(_Links(self._ns_param(request)).episode(episode_id),
                                status_code=303)  # fmt: skip

    def _check_writes(self) -> None:
        if not self.allow_writes:
            raise PermissionError("this dashboard is read-only (start it with --allow-writes)")

    def _ns_param(self, request: Request) -> str | None:
        ns = request.query_params.get("ns")
        return ns if ns and ns != self.memory.namespace else None


def _charts(memory: SelfLearningMemory) -> tuple[list[str], int]:
    """The learning page's three charts (SVG) and how many episodes they cover."""
    rates, rewards, count = learning_series(memory)
    charts = [
        line_chart("Success rate per task family", rates, x_label="episode",
                   y_label="success rate", y_max=1.0),
        line_chart("Mean reward per task family", rewards, x_label="episode", y_label="reward"),
        line_chart("Patterns discovered (served now)", patterns_series(memory),
                   x_label="days since the first pattern", y_label="patterns"),
    ]  # fmt: skip
    return charts, count


def _pattern_pages(links: _Links, unserved: bool, offset: int, more: bool) -> dict[str, str | None]:
    """The addresses of the previous and next pages of the patterns list (None at an end)."""

    def at(start: int) -> str:
        return links.page("/patterns", {**({"all": "1"} if unserved else {}), "offset": str(start)})

    return {"previous": at(max(0, offset - PATTERNS_PAGE)) if offset else None,
            "next": at(offset + PATTERNS_PAGE) if more else None}  # fmt: skip


def _pattern_fields(pattern: AnyPattern, effectiveness: float) -> list[tuple[str, str]]:
    return [
        ("kind", pattern.kind.value), ("id", pattern.id),
        ("applies to", pattern.context.describe()),
        ("support", str(pattern.support)), ("successes", str(pattern.successes)),
        ("confidence", f"{pattern.confidence:.3f}"),
        ("effectiveness (decayed)", f"{effectiveness:.3f}"),
        ("feedback", f"{pattern.feedback_successes} of {pattern.feedback_uses} uses succeeded"),
        ("first seen", pattern.first_seen.isoformat(timespec="seconds")),
        ("last seen", pattern.last_seen.isoformat(timespec="seconds")),
        ("retired", "yes" if pattern.retired else "no"),
    ]  # fmt: skip


class _Links:
    """Addresses of pages, carrying the namespace when it is not the default one."""

    def __init__(self, ns: str | None) -> None:
        from urllib.parse import quote, urlencode

        self._ns = ns
        self._suffix = "?" + urlencode({"ns": ns}) if ns else ""
        self._quote: Callable[[str], str] = lambda s: quote(s, safe="")

    def home(self) -> str:
        return "/" + self._suffix

    def episode(self, episode_id: str) -> str:
        return f"/episodes/{self._quote(episode_id)}{self._suffix}"

    def pattern(self, pattern_id: str) -> str:
        return f"/patterns/{self._quote(pattern_id)}{self._suffix}"

    def action(self, episode_id: str, what: str) -> str:
        """Where an episode's write form posts (``delete``, ``feedback``)."""
        return f"/episodes/{self._quote(episode_id)}/{what}{self._suffix}"

    def page(self, path: str, query: dict[str, str] | None = None) -> str:
        from urllib.parse import urlencode

        values = dict(query or {})
        if self._ns:
            values["ns"] = self._ns
        return path + ("?" + urlencode(values) if values else "")
