"""HTML views of records: an episode as a timeline, patterns and heuristics with their
evidence, retrieval results with their signals, counts.

The same fragments serve the notebook (``Episode._repr_html_`` and friends) and the web
dashboard (:mod:`selfmem.ui`), which passes ``link`` functions so ids become links. Every
value that comes from a record is escaped: episode text is untrusted.

A list cannot carry a method, so a list of patterns or heuristics shows as HTML through
:func:`patterns_html` / :func:`heuristics_html`, or wrapped in :class:`PatternList`::

    from selfmem.records.html import PatternList
    PatternList(memory.list_patterns())      # renders as a table in Jupyter
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any, Protocol, TypeAlias

# The records are taken as ``Any``: they import this module for their ``_repr_html_``, so
# importing them here would make a cycle. The fields read are those of ``episodes.py`` and
# ``learned.py``.
Episode: TypeAlias = Any
ExecutionStep: TypeAlias = Any
Reflection: TypeAlias = Any
RewardScore: TypeAlias = Any
AnyPattern: TypeAlias = Any
Heuristic: TypeAlias = Any

__all__ = [
    "Link",
    "PatternList",
    "episode_html",
    "heuristics_html",
    "patterns_html",
    "retrieval_html",
    "signals_html",
    "stats_html",
    "steps_html",
]

#: Maps an id to the address of its page (the dashboard), or None for no links.
Link = Callable[[str], str] | None

_STYLE = (
    "<style>.selfmem-view table{border-collapse:collapse;margin:.3em 0}"
    ".selfmem-view td,.selfmem-view th{border:1px solid #ccc;padding:2px 6px;text-align:left;"
    "vertical-align:top}.selfmem-view .fail{color:#b00020}.selfmem-view .ok{color:#1b7f3b}"
    ".selfmem-view pre{white-space:pre-wrap;margin:0;max-width:60em}</style>"
)


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _ref(text: str, target: str, link: Link) -> str:
    return f'<a href="{_e(link(target))}">{_e(text)}</a>' if link else _e(text)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _json_short(value: Mapping[str, Any], limit: int = 400) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in value.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{_e(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _wrap(inner: str, standalone: bool) -> str:
    return f'{_STYLE}<div class="selfmem-view">{inner}</div>' if standalone else inner


def steps_html(steps: Sequence[ExecutionStep]) -> str:
    """The steps as a timeline: tool, arguments, result or error, latency, tokens."""
    if not steps:
        return "<p>No steps recorded.</p>"
    rows = []
    for step in steps:
        status = '<span class="ok">ok</span>' if step.success else '<span class="fail">error</span>'
        result = (
            f'<pre class="fail">{_e(step.error)}</pre>' if step.error
            else f"<pre>{_e(step.observation)}</pre>"
        )  # fmt: skip
        rows.append([
            _e(step.step_number), _e(step.timestamp.strftime("%H:%M:%S.%f")[:-3]),
            f"<code>{_e(step.tool)}</code>" + (f"<br>{_e(step.action)}" if step.action else ""),
            f"<pre>{_e(_json_short(step.parameters))}</pre>", status, result,
            _e(f"{step.latency_ms:.0f} ms"), _e(step.tokens if step.tokens is not None else ""),
        ])  # fmt: skip
    headers = ["#", "time", "tool", "arguments", "status", "result or error", "latency", "tokens"]
    return _table(headers, rows, "timeline")


def _reward_html(reward: RewardScore | None) -> str:
    if reward is None:
        return "<p>No reward yet (the episode is open).</p>"
    parts = [
        ("total", f"{reward.total:.3f}"), ("base", f"{reward.base:.3f}"),
        ("efficiency", f"{reward.efficiency:.3f}"),
        ("complexity bonus", f"{reward.complexity_bonus:.3f}"),
        ("quality multiplier", f"{reward.quality_multiplier:.3f}"),
        ("learning bonus", f"{reward.learning_bonus:.3f}"),
    ]  # fmt: skip
    table = _table(["component", "value"], [[_e(k), _e(v)] for k, v in parts], "reward")
    notes = "".join(f"<li>{_e(line)}</li>" for line in reward.explanation)
    return table + (f"<ul>{notes}</ul>" if notes else "")


def _reflection_html(reflection: Reflection | None) -> str:
    if reflection is None:
        return "<p>No reflection yet.</p>"
    sections = [
        ("What worked", reflection.what_worked), ("What failed", reflection.what_failed),
        ("Improvements", reflection.improvements), ("Insights", reflection.insights),
        ("Recommendations", reflection.recommendations),
    ]  # fmt: skip
    out = [
        f"<h4>{_e(title)}</h4><ul>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"
        for title, items in sections
        if items
    ]
    return "".join(out) + f"<p><small>by {_e(reflection.generated_by)}</small></p>"


def episode_html(
    episode: Episode,
    *,
    patterns: Sequence[AnyPattern] = (),
    link_pattern: Link = None,
    link_episode: Link = None,
    standalone: bool = True,
) -> str:
    """One episode: its task and outcome, the steps as a timeline, the reward components,
    the reflection, and (when given) the patterns it contributed to."""
    ctx = episode.context
    outcome = episode.outcome.summary() if episode.outcome else "open"
    css = "ok" if episode.outcome and episode.outcome.is_success else "fail"
    facts = [
        ("id", _e(episode.id)), ("namespace", _e(episode.namespace)),
        ("task type", _e(episode.task_type.value)), ("domain", _e(ctx.domain)),
        ("language", _e(ctx.language or "")), ("framework", _e(ctx.framework or "")),
        ("tags", _e(", ".join(ctx.tags))), ("started", _e(_time(episode.start_time))),
        ("ended", _e(_time(episode.end_time))),
        ("outcome", f'<span class="{css}">{_e(outcome)}</span>'),
    ]  # fmt: skip
    header = (
        f'<h3 class="task">{_e(episode.task_description)}</h3>'
        + _table(["field", "value"], [[_e(k), v] for k, v in facts], "facts")
    )
    inner = (
        header + "<h4>Timeline</h4>" + steps_html(episode.steps)
        + "<h4>Reward</h4>" + _reward_html(episode.reward)
        + "<h4>Reflection</h4>" + _reflection_html(episode.reflection)
    )  # fmt: skip
    if patterns:
        inner += "<h4>Patterns it contributed to</h4>" + patterns_html(
            patterns, link_pattern=link_pattern, link_episode=link_episode, standalone=False
        )
    return _wrap(inner, standalone)


def _evidence(ids: Sequence[str], link: Link, limit: int = 12) -> str:
    # ids are time-ordered (their heads are alike): the tail tells them apart
    shown = [_ref("…" + i[-8:] if len(i) > 9 else i, i, link) for i in ids[-limit:]]
    more = f" (+{len(ids) - limit} older)" if len(ids) > limit else ""
    return " ".join(shown) + more


def patterns_html(
    patterns: Sequence[AnyPattern],
    *,
    link_pattern: Link = None,
    link_episode: Link = None,
    standalone: bool = True,
    effectiveness: Mapping[str, float] | None = None,
) -> str:
    """Patterns with their evidence: support, successes, confidence, effectiveness (the
    confidence decayed by the age of its evidence: from ``effectiveness`` by id, as the
    memory's ``pattern_effectiveness`` gives it, else taken when the newest evidence of the
    patterns shown ended) and the episodes behind them."""
    if not patterns:
        return _wrap("<p>No patterns.</p>", standalone)
    now = max(p.last_seen for p in patterns)
    decayed = {p.id: p.effectiveness(now) for p in patterns} | dict(effectiveness or {})
    rows = [
        [
            _ref(p.kind.value.replace("_", " "), p.id, link_pattern),
            _e(p.describe()) + (' <span class="fail">(retired)</span>' if p.retired else ""),
            _e(p.support), _e(p.successes), _e(f"{p.confidence:.2f}"),
            _e(f"{decayed[p.id]:.2f}"), _e(_time(p.last_seen)),
            _evidence(p.episode_ids, link_episode),
        ]
        for p in patterns
    ]
    headers = ["kind", "pattern", "support", "successes", "confidence", "effectiveness",
               "last seen", "evidence episodes"]  # fmt: skip
    return _wrap(_table(headers, rows, "patterns"), standalone)


def heuristics_html(
    heuristics: Sequence[Heuristic],
    *,
    link_pattern: Link = None,
    link_episode: Link = None,
    standalone: bool = True,
) -> str:
    """Heuristics as rules with their evidence and the patterns they come from."""
    if not heuristics:
        return _wrap("<p>No heuristics.</p>", standalone)
    rows = [
        [
            _e(h.kind.value), _e(f"{h.condition}, {h.action}"), _e(h.evidence),
            _e(h.successes), _e(f"{h.confidence:.2f}"),
            " ".join(_ref(p[:8], p, link_pattern) for p in h.source_pattern_ids),
            _evidence(h.episode_ids, link_episode),
        ]
        for h in heuristics
    ]
    headers = ["kind", "rule", "evidence", "successes", "confidence", "from patterns",
               "evidence episodes"]  # fmt: skip
    return _wrap(_table(headers, rows, "heuristics"), standalone)


def signals_html(signals: Mapping[str, float]) -> str:
    """The signals behind a score, as ``name value`` chips."""
    return " ".join(
        f'<span class="signal" title="{_e(name)}">{_e(name)} {value:.2f}</span>'
        for name, value in signals.items()
    )


class _ScoredEpisode(Protocol):
    @property
    def episode(self) -> Episode: ...
    @property
    def score(self) -> float: ...
    @property
    def signals(self) -> dict[str, float]: ...


class _ScoredPattern(Protocol):
    @property
    def pattern(self) -> AnyPattern: ...
    @property
    def score(self) -> float: ...
    @property
    def signals(self) -> dict[str, float]: ...


class _ScoredHeuristic(Protocol):
    @property
    def heuristic(self) -> Heuristic: ...
    @property
    def score(self) -> float: ...


def retrieval_html(
    query: str,
    episodes: Sequence[_ScoredEpisode],
    patterns: Sequence[_ScoredPattern],
    heuristics: Sequence[_ScoredHeuristic],
    prompt: str,
    *,
    link_episode: Link = None,
    link_pattern: Link = None,
    standalone: bool = True,
) -> str:
    """What retrieval returned for ``query``: each result with its score and signals, and
    the rendered prompt text."""
    episode_rows = [
        [
            _e(f"{s.score:.3f}"),
            _ref(s.episode.task_description[:160], s.episode.id, link_episode),
            _e(s.episode.outcome.summary() if s.episode.outcome else "open"),
            _e(s.episode.tool_sequence()), signals_html(s.signals),
        ]
        for s in episodes
    ]
    pattern_rows = [
        [_e(f"{s.score:.3f}"), _ref(s.pattern.describe(), s.pattern.id, link_pattern),
         signals_html(s.signals)]
        for s in patterns
    ]
    rule_rows = [[_e(f"{s.score:.3f}"), _e(s.heuristic.explain())] for s in heuristics]
    inner = (
        f"<h4>Query</h4><p>{_e(query)}</p>"
        f"<h4>Episodes ({len(episodes)})</h4>"
        + _table(["score", "task", "outcome", "tools", "signals"], episode_rows, "episodes")
        + f"<h4>Patterns ({len(patterns)})</h4>"
        + _table(["score", "pattern", "signals"], pattern_rows, "patterns")
        + f"<h4>Heuristics ({len(heuristics)})</h4>"
        + _table(["score", "rule"], rule_rows, "heuristics")
        + f'<h4>Prompt text</h4><pre class="prompt">{_e(prompt or "(nothing relevant)")}</pre>'
    )
    return _wrap(inner, standalone)


def stats_html(counts: Mapping[str, object], *, standalone: bool = True) -> str:
    """Counts as a two-column table."""
    rows = [[_e(name.replace("_", " ")), _e(value)] for name, value in counts.items()]
    return _wrap(_table(["", "count"], rows, "stats"), standalone)


class PatternList(list[Any]):
    """A list of patterns or heuristics that renders as a table in Jupyter."""

    def _repr_html_(self) -> str:
        if self and all(hasattr(item, "condition") for item in self):  # heuristics
            return heuristics_html(self)
        return patterns_html(self)
