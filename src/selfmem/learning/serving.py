"""Which learned patterns are served: the rules that keep noise out as data grows.

- **Tool sequences**: enough runs of the family, a shared sequence of at least two tools,
  and a trustworthy success rate of the recent runs that followed it. When the runs that
  follow a served sequence start failing (``change_min_failures`` of the last
  ``change_window``, a run of failures that would happen with probability at most
  ``change_alpha`` at the sequence's earlier failure rate), the sequence stops being served
  and the family's sequence is worked out again from the runs after the change only.
- **Decision points** are only tested after a step that most of the family's runs take.
  Where the runs choose between tools that never come together (the family's ``options``
  at that step), the options are compared on every run that took each (``option_stats``),
  not only on those that took it right after the step.
- **Decision points and context patterns** are comparisons. Each is tested (Fisher's exact
  test, or a normal approximation for large counts), needs ``min_arm_support`` runs in each
  compared group and an effect of at least ``decision_min_effect`` / ``context_min_effect``,
  and must survive Benjamini-Hochberg over *every* comparison made, so the share of false
  findings does not grow with the number of episodes: at ``fdr_q / 2`` over the comparisons
  of a step's options and at ``fdr_q / 2`` over all the others (together at most ``fdr_q``).
  A context pattern compares runs of one family with the feature that used the tool against
  those with the feature that did not; when the family also has runs without the feature,
  the effect must differ from the tool's effect there (otherwise it is not about the
  feature). Context findings over the same runs (two features that always come together)
  are merged into one pattern with ``aliases``.
- **Error recoveries**: the best action (retry, a fix, or a replacement) has
  ``recovery_min_support`` uses and a Wilson lower bound of its fix rate of at least
  ``recovery_min_confidence`` (two fixes in two uses are enough, one in two is not); while
  no action has, one that fixed the error the one time it was tried is served as a first
  lead (``recovery_first_use``), until a use in which it did not fix it; an error
  nothing fixed is served as "no known recovery" once it was left unrecovered in most of at
  least ``min_support`` episodes and one way out was tried (and failed) in ``min_support``
  of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, cast

from ..config import LearningConfig
from ..records.learned import (
    AnyPattern,
    ChoiceStats,
    ContextPattern,
    DecisionPoint,
    ErrorRecovery,
    RecoveryMode,
    ToolSequence,
)
from ..records.stats import wilson_lower_bound
from .families import task_terms
from .restated import explained_decisions, merge_duplicates, options_test
from .significance import (
    bh_threshold,
    difference_p,
    interaction_p,
    smallest_difference_p,
)

__all__ = ["count_use", "discoveries", "pick_recovery", "sequence_served", "unrecoverable"]


#: A group's runs and successes, as plain integers: a learning pass tests hundreds of
#: comparisons per episode, and the pattern's fields are written only when they change.
_Pair = tuple[int, int]


def _pair(stats: ChoiceStats | None) -> _Pair:
    return (stats.n, stats.successes) if stats is not None else (0, 0)


def _minus(total: _Pair, part: _Pair) -> _Pair:
    return total[0] - part[0], total[1] - part[1]


def _rate(group: _Pair) -> float:
    return group[1] / group[0] if group[0] else 0.0


def _store(pattern: ContextPattern, name: str, group: _Pair) -> None:
    """Set one of the pattern's groups, building a record only when its counts changed."""
    current: ChoiceStats = getattr(pattern, name)
    if (current.n, current.successes) != group:
        setattr(pattern, name, ChoiceStats.model_construct(n=group[0], successes=group[1]))


def _set_p(pattern: DecisionPoint | ContextPattern, p: float) -> None:
    if pattern.p_value != p:
        pattern.p_value = p


def _set_association(pattern: ContextPattern, effect: float) -> None:
    association: Literal["success", "failure"] = "success" if effect > 0 else "failure"
    if pattern.association != association:
        pattern.association = association


#: A test's p-value (None when there are too few runs to test, or when no outcome of these
#: runs could make it significant at ``fdr_q``) and whether the effect is large enough to
#: serve. Every other test counts in the false-discovery control, whatever its effect size:
#: leaving small effects out would make the control too lenient.
_Test = tuple[float | None, bool]


def _upper_bound(stats: ChoiceStats) -> float:
    """The Wilson upper bound of a choice's success rate."""
    return 1.0 - wilson_lower_bound(stats.n - stats.successes, stats.n)


def _testable(a: _Pair, b: _Pair, cfg: LearningConfig) -> bool:
    """Whether comparing ``a`` with ``b`` could be significant at all (see
    :func:`~selfmem.learning.significance.smallest_difference_p`)."""
    return smallest_difference_p(a[1], a[0], b[1], b[0]) <= cfg.fdr_q


#: A step's options are compared on their runs when this share of the runs that took the step
#: took one of them.
_OPTIONS_COVER = 0.8


def _test_decision(
    pattern: DecisionPoint, family: ToolSequence | None, cfg: LearningConfig
) -> _Test:
    """Set best, worst and p-value of the best choice against the worst."""
    pattern.best = pattern.worst = None
    pattern.p_value = 1.0
    if family is not None and family.tools and pattern.after_tool == family.tools[-1]:
        # what follows a family's last step is not a step of its procedure
        return None, False
    ran = family.tool_stats.get(pattern.after_tool, ChoiceStats()).n if family else 0
    if family is None or ran < family.members.n / 2:
        # a choice is made at a step of the family's procedure (one most of its runs take);
        # what follows an occasional step depends on where it happened to be taken
        return None, False
    options = family.options.get(pattern.after_tool)
    stats = {t: family.tool_stats[t] for t in options or () if t in family.tool_stats}
    if sum(s.n for s in stats.values()) < _OPTIONS_COVER * ran:
        stats = {}  # options found in the recent runs that most of the family's runs never took
    if pattern.option_stats != stats:
        pattern.option_stats = stats
    if stats:
        # the step's options never come together: each one's runs, wherever a step in
        # between put it, are one group (counting only what came right after the step
        # would split them by the optional checks and notes taken first)
        eligible = sorted((c, s) for c, s in stats.items() if s.n >= cfg.min_arm_support)
    else:
        floor = max(cfg.min_arm_support, cfg.decision_min_choice_share * ran)
        eligible = sorted((c, s) for c, s in pattern.choices.items() if s.n >= floor)
    if len(eligible) < 2:
        return None, False
    # by confidence bounds, not raw rates: among many small arms (noise steps taken now and
    # then) the one that happened to go 6/6 is not the best choice
    best = max(eligible, key=lambda item: (item[1].confidence, item[1].n))
    worst = min(eligible, key=lambda item: (_upper_bound(item[1]), -item[1].n))
    if best[0] == worst[0]:
        return None, False
    pattern.best, pattern.worst = best[0], worst[0]
    if not _testable(_pair(best[1]), _pair(worst[1]), cfg):
        return None, False
    pattern.p_value = difference_p(best[1].successes, best[1].n, worst[1].successes, worst[1].n)
    return pattern.p_value, best[1].rate - worst[1].rate >= cfg.decision_min_effect


def _test_context(
    pattern: ContextPattern, family: ToolSequence | None, cfg: LearningConfig
) -> _Test:
    """Fill the groups, test the tool's effect under the feature and keep its p-value (1.0
    when untested)."""
    if family is None:
        result: _Test = (None, False)
    elif pattern.measure == "calls":
        result = _test_calls(pattern, family, cfg)
    else:
        result = _test_outcome(pattern, family, cfg)
    _set_p(pattern, 1.0 if result[0] is None else result[0])
    return result


#: A tool this share of a feature's runs used, and at most the rest of it of the other runs,
#: is a step of the procedure in that setting.
_SETTING_STEP = 0.9


def _test_outcome(pattern: ContextPattern, family: ToolSequence, cfg: LearningConfig) -> _Test:
    """Does using the tool under the feature change the run's outcome, and more than
    using it without the feature does?"""
    with_feature = _pair(family.feature_stats.get(pattern.feature))
    inside = (pattern.support, pattern.successes)
    baseline = _minus(with_feature, inside)
    other_with = _minus(_pair(family.tool_stats.get(pattern.tool)), inside)
    rest = _minus(_pair(family.members), with_feature)
    other_without = _minus(rest, other_with)
    _store(pattern, "baseline", baseline)
    _store(pattern, "other_with", other_with)
    _store(pattern, "other_without", other_without)
    arm = cfg.min_arm_support
    if inside[0] < arm or baseline[0] < arm or rest[0] < arm:
        return None, False  # too few runs, or the feature does not vary in the family
    if (
        inside[0] >= _SETTING_STEP * with_feature[0]
        and other_with[0] <= (1 - _SETTING_STEP) * rest[0]
    ):
        # nearly every run with the feature used the tool and nearly none without: a step
        # the setting decides (``build_with_dotnet`` in C# builds), not a tool whose effect
        # depends on the feature; the few runs without it skipped a step of the procedure
        return None, False
    effect = _rate(inside) - _rate(baseline)
    _set_association(pattern, effect)
    if not _testable(inside, baseline, cfg):
        return None, False
    big = abs(effect) >= cfg.context_min_effect
    p = difference_p(inside[1], inside[0], baseline[1], baseline[0])
    if other_with[0] >= arm and other_without[0] >= arm:
        outside = _rate(other_with) - _rate(other_without)
        # most of the effect is the feature's: a step that helps everywhere, and more under
        # one language, is a step of the family, not of that language
        specific = (
            abs(effect - outside) >= cfg.context_min_effect / 2 and outside * effect < effect**2 / 2
        )
        cells = tuple((s, n) for n, s in (inside, baseline, other_with, other_without))
        p = max(p, interaction_p(cells))
        big = big and specific
    elif other_with[0] / rest[0] > 0.5 * inside[0] / with_feature[0] or (
        other_with[0] and (_rate(other_with) - _rate(other_without)) * effect >= effect**2 / 2
    ):
        # too few runs without the feature to compare, and the tool is not specific to the
        # feature, or the few runs that used it without the feature went the same way: the
        # effect may be the tool's anywhere in the family
        return None, False
    return p, big


def _test_calls(pattern: ContextPattern, family: ToolSequence, cfg: LearningConfig) -> _Test:
    """Under the feature, does the tool fail more (or less) than without it?"""
    inside = (pattern.support, pattern.successes)
    baseline = _minus(_pair(family.tool_calls.get(pattern.tool)), inside)
    _store(pattern, "baseline", baseline)
    arm = cfg.min_arm_support
    if inside[0] < arm or baseline[0] < arm:
        return None, False
    effect = _rate(inside) - _rate(baseline)
    _set_association(pattern, effect)
    if not _testable(inside, baseline, cfg):
        return None, False
    p = difference_p(inside[1], inside[0], baseline[1], baseline[0])
    return p, abs(effect) >= cfg.context_min_effect


#: The record classes that are comparisons, tested under the false-discovery control.
_TESTED = frozenset({DecisionPoint, ContextPattern})


class Tests:
    """What the comparison tests of earlier passes found, kept between passes.

    A pattern's test reads only its own counts and its family's, and both change only when
    an episode of that family is counted in or out, or when the family absorbs another
    (:class:`~selfmem.learning.learner.PatternLearner` reports those families as
    ``dirty``). A pass therefore tests again only the patterns of the families it changed;
    the others keep their p-values (and the fields their test set)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.p_values: dict[str, float] = {}  # by pattern id, those a test could serve
        self.big: set[str] = set()  # effect large enough to serve
        self.by_family: dict[str, set[str]] = {}  # family key -> ids tested in it
        self.aliased: set[str] = set()  # context findings given aliases by the last pass
        self.complete = False  # whether every pattern was tested since the last reset

    def forget_family(self, key: str) -> None:
        for pattern_id in self.by_family.pop(key, ()):
            self.p_values.pop(pattern_id, None)
            self.big.discard(pattern_id)

    def keep(self, pattern: DecisionPoint | ContextPattern, result: _Test) -> None:
        pattern_id = pattern.id
        self.by_family.setdefault(pattern.family, set()).add(pattern_id)
        p, large = result
        if p is not None:
            self.p_values[pattern_id] = p
            if large:
                self.big.add(pattern_id)


def discoveries(
    patterns: Mapping[str, AnyPattern],
    families: dict[str, ToolSequence],
    cfg: LearningConfig,
    tests: Tests | None = None,
    dirty: Iterable[str] | None = None,
) -> set[str]:
    """Ids of the decision points and context patterns that are served (``patterns``: every
    pattern of the namespace, by id). With ``tests`` (kept between calls) and ``dirty`` (the
    families whose counts changed since the last call), only the patterns of those families
    are tested again; without them, every pattern is."""
    tests = Tests() if tests is None else tests
    full = dirty is None or not tests.complete
    if full:
        tests.reset()
        todo = [p for p in patterns.values() if p.__class__ in _TESTED]
        for pattern in todo:
            if isinstance(pattern, ContextPattern):
                pattern.aliases = []
    else:
        changed = set(dirty or ())
        for key in changed:
            tests.forget_family(key)
        # the class, not isinstance: this runs over every pattern of the namespace each pass
        todo = [p for p in patterns.values() if p.__class__ in _TESTED and p.family in changed]
    for pattern in cast(list[DecisionPoint | ContextPattern], todo):
        family = families.get(pattern.family)
        if isinstance(pattern, DecisionPoint):
            tests.keep(pattern, _test_decision(pattern, family, cfg))
        else:
            tests.keep(pattern, _test_context(pattern, family, cfg))
    tests.complete = True
    passed = _passed(patterns, tests, cfg)
    for pattern_id in tests.aliased:
        aliased = patterns.get(pattern_id)
        if isinstance(aliased, ContextPattern):
            aliased.aliases = []
    served_contexts = [
        found for i in sorted(passed) if isinstance(found := patterns[i], ContextPattern)
    ]
    hidden = merge_duplicates(served_contexts)
    tests.aliased = {p.id for p in served_contexts if p.aliases}
    hidden |= explained_decisions(patterns, passed, served_contexts)
    return passed - hidden


def _passed(patterns: Mapping[str, AnyPattern], tests: Tests, cfg: LearningConfig) -> set[str]:
    """The tested comparisons that survive Benjamini-Hochberg, in two groups each at half of
    ``fdr_q`` (so the share of false findings among all served stays at most ``fdr_q``): the
    choices between a step's options (few, found from the runs' shape) and every other
    comparison (feature by tool, hundreds; they would otherwise set the bar for the few)."""
    p_values = tests.p_values
    passed: set[str] = set()
    for pooled in (True, False):
        mine = [pid for pid in p_values if options_test(patterns[pid]) is pooled]
        threshold = bh_threshold((p_values[pid] for pid in mine), cfg.fdr_q / 2)
        if threshold is not None:
            passed.update(pid for pid in mine if pid in tests.big and p_values[pid] <= threshold)
    return passed


def conditional_tools(
    served: Iterable[AnyPattern], families: dict[str, ToolSequence]
) -> dict[str, dict[str, str]]:
    """Per family, the tools that help only under a feature: a served context pattern says
    using the tool under the feature raises success (and, where the family has runs to tell,
    that it does not do so without the feature). Such a tool belongs to the family's sequence
    under that feature only; of two features for one tool, the one with the stronger
    evidence (the smaller p-value, then more runs, then the feature's name)."""
    best: dict[tuple[str, str], ContextPattern] = {}
    for pattern in served:
        if not (
            isinstance(pattern, ContextPattern)
            and pattern.measure == "outcome"
            and pattern.association == "success"
            and pattern.family in families
        ):
            continue
        known = best.get((pattern.family, pattern.tool))
        if known is None or _stronger(pattern) < _stronger(known):
            best[pattern.family, pattern.tool] = pattern
    found: dict[str, dict[str, str]] = {}
    for (family, tool), pattern in sorted(best.items()):
        found.setdefault(family, {})[tool] = pattern.feature
    return found


def _stronger(pattern: ContextPattern) -> tuple[float, int, str]:
    """Sort key: the strongest evidence first."""
    return pattern.p_value, -pattern.support, pattern.feature


def sequence_served(pattern: ToolSequence, cfg: LearningConfig) -> bool:
    return (
        not pattern.stale
        and pattern.support >= cfg.min_support
        and len(pattern.tools) >= 2
        and pattern.confidence >= cfg.sequence_min_confidence
    )


def harmful_fixes(pattern: ErrorRecovery, cfg: LearningConfig) -> list[str]:
    """The fixes after which the failing tool worked, but every one of at least
    ``min_support`` runs that used them failed. Such a step looks like a fix only because
    the failing tool worked when run again (a transient error); what it did may have broken
    the run later (a destructive step such as deleting the data the task needed). A real fix
    of a task that fails for other reasons is taken for one too: its runs still count, for a
    retry, and one run that succeeds makes it a fix again."""
    return sorted(
        action
        for action, runs in pattern.fix_runs.items()
        if runs.n >= cfg.min_support and runs.successes == 0 and action in pattern.recoveries
    )


def pick_recovery(pattern: ErrorRecovery, cfg: LearningConfig) -> None:
    """Set the best recovery: the action with the most trustworthy fix rate, one the error
    message names first ("build not signed": ``sign_build``, of the steps that came between
    the error and the call that worked; it must have earned trust, a first lead does not
    count). A harmful fix (:func:`harmful_fixes`) is not one: its runs count for a retry.

    Several first leads and nothing trusted: the steps ran together between the error and
    the call that worked, and which of them fixed it one run can not tell. One the error
    names is the lead then ("build not signed": ``sign_build``, not
    ``submit_certification`` that ran beside it)."""
    pattern.harmful = harmful_fixes(pattern, cfg)
    options: list[tuple[bool, float, int, str, RecoveryMode]] = []
    said = set(task_terms(pattern.error_class))
    leads: list[tuple[bool, str, RecoveryMode]] = []
    for tables, mode_of in ((pattern.fix_options(), _fix_mode), (pattern.replacements, _replace)):
        for action, stats in tables.items():
            if _trusted(stats, cfg):
                names = bool(said & set(task_terms(action.replace("_", " "))))
                earned = _earned(stats, cfg)
                options.append(
                    (earned and names, stats.confidence, stats.n, action, mode_of(action))
                )
                if not earned:
                    leads.append((names, action, mode_of(action)))
    named = [(action, mode) for names, action, mode in leads if names]
    if len(leads) == len(options) > 1 and len(named) == 1:
        pattern.best_recovery, pattern.best_mode = named[0]
        return
    if not options:
        pattern.best_recovery = pattern.best_mode = None
        return
    _, _, _, pattern.best_recovery, pattern.best_mode = max(options)


def _trusted(stats: ChoiceStats, cfg: LearningConfig) -> bool:
    """Whether a recovery may be served: enough uses and a trustworthy fix rate, or, with
    ``recovery_first_use``, it fixed the error the one time it was tried. Such a first lead
    ranks below any recovery that earned trust (its Wilson lower bound is 0.21, under
    ``recovery_min_confidence``), and one use in which it did not fix the error (1 of 2)
    takes it away."""
    return (cfg.recovery_first_use and stats.n == stats.successes == 1) or _earned(stats, cfg)


def _earned(stats: ChoiceStats, cfg: LearningConfig) -> bool:
    """Enough uses and a trustworthy fix rate (a first lead has not earned trust)."""
    return stats.n >= cfg.recovery_min_support and stats.confidence >= cfg.recovery_min_confidence


def _fix_mode(action: str) -> RecoveryMode:
    return "retry" if action == "retry" else "fix"


def _replace(action: str) -> RecoveryMode:
    return "replace"


#: How many different tools must have raised an error class for it to be a state error.
STATE_ERROR_TOOLS = 5


def state_errors(recoveries: Iterable[ErrorRecovery]) -> set[str]:
    """Error classes raised by at least ``STATE_ERROR_TOOLS`` different tools: they say
    what state the task was in ("precondition not met": a tool called out of turn), not
    that a tool is broken, so neither "X failing with it has no known recovery" nor "use Y
    instead of X" is served for them (a fix, the step to run before X, still is)."""
    tools: dict[str, set[str]] = {}
    for pattern in recoveries:
        tools.setdefault(pattern.error_class, set()).add(pattern.tool)
    return {error for error, raised in tools.items() if len(raised) >= STATE_ERROR_TOOLS}


def unrecoverable(pattern: ErrorRecovery, cfg: LearningConfig) -> bool:
    """Nothing fixed the error in most of enough episodes, and something was tried: one
    way out (a retry, another tool) failed in at least ``min_support`` of them. Runs that
    simply stopped at the error say that they gave up, not that nothing works; as data
    grows, rare errors that a few runs happened to stop at would otherwise all be served."""
    tried = max((s.n - s.successes for s in pattern.recoveries.values()), default=0)
    return (
        pattern.best_recovery is None
        and pattern.unrecovered >= cfg.min_support
        and tried >= cfg.min_support
        and wilson_lower_bound(pattern.unrecovered, pattern.support) >= 0.5
    )


def count_use(pattern: AnyPattern, success: bool, cfg: LearningConfig) -> None:
    """Count one use of a served pattern with this outcome; retire it once it has
    ``retire_min_uses`` uses and the upper confidence bound of its success rate in use is
    below ``retire_below_upper_bound`` (five uses that all failed are enough)."""
    pattern.feedback_uses += 1
    pattern.feedback_successes += int(success)
    failures = pattern.feedback_uses - pattern.feedback_successes
    upper = 1.0 - wilson_lower_bound(failures, pattern.feedback_uses)
    if pattern.feedback_uses >= cfg.retire_min_uses and upper < cfg.retire_below_upper_bound:
        pattern.retired = True
