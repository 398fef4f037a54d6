"""Argument types and result models of the MCP tools.

Every argument carries a description and its limits, so they appear in the tool's JSON
input schema; the core checks the configured limits again (``selfmem.Limits``). Results
are pydantic models, published as each tool's output schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import Limits
from ..records.episodes import ComplexityLevel, Episode, OutcomeStatus, TaskType
from ..records.learned import HeuristicKind, PatternKind

__all__ = [
    "CompletedEpisode",
    "ContextArg",
    "ContextResult",
    "EpisodeId",
    "EpisodeList",
    "EpisodeSummary",
    "FeedbackRecorded",
    "HeuristicOut",
    "IdList",
    "Limit",
    "PatternList",
    "PatternOut",
    "Recommendations",
    "ScoredEpisodeOut",
    "ScoredPatternOut",
    "StartedEpisode",
    "StatsOut",
    "Status",
    "StepLogged",
    "TaskText",
]

_LIMITS = Limits()
MAX_TEXT = 1_000_000  # transport bound; the store truncates tool output at its own limit

EpisodeId = Annotated[
    str,
    Field(min_length=1, max_length=128, description="An episode id, as start_episode returned it."),
]
TaskText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=_LIMITS.max_description_chars,
        description="What the task is, in one or two sentences (a non-empty string).",
    ),
]
Limit = Annotated[int, Field(ge=1, le=20, description="How many results to return (1-20).")]
IdList = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=128)]],
    Field(max_length=100, description="Up to 100 ids."),
]
Tag = Annotated[str, Field(min_length=1, max_length=_LIMITS.max_tag_chars)]


class ContextArg(BaseModel):
    """Where a task happens; used to filter and rank past experience."""

    model_config = ConfigDict(extra="forbid")

    domain: Annotated[
        str, Field(min_length=1, max_length=200, description="Area of work, e.g. 'web', 'data'.")
    ] = "general"
    language: Annotated[
        str | None, Field(max_length=100, description="Programming language, e.g. 'python'.")
    ] = None
    framework: Annotated[
        str | None, Field(max_length=100, description="Framework, e.g. 'fastapi'.")
    ] = None
    tags: Annotated[
        list[Tag],
        Field(max_length=_LIMITS.max_tags, description="Short lowercase labels, e.g. ['auth']."),
    ] = Field(default_factory=list)
    complexity: Annotated[
        ComplexityLevel, Field(description="Expected difficulty; scales the reward.")
    ] = ComplexityLevel.MODERATE


# -- results --------------------------------------------------------------------------------


class StartedEpisode(BaseModel):
    episode_id: str = Field(description="Pass this id to log_step and complete_episode.")
    namespace: str


class StepLogged(BaseModel):
    episode_id: str
    step_number: int
    success: bool
    truncated: list[str] = Field(description="Fields cut to the size limit, if any.")


class EpisodeSummary(BaseModel):
    id: str
    task_description: str
    task_type: TaskType
    domain: str
    language: str | None
    start_time: datetime
    end_time: datetime | None
    outcome: OutcomeStatus | None = Field(description="None while the episode is open.")
    outcome_summary: str | None
    reward: float | None
    steps: int | None = Field(description="Number of steps, when they were loaded.")
    tool_sequence: list[str] = Field(description="The tools called, in order.")

    @classmethod
    def of(cls, episode: Episode, *, with_steps: bool = True) -> EpisodeSummary:
        outcome = episode.outcome
        return cls(
            id=episode.id,
            task_description=episode.task_description,
            task_type=episode.task_type,
            domain=episode.context.domain,
            language=episode.context.language,
            start_time=episode.start_time,
            end_time=episode.end_time,
            outcome=outcome.status if outcome else None,
            outcome_summary=outcome.summary() if outcome else None,
            reward=episode.reward.total if episode.reward else None,
            steps=len(episode.steps) if with_steps else None,
            tool_sequence=[step.tool for step in episode.steps],
        )


class CompletedEpisode(BaseModel):
    episode: EpisodeSummary
    reward_explanation: list[str]
    reflection: dict[str, Any] = Field(description="What worked, what failed, what to do next.")


class EpisodeList(BaseModel):
    episodes: list[EpisodeSummary]
    offset: int
    has_more: bool = Field(description="True when another page may follow (use offset).")


class ScoredEpisodeOut(BaseModel):
    episode: EpisodeSummary
    score: float
    signals: dict[str, float]


class PatternOut(BaseModel):
    id: str
    kind: PatternKind
    description: str = Field(description="The pattern in one sentence, with its evidence.")
    confidence: float
    support: int = Field(description="Episodes it was seen in.")
    successes: int
    context: str
    retired: bool


class RecoveryOut(BaseModel):
    found: bool = Field(description="Whether anything was learned about this tool and error.")
    mode: Literal["retry", "fix", "replace"] | None = Field(
        default=None,
        description=(
            "What recovered it: 'retry' the tool, 'fix' (run 'recovery', then the tool again) "
            "or 'replace' it with 'recovery'; null when nothing has (or nothing was learned)."
        ),
    )
    recovery: str | None = Field(default=None, description="The fix or replacement tool.")
    advice: str = Field(description="In one sentence, with its evidence.")
    pattern: PatternOut | None = Field(
        default=None, description="The error-recovery pattern (its id for record_feedback)."
    )


class ScoredPatternOut(BaseModel):
    pattern: PatternOut
    score: float
    signals: dict[str, float]


class HeuristicOut(BaseModel):
    id: str
    kind: HeuristicKind
    rule: str = Field(description="Condition, action and evidence in one sentence.")
    condition: str
    action: str
    confidence: float
    evidence: int


class ContextResult(BaseModel):
    query: str
    rendered: str = Field(description="Prompt-ready text (also the tool's text content).")
    episodes: list[ScoredEpisodeOut]
    patterns: list[ScoredPatternOut]
    heuristics: list[HeuristicOut]
    pattern_ids: list[str] = Field(description="Pass to record_feedback if you use them.")


class PatternList(BaseModel):
    patterns: list[PatternOut]


class Recommendations(BaseModel):
    patterns: list[ScoredPatternOut]
    heuristics: list[HeuristicOut]


class FeedbackRecorded(BaseModel):
    episode_id: str
    pattern_ids: list[str]
    heuristic_ids: list[str]
    followed_episode_ids: list[str] = []


class StatsOut(BaseModel):
    namespace: str
    episodes: int
    open_episodes: int
    successes: int
    partial_successes: int
    failures: int
    abandoned: int = Field(0, description="Stopped before they finished; in no success rate.")
    pending_steps: int
    patterns: int
    heuristics: int
    pending_learning: int


Status = Literal["any", "open", "completed"]
