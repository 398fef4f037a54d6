"""The records every layer shares: episodes, learned patterns and heuristics, items, index rows.

Pydantic models and small dataclasses only, with the arithmetic their properties need
(:mod:`.stats`). Nothing here does I/O or imports another selfmem package except
:mod:`selfmem.errors` and :mod:`selfmem.text`.
"""

from .episodes import (
    ComplexityLevel,
    Episode,
    ExecutionStep,
    OutcomeStatus,
    Reflection,
    RewardScore,
    TaskContext,
    TaskOutcome,
    TaskType,
    utc_now,
)
from .items import Item
from .learned import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    HeuristicKind,
    PatternContext,
    PatternKind,
    ToolSequence,
)

__all__ = [
    "AnyPattern",
    "ComplexityLevel",
    "ContextPattern",
    "DecisionPoint",
    "Episode",
    "ErrorRecovery",
    "ExecutionStep",
    "Heuristic",
    "HeuristicKind",
    "Item",
    "OutcomeStatus",
    "PatternContext",
    "PatternKind",
    "Reflection",
    "RewardScore",
    "TaskContext",
    "TaskOutcome",
    "TaskType",
    "ToolSequence",
    "utc_now",
]
