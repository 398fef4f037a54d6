"""Past episodes, learned patterns, heuristics and lessons as LangChain ``Document``s.

Every document has ``metadata["kind"]`` (``episode``, ``pattern``, ``heuristic`` or
``lesson``), ``metadata["id"]`` and ``metadata["score"]``; the rest depends on the kind.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.documents import Document

from selfmem import Item, ScoredEpisode, ScoredHeuristic, ScoredPattern

__all__ = ["episode_document", "heuristic_document", "lesson_document", "lesson_text",
           "pattern_document"]  # fmt: skip


def episode_document(scored: ScoredEpisode) -> Document:
    """A past episode: its task, outcome, tools and lessons."""
    episode = scored.episode
    outcome = episode.outcome.summary() if episode.outcome else "open"
    lines = [f"Task: {episode.task_description}", f"Outcome: {outcome}"]
    sequence = episode.tool_sequence()
    if sequence:
        lines.append(f"Tools: {sequence}")
    errors = [step for step in episode.steps if not step.success]
    if errors:
        lines.append(f"Failed step: {errors[-1].tool}: {errors[-1].error or ''}"[:400])
    if episode.reflection and episode.reflection.recommendations:
        lines.append("Lessons: " + "; ".join(episode.reflection.recommendations[:3]))
    metadata: dict[str, Any] = {
        "kind": "episode",
        "id": episode.id,
        "episode_id": episode.id,
        "score": scored.score,
        "signals": dict(scored.signals),
        "outcome": episode.outcome.status.value if episode.outcome else None,
        "reward": episode.reward.total if episode.reward else None,
        "task_type": str(episode.task_type),
        "domain": episode.context.domain,
        "namespace": episode.namespace,
        "end_time": episode.end_time.isoformat() if episode.end_time else None,
    }
    return Document(id=episode.id, page_content="\n".join(lines), metadata=metadata)


def pattern_document(scored: ScoredPattern) -> Document:
    """A learned pattern and its evidence."""
    pattern = scored.pattern
    metadata: dict[str, Any] = {
        "kind": "pattern",
        "id": pattern.id,
        "pattern_id": pattern.id,
        "pattern_kind": pattern.kind.value,
        "score": scored.score,
        "signals": dict(scored.signals),
        "confidence": pattern.confidence,
        "support": pattern.support,
        "successes": pattern.successes,
        "namespace": pattern.namespace,
        "episode_ids": list(pattern.episode_ids),
    }
    return Document(id=pattern.id, page_content=pattern.describe(), metadata=metadata)


def heuristic_document(scored: ScoredHeuristic) -> Document:
    """A learned rule (condition -> action) and its evidence."""
    heuristic = scored.heuristic
    metadata: dict[str, Any] = {
        "kind": "heuristic",
        "id": heuristic.id,
        "heuristic_id": heuristic.id,
        "heuristic_kind": heuristic.kind.value,
        "score": scored.score,
        "confidence": heuristic.confidence,
        "evidence": heuristic.evidence,
        "successes": heuristic.successes,
        "namespace": heuristic.namespace,
        "source_pattern_ids": list(heuristic.source_pattern_ids),
    }
    return Document(id=heuristic.id, page_content=heuristic.explain(), metadata=metadata)


def lesson_text(item: Item) -> str:
    """The text of a lesson item: its ``text`` field, else the whole value."""
    text = item.value.get("text")
    return text if isinstance(text, str) else json.dumps(item.value, ensure_ascii=False)


def lesson_document(item: Item) -> Document:
    """A lesson an agent (or you) wrote down: an item of the lessons namespace."""
    path = "/".join(item.namespace)
    identifier = f"lesson:{path}/{item.key}"
    metadata: dict[str, Any] = {
        "kind": "lesson",
        "id": identifier,
        "lesson_key": item.key,
        "namespace": path,
        "score": item.score or 0.0,
        "domain": item.value.get("domain"),
        "updated_at": item.updated_at.isoformat(),
    }
    return Document(id=identifier, page_content=f"Lesson: {lesson_text(item)}", metadata=metadata)
