"""Synthetic agent episodes with planted ground truth, for the learning-accuracy benchmark.

``generate(n_episodes, seed)`` returns completed, rewarded :class:`selfmem.Episode` records
drawn from eight task families, together with the :class:`Truth` a pattern learner should
recover from them. The world (see ``FAMILIES``):

- every family has its own ``(domain, task_type, language)`` and a canonical tool sequence;
  ``run_tests`` is the one tool shared by several families, always as their last step;
- three families plant an **error -> recovery** pair: a tool fails with a templated message
  (numbers, paths and names vary, so only the normalized class repeats), a recovery tool runs
  (or nothing, for a plain retry), then the tool is retried successfully;
- two families plant a **decision point**: after a given tool the agent usually runs the good
  branch, but sometimes a bad branch tool instead, after which the episode mostly fails;
- two families plant a **context effect**: their first tool fails (and the agent gives up)
  whenever a given tag is present; tags are drawn for every family, so only that tool is hit;
- **noise**: unrelated tools inserted into a quarter of the gaps between steps, repeated steps,
  and random failures (a failed verification, or an unrelated tool error the agent gives up on)
  that hit every family alike.

The truth is written in the learner's terms (:class:`PatternFact`, :class:`HeuristicFact`):
one fact per planted pattern, plus the facts the plants imply (a context effect's tool error
is never recovered, so the learner should also report that error as having no recovery).
docs/learning_accuracy.md explains every fact and how learned records are matched to it.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from selfmem import (
    ComplexityLevel,
    Episode,
    ExecutionStep,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.learning import compute_reward
from selfmem.learning.error_classes import normalize_error
from selfmem.learning.records import (
    AnyPattern,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    Heuristic,
    HeuristicKind,
    PatternKind,
    ToolSequence,
)

__all__ = [
    "FAMILIES",
    "NOISE_TOOLS",
    "NO_RECOVERY",
    "RETRY",
    "ContextPlant",
    "DecisionPlant",
    "ErrorPlant",
    "Family",
    "HeuristicFact",
    "Noise",
    "PatternFact",
    "Truth",
    "error_class",
    "generate",
    "padded",
    "truth_of",
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

_NAMES = ("orders", "billing", "search", "checkout", "profile", "inventory", "reports", "auth")
_DIRS = ("src", "app", "legacy/src", "deploy", "lib", "services/api", "charts", "vendor")
_FILES = ("index.ts", "main.py", "deploy.yaml", "App.jsx", "lib.rs", "config.toml")
_BASE_LATENCY_MS = 120.0


@dataclass(frozen=True, slots=True)
class Noise:
    """How much unrelated behaviour the generator mixes in."""

    gap_rate: float = 0.25  # chance that an unrelated tool runs in a gap between steps
    repeat_rate: float = 0.05  # chance that a successful step is immediately run again
    failure_rate: float = 0.07  # chance that an episode fails for an unplanted reason
    tool_error_share: float = 0.5  # of those failures, the share that is a tool error
    partial_share: float = 0.3  # of failed verifications, the share reported as partial


# -- ground truth -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class PatternFact:
    """A pattern in the learner's terms: kind, key (the situation) and conclusion.

    ``key`` is the learner's pattern key (family key, after-tool, ``tool|error class`` or
    ``feature|tool``); ``conclusion`` is what a correct pattern says about it: the tools of a
    sequence, ``(best, worst)`` of a decision, ``(best_recovery,)`` of an error (``"-"`` for
    none) or ``(association,)`` of a context pattern.
    """

    kind: PatternKind
    key: str
    conclusion: tuple[str, ...]
    why: str = field(default="planted", compare=False)

    @classmethod
    def of(cls, pattern: AnyPattern) -> PatternFact:
        """What a learned pattern claims, in the same terms."""
        return cls(pattern.kind, pattern.key, _conclusion(pattern), why="learned")


def _conclusion(pattern: AnyPattern) -> tuple[str, ...]:
    if isinstance(pattern, ToolSequence):
        return tuple(pattern.tools)
    if isinstance(pattern, DecisionPoint):
        return (str(pattern.best), str(pattern.worst))
    if isinstance(pattern, ErrorRecovery):
        return (pattern.best_recovery or NO_RECOVERY,)
    assert isinstance(pattern, ContextPattern)
    return (pattern.association,)


_WORD = re.compile(r"[a-z_]+")
_UNKNOWN_SOURCE = (PatternKind.TOOL_SEQUENCE, "?")


@dataclass(frozen=True, slots=True, order=True)
class HeuristicFact:
    """A heuristic in comparable terms: kind, source situation, tool and the tools it names.

    ``source`` is the ``(kind, key)`` of the pattern the heuristic derives from;
    ``action_tools`` are the known tool names its action text mentions, in order.
    """

    kind: HeuristicKind
    source: tuple[PatternKind, str]
    tool: str | None
    action_tools: tuple[str, ...]

    @classmethod
    def of(
        cls,
        heuristic: Heuristic,
        sources: Mapping[str, tuple[PatternKind, str]],
        tools: Iterable[str],
    ) -> HeuristicFact:
        """What a derived heuristic says; ``sources`` maps pattern ids to ``(kind, key)``."""
        ids = heuristic.source_pattern_ids
        source = sources.get(ids[0], _UNKNOWN_SOURCE) if ids else _UNKNOWN_SOURCE
        known = set(tools)
        named = tuple(word for word in _WORD.findall(heuristic.action) if word in known)
        return cls(heuristic.kind, source, heuristic.tool, named)


@dataclass(frozen=True, slots=True)
class Truth:
    """The patterns and heuristics the learner should find, and every tool name in the world."""

    patterns: frozenset[PatternFact]
    heuristics: frozenset[HeuristicFact]
    tools: frozenset[str]


def _sequence_facts(family: Family) -> tuple[PatternFact, HeuristicFact]:
    pattern = PatternFact(PatternKind.TOOL_SEQUENCE, family.key, family.tools)
    heuristic = HeuristicFact(
        HeuristicKind.FOLLOW_SEQUENCE, (pattern.kind, pattern.key), family.tools[0], family.tools
    )
    return pattern, heuristic


def _decision_facts(plant: DecisionPlant) -> tuple[PatternFact, HeuristicFact]:
    pattern = PatternFact(PatternKind.DECISION_POINT, plant.after, (plant.good, plant.bad))
    heuristic = HeuristicFact(
        HeuristicKind.PREFER, (pattern.kind, pattern.key), plant.good, (plant.good, plant.bad)
    )
    return pattern, heuristic


def _error_facts(plant: ErrorPlant) -> tuple[PatternFact, HeuristicFact]:
    key = f"{plant.tool}|{error_class(plant.message)}"
    pattern = PatternFact(PatternKind.ERROR_RECOVERY, key, (plant.recovery,))
    source = (pattern.kind, key)
    if plant.recovery == RETRY:
        heuristic = HeuristicFact(HeuristicKind.RECOVER, source, plant.tool, (plant.tool,))
    else:
        named = (plant.recovery, plant.tool)
        heuristic = HeuristicFact(HeuristicKind.RECOVER, source, plant.recovery, named)
    return pattern, heuristic


def _context_facts(plant: ContextPlant) -> list[tuple[PatternFact, HeuristicFact]]:
    pattern = PatternFact(
        PatternKind.CONTEXT_PATTERN, f"tag={plant.tag}|{plant.tool}", ("failure",)
    )
    heuristic = HeuristicFact(
        HeuristicKind.AVOID, (pattern.kind, pattern.key), plant.tool, (plant.tool,)
    )
    # Implied: the tool's error is never recovered (the agent gives up), so the learner
    # should also report that error class as having no known recovery.
    key = f"{plant.tool}|{error_class(plant.message)}"
    why = f"implied by the tag={plant.tag} effect: the agent always gives up"
    unrecovered = PatternFact(PatternKind.ERROR_RECOVERY, key, (NO_RECOVERY,), why=why)
    avoid = HeuristicFact(HeuristicKind.AVOID, (unrecovered.kind, key), plant.tool, ())
    return [(pattern, heuristic), (unrecovered, avoid)]


def _family_facts(family: Family) -> list[tuple[PatternFact, HeuristicFact]]:
    facts = [_sequence_facts(family)]
    if family.decision:
        facts.append(_decision_facts(family.decision))
    if family.error:
        facts.append(_error_facts(family.error))
    if family.context:
        facts.extend(_context_facts(family.context))
    return facts


def _world_tools(families: Iterable[Family]) -> frozenset[str]:
    tools = set(NOISE_TOOLS)
    for family in families:
        tools.update(family.tools)
        if family.decision:
            tools.add(family.decision.bad)
        if family.error and family.error.recovery != RETRY:
            tools.add(family.error.recovery)
    return frozenset(tools)


def truth_of(families: Iterable[Family] = FAMILIES) -> Truth:
    """The ground truth planted by ``families`` (independent of the sampled episodes)."""
    families = tuple(families)
    facts = [fact for family in families for fact in _family_facts(family)]
    return Truth(
        patterns=frozenset(pattern for pattern, _ in facts),
        heuristics=frozenset(heuristic for _, heuristic in facts),
        tools=_world_tools(families),
    )


# -- templated text ---------------------------------------------------------------------------


def _fill(template: str, rng: random.Random) -> str:
    """Fill a message template with varying numbers, paths and names."""
    directory = rng.choice(_DIRS)
    name = rng.choice(_NAMES)
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
    return normalize_error(_fill(template, random.Random(0)))


# -- episodes ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    tool: str
    error: str | None = None
    observation: str = "ok"


@dataclass(slots=True)
class _Draft:
    """An episode before timestamps: its steps and how it ends."""

    family: Family
    tags: list[str]
    steps: list[_Step]
    success: bool = True
    reason: str = ""


def _path(family: Family, rng: random.Random) -> tuple[list[str], bool]:
    """The tools this episode runs in order, and whether it took a planted bad branch."""
    plant = family.decision
    if plant is None or rng.random() >= plant.bad_rate:
        return list(family.tools), False
    return [plant.bad if tool == plant.good else tool for tool in family.tools], True


def _run_tool(draft: _Draft, tool: str, rng: random.Random) -> bool:
    """Append the steps of one canonical tool; False when the agent gives up here."""
    family = draft.family
    context = family.context
    if context and context.tool == tool and context.tag in draft.tags:
        draft.steps.append(_Step(tool, _fill(context.message, rng)))
        draft.success, draft.reason = False, f"{tool} failed"
        return False
    plant = family.error
    if plant and plant.tool == tool and rng.random() < plant.rate:
        draft.steps.append(_Step(tool, _fill(plant.message, rng)))
        if plant.recovery != RETRY:
            draft.steps.append(_Step(plant.recovery))
    draft.steps.append(_Step(tool))
    return True


def _random_failure(draft: _Draft, rng: random.Random, noise: Noise) -> None:
    """An unplanted failure: an unrelated tool error, or a failed final verification."""
    draft.success = False
    if rng.random() < noise.tool_error_share:
        index = rng.randrange(len(draft.steps))
        failed = _Step(draft.steps[index].tool, _fill(rng.choice(RANDOM_ERRORS), rng))
        draft.steps[index:] = [failed]
        draft.reason = f"{failed.tool} failed"
    else:
        draft.steps[-1].observation = "verification failed"
        draft.reason = "the result did not pass verification"


def _draft(family: Family, rng: random.Random, noise: Noise) -> _Draft:
    tags = [tag for tag, rate in TAGS.items() if rng.random() < rate]
    draft = _Draft(family, tags, [])
    tools, bad_branch = _path(family, rng)
    if not all(_run_tool(draft, tool, rng) for tool in tools):
        return draft
    if rng.random() < noise.failure_rate:
        _random_failure(draft, rng, noise)
    elif bad_branch and family.decision and rng.random() >= family.decision.bad_success:
        draft.success, draft.reason = False, "tests failed after the change"
        draft.steps[-1].observation = "3 failed, 41 passed"
    return draft


def _with_noise(steps: list[_Step], rng: random.Random, noise: Noise) -> list[_Step]:
    """Insert unrelated tools into some gaps and repeat some successful steps."""
    noisy: list[_Step] = []
    for step in steps:
        if rng.random() < noise.gap_rate:
            noisy.append(_Step(rng.choice(NOISE_TOOLS)))
        noisy.append(step)
        if step.error is None and rng.random() < noise.repeat_rate:
            noisy.append(_Step(step.tool))
    if rng.random() < noise.gap_rate:
        noisy.append(_Step(rng.choice(NOISE_TOOLS)))
    return noisy


def _execution_steps(
    steps: list[_Step], start: datetime, rng: random.Random
) -> list[ExecutionStep]:
    result = []
    clock = start
    for number, step in enumerate(steps, start=1):
        latency = rng.lognormvariate(0.0, 0.6) * _BASE_LATENCY_MS * (8 if step.error else 1)
        clock += timedelta(milliseconds=latency + rng.uniform(200, 3000))
        result.append(
            ExecutionStep(
                tool=step.tool,
                action=f"call {step.tool}",
                observation=None if step.error else step.observation,
                success=step.error is None,
                error=step.error,
                latency_ms=round(latency, 2),
                step_number=number,
                timestamp=clock,
            )
        )
    return result


def _outcome(draft: _Draft, rng: random.Random, noise: Noise) -> TaskOutcome:
    if draft.success:
        return TaskOutcome.success("task completed")
    gave_up = any(step.error for step in draft.steps)
    if not gave_up and rng.random() < noise.partial_share:
        return TaskOutcome.partial("partly done", completed=["analysis"], failed=["change"])
    return TaskOutcome.failure(draft.reason)


def _episode(draft: _Draft, start: datetime, rng: random.Random, noise: Noise) -> Episode:
    family = draft.family
    steps = _execution_steps(_with_noise(draft.steps, rng, noise), start, rng)
    episode = Episode(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        task_description=rng.choice(family.tasks).format(name=rng.choice(_NAMES)),
        context=TaskContext(
            domain=family.domain,
            language=family.language,
            tags=draft.tags,
            complexity=rng.choice(list(ComplexityLevel)),
        ),
        task_type=family.task_type,
        start_time=start,
        end_time=steps[-1].timestamp + timedelta(seconds=1),
        steps=steps,
        outcome=_outcome(draft, rng, noise),
    )
    episode.reward = compute_reward(episode)
    return episode


def generate(
    n_episodes: int,
    seed: int,
    *,
    families: tuple[Family, ...] = FAMILIES,
    noise: Noise = Noise(),
    start: datetime | None = None,
    spacing: timedelta = timedelta(minutes=10),
) -> tuple[list[Episode], Truth]:
    """``n_episodes`` completed episodes in time order, and the truth planted in them.

    The same ``seed`` gives the same episodes, and a longer run extends a shorter one
    (timestamps too, given the same ``start``).
    Episodes start ``spacing`` apart from ``start``, which defaults to a time such that the
    last one ends about now: learned patterns decay with age, so the data must be recent.
    """
    rng = random.Random(seed)
    if start is None:
        start = datetime.now(UTC) - spacing * (n_episodes + 1)
    episodes = []
    for index in range(n_episodes):
        draft = _draft(rng.choice(families), rng, noise)
        episodes.append(_episode(draft, start + spacing * index, rng, noise))
    return episodes, truth_of(families)


def padded(episode: Episode, n_steps: int, seed: int) -> Episode:
    """A copy of ``episode`` with unrelated steps inserted until it has ``n_steps`` steps."""
    rng = random.Random(seed)
    steps = [step.model_copy() for step in episode.steps]
    while len(steps) < n_steps:
        index = rng.randrange(len(steps) + 1)
        anchor = steps[min(index, len(steps) - 1)]
        steps.insert(index, ExecutionStep(tool=rng.choice(NOISE_TOOLS), timestamp=anchor.timestamp))
    for number, step in enumerate(steps, start=1):
        step.step_number = number
    copy = episode.model_copy(update={"id": str(uuid.UUID(int=rng.getrandbits(128), version=4))})
    copy.steps = steps
    copy.reward = compute_reward(copy)
    return copy
