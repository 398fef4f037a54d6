"""Learning from completed episodes: reward, reflection, patterns and heuristics.

Everything here is pure (no I/O): the orchestrator feeds completed episodes in and
persists what comes out.
"""

from ..config import LearningConfig, RewardWeights
from ..records.learned import (
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
from ..records.stats import wilson_lower_bound
from .heuristics import derive_heuristic, derive_heuristics
from .learner import PatternLearner
from .reflection import DeterministicReflector, Reflector, reflect, reflect_safely
from .reward import compute_reward
from .state import Baseline

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
    "wilson_lower_bound",
]
