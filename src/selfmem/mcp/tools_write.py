"""The tools that write: start, log and complete episodes, and record feedback.

``selfmem serve-mcp --read-only`` leaves them out. Each is a thin call into
:class:`~selfmem.SelfLearningMemory`; the SDK runs it in a worker thread.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..config import Limits
from ..memory import SelfLearningMemory
from ..records.episodes import OutcomeStatus, TaskType
from .convert import tool_errors
from .schemas import (
    MAX_TEXT,
    CompletedEpisode,
    ContextArg,
    EpisodeId,
    EpisodeSummary,
    FeedbackRecorded,
    IdList,
    StartedEpisode,
    StepLogged,
    TaskText,
)

__all__ = ["WRITE_TOOLS", "register_write_tools"]

WRITE_TOOLS = ("start_episode", "log_step", "complete_episode", "record_feedback")

_LIMITS = Limits()
_WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
_Items = Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=100)]
_Tool = Annotated[
    str,
    Field(min_length=1, max_length=_LIMITS.max_tool_name_chars,
          description="Name of the tool (or action) you used."),
]  # fmt: skip
_Action = Annotated[
    str, Field(max_length=_LIMITS.max_action_chars, description="What you did, briefly.")
]
_Parameters = Annotated[
    dict[str, Any], Field(description="The tool's arguments (a JSON object, at most 64 kB).")
]
_Observation = Annotated[
    str | None,
    Field(max_length=MAX_TEXT, description="The tool's result; long text is truncated."),
]
_Error = Annotated[
    str | None, Field(max_length=MAX_TEXT, description="The error, if the step failed.")
]
_Success = Annotated[
    bool | None, Field(description="Whether the step worked (default: true unless an error).")
]
_Latency = Annotated[
    float, Field(ge=0, le=86_400_000, description="How long the step took, in milliseconds.")
]
_Tokens = Annotated[int | None, Field(ge=0, description="Tokens the step used.")]


def register_write_tools(server: MCPServer, memory: SelfLearningMemory) -> None:
    """Add the four writing tools, bound to ``memory``."""

    def start_episode(
        task_description: TaskText,
        context: Annotated[
            ContextArg | None, Field(description="Where the task happens (domain, language...).")
        ] = None,
        task_type: Annotated[TaskType, Field(description="What kind of work this is.")] = (
            TaskType.OTHER
        ),
    ) -> StartedEpisode:
        """Start recording a task. Call this when you begin a task; keep the returned
        episode_id and pass it to log_step for each tool call and to complete_episode at
        the end."""
        ctx = context.model_dump() if context is not None else None
        with tool_errors():
            episode_id = memory.start_episode(task_description, ctx, task_type)
        return StartedEpisode(episode_id=episode_id, namespace=memory.namespace)

    def log_step(
        episode_id: EpisodeId,
        tool: _Tool,
        action: _Action = "",
        parameters: _Parameters = {},  # noqa: B006  (pydantic copies defaults)
        observation: _Observation = None,
        error: _Error = None,
        success: _Success = None,
        latency_ms: _Latency = 0.0,
        tokens: _Tokens = None,
    ) -> StepLogged:
        """Record one step (a tool call) of an open episode. Secrets are redacted and
        over-long output is truncated before anything is stored."""
        step: dict[str, Any] = {"tool": tool, "action": action, "parameters": parameters,
                                "observation": observation, "error": error,
                                "latency_ms": latency_ms, "tokens": tokens}  # fmt: skip
        if success is not None:
            step["success"] = success
        with tool_errors():
            stored = memory.log_step(episode_id, step)
        return StepLogged(
            episode_id=episode_id,
            step_number=stored.step_number or 0,
            success=stored.success,
            truncated=list(stored.metadata.get("truncated", [])),
        )

    def complete_episode(
        episode_id: EpisodeId,
        status: Annotated[OutcomeStatus, Field(description="How the task ended.")],
        verdict: Annotated[
            str, Field(max_length=5_000, description="One line on the result.")
        ] = "",
        reason: Annotated[
            str | None, Field(max_length=5_000, description="Why it failed (for failure).")
        ] = None,
        error_details: Annotated[
            str | None, Field(max_length=10_000, description="Error text behind a failure.")
        ] = None,
        artifacts: Annotated[_Items, Field(description="Files or outputs produced.")] = [],  # noqa: B006
        completed: Annotated[_Items, Field(description="Sub-goals done (partial).")] = [],  # noqa: B006
        failed: Annotated[_Items, Field(description="Sub-goals not done (partial).")] = [],  # noqa: B006
    ) -> CompletedEpisode:
        """Finish an episode with its outcome. selfmem scores a reward, writes a
        reflection and learns patterns from it. A failure needs a reason (or a verdict)."""
        if status is OutcomeStatus.FAILURE and not (reason or verdict):
            raise ToolError("a failure needs a reason: pass reason='...' (or a verdict)")
        outcome = {"status": status, "verdict": verdict, "artifacts": artifacts,
                   "completed": completed, "failed": failed,
                   "reason": reason or (verdict if status is OutcomeStatus.FAILURE else None),
                   "error_details": error_details}  # fmt: skip
        with tool_errors():
            episode = memory.complete_episode(episode_id, outcome)
        reflection = episode.reflection.model_dump(mode="json") if episode.reflection else {}
        return CompletedEpisode(
            episode=EpisodeSummary.of(episode),
            reward_explanation=episode.reward.explanation if episode.reward else [],
            reflection=reflection,
        )

    def record_feedback(
        episode_id: EpisodeId,
        pattern_ids: Annotated[IdList, Field(description="Patterns you used.")] = [],  # noqa: B006
        heuristic_ids: Annotated[IdList, Field(description="Heuristics you used.")] = [],  # noqa: B006
        followed_episode_ids: Annotated[
            IdList, Field(description="Retrieved past episodes whose plan you followed.")
        ] = [],  # noqa: B006
    ) -> FeedbackRecorded:
        """Tell memory what you used in an episode: retrieved patterns or heuristics, and
        past episodes whose plan you followed. The episode's outcome then raises or lowers
        the patterns' confidence; a past episode whose latest two followers failed is
        ranked below the others."""
        if not pattern_ids and not heuristic_ids and not followed_episode_ids:
            raise ToolError(
                "pass at least one id in pattern_ids, heuristic_ids or followed_episode_ids"
            )
        with tool_errors():
            memory.record_feedback(episode_id, pattern_ids, heuristic_ids, followed_episode_ids)
        return FeedbackRecorded(
            episode_id=episode_id, pattern_ids=pattern_ids, heuristic_ids=heuristic_ids,
            followed_episode_ids=followed_episode_ids,
        )  # fmt: skip

    for tool in (start_episode, log_step, complete_episode, record_feedback):
        server.add_tool(tool, annotations=_WRITES)
