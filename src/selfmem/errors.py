"""The exceptions selfmem raises, rooted in one class.

::

    SelfMemError
    ├── ConfigError                 a store, cache or option is misconfigured
    ├── InvalidInputError (ValueError)
    │   └── LimitExceededError      an input is larger than a configured limit
    ├── NotFoundError (LookupError) an episode id that does not exist in this namespace
    ├── EpisodeStateError           e.g. logging a step to an episode that is already complete
    ├── StorageError                the durable store or the cache failed
    │   ├── SchemaVersionError      the database was written by a newer selfmem
    │   ├── AuthenticationError     the libSQL server refused the auth token
    │   ├── StoreUnavailableError   the store stayed unreachable, busy or overloaded
    │   └── ConflictError           another process wrote first (learning retries on it)
    └── EmbeddingError              an embedder failed or is missing its extra

Catch ``SelfMemError`` to handle everything selfmem raises on purpose.
"""

from __future__ import annotations


class SelfMemError(Exception):
    """Base class of every error selfmem raises on purpose."""


class ConfigError(SelfMemError):
    """A store, cache or option is misconfigured."""


class InvalidInputError(SelfMemError, ValueError):
    """Input failed validation at the API boundary; nothing was stored.

    ``field`` names the offending field when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LimitExceededError(InvalidInputError):
    """An input is larger than a configured limit (see ``selfmem.Limits``)."""

    def __init__(self, field: str, limit: int, actual: int, unit: str = "characters") -> None:
        super().__init__(
            f"{field} is {actual} {unit}, over the limit of {limit} {unit}", field=field
        )
        self.limit = limit
        self.actual = actual


class NotFoundError(SelfMemError, LookupError):
    """No record with this id exists in the handle's namespace."""

    def __init__(self, kind: str, identifier: str, namespace: str) -> None:
        super().__init__(f"{kind} {identifier!r} not found in namespace {namespace!r}")
        self.kind = kind
        self.identifier = identifier
        self.namespace = namespace


class EpisodeStateError(SelfMemError):
    """The operation does not fit the episode's state (e.g. it is already complete)."""


class StorageError(SelfMemError):
    """The durable store or the cache failed; the message carries the driver's reason."""


class SchemaVersionError(StorageError):
    """The database schema is newer than this version of selfmem understands."""


class AuthenticationError(StorageError):
    """The libSQL server refused the auth token (missing, invalid or expired). Not retried."""


class StoreUnavailableError(StorageError):
    """The store could not be reached, or stayed busy or overloaded, through every retry.

    ``attempts`` is how many times the operation was tried. A failed write raised this and
    did not take effect, except that a commit cut off in flight may have landed: every
    write selfmem retries is idempotent, so repeating the call is safe.
    """

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class ConflictError(StorageError):
    """Another writer changed the record since it was read; read again and retry.

    The learning engine handles it itself (it reloads the namespace's patterns and learns
    the episode again), so it reaches callers only from a store used directly."""


class EmbeddingError(SelfMemError):
    """An embedder failed, or its optional dependency is not installed."""
