"""Configuration: size limits, buffering, cache bounds, and the environment variables.

Everything is explicit. The environment is read only by :meth:`MemoryConfig.from_env`
and :func:`resolve_location`, which document each variable they read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .records.episodes import ComplexityLevel

__all__ = [
    "DEFAULT_PATH",
    "MAX_PAGE",
    "LearningConfig",
    "Limits",
    "MemoryConfig",
    "RewardWeights",
    "resolve_location",
]

DEFAULT_PATH = ".selfmem"
#: The largest page a listing returns.
MAX_PAGE = 1_000

#: Environment variables, in order of precedence, that name a remote database.
URL_VARIABLES = ("SELFMEM_DATABASE_URL", "TURSO_DATABASE_URL")
#: Environment variables, in order of precedence, that hold the remote auth token.
TOKEN_VARIABLES = ("SELFMEM_AUTH_TOKEN", "TURSO_AUTH_TOKEN")


@dataclass(frozen=True, slots=True)
class LearningConfig:
    """Thresholds of the learner (see :mod:`selfmem.learning.serving` for how each is used).

    The statistical ones are conventional levels, not values fitted to one data set:
    ``fdr_q`` is the false discovery rate allowed over all comparisons, ``min_arm_support``
    the fewest runs a compared group may have, and the minimum effects are differences in
    success rate. The false-discovery control is what keeps chance findings out; a minimum
    effect only drops differences too small to act on, and sits below the smallest effect
    worth finding (an observed-effect floor equal to it would miss half of the effects of
    exactly that size). Decisions use 0.2: they are few, tested only at steps most runs
    take, with both choices common. Context comparisons are many, over small groups, so
    they keep 0.3. ``sequence_min_confidence`` is the Wilson lower bound of the success rate
    of the runs that followed a sequence below which it is not served: low enough that the
    way a hard task is done (every run follows it, half of them succeed) is served with its
    rate, high enough that a sequence failing in most of its runs is not.
    ``family_min_similarity`` is how alike (0-1) a task must be to a family to join it.
    ``recovery_min_support`` is the fewest uses of a recovery before it is trusted; the
    Wilson lower bound of its fix rate (``recovery_min_confidence``) is what decides: two
    fixes in two uses clear it (0.34), one does not (0.21), nor one in two or two in three.
    ``recovery_first_use`` serves, while no recovery of an error is trusted, one that fixed
    it the one time it was tried: an agent that meets the error again has a lead to try
    instead of none, ranked below any trusted recovery, and one use in which it did not
    fix the error (one in two) takes it away.
    """

    min_support: int = 3
    sequence_min_frequency: float = 0.6
    sequence_min_confidence: float = 0.2
    max_family_runs: int = 200
    family_min_similarity: float = 0.45
    fdr_q: float = 0.05
    min_arm_support: int = 5
    decision_min_effect: float = 0.2
    decision_min_choice_share: float = 0.1
    recovery_min_confidence: float = 0.3
    recovery_min_support: int = 2
    recovery_first_use: bool = True
    context_min_effect: float = 0.2
    change_window: int = 4
    change_min_failures: int = 3
    change_alpha: float = 0.01
    min_effectiveness: float = 0.2
    half_life_days: float = 30.0
    retire_min_uses: int = 5
    retire_below_upper_bound: float = 0.5


@dataclass(frozen=True, slots=True)
class RewardWeights:
    expected_steps: int = 10
    min_baseline_runs: int = 3
    min_timed_duration_ms: float = 1_000.0
    min_efficiency: float = 0.5
    max_efficiency: float = 1.2
    error_penalty: float = 0.1
    retry_penalty: float = 0.02
    min_quality: float = 0.5
    recovery_bonus: float = 0.05
    new_approach_bonus: float = 0.1
    max_learning_bonus: float = 0.2
    complexity: tuple[tuple[ComplexityLevel, float], ...] = (
        (ComplexityLevel.SIMPLE, 1.0),
        (ComplexityLevel.MODERATE, 1.1),
        (ComplexityLevel.COMPLEX, 1.25),
    )


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits checked at the API boundary.

    Over-long descriptions, parameters, tags and step counts are rejected with
    :class:`~selfmem.errors.LimitExceededError`. Over-long observations and error texts
    (tool output the caller does not control) are truncated with a marker instead, and the
    step's ``metadata["truncated"]`` lists the fields that were cut.
    ``max_context_chars`` bounds each of the context's domain, language and framework;
    ``max_json_depth`` how deeply parameters, metadata and item values may nest.
    """

    max_description_chars: int = 10_000
    max_observation_chars: int = 50_000
    max_error_chars: int = 10_000
    max_parameters_bytes: int = 64_000
    max_metadata_bytes: int = 64_000
    max_steps_per_episode: int = 2_000
    max_tags: int = 32
    max_tag_chars: int = 64
    max_tool_name_chars: int = 200
    max_action_chars: int = 2_000
    max_outcome_chars: int = 20_000
    max_item_bytes: int = 1_000_000
    max_context_chars: int = 200
    max_json_depth: int = 64


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    """Options of a :class:`~selfmem.SelfLearningMemory` handle.

    ``flush_max_steps``: buffered steps are written once this many are waiting.
    ``flush_interval_s``: a background thread writes waiting steps at least this often
    (``None`` disables it; steps are then written on size, completion, ``flush()`` or close).
    ``cache_max_episodes``: completed episodes kept in the LMDB hot cache (LRU).
    ``redact_secrets``: scrub API keys, tokens, passwords and credentials before storage.
    ``learn_inline``: learn inside ``complete_episode`` instead of in the background worker
    (deterministic for tests and notebooks). ``learning_queue_size`` bounds the queue.
    ``learner_niceness``: how much the background learner lowers its CPU priority (0-19,
    added to its nice value; Linux only; ``0``, the default, leaves it as it is), so that
    other processes' queries go first on a busy machine (many writer processes on few
    cores). Its own process can wait for it instead: a lowered learner holding the GIL
    delays the next call when other processes keep the cores busy.
    ``learning`` and ``reward`` hold the learner's thresholds and the reward's weights.
    ``ann_threshold``: with an embedder and ``usearch`` installed (extra ``[ann]``), an HNSW
    index is built in the background once this many episodes have vectors.

    Shared stores (a libSQL server, or one file used by several processes):
    ``connect_timeout_s`` bounds the first contact with a server when opening it, and
    ``request_timeout_s`` every later request to it (a write transaction is one request).
    ``retry_attempts`` (counting the first try), ``retry_initial_backoff_s``,
    ``retry_max_backoff_s`` and ``retry_deadline_s`` say how a store operation that failed
    on a busy, overloaded or unreachable store is retried (exponential backoff with jitter).
    ``cache_max_staleness_s``: how old the check for other processes' changes may be before
    a cached episode is served; ``0`` checks the store's change log on every cache hit, so a
    deleted episode is never served from the cache.
    ``change_poll_interval_s`` (server mode): a background thread reads the change log this
    often, and queries never wait on the network for it; a handle sees other handles' changes
    at most about this late (its own at once). ``0`` reads the log on the query path instead,
    as an embedded file always does.
    """

    namespace: str = "default"
    limits: Limits = field(default_factory=Limits)
    flush_max_steps: int = 512
    flush_interval_s: float | None = 1.0
    cache_max_episodes: int = 1_000
    cache_map_size: int = 64 * 1024 * 1024
    redact_secrets: bool = True
    busy_timeout_ms: int = 10_000
    learn_inline: bool = False
    ann_threshold: int = 20_000
    learning_queue_size: int = 1_000
    learner_niceness: int = 0
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 30.0
    retry_attempts: int = 8
    retry_initial_backoff_s: float = 0.05
    retry_max_backoff_s: float = 2.0
    retry_deadline_s: float = 30.0
    cache_max_staleness_s: float = 0.0
    change_poll_interval_s: float = 0.25
    learning: LearningConfig = field(default_factory=LearningConfig)
    reward: RewardWeights = field(default_factory=RewardWeights)

    def __post_init__(self) -> None:
        checks = (
            (self.flush_max_steps >= 1, "flush_max_steps must be at least 1"),
            (self.flush_interval_s is None or self.flush_interval_s > 0,
             "flush_interval_s must be positive, or None to disable the background flush"),
            (self.cache_max_episodes >= 1, "cache_max_episodes must be at least 1"),
            (self.cache_map_size >= 1 << 20, "cache_map_size must be at least 1 MiB"),
            (self.busy_timeout_ms >= 0, "busy_timeout_ms must not be negative"),
            (self.learning_queue_size >= 1, "learning_queue_size must be at least 1"),
            (0 <= self.learner_niceness <= 19, "learner_niceness must be between 0 and 19"),
            (self.connect_timeout_s > 0, "connect_timeout_s must be positive"),
            (self.request_timeout_s > 0, "request_timeout_s must be positive"),
            (self.retry_attempts >= 1, "retry_attempts must be at least 1 (1: no retries)"),
            (0 <= self.retry_initial_backoff_s <= self.retry_max_backoff_s,
             "retry backoffs must satisfy 0 <= retry_initial_backoff_s <= retry_max_backoff_s"),
            (self.retry_deadline_s >= 0, "retry_deadline_s must not be negative"),
            (self.cache_max_staleness_s >= 0, "cache_max_staleness_s must not be negative"),
            (self.change_poll_interval_s >= 0, "change_poll_interval_s must not be negative"),
        )  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def with_options(self, **changes: object) -> MemoryConfig:
        """A copy with some fields changed; unknown names raise :class:`ConfigError`."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            known = ", ".join(f.name for f in fields(self))
            raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known options: {known}")
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MemoryConfig:
        """Read options from the environment.

        ``SELFMEM_NAMESPACE``            the namespace of the handle (default ``default``)
        ``SELFMEM_FLUSH_INTERVAL``       seconds between background step flushes; ``0`` disables
        ``SELFMEM_CACHE_MAX_EPISODES``   episodes kept in the LMDB hot cache
        ``SELFMEM_REDACT``               ``0`` turns secret redaction off (default on)
        ``SELFMEM_LEARN_INLINE``         ``1`` learns inside ``complete_episode``
        ``SELFMEM_CONNECT_TIMEOUT``      seconds allowed for the first contact with a server
        ``SELFMEM_REQUEST_TIMEOUT``      seconds allowed for each later request to a server
        ``SELFMEM_RETRY_ATTEMPTS``       tries of a failed store operation (``1``: no retries)
        ``SELFMEM_RETRY_DEADLINE``       seconds after which a failing operation stops retrying
        ``SELFMEM_CACHE_MAX_STALENESS``  seconds a cache hit may go without a change check
        ``SELFMEM_CHANGE_POLL_INTERVAL`` seconds between reads of a server's change log
        ``SELFMEM_LEARNER_NICENESS``     how much the background learner lowers its priority
        """
        env = os.environ if environ is None else environ
        try:
            return cls._parse_env(env)
        except ValueError as exc:
            raise ConfigError(f"invalid selfmem environment variable: {exc}") from exc

    @classmethod
    def _parse_env(cls, env: Mapping[str, str]) -> MemoryConfig:
        config = cls()
        if "SELFMEM_NAMESPACE" in env:
            config = replace(config, namespace=env["SELFMEM_NAMESPACE"])
        if "SELFMEM_FLUSH_INTERVAL" in env:
            interval = float(env["SELFMEM_FLUSH_INTERVAL"])
            config = replace(config, flush_interval_s=interval if interval > 0 else None)
        if env.get("SELFMEM_REDACT", "1") == "0":
            config = replace(config, redact_secrets=False)
        if env.get("SELFMEM_LEARN_INLINE", "0") == "1":
            config = replace(config, learn_inline=True)
        numbers: dict[str, Any] = {
            name: parse(env[variable])
            for variable, (name, parse) in _NUMERIC_VARIABLES.items()
            if variable in env
        }
        return replace(config, **numbers)


#: Numeric options read by :meth:`MemoryConfig.from_env`: variable -> (field, parser).
_NUMERIC_VARIABLES: dict[str, tuple[str, type[int] | type[float]]] = {
    "SELFMEM_CACHE_MAX_EPISODES": ("cache_max_episodes", int),
    "SELFMEM_CONNECT_TIMEOUT": ("connect_timeout_s", float),
    "SELFMEM_REQUEST_TIMEOUT": ("request_timeout_s", float),
    "SELFMEM_RETRY_ATTEMPTS": ("retry_attempts", int),
    "SELFMEM_RETRY_DEADLINE": ("retry_deadline_s", float),
    "SELFMEM_CACHE_MAX_STALENESS": ("cache_max_staleness_s", float),
    "SELFMEM_CHANGE_POLL_INTERVAL": ("change_poll_interval_s", float),
    "SELFMEM_LEARNER_NICENESS": ("learner_niceness", int),
}


def is_remote(location: str) -> bool:
    return location.startswith(("libsql://", "http://", "https://", "ws://", "wss://"))


def resolve_location(
    path_or_url: str | os.PathLike[str] | None,
    auth_token: str | None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, str | None]:
    """Pick the store location and auth token.

    An explicit argument wins. Otherwise ``SELFMEM_DATABASE_URL`` (or ``TURSO_DATABASE_URL``)
    names a remote database, else ``SELFMEM_PATH`` a local directory, else ``./.selfmem``.
    The token comes from ``auth_token`` or ``SELFMEM_AUTH_TOKEN`` (or ``TURSO_AUTH_TOKEN``).
    """
    env = os.environ if environ is None else environ
    token = auth_token or next((env[v] for v in TOKEN_VARIABLES if env.get(v)), None)
    if path_or_url is not None:
        return os.fspath(path_or_url), token
    url = next((env[v] for v in URL_VARIABLES if env.get(v)), None)
    if url:
        return url, token
    return str(Path(env.get("SELFMEM_PATH", DEFAULT_PATH))), token
