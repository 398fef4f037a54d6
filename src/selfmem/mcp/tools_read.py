"""The tools that only read: retrieval, patterns, episodes and stats."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ..memory import SelfLearningMemory
from ..records.episodes import Episode, OutcomeStatus, TaskType
from ..records.learned import PatternKind
from .convert import context_result, heuristic_out, pattern_out, scored_pattern_out, tool_errors
from .schemas import (
    ContextArg,
    ContextResult,
    EpisodeId,
    EpisodeList,
    EpisodeSummary,
    Limit,
    PatternList,
    Recommendations,
    RecoveryOut,
    StatsOut,
    Status,
    TaskText,
)

__all__ = ["READ_TOOLS", "register_read_tools"]

READ_TOOLS = ("retrieve_context", "search_patterns", "recommend_patterns", "find_recovery",
              "list_episodes", "get_episode", "memory_stats")  # fmt: skip

_READS = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
_Context = Annotated[
    ContextArg | None, Field(description="The new task's context; improves the ranking.")
]
_TaskType = Annotated[TaskType | None, Field(description="Only this kind of task.")]
_PAGE = 1_000


def _matches(words: list[str], text: str) -> bool:
    return all(word in text for word in words)


def register_read_tools(server: MCPServer, memory: SelfLearningMemory) -> None:
    """Add the seven reading tools, bound to ``memory``."""

    def retrieve_context(
        task_description: TaskText,
        context: _Context = None,
        task_type: _TaskType = None,
        limit: Limit = 5,
        success_only: Annotated[bool, Field(description="Only successful episodes.")] = False,
        max_tokens: Annotated[
            int, Field(ge=50, le=8_000, description="Budget of the rendered text, in tokens.")
        ] = 400,
    ) -> Annotated[CallToolResult, ContextResult]:
        """Before a task: past episodes, learned patterns and rules relevant to it. The
        text is prompt-ready (what worked, what to avoid, a suggested tool sequence); the
        structured result has scores, ids and pattern_ids for record_feedback."""
        ctx = context.model_dump() if context is not None else None
        with tool_errors():
            result = memory.retrieve_relevant_context(
                task_description, ctx, limit, task_type=task_type, success_only=success_only
            )
        structured = context_result(result, max_tokens)
        return CallToolResult(
            content=[TextContent(type="text", text=structured.rendered)],
            structured_content=structured.model_dump(mode="json"),
        )

    def search_patterns(
        query: Annotated[
            str, Field(max_length=500, description="Words the pattern must mention (any case).")
        ] = "",
        kind: Annotated[PatternKind | None, Field(description="Only this kind.")] = None,
        include_unserved: Annotated[
            bool, Field(description="Also patterns below the serving thresholds.")
        ] = False,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many.")] = 20,
    ) -> PatternList:
        """Learned patterns (tool sequences, decision points, error recoveries, context
        effects), most effective first, optionally filtered by words and kind."""
        words = query.lower().split()
        with tool_errors():
            found = memory.list_patterns(kind, include_unserved=include_unserved, limit=_PAGE)
        hits = [p for p in found if _matches(words, f"{p.describe()} {p.key}".lower())]
        return PatternList(patterns=[pattern_out(p) for p in hits[:limit]])

    def recommend_patterns(
        task_description: TaskText,
        context: _Context = None,
        task_type: _TaskType = None,
        limit: Limit = 5,
        include_partial: Annotated[bool, Field(description=(
            "When no similar run has succeeded yet, offer how far the most similar runs got "
            "(the steps that worked in them, signal 'partial'): a place to start from, not a "
            "way known to work. Not offered once runs stopped where it ends."))] = True,
    ) -> Recommendations:
        """What to try for a task: learned patterns ranked by effectiveness and fit, each
        with the rule (heuristic) it implies."""
        ctx = context.model_dump() if context is not None else None
        with tool_errors():
            ranked = memory.recommend_patterns(
                task_description, ctx, limit, task_type=task_type, include_partial=include_partial
            )
        return Recommendations(
            patterns=[scored_pattern_out(p) for p in ranked],
            heuristics=[heuristic_out(p.heuristic) for p in ranked],
        )

    def find_recovery(
        tool: Annotated[
            str, Field(min_length=1, max_length=200, description="The tool whose call failed.")
        ],
        error: Annotated[
            str,
            Field(
                min_length=1,
                max_length=10_000,
                description="The error message as the call returned it.",
            ),
        ],
    ) -> RecoveryOut:
        """After a failed tool call: what recovered from this tool failing with this error
        before (retry it, run a fix first, or use another tool instead), or that nothing
        has. The message's ids, numbers and secrets need not match the earlier ones."""
        with tool_errors():
            found = memory.find_recovery(tool, error)
        if found is None:
            advice = f"nothing has been learned yet about {tool} failing with this error"
            return RecoveryOut(found=False, advice=advice)
        return RecoveryOut(
            found=True,
            mode=found.best_mode,
            recovery=None if found.best_mode == "retry" else found.best_recovery,
            advice=found.describe(),
            pattern=pattern_out(found),
        )

    def list_episodes(
        status: Annotated[Status, Field(description="'open', 'completed' or 'any'.")] = "any",
        outcome: Annotated[OutcomeStatus | None, Field(description="Only this outcome.")] = None,
        domain: Annotated[str | None, Field(max_length=200, description="Only this domain.")] = (
            None
        ),
        task_type: _TaskType = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Page size (1-100).")] = 20,
        offset: Annotated[int, Field(ge=0, le=1_000_000, description="Episodes to skip.")] = 0,
    ) -> EpisodeList:
        """Episodes of this memory, newest first, filtered and paged (no steps; use
        get_episode for one episode's steps)."""
        with tool_errors():
            episodes = memory.list_episodes(
                domain=domain, task_type=task_type, outcome=outcome,
                open_only=status == "open", completed_only=status == "completed",
                limit=limit + 1, offset=offset, include_steps=False,
            )  # fmt: skip
        return EpisodeList(
            episodes=[EpisodeSummary.of(e, with_steps=False) for e in episodes[:limit]],
            offset=offset,
            has_more=len(episodes) > limit,
        )

    def get_episode(episode_id: EpisodeId) -> Episode:
        """One episode in full: task, context, steps, outcome, reward and reflection."""
        with tool_errors():
            return memory.get_episode(episode_id)

    def memory_stats() -> StatsOut:
        """Counts: episodes (open, succeeded, failed), patterns and heuristics learned."""
        with tool_errors():
            return StatsOut(**asdict(memory.stats()))

    for tool in (retrieve_context, search_patterns, recommend_patterns, find_recovery,
                 list_episodes, get_episode, memory_stats):  # fmt: skip
        server.add_tool(tool, annotations=_READS)
