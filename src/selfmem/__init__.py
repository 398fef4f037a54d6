"""selfmem: self-learning episodic memory for AI agents.

>>> from selfmem import SelfLearningMemory, TaskContext, ExecutionStep, TaskOutcome
>>> with SelfLearningMemory.open("./.selfmem") as memory:            # doctest: +SKIP
...     eid = memory.start_episode("Fix the failing test", TaskContext(language="python"))
...     memory.log_step(eid, ExecutionStep(tool="pytest", observation="1 failed"))
...     episode = memory.complete_episode(eid, TaskOutcome.success("tests pass"))
...     context = memory.retrieve_relevant_context("a failing python test")
"""

from .config import Limits, MemoryConfig
from .errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    EmbeddingError,
    EpisodeStateError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    SchemaVersionError,
    SelfMemError,
    StorageError,
    StoreUnavailableError,
)
from .learning.reflection import DeterministicReflector, Reflector
from .memory import MemoryStats, SelfLearningMemory
from .records.episodes import (
    ComplexityLevel,
    Episode,
    ExecutionStep,
    OutcomeStatus,
    Reflection,
    RewardScore,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from .records.items import Item
from .records.learned import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    HeuristicKind,
    HeuristicTrigger,
    PatternContext,
    PatternKind,
    ToolSequence,
)
from .retrieval.pattern_ranking import ScoredHeuristic, ScoredPattern
from .retrieval.result import RetrievalResult, ScoredEpisode
from .retrieval.weights import RankingWeights

__version__ = "0.1.0"

__all__ = [
    # entry point
    "SelfLearningMemory",
    "MemoryConfig",
    "Limits",
    "MemoryStats",
    "RankingWeights",
    "Reflector",
    "DeterministicReflector",
    # records
    "Episode",
    "ExecutionStep",
    "TaskContext",
    "TaskType",
    "ComplexityLevel",
    "TaskOutcome",
    "OutcomeStatus",
    "RewardScore",
    "Reflection",
    # learned records
    "PatternKind",
    "AnyPattern",
    "ToolSequence",
    "DecisionPoint",
    "ErrorRecovery",
    "ContextPattern",
    "PatternContext",
    "Heuristic",
    "HeuristicKind",
    "HeuristicTrigger",
    # items
    "Item",
    # retrieval
    "RetrievalResult",
    "ScoredEpisode",
    "ScoredPattern",
    "ScoredHeuristic",
    # errors
    "SelfMemError",
    "ConfigError",
    "InvalidInputError",
    "LimitExceededError",
    "NotFoundError",
    "EpisodeStateError",
    "ConflictError",
    "StorageError",
    "AuthenticationError",
    "StoreUnavailableError",
    "SchemaVersionError",
    "EmbeddingError",
    "__version__",
]
