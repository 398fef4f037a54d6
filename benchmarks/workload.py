"""The synthetic workload of ``bench_core`` and ``bench_mcp``: tasks, steps and queries."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from selfmem import TaskOutcome

_TOOLS = ("read_file", "grep", "run_tests", "edit_file", "search_docs", "shell", "list_dir")
_DOMAINS = ("web", "data", "infra", "ml", "cli")
_LANGUAGES = ("python", "typescript", "go", "rust")
_VERBS = ("Fix", "Add", "Refactor", "Debug", "Document", "Test", "Speed up", "Migrate")
_NOUNS = (
    "login form", "payment service", "CSV importer", "retry logic", "cache layer", "CLI parser",
    "rate limiter", "search index", "upload handler", "config loader", "websocket client",
    "database migration", "report generator", "email sender",
)  # fmt: skip
_WORDS = (
    "function", "returns", "handler", "request", "response", "module", "test", "failed",
    "passed", "line", "import", "error", "value", "expected", "actual", "timeout", "retry",
    "queue", "worker", "schema", "column", "index", "query", "result", "parser", "config",
    "client", "server", "session", "cursor", "buffer", "stream", "batch", "record", "field",
)  # fmt: skip
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "to", "sa", "vi", "de", "po", "gu", "ze", "fa", "bi")


def _vocabulary(size: int = 3_000, seed: int = 3) -> tuple[list[str], list[float]]:
    """Common technical words first, then made-up identifiers; Zipf cumulative weights."""
    rng = random.Random(seed)
    words = list(_WORDS)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    cumulative = np.cumsum(1.0 / np.arange(1, size + 1) ** 1.07).tolist()
    return words, cumulative


class Workload:
    """Deterministic, realistic tasks, steps and queries.

    Step text draws words from a Zipf distribution over 3,000 words (35 common technical
    words first), so a few terms occur in most episodes and most terms in few. A task reads
    "<verb> the <noun> in <module>", the module a mid-frequency word.
    """

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words, self._weights = _vocabulary()

    def _sentence(self, length: int) -> str:
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < length:
            words += self.rng.choices(self.words, cum_weights=self._weights, k=8)
        return " ".join(words)[:length]

    def _module(self) -> str:
        return self.rng.choice(self.words[100:600])

    def description(self) -> str:
        noun = self.rng.choice(_NOUNS)
        return f"{self.rng.choice(_VERBS)} the {noun} in {self._module()}"

    def common_query(self) -> str:
        """A task description plus a word that occurs in most stored episodes."""
        return f"{self.description()} {self.rng.choice(_WORDS[:12])}"

    def context(self) -> dict[str, Any]:
        return {
            "domain": self.rng.choice(_DOMAINS),
            "language": self.rng.choice(_LANGUAGES),
            "tags": [self.rng.choice(_WORDS)],
        }

    def step(self) -> dict[str, Any]:
        module, name = self._module(), self.rng.choice(_WORDS)
        head = f"{self.rng.randrange(1, 9)} matches in src/{module}/{name}.py: "
        return {
            "tool": self.rng.choice(_TOOLS),
            "parameters": {"path": f"src/{module}/{name}.py", "pattern": name, "max_results": 20},
            "observation": head + self._sentence(200 - len(head)),
            "latency_ms": round(self.rng.uniform(5, 400), 1),
        }

    def outcome(self) -> TaskOutcome:
        if self.rng.random() < 0.75:
            return TaskOutcome.success("done")
        return TaskOutcome.failure("tests still failing")
