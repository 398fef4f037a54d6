"""The world of the synthetic episodes: eight task families with their planted patterns, the
unrelated tools, tags and errors the generator draws as noise, and the message templates
(see :mod:`benchmarks.synthetic`)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from selfmem import TaskType
from selfmem.learning.error_classes import normalize_error

__all__ = [
    "BASE_LATENCY_MS",
    "FAMILIES",
    "NAMES",
    "NOISE_TOOLS",
    "NO_RECOVERY",
    "RANDOM_ERRORS",
    "RETRY",
    "TAGS",
    "ContextPlant",
    "DecisionPlant",
    "ErrorPlant",
    "Family",
    "error_class",
    "fill",
]

RETRY = "retry"  # the learner's name for "the failed tool succeeded straight away"
NO_RECOVERY = "-"  # conclusion of an error that nothing recovers

# -- the world --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorPlant:
    """``tool`` fails with ``message`` at ``rate``; ``recovery`` runs, then the tool succeeds."""

    tool: str
    message: str
    recovery: str
    rate: float = 0.4


@dataclass(frozen=True, slots=True)
class DecisionPlant:
    """After ``after``, the agent runs ``bad`` instead of ``good`` at ``bad_rate``."""

    after: str
    good: str
    bad: str
    bad_rate: float = 0.25
    bad_success: float = 0.15


@dataclass(frozen=True, slots=True)
class ContextPlant:
    """``tool`` fails with ``message`` whenever ``tag`` is present, and the agent gives up."""

    tag: str
    tool: str
    message: str


@dataclass(frozen=True, slots=True)
class Family:
    """A kind of task: its context, its canonical tools and what is planted in it."""

    domain: str
    task_type: TaskType
    language: str
    tools: tuple[str, ...]
    tasks: tuple[str, ...]
    error: ErrorPlant | None = None
    decision: DecisionPlant | None = None
    context: ContextPlant | None = None

    @property
    def key(self) -> str:
        """The learner's family key (``extractors.family_key``)."""
        return f"{self.domain}|{self.task_type.value}|{self.language}"


FAMILIES: tuple[Family, ...] = (
    Family(
        "backend",
        TaskType.DEBUGGING,
        "python",
        ("reproduce_issue", "query_db", "inspect_trace", "patch_code", "run_tests"),
        ("Fix the 500 error on {name}", "Debug the slow query behind {name}"),
        error=ErrorPlant(
            "query_db", "connection refused on port {port}", "start_db_container", rate=0.3
        ),
    ),
    Family(
        "backend",
        TaskType.CODE_GENERATION,
        "go",
        ("read_spec", "scaffold_service", "write_migration", "implement_handler", "run_tests"),
        ("Add the {name} endpoint", "Generate a service for {name}"),
        decision=DecisionPlant("scaffold_service", "write_migration", "edit_schema_inline"),
    ),
    Family(
        "frontend",
        TaskType.CODE_GENERATION,
        "typescript",
        ("parse_project", "open_design", "write_component", "build_storybook", "run_tests"),
        ("Build the {name} widget", "Implement the {name} page from the design"),
        context=ContextPlant(
            "legacy", "parse_project", "cannot parse {path}: unsupported syntax at line {n}"
        ),
    ),
    Family(
        "frontend",
        TaskType.TESTING,
        "typescript",
        ("start_dev_server", "launch_browser", "record_snapshot", "compare_snapshots"),
        ("Add an end-to-end test for {name}", "Update the visual snapshots of {name}"),
        error=ErrorPlant(
            "launch_browser", "timeout after {ms}ms waiting for page load", RETRY, rate=0.35
        ),
    ),
    Family(
        "data",
        TaskType.ANALYSIS,
        "python",
        ("load_dataset", "profile_columns", "impute_missing", "fit_model", "plot_results"),
        ("Explain the drop in {name}", "Forecast {name} for next quarter"),
        decision=DecisionPlant("profile_columns", "impute_missing", "drop_incomplete_rows"),
    ),
    Family(
        "data",
        TaskType.REFACTORING,
        "rust",
        ("fetch_crates", "cargo_check", "rename_symbol", "cargo_test"),
        ("Split the {name} module", "Rename the {name} types"),
        context=ContextPlant(
            "airgapped", "fetch_crates", "network unreachable: could not fetch {quoted} from {path}"
        ),
    ),
    Family(
        "infra",
        TaskType.DEBUGGING,
        "go",
        ("read_pod_logs", "kubectl_describe", "edit_manifest", "apply_manifest", "check_rollout"),
        ("Find why {name} pods crash-loop", "Fix the failing rollout of {name}"),
        error=ErrorPlant(
            "apply_manifest",
            "permission denied: cannot patch {path} in namespace {quoted}",
            "refresh_credentials",
            rate=0.35,
        ),
    ),
    Family(
        "infra",
        TaskType.TESTING,
        "rust",
        ("checkout_branch", "build_container", "run_integration_suite", "collect_artifacts"),
        ("Run the integration suite for {name}", "Reproduce the CI failure in {name}"),
    ),
)

NOISE_TOOLS: tuple[str, ...] = (
    "list_dir",
    "grep_code",
    "git_status",
    "web_search",
    "read_docs",
    "think",
    "check_env",
    "read_file",
)

RANDOM_ERRORS: tuple[str, ...] = (
    "rate limit exceeded: retry after {n}s",
    "tool process killed with exit code {n}",
    "unexpected EOF in response from sandbox {hex}",
    "context window exceeded by {n} tokens",
    "internal server error ({n}) from tool backend",
    "invalid JSON in tool arguments at position {n}",
    "out of memory after allocating {n}mb",
    "disk quota exceeded on {path}",
)

TAGS: Mapping[str, float] = {
    "legacy": 0.25,
    "airgapped": 0.25,
    "monorepo": 0.3,
    "urgent": 0.2,
    "customer-facing": 0.15,
}

NAMES = ("orders", "billing", "search", "checkout", "profile", "inventory", "reports", "auth")
_DIRS = ("src", "app", "legacy/src", "deploy", "lib", "services/api", "charts", "vendor")
_FILES = ("index.ts", "main.py", "deploy.yaml", "App.jsx", "lib.rs", "config.toml")
BASE_LATENCY_MS = 120.0



# -- templated text ---------------------------------------------------------------------------


def fill(template: str, rng: random.Random) -> str:
    """Fill a message template with varying numbers, paths and names."""
    directory = rng.choice(_DIRS)
    name = rng.choice(NAMES)
    return template.format(
        n=rng.randint(2, 999),
        ms=rng.choice((5000, 10000, 30000, 45000)) + rng.randint(0, 999),
        port=rng.choice((5432, 5433, 6543, 15432)),
        path=f"{directory}/{name}/{rng.choice(_FILES)}",
        quoted=f"'{name}-{rng.randint(1, 99)}'",
        hex=f"0x{rng.getrandbits(32):08x}",
        name=name,
    )


def error_class(template: str) -> str:
    """The normalized class of every message ``template`` produces."""
    return normalize_error(fill(template, random.Random(0)))
