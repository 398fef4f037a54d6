"""Learned records: the four pattern kinds and the heuristics derived from them.

Every pattern carries its evidence (``support`` episodes, ``successes``), a ``confidence``
(the Wilson lower bound of its success rate), timing, provenance (recent episode ids) and
the context it applies to. Patterns are identified by ``(namespace, kind, key)``: the same
situation always maps to the same record, so evidence merges instead of duplicating.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .episodes import TaskType, utc_now
from .stats import decay_factor, wilson_lower_bound

__all__ = [
    "AnyPattern",
    "ChoiceStats",
    "ContextPattern",
    "DecisionPoint",
    "ErrorRecovery",
    "Heuristic",
    "HeuristicKind",
    "HeuristicTrigger",
    "RecoveryMode",
    "PatternContext",
    "PatternKind",
    "ToolSequence",
    "pattern_adapter",
    "stable_id",
]

MAX_PROVENANCE = 50


def stable_id(*parts: str) -> str:
    """A short deterministic id for a record key."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()


class _Learned(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def detached(self) -> Self:
        """A deep copy that shares nothing with this record (the learner keeps changing
        its records), rebuilt from its fields: about four times cheaper than
        ``model_copy(deep=True)`` for a task family's record, whose profile holds hundreds
        of entries."""
        return self.model_validate(self.model_dump())


class PatternKind(StrEnum):
    TOOL_SEQUENCE = "tool_sequence"
    DECISION_POINT = "decision_point"
    ERROR_RECOVERY = "error_recovery"
    CONTEXT_PATTERN = "context_pattern"


class PatternContext(_Learned):
    """The context a pattern applies to; ``None`` fields mean "any"."""

    domain: str | None = None
    language: str | None = None
    task_type: TaskType | None = None
    tags: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("domain", self.domain),
                ("language", self.language),
                ("task type", self.task_type.value if self.task_type else None),
            )
            if value
        ]
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        return "; ".join(parts) or "any context"


class ChoiceStats(_Learned):
    """How often an option was taken and how often it ended in success."""

    n: int = 0
    successes: int = 0

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0

    @property
    def confidence(self) -> float:
        return wilson_lower_bound(self.successes, self.n)


class _PatternBase(_Learned):
    id: str
    namespace: str
    key: str
    support: int = 0
    successes: int = 0
    reward_sum: float = 0.0
    latency_ms_sum: float = 0.0
    first_seen: datetime = Field(default_factory=utc_now)
    last_seen: datetime = Field(default_factory=utc_now)
    episode_ids: list[str] = Field(default_factory=list)
    context: PatternContext = Field(default_factory=PatternContext)
    feedback_uses: int = 0
    feedback_successes: int = 0
    retired: bool = False

    @property
    def success_rate(self) -> float:
        return self.successes / self.support if self.support else 0.0

    @property
    def confidence(self) -> float:
        """Wilson lower bound of the success rate over support plus feedback."""
        return wilson_lower_bound(
            self.successes + self.feedback_successes, self.support + self.feedback_uses
        )

    @property
    def avg_reward(self) -> float:
        return self.reward_sum / self.support if self.support else 0.0

    @property
    def avg_latency_ms(self) -> float:
        return self.latency_ms_sum / self.support if self.support else 0.0

    def effectiveness(self, now: datetime | None = None, half_life_days: float = 30.0) -> float:
        """Confidence decayed by the age of the newest evidence; 0 once retired."""
        if self.retired:
            return 0.0
        age = ((now or utc_now()) - self.last_seen).total_seconds() / 86_400
        return self.confidence * decay_factor(age, half_life_days)

    def add_provenance(self, episode_id: str) -> None:
        ids = self.episode_ids
        if episode_id not in ids:
            # in place: the learner calls this for every pattern an episode counts in
            ids.append(episode_id)
            if len(ids) > MAX_PROVENANCE:
                del ids[: len(ids) - MAX_PROVENANCE]

    def describe(self) -> str:  # pragma: no cover - every kind overrides
        raise NotImplementedError


class ToolSequence(_PatternBase):
    """A task family and the tools its successful runs share, in order (gaps tolerated).

    A family is a group of episodes that are the same kind of task, found from the tasks
    themselves (their words, their tools, and their context as one signal among others).
    ``members`` counts every run of the family; ``terms``, ``tool_stats``,
    ``feature_stats`` and ``context_keys`` are its profile, which new episodes and queries
    are compared with; ``tool_calls`` counts, per tool, the runs that used it and those in
    which none of its calls failed. ``support`` / ``successes`` count the recent runs that
    followed ``tools``. ``conditional`` maps tools that belong in the sequence only under a
    context feature (a served context pattern of the family says so) to that feature; they
    are left out of ``tools``. ``stale`` says the runs that followed the sequence started
    failing; ``changed_at`` is when the latest such change began and ``changed_tools`` the
    steps of the sequence at which those runs broke (episodes of the family that ended
    before it and used one of those tools did what no longer works; a run that already did
    something else is not superseded by the change; on an offer of how far runs got, keyed
    ``progress:``, the steps that broke when the runs' way changed). ``followed`` keeps, for
    episodes of the family whose plan later runs followed
    (``record_feedback(followed_episode_ids=...)``), those runs, oldest first, ``+<id>`` or
    ``-<id>`` by outcome (see :mod:`selfmem.learning.followed`). ``apart`` lists the families
    this one was divided from, or divided off, because the tasks' words decided a tool choice
    (:mod:`selfmem.learning.word_split`): they are never merged back. ``options`` maps a step
    of the sequence to the tools the runs choose between right after it (tools that never
    come together in one run, :mod:`selfmem.learning.slot_choices`; ``tools`` holds the best
    of them; the key ``""`` is the first step). ``recent`` holds the ids of the recent runs
    ``support`` is counted over (at most ``LearningConfig.max_family_runs``, oldest first),
    so that a learner loaded from the store starts from the same runs, and ``tools_seen``
    when a run of the family that called each tool last ended (what a recovery of the tool
    ages from), so that it ages the same after a reopen.
    """

    kind: Literal[PatternKind.TOOL_SEQUENCE] = PatternKind.TOOL_SEQUENCE
    tools: list[str] = Field(default_factory=list)
    sample_task: str = ""
    members: ChoiceStats = Field(default_factory=ChoiceStats)
    terms: dict[str, int] = Field(default_factory=dict)
    tool_stats: dict[str, ChoiceStats] = Field(default_factory=dict)
    tool_calls: dict[str, ChoiceStats] = Field(default_factory=dict)
    feature_stats: dict[str, ChoiceStats] = Field(default_factory=dict)
    context_keys: dict[str, int] = Field(default_factory=dict)
    conditional: dict[str, str] = Field(default_factory=dict)
    stale: bool = False
    changed_at: datetime | None = None
    changed_tools: list[str] = Field(default_factory=list)
    followed: dict[str, list[str]] = Field(default_factory=dict)
    apart: list[str] = Field(default_factory=list)
    options: dict[str, list[str]] = Field(default_factory=dict)
    recent: list[str] = Field(default_factory=list)
    tools_seen: dict[str, datetime] = Field(default_factory=dict)

    def describe(self) -> str:
        task = f"tasks like '{self.sample_task[:80]}'" if self.sample_task else "this family"
        if not self.tools:
            return f"for {task} ({self.context.describe()}), no shared tool sequence yet"
        if self.key.startswith("progress:") and self.changed_tools:
            return (
                f"the procedure of tasks like '{self.sample_task[:80]}' changed "
                f"({', '.join(self.changed_tools)} stopped working) and no run has succeeded "
                f"since; the old way still goes as far as {' -> '.join(self.tools)}"
            )
        if self.key.startswith("progress:"):
            return (
                f"none of the {self.support} most similar runs succeeded; they got through "
                f"{' -> '.join(self.tools)} (e.g. '{self.sample_task[:80]}')"
            )
        if self.key.startswith("repair:"):
            return (
                f"the procedure of tasks like '{self.sample_task[:80]}' changed and none of the "
                f"{self.support} runs since succeeded; from the new steps that worked in them: "
                f"try {' -> '.join(self.tools)} (not yet known to work)"
            )
        if self.key.startswith("transfer:"):
            return (
                f"no run in this task's language or framework has succeeded yet; "
                f"{self.successes} of the {self.support} most similar successful runs, in "
                f"another, followed {' -> '.join(self.tools)} (e.g. '{self.sample_task[:80]}'): "
                "adapt its language-specific steps"
            )
        if self.key.startswith("similar:"):
            return (
                f"{self.successes} of the {self.support} most similar successful runs "
                f"followed {' -> '.join(self.tools)} (e.g. '{self.sample_task[:80]}')"
            )
        only = "".join(f"; add {tool} with {feature}" for tool, feature in self.conditional.items())
        return (
            f"for {task} ({self.context.describe()}), the sequence {' -> '.join(self.tools)} "
            f"succeeded in {self.successes} of {self.support} recent runs{only}"
        )


class DecisionPoint(_PatternBase):
    """Within one task family, after ``after_tool`` the choice of next tool matters.

    ``choices`` counts the runs by the tool that came right after ``after_tool``. Where the
    runs choose between tools that never come together (the family's ``options`` at that
    step), ``option_stats`` counts, per option, the family's runs that used it, wherever a
    step in between (an optional check, a note) put it, and best and worst are compared on
    those. ``p_value`` is the two-sided test of the best choice's success rate against the
    worst's; the pattern is served only when it survives the false-discovery control over
    every comparison the learner makes.
    """

    kind: Literal[PatternKind.DECISION_POINT] = PatternKind.DECISION_POINT
    family: str = ""
    after_tool: str
    choices: dict[str, ChoiceStats] = Field(default_factory=dict)
    best: str | None = None
    worst: str | None = None
    p_value: float = 1.0
    option_stats: dict[str, ChoiceStats] = Field(default_factory=dict)

    def stats_of(self, choice: str) -> ChoiceStats | None:
        """The runs a choice is judged on: its ``option_stats`` if the step has options,
        else its ``choices``."""
        return (self.option_stats or self.choices).get(choice)

    @property
    def confidence(self) -> float:
        """Confidence in the better choice (Wilson lower bound of its success rate)."""
        best = self.stats_of(self.best or "")
        if best is None:
            return 0.0
        return wilson_lower_bound(
            best.successes + self.feedback_successes, best.n + self.feedback_uses
        )

    def describe(self) -> str:
        if self.best is None or self.worst is None:
            seen = ", ".join(f"{c} {s.successes}/{s.n}" for c, s in sorted(self.choices.items()))
            return f"after {self.after_tool}, no choice stands out yet ({seen})"
        best = self.stats_of(self.best or "") or ChoiceStats()
        worst = self.stats_of(self.worst or "") or ChoiceStats()
        return (
            f"after {self.after_tool}, {self.best} led to success {best.successes}/{best.n} "
            f"times while {self.worst} did {worst.successes}/{worst.n}"
        )


RecoveryMode = Literal["retry", "fix", "replace"]


class ErrorRecovery(_PatternBase):
    """A tool's error class and what fixed it.

    ``recoveries`` count, per action tried after the error, how often the failing tool then
    succeeded (``"retry"`` when it succeeded when simply run again); ``replacements``
    count, per tool used *instead* of the failing one (it never succeeded again), the runs
    in which that tool succeeded and the task did too: only runs that succeeded show a
    replacement (in a run that failed, a tool that worked after the error may have been a
    step that broke it), so their count is a number of successful runs, with no failures
    beside it; ``describe()`` says so. ``support`` / ``successes`` count episodes
    with the error and their outcomes; ``recovered`` counts those in which the error was
    overcome at all. ``fix_runs`` count, per tool run between the error and the failing
    tool's next success, the runs that did so and how many of them succeeded as a whole;
    ``harmful`` names the fixes after which every one of at least ``min_support`` runs that
    used them failed: they are not served, and their evidence counts for a retry (the
    failing tool worked when run again). ``breaking`` maps, oldest first, the episodes in
    which the tool failed with this error and never worked to their setting (domain,
    language, framework and tags), from the first episode that showed the error on, as long
    as no episode has called the tool and seen it work since: an error no run had seen that
    every run since has met ("410 Gone"). Two such episodes say the tool has stopped working
    (:meth:`PatternLearner.stopped_tools`): where they ran, or everywhere when they ran in
    two settings or more. ``breaking_paths`` gives the tools each of those episodes got to
    work. A run that sees the tool work while doing another task (it shares less than half
    its tools with each of them) does not end the streak: it sets ``works_elsewhere``, and
    the tool has then stopped only for the breaking runs' task.
    Forgetting the run that saw the tool work does not bring back the streak it ended;
    relearning does.
    """

    kind: Literal[PatternKind.ERROR_RECOVERY] = PatternKind.ERROR_RECOVERY
    tool: str
    error_class: str
    recoveries: dict[str, ChoiceStats] = Field(default_factory=dict)
    replacements: dict[str, ChoiceStats] = Field(default_factory=dict)
    fix_runs: dict[str, ChoiceStats] = Field(default_factory=dict)
    harmful: list[str] = Field(default_factory=list)
    recovered: int = 0
    unrecovered: int = 0
    best_recovery: str | None = None
    best_mode: RecoveryMode | None = None
    breaking: dict[str, str] = Field(default_factory=dict)
    breaking_paths: dict[str, list[str]] = Field(default_factory=dict)
    works_elsewhere: bool = False

    def best_stats(self) -> ChoiceStats | None:
        """How often the best recovery was tried after the error, and how often it fixed it."""
        if self.best_recovery is None:
            return None
        table = self.replacements if self.best_mode == "replace" else self.fix_options()
        return table.get(self.best_recovery)

    def fix_options(self) -> dict[str, ChoiceStats]:
        """``recoveries`` without the ``harmful`` fixes, whose runs count for a retry."""
        if not self.harmful:
            return self.recoveries
        options = {a: s for a, s in self.recoveries.items() if a not in self.harmful}
        parts = [self.recoveries[a] for a in ("retry", *self.harmful) if a in self.recoveries]
        options["retry"] = ChoiceStats(
            n=sum(p.n for p in parts), successes=sum(p.successes for p in parts)
        )
        return options

    @property
    def confidence(self) -> float:
        """Confidence in the best recovery, or that the error has none."""
        stats = self.best_stats()
        if stats is None:
            return wilson_lower_bound(self.unrecovered, self.support)
        return wilson_lower_bound(
            stats.successes + self.feedback_successes, stats.n + self.feedback_uses
        )

    def describe(self) -> str:
        stats = self.best_stats()
        if stats is None:
            return (
                f"{self.tool} failing with '{self.error_class}' has no known recovery "
                f"({self.unrecovered} of {self.support} episodes never got past it)"
            )
        if self.best_mode == "replace":
            return (
                f"when {self.tool} fails with '{self.error_class}', using {self.best_recovery} "
                f"instead got the task done in {stats.successes} runs"
            )
        found = (
            f"when {self.tool} fails with '{self.error_class}', {self.best_recovery} "
            f"recovered it {stats.successes} of {stats.n} times"
        )
        if self.harmful and self.best_mode == "retry":
            found += f"; do not run {', '.join(self.harmful)} first: every run that did failed"
        return found


class ContextPattern(_PatternBase):
    """Within one task family, a context feature changes what a tool does for the task.

    Two measures, one record each:

    - ``measure="outcome"``: under the feature, runs that used the tool succeed more (or
      less) often than runs that did not. ``support`` / ``successes`` count the family's
      runs with the feature that used the tool, ``baseline`` those with the feature that did
      not; ``other_with`` / ``other_without`` are the same two groups without the feature:
      an effect as strong without the feature is not about the feature and is not served.
    - ``measure="calls"``: under the feature, the tool's own calls fail more (or less) often.
      ``support`` counts the family's runs with the feature that used the tool and
      ``successes`` those in which none of its calls failed; ``baseline`` is the same count
      for the family's runs without the feature.

    ``aliases`` name other features that select exactly the same runs (one finding, one
    pattern).
    """

    kind: Literal[PatternKind.CONTEXT_PATTERN] = PatternKind.CONTEXT_PATTERN
    family: str = ""
    feature: str
    tool: str
    measure: Literal["outcome", "calls"] = "outcome"
    association: Literal["success", "failure"] = "success"
    baseline: ChoiceStats = Field(default_factory=ChoiceStats)
    other_with: ChoiceStats = Field(default_factory=ChoiceStats)
    other_without: ChoiceStats = Field(default_factory=ChoiceStats)
    p_value: float = 1.0
    aliases: list[str] = Field(default_factory=list)

    @property
    def confidence(self) -> float:
        """Confidence in the association (of success, or of failure)."""
        hits = self.successes if self.association == "success" else self.support - self.successes
        return wilson_lower_bound(hits, self.support)

    def describe(self) -> str:
        also = f" (also {', '.join(self.aliases)})" if self.aliases else ""
        if self.measure == "calls":
            return (
                f"with {self.feature}{also}, {self.tool} ran without failing in "
                f"{self.successes}/{self.support} runs versus {self.baseline.successes}/"
                f"{self.baseline.n} without {self.feature}"
            )
        return (
            f"with {self.feature}{also}, {self.tool} succeeded {self.successes}/{self.support} "
            f"times versus {self.baseline.successes}/{self.baseline.n} without it"
        )


AnyPattern = Annotated[
    ToolSequence | DecisionPoint | ErrorRecovery | ContextPattern, Field(discriminator="kind")
]
pattern_adapter: TypeAdapter[AnyPattern] = TypeAdapter(AnyPattern)


class HeuristicKind(StrEnum):
    FOLLOW_SEQUENCE = "follow_sequence"
    PREFER = "prefer"
    AVOID = "avoid"
    RECOVER = "recover"


class HeuristicTrigger(_Learned):
    """When a heuristic applies, in fields an agent can match without parsing text.

    ``tool`` + ``error_class``: the tool failed with that class of error (see
    :func:`selfmem.learning.error_classes.normalize_error`); ``after_tool``: the tool just
    succeeded; ``feature``: a context feature such as ``language=rust``; ``family``: the
    task family (a tool-sequence pattern's key) the rule was learned in.
    """

    tool: str | None = None
    error_class: str | None = None
    after_tool: str | None = None
    feature: str | None = None
    family: str | None = None


class Heuristic(_Learned):
    """A condition -> action rule derived from a pattern, with its evidence.

    ``condition`` and ``action`` are the rule in words; ``trigger`` and ``tools`` the same
    rule in fields: when the trigger matches, run ``tools`` in order (``avoid`` rules list
    the tools not to run).
    """

    id: str
    namespace: str
    kind: HeuristicKind
    condition: str
    action: str
    tool: str | None = None
    tools: list[str] = Field(default_factory=list)
    trigger: HeuristicTrigger = Field(default_factory=HeuristicTrigger)
    evidence: int = 0
    successes: int = 0
    confidence: float = 0.0
    context: PatternContext = Field(default_factory=PatternContext)
    source_pattern_ids: list[str] = Field(default_factory=list)
    episode_ids: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utc_now)

    def explain(self) -> str:
        """The rule and its evidence in one sentence."""
        return (
            f"{self.condition}, {self.action} "
            f"(seen in {self.evidence} episodes, {self.successes} successful; "
            f"confidence {self.confidence:.2f})."
        )
