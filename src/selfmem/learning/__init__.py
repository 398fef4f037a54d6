"""Learning from completed episodes: reward, reflection, patterns and heuristics.

Everything here is pure (no I/O): the orchestrator feeds completed episodes in and
persists what comes out.
"""

from .heuristics import derive_heuristic, derive_heuristics
from .learner import Baseline, LearningConfig, PatternLearner
from .records import (
    AnyPattern,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    HeuristicKind,
    PatternContext,
    PatternKind,
    ToolSequence,
)
from .reflection import DeterministicReflector, Reflector, reflect, reflect_safely
from .reward import RewardWeights, compute_reward

__all__ = [
    "AnyPattern",
    "Baseline",
    "ChoiceStats",
    "ContextPattern",
    "DecisionPoint",
    "DeterministicReflector",
    "ErrorRecovery",
    "Heuristic",
    "HeuristicKind",
    "LearningConfig",
    "PatternContext",
    "PatternKind",
    "PatternLearner",
    "Reflector",
    "RewardWeights",
    "ToolSequence",
    "compute_reward",
    "derive_heuristic",
    "derive_heuristics",
    "reflect",
    "reflect_safely",
]
