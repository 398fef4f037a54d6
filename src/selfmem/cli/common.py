"""What every command shares: exit codes, the command error, and the run context."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import MemoryConfig, is_remote, resolve_location
from ..memory import SelfLearningMemory
from .output import Output
from .quiet import quiet_model_loading

__all__ = [
    "DATABASE_FILE",
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "Context",
    "confirm",
    "parse_json_object",
    "require_store",
]

EXIT_OK = 0
EXIT_ERROR = 1  # the operation failed (storage, configuration, a file that cannot be read)
EXIT_USAGE = 2  # bad arguments or invalid input (argparse uses 2 as well)
EXIT_NOT_FOUND = 3  # an id that does not exist in the namespace

#: The database file in a local store directory (``selfmem.storage.schema.DATABASE_FILE``,
#: which front ends do not import; a test keeps the two equal).
DATABASE_FILE = "selfmem.db"


class CommandError(Exception):
    """A failure the command reports with its message and exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Context:
    """The parsed arguments, the output, and the memory (opened on first use)."""

    args: argparse.Namespace
    out: Output
    _memory: SelfLearningMemory | None = field(default=None, repr=False)

    @property
    def location(self) -> str:
        """The store location: ``--url`` / ``--path``, else the environment, else ./.selfmem."""
        return resolve_location(self.args.url or self.args.path, None)[0]

    def memory(self, *, create: bool = False, **options: Any) -> SelfLearningMemory:
        """Open the memory once, in ``--namespace`` (else ``SELFMEM_NAMESPACE``, else
        ``default``). Only commands that record pass ``create``: for the others a local
        store must exist already, so a mistyped ``--path`` is an error, not a new empty store."""
        if self._memory is None:
            args = self.args
            if not create:
                require_store(self.location)
            config = MemoryConfig.from_env()
            embedder = None
            if getattr(args, "embeddings", False):
                from ..embeddings.sentence_transformers import SentenceTransformerEmbedder

                quiet_model_loading(self.out.stderr)
                embedder = SentenceTransformerEmbedder()
            self._memory = SelfLearningMemory.open(
                args.url or args.path,
                namespace=args.namespace,
                config=config,
                embedder=embedder,
                **options,
            )
        return self._memory

    def close(self) -> None:
        if self._memory is not None:
            memory, self._memory = self._memory, None
            memory.close()


def require_store(location: str) -> None:
    """Raise unless ``location`` is a libSQL URL or a directory holding a selfmem database."""
    if is_remote(location):
        return  # a server's database always exists; its namespaces are checked by the queries
    root = Path(location)
    if root.exists() and not root.is_dir():
        raise CommandError(f"{location} is not a directory; a selfmem store is a directory")
    if not (root / DATABASE_FILE).is_file():
        raise CommandError(
            f"no selfmem store at {location} (no {DATABASE_FILE} there): check --path or "
            "$SELFMEM_PATH; commands that record (selfmem demo, episode start, import) create one"
        )


def parse_json_object(text: str | None, option: str) -> dict[str, Any] | None:
    """Parse an option's JSON object, or raise a usage error naming the option."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{option} is not valid JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CommandError(f"{option} must be a JSON object", EXIT_USAGE)
    return value


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask on a terminal; without one (a script) or with ``--yes`` the answer is yes."""
    if assume_yes or not sys.stdin.isatty():
        return True
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")
