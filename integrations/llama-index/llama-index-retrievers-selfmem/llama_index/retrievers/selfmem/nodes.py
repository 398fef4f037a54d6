"""Turning a selfmem ``RetrievalResult`` into LlamaIndex nodes.

Each retrieved item becomes a ``TextNode`` with a stable id (``selfmem:<kind>:<id>``), a
short prompt-ready text, and flat metadata: what it is (``kind``), where it comes from
(``episode_id`` / ``pattern_id`` / ``heuristic_id``) and why it was retrieved (``why``, plus
each ranking signal as ``signal_<name>``). Only ``kind`` and ``outcome`` are shown to the
LLM; the rest is for the application (tables, feedback, filtering).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from llama_index.core.schema import NodeWithScore, TextNode

from selfmem import (
    Episode,
    Item,
    RetrievalResult,
    ScoredEpisode,
    ScoredHeuristic,
    ScoredPattern,
)
from selfmem.memory.options import Kind

__all__ = [
    "ItemKind",
    "episode_node",
    "heuristic_node",
    "lesson_node",
    "pattern_node",
    "result_to_nodes",
]

#: The kinds of node (``include`` also takes their plurals).
ItemKind = Kind
SOURCE = "selfmem"
_LLM_VISIBLE = frozenset({"kind", "outcome"})
_MAX_TEXT = 300


def _tools(episode: Episode) -> str:
    """The episode's tool calls in order, consecutive repeats collapsed (``a -> b x2``)."""
    parts: list[str] = []
    previous, count = "", 0
    for step in episode.steps:
        if step.tool == previous:
            count += 1
            continue
        if previous:
            parts.append(previous if count == 1 else f"{previous} x{count}")
        previous, count = step.tool, 1
    if previous:
        parts.append(previous if count == 1 else f"{previous} x{count}")
    return " -> ".join(parts)


def _node(node_id: str, text: str, metadata: dict[str, Any], score: float) -> NodeWithScore:
    hidden = [key for key in metadata if key not in _LLM_VISIBLE]
    node = TextNode(
        id_=node_id,
        text=text,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=score)


def episode_node(scored: ScoredEpisode) -> NodeWithScore:
    """A past episode: the task, how it ended, the tools it used, what it taught."""
    episode = scored.episode
    outcome = episode.outcome.summary() if episode.outcome else "open"
    tools = _tools(episode)
    lines = [
        f"Past task: {episode.task_description[:_MAX_TEXT]}",
        f"Outcome: {outcome[:_MAX_TEXT]}",
    ]
    if tools:
        lines.append(f"Tools used: {tools}")
    errors = [step for step in episode.steps if not step.success]
    if errors:
        last = errors[-1]
        lines.append(f"Error seen: {last.tool}: {(last.error or '')[:_MAX_TEXT]}")
    if episode.reflection and episode.reflection.recommendations:
        lines.append("Lesson: " + " ".join(episode.reflection.recommendations)[:_MAX_TEXT])
    metadata: dict[str, Any] = {
        "source": SOURCE,
        "kind": "episode",
        "episode_id": episode.id,
        "task_description": episode.task_description[:_MAX_TEXT],
        "task_type": str(episode.task_type),
        "domain": episode.context.domain,
        "outcome": episode.outcome.status.value if episode.outcome else "open",
        "reward": episode.reward.total if episode.reward else None,
        "tools": tools,
        "why": scored.explain(),
    }
    metadata.update({f"signal_{name}": value for name, value in scored.signals.items()})
    return _node(f"{SOURCE}:episode:{episode.id}", "\n".join(lines), metadata, scored.score)


def pattern_node(scored: ScoredPattern) -> NodeWithScore:
    """A learned pattern (tool sequence, decision point, error recovery, context effect)."""
    pattern = scored.pattern
    metadata: dict[str, Any] = {
        "source": SOURCE,
        "kind": "pattern",
        "pattern_id": pattern.id,
        "pattern_kind": pattern.kind.value,
        "support": pattern.support,
        "confidence": round(pattern.confidence, 4),
        "applies_to": pattern.context.describe(),
        "why": scored.explain(),
    }
    metadata.update({f"signal_{name}": value for name, value in scored.signals.items()})
    text = f"Learned pattern ({pattern.kind.value.replace('_', ' ')}): {pattern.describe()}"
    return _node(f"{SOURCE}:pattern:{pattern.id}", text, metadata, scored.score)


def heuristic_node(scored: ScoredHeuristic) -> NodeWithScore:
    """A learned condition -> action rule with its evidence."""
    rule = scored.heuristic
    metadata: dict[str, Any] = {
        "source": SOURCE,
        "kind": "heuristic",
        "heuristic_id": rule.id,
        "heuristic_kind": rule.kind.value,
        "evidence": rule.evidence,
        "confidence": round(rule.confidence, 4),
        "pattern_ids": ",".join(rule.source_pattern_ids),
        "why": f"score {scored.score:.3f}: derived from a pattern that fits this query",
    }
    return _node(
        f"{SOURCE}:heuristic:{rule.id}", f"Learned rule: {rule.explain()}", metadata, scored.score
    )


def lesson_text(item: Item) -> str:
    """The text of a lesson item: its ``text`` field, else the whole value."""
    text = item.value.get("text")
    return text if isinstance(text, str) else json.dumps(item.value, ensure_ascii=False)


def lesson_node(item: Item) -> NodeWithScore:
    """A lesson an agent (or you) wrote down: an item of the lessons namespace."""
    path = "/".join(item.namespace)
    metadata: dict[str, Any] = {
        "source": SOURCE,
        "kind": "lesson",
        "lesson_key": item.key,
        "namespace": path,
        "domain": item.value.get("domain"),
        "why": f"score {item.score or 0.0:.3f}: the lesson matches the query",
    }
    text = f"Lesson: {lesson_text(item)[:_MAX_TEXT * 4]}"
    return _node(f"{SOURCE}:lesson:{path}/{item.key}", text, metadata, item.score or 0.0)


def result_to_nodes(
    result: RetrievalResult, include: Iterable[ItemKind], lessons: Sequence[Item] = ()
) -> list[NodeWithScore]:
    """Nodes for the wanted parts of a result: episodes, then patterns, then heuristics,
    then lessons."""
    wanted = set(include)
    nodes: list[NodeWithScore] = []
    if "episode" in wanted:
        nodes.extend(episode_node(scored) for scored in result.episodes)
    if "pattern" in wanted:
        nodes.extend(pattern_node(scored) for scored in result.patterns)
    if "heuristic" in wanted:
        nodes.extend(heuristic_node(scored) for scored in result.heuristics)
    if "lesson" in wanted:
        nodes.extend(lesson_node(item) for item in lessons)
    return nodes
