"""The runs nearest a new task, and what they say: the sequence they agree on (the first
tool sequence ``recommend_patterns`` offers), how far they got when none succeeded, and which
of them are superseded by a change or failed when followed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from ..learning.changes import rest_of
from ..learning.extractors import procedure, succeeded
from ..learning.sequences import (
    neighbour_sequence,
    of_nearest_task,
    progress_sequence,
    same_stack,
)
from ..records.episodes import Episode, TaskContext, TaskType
from ..records.learned import ToolSequence
from ..retrieval.pattern_ranking import ScoredPattern
from .offers import guessed, passes, scored
from .superseded import SupersededRuns

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..retrieval.index import QueryFilters

__all__ = ["NearestRuns", "passes"]

#: How many of the most similar successful runs a recommendation looks at.
_NEIGHBOURS = 8


class NearestRuns(SupersededRuns):
    """The nearest runs of a task and their vote (a part of :class:`RetrievalAPI`)."""

    def _similar_runs_sequence(
        self,
        description: str,
        ctx: TaskContext | None,
        task_type: TaskType | None,
        vector: npt.NDArray[np.float32] | None = None,
        loaded: dict[str, Episode] | None = None,
        partial: bool = False,
    ) -> ScoredPattern | None:
        """The sequence the nearest successful runs of this task agree on (not a stored
        pattern: tasks that need different tools can share a learned family; their nearest
        runs tell them apart). A stated task type and domain are filters: runs of another kind
        of work or another domain do not vote. Scored like a family's sequence, its relevance
        being the mean retrieval score of the runs that followed it. ``loaded``: episodes the
        caller has read already, by id (the retrieval's own results: not read again).

        Runs in the task's language and framework decide. When none of those succeeded (the
        offer is how far they got, or the runs of another stack), the successful runs in its
        language with another framework vote, if they agree on a way: an ``express`` upgrade
        done with ``npm_install`` shows how a ``nextjs`` one is done, where a ``go`` run
        would not. So does how far the runs in its language got, when none of its framework
        got anywhere or they got less far on the same steps: the first steps of a task seldom
        depend on the framework (``checkout_branch -> search_code`` of a ``django`` fix shows
        where a ``fastapi`` one starts). Such an offer has the signal ``other_framework``."""
        found = self._stack_sequence(description, ctx, task_type, vector, loaded, partial)
        if ctx is None or not ctx.framework or not (found is None or _not_voted(found)):
            return found
        language = ctx.model_copy(update={"framework": None})
        wider = self._stack_sequence(description, language, task_type, vector, loaded, partial)
        if wider is None or (_not_voted(wider) and not _got_further(wider, found)):
            return found
        return ScoredPattern(wider.pattern, wider.score, {**wider.signals, "other_framework": 1.0})

    def _stack_sequence(
        self,
        description: str,
        ctx: TaskContext | None,
        task_type: TaskType | None,
        vector: npt.NDArray[np.float32] | None,
        loaded: dict[str, Episode] | None,
        partial: bool,
    ) -> ScoredPattern | None:
        """:meth:`_similar_runs_sequence` for the task's stack as ``ctx`` states it."""
        from ..retrieval.index import QueryFilters

        engine = self._core.retrieval
        with engine.querying(self.namespace) as index:
            if index.size == 0:
                return None
            wanted = task_type.value if task_type else None
            domain = ctx.domain if ctx else None
            scores: dict[str, float] = {}
            fits: dict[str, float] = {}
            idle = self._idle()  # tools that work in any state: no sign of the same task
            # the caller's query vector, when it gave one, also picks the voters
            vector = engine.query_vector(description) if vector is None else vector

            nearest = functools.partial(
                self._nearest, index, description, vector, ctx, task_type, loaded, scores, fits
            )
            changed_only: list[Episode] = []  # the nearest runs, when the successes are stale
            if partial:
                closest = self._closest(nearest, index, ctx, wanted, scores, fits, idle)
                if closest and not any(succeeded(run) for run in closest):
                    decided, offer = self._how_far(closest, nearest, ctx, wanted, scores)
                    if decided:
                        return offer
                changed_only = self._if_changed(closest)
            filters = QueryFilters(success_only=True, task_type=wanted, domain=domain)
            same_context = functools.partial(self._same_context, index, ctx, wanted, scores, fits)
            runs, old = self._voters(functools.partial(nearest, filters), same_context, ctx)
            if old:  # the task's family changed: its runs since the change vote, however worded
                offer = self._since_change(old, runs, changed_only, filters, scores, fits, ctx)
                if offer is not None:
                    return offer
            vote = functools.partial(
                neighbour_sequence, self.namespace, description, runs, self.config.learning,
                [scores[r.id] for r in runs],
            )  # fmt: skip
            fixes = self._fixes()
            pattern = vote([fits[r.id] for r in runs], ctx, idle=idle, fixes=fixes)
            if pattern is None:  # none in its own stack agree: the closest runs of any stack
                pattern = vote(None, ctx, any_stack=True, idle=idle, fixes=fixes)
            if pattern is not None:
                pattern = self._decided(self._own_steps(pattern, old, runs, ctx), runs)
            return None if pattern is None else scored(pattern, scores, ctx, task_type, runs)

    def _since_change(
        self,
        old: dict[str, str],
        runs: list[Episode],
        changed_only: list[Episode],
        filters: QueryFilters,
        scores: dict[str, float],
        fits: dict[str, float],
        ctx: TaskContext | None,
    ) -> ScoredPattern | None:
        """When some of the nearest runs are superseded (``old``): the runs that show how
        the task is done now join the voters (``runs``, with their stand-ins' scores); when
        there are none, a guess at a repair of the old way, or how far it still goes, is
        the offer (None: the voters' sequence is)."""
        ways = self._new_ways(old, scores, {r.id for r in runs})
        for episode, score, stand_in in ways:
            if passes(episode, filters):
                runs.append(episode)
                scores[episode.id], fits[episode.id] = score, fits[stand_in]
        repair = None if ways else self._repair(old, scores, runs)
        if repair is not None:
            return repair
        if changed_only and not self._found_new_way(old, runs):  # nor a guess at one
            return self._progress_since_change(old, changed_only, scores, ctx)
        return None

    def _closest(
        self,
        nearest: Callable[[QueryFilters, int], list[Episode]],
        index: Any,
        ctx: TaskContext | None,
        wanted: str | None,
        scores: dict[str, float],
        fits: dict[str, float],
        idle: set[str],
    ) -> list[Episode]:
        """The 8 nearest runs of a task, of any outcome, in its stack (looked for among its
        32 nearest when runs of another stack come first; the latest of its context when
        none shares a word with it), less the successes whose plan failed when followed in
        its setting and the distant successes of another task than the nearest run's
        (:func:`of_nearest_task`): they show no way there. When the nearest runs failed, a
        success of another task in the same domain does not hide how far they got."""
        from ..retrieval.index import QueryFilters

        filters = QueryFilters(task_type=wanted, domain=ctx.domain if ctx else None)
        closest: list[Episode] = []
        for limit in (_NEIGHBOURS, _NEIGHBOURS * 4):  # wider when other stacks' runs come first
            found = nearest(filters, limit)
            found = found or self._same_context(index, ctx, wanted, scores, fits, False)
            kept = of_nearest_task(found, [scores[run.id] for run in found], idle)
            in_stack = [same_stack(run.context, ctx) for run in found]
            closest = [
                run
                for run, keep, ours in zip(found, kept, in_stack, strict=True)
                if (keep or not succeeded(run)) and ours
            ][:_NEIGHBOURS]
            if all(in_stack) or len(found) < limit:
                break
        failed_here = self._failed_when_followed(closest, ctx)
        return [run for run in closest if run.id not in failed_here]

    def _how_far(
        self,
        closest: list[Episode],
        nearest: Callable[[QueryFilters, int], list[Episode]],
        ctx: TaskContext | None,
        wanted: str | None,
        scores: dict[str, float],
    ) -> tuple[bool, ScoredPattern | None]:
        """How far a task's nearest runs got, none of them having succeeded (:meth:`_progress`).
        When none of them got anywhere either, how far its 32 nearest runs (in its stack) got,
        if none of those succeeded; if one did, nothing is decided: the successful runs vote,
        as when one of the nearest had succeeded (``(False, None)``)."""
        from ..retrieval.index import QueryFilters

        found = self._progress(closest, scores)
        if found is not None:
            return True, found
        filters = QueryFilters(task_type=wanted, domain=ctx.domain if ctx else None)
        wider = [run for run in nearest(filters, _NEIGHBOURS * 4) if same_stack(run.context, ctx)]
        if any(succeeded(run) for run in wider):
            return False, None
        return True, self._progress(wider, scores) if len(wider) > len(closest) else None

    def _if_changed(self, closest: list[Episode]) -> list[Episode]:
        """``closest`` when the nearest success among them did what has changed since (it
        shows how far that way still goes), else nothing."""
        best = next((run for run in closest if succeeded(run)), None)
        return closest if best is not None and self._superseded([best]) else []

    def _progress_since_change(
        self,
        superseded: dict[str, str],
        closest: list[Episode],
        scores: dict[str, float],
        ctx: TaskContext | None,
    ) -> ScoredPattern | None:
        """How far the way of a task's changed family still goes, when no run has succeeded
        since the change: its nearest runs, each superseded one up to the step that broke
        (kept: the agent meets what it now answers), and the family's runs since the change,
        however worded. When those steps hold a new tool, the rest of the old way follows
        them, as a guess (:func:`.changes.continued`, keyed ``repair:``). Either way with
        the steps the task's own setting needs (:meth:`_own_steps`)."""
        since = []
        present = {run.id for run in closest}
        for episode, score, _ in self._new_ways(superseded, scores, present, failed_too=True):
            scores[episode.id] = score
            since.append(episode)
        broken = self._broken(closest)
        old = [run for run in closest if run.id in broken]
        fresh = self._found_since([*since, *closest], old, scores)
        found = fresh or self._progress([*since, *closest], scores, broken)
        if found is None:
            return None
        assert isinstance(found.pattern, ToolSequence)
        top = max(superseded, key=lambda episode_id: scores.get(episode_id, 0.0))
        key = superseded[top]
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            guess = learner.continued(key, found.pattern.tools)
            if guess is None and fresh is not None:  # its family did not see the change
                best = max(old, key=lambda run: scores.get(run.id, 0.0))
                guess = rest_of(found.pattern.tools, procedure(best))
            family = learner.families.families.get(key)
            if guess is not None and family is not None:
                ids = found.pattern.episode_ids
                found = guessed(self.namespace, guess, ids, family, found.signals["relevance"])
        assert isinstance(found.pattern, ToolSequence)
        kept = self._own_steps(found.pattern, superseded, [*since, *closest], ctx)
        if kept is not found.pattern:
            found = ScoredPattern(kept, found.score, found.signals)
        engine.offered(self.namespace, found.pattern.id, family=key)  # its followers: key's runs
        return found

    def _found_since(
        self, runs: list[Episode], old: list[Episode], scores: dict[str, float]
    ) -> ScoredPattern | None:
        """How far the failed runs after the superseded ones (``old``) got, when that holds
        a step none of those used: a step found since, which the old way's runs, outvoting
        them, would leave out of the offer."""
        last = max((run.end_time for run in old if run.end_time), default=None)
        later = [r for r in runs if last and r.end_time and r.end_time > last and not succeeded(r)]
        found = self._progress(later, scores) if later else None
        known = {tool for run in old for tool in procedure(run)}
        new = found is not None and not known.issuperset(getattr(found.pattern, "tools", ()))
        return found if new else None

    def _repair(
        self, superseded: dict[str, str], scores: dict[str, float], runs: list[Episode]
    ) -> ScoredPattern | None:
        """For a task whose nearest successful runs did what no longer works, when no run of
        their family has succeeded since the change: the old way with each broken step
        replaced by what worked in its place since (:func:`.changes.repaired_sequence`),
        keyed ``repair:``, with the signal ``repair`` and effectiveness 0 (not yet known to
        work). None when a run that is not superseded is nearer."""
        top = max(superseded, key=lambda episode_id: scores[episode_id])
        if any(scores[run.id] > scores[top] for run in runs):
            return None
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            family = learner.families.families.get(superseded[top])
            found = learner.repaired_sequence(superseded[top])
            if family is None or found is None:
                return None
            tools, ids = found
            guess = guessed(self.namespace, tools, ids, family, scores[top])
        engine.offered(self.namespace, guess.pattern.id, family=superseded[top])
        return guess

    def _nearest(
        self,
        index: Any,
        description: str,
        vector: npt.NDArray[np.float32] | None,
        ctx: TaskContext | None,
        task_type: TaskType | None,
        loaded: dict[str, Episode] | None,
        scores: dict[str, float],
        fits: dict[str, float],
        filters: QueryFilters,
        limit: int,
    ) -> list[Episode]:
        """The runs nearest a task that pass ``filters``, best first (``loaded`` ones are
        not read again); their retrieval scores and context fits go to ``scores`` and
        ``fits``."""
        from ..retrieval.ranking import rank

        ranked = rank(
            index, description, query_vector=vector, context=ctx, task_type=task_type,
            filters=filters, weights=self._ranking, limit=limit, diversify=False,
        )  # fmt: skip
        found = []
        for item in ranked:
            try:
                episode_id = index.ids[item.row]
                known = loaded.get(episode_id) if loaded else None
                episode = known or self._episode(episode_id, caught_up=True)
            except NotFoundError:
                continue
            found.append(episode)
            scores[episode.id] = item.score
            fits[episode.id] = item.signals.get("context", 1.0)
        return found

    def _voters(
        self,
        nearest: Callable[[int], list[Episode]],
        same_context: Callable[[], list[Episode]],
        ctx: TaskContext | None = None,
    ) -> tuple[list[Episode], dict[str, str]]:
        """The successful runs that vote for a task's sequence, and the superseded ones
        among those found (by id, with their family's key). The nearest runs vote; when some
        are superseded or failed when followed, the search widens. When no successful run
        shares a word (or a meaning) with the task, those of its context that fit it best do
        (:meth:`_same_context`). With the task's ``ctx``, a run whose latest followers in
        its setting failed counts as failed when followed. Runs that failed when followed
        vote only when no other run can: a demoted plan is a better start than none."""
        found: list[Episode] = []
        runs: list[Episode] = []
        old: dict[str, str] = {}
        for limit in (_NEIGHBOURS, _NEIGHBOURS * 4):  # wider when the nearest are superseded
            found = nearest(limit) or same_context()
            old = self._superseded(found)
            failed = self._failed_when_followed(found, ctx)
            runs = [run for run in found if run.id not in old and run.id not in failed]
            runs = runs[:_NEIGHBOURS]
            if not (old or failed) or len(found) < limit:
                break
        if not runs:
            runs = [run for run in found if run.id not in old][:_NEIGHBOURS]
        return runs, old

    def _same_context(
        self,
        index: Any,
        ctx: TaskContext | None,
        wanted: str | None,
        scores: dict[str, float],
        fits: dict[str, float],
        success_only: bool = True,
    ) -> list[Episode]:
        """The latest successful runs (any runs, without ``success_only``) of the task's
        stated domain (and task type, if stated), for a task that no nearest run of its
        domain shares a word with or, with an embedder, a meaning: a paraphrase such as
        "Users report ledger is slow" for "Alert: response time of ledger degraded". Their
        score is their context fit: the 8 that fit it best (the latest among equals) are
        returned, and those that fit best vote (:func:`neighbour_sequence`); nothing when
        the task states no domain."""
        import numpy as np

        from ..retrieval.index import QueryFilters

        if ctx is None or ctx.domain is None:
            return []
        with index.lock:
            mask = index.filter_mask(
                QueryFilters(domain=ctx.domain, task_type=wanted, success_only=success_only)
            )
            rows = np.flatnonzero(mask)
            rows = rows[np.argsort(-index.end_time[rows], kind="stable")][: _NEIGHBOURS * 4]
            fit = index.context_scores(
                rows, ctx.domain, ctx.language, ctx.framework, wanted, ctx.tags
            )  # fmt: skip
            values = fit.tolist() if fit is not None else [0.0] * len(rows)
            ranked = sorted(zip(rows.tolist(), values, strict=True), key=lambda rv: -rv[1])
            ids = [(index.ids[row], value) for row, value in ranked]  # latest first among equals
        found: list[Episode] = []
        for episode_id, value in ids:
            try:
                episode = self._episode(episode_id, caught_up=True)
            except NotFoundError:
                continue
            if same_stack(episode.context, ctx):
                found.append(episode)
                scores[episode.id] = fits[episode.id] = float(value)
                if len(found) == _NEIGHBOURS:
                    break
        return found

    def _idle(self) -> set[str]:
        engine = self._core.learning
        with engine.lock:
            return engine.learner(self.namespace).idle_tools()

    def _fixes(self) -> set[tuple[str, str]]:
        """(fix, tool) of the served recoveries (:meth:`PatternCatalog.fixes`)."""
        engine = self._core.learning
        with engine.lock:
            state = engine.learner(self.namespace).state_errors()
            return engine.catalog(self.namespace).fixes(state)

    def _went_on(
        self, found: ScoredPattern, ctx: TaskContext | None, idle: Collection[str]
    ) -> ScoredPattern:
        """How far the nearest runs got, extended by a successful run of their families
        that took those steps and went further (:meth:`PatternLearner.went_on`)."""
        pattern = found.pattern
        assert isinstance(pattern, ToolSequence)
        runs = []
        for episode_id in pattern.episode_ids:
            try:
                runs.append(self._episode(episode_id, caught_up=True))
            except NotFoundError:
                continue
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            keys = {key for run in runs if (key := learner.family_of(run)) is not None}
            longer = learner.went_on(sorted(keys), pattern.tools, ctx)
        if longer is None:
            return found
        tools = [t for t in longer if t not in idle]
        if len(tools) <= len(pattern.tools):
            return found
        signals = {**found.signals, "went_on": 1.0}
        return ScoredPattern(pattern.model_copy(update={"tools": tools}), found.score, signals)

    def _progress(
        self,
        runs: list[Episode],
        scores: dict[str, float],
        broken: dict[str, set[str]] | None = None,
    ) -> ScoredPattern | None:
        """How far the nearest runs of a task got when none of them succeeded, or when the
        way of those that did has changed since (``broken``: by run, the steps that broke): the
        steps that worked in them (:func:`progress_sequence`), to start from rather than
        start blind. Marked with the signal ``partial``; its effectiveness is 0."""
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            idle, state = learner.idle_tools(), learner.state_errors()
            unproven = learner.unproven_tools()
        pattern = progress_sequence(
            self.namespace, runs, self.config.learning, [scores[r.id] for r in runs], idle, state,
            broken or {}, unproven,
        )  # fmt: skip
        if pattern is None:
            return None
        relevance = sum(scores[r.id] for r in runs) / len(runs)
        signals = {
            "effectiveness": 0.0,
            "relevance": relevance,
            "neighbours": float(len(runs)),
            "partial": 1.0,
        }
        return ScoredPattern(pattern, 0.0, signals)


def _got_further(wider: ScoredPattern, found: ScoredPattern | None) -> bool:
    """Whether ``wider``, how far the runs in a task's language got, goes further than
    ``found``, what the runs of its framework show: nothing, or how far they got, on the
    same first steps."""
    if "partial" not in wider.signals:
        return False
    if found is None:
        return True
    if "partial" not in found.signals:
        return False
    ours, theirs = found.pattern, wider.pattern
    assert isinstance(ours, ToolSequence) and isinstance(theirs, ToolSequence)
    return len(theirs.tools) > len(ours.tools) and theirs.tools[: len(ours.tools)] == ours.tools


def _not_voted(found: ScoredPattern) -> bool:
    """Whether an offer is not the vote of successful runs in the task's stack: how far
    failed runs got, or the runs of another stack."""
    key = found.pattern.key if isinstance(found.pattern, ToolSequence) else ""
    return "partial" in found.signals or key.startswith("transfer:")
