"""Retrieval: ``retrieve_relevant_context``, ``recommend_patterns`` and ``reembed``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..engine import telemetry
from ..engine.runtime import twin
from ..errors import InvalidInputError, NotFoundError
from ..learning.extractors import procedure, succeeded
from ..learning.sequences import neighbour_sequence, progress_sequence, same_stack
from ..records.episodes import Episode, TaskContext, TaskType
from ..records.learned import ToolSequence
from ..retrieval.pattern_ranking import ScoredHeuristic, ScoredPattern, context_score
from ..retrieval.result import RetrievalResult, ScoredEpisode
from ..security import validation
from ..security.values import check_text
from .handle import Handle

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..retrieval.index import QueryFilters

__all__ = ["RetrievalAPI"]

_MAX_LIMIT = 100
#: How many of the most similar successful runs a recommendation looks at.
_NEIGHBOURS = 8
#: How many of a changed family's runs since the change stand in for its superseded runs.
_NEW_WAYS = 8


class RetrievalAPI(Handle):
    """Finding the experience that helps most with a new task."""

    @telemetry.traced("selfmem.retrieve", telemetry.retrieve_attributes)
    def retrieve_relevant_context(
        self,
        description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        task_type: TaskType | str | None = None,
        success_only: bool = False,
        domain: str | None = None,
        tags: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        query_vector: npt.NDArray[np.float32] | None = None,
    ) -> RetrievalResult:
        """Past completed episodes, patterns and heuristics most relevant to a new task.

        Episodes are ranked by fusing lexical (BM25), semantic (with an embedder), context,
        outcome and recency signals, then diversified with MMR; a similar failure is kept as
        what to avoid. See :mod:`selfmem.retrieval.ranking` for the method.

        Filters (all optional): ``task_type``, ``domain``, ``tags`` (all must be present),
        ``success_only``, and ``since`` / ``until`` on the episode's end time. The handle's
        namespace always applies. ``query_vector`` skips embedding the description.
        """
        from ..retrieval.index import QueryFilters
        from ..retrieval.ranking import rank

        self._check_open()
        if not isinstance(description, str) or not description.strip():
            raise InvalidInputError("description must be a non-empty string", field="description")
        limit = validation.check_count(limit, "limit", 1, _MAX_LIMIT)
        ctx = validation.prepare_context(context, self.config.limits)
        stated = ctx if context is not None else None
        wanted_type = validation.prepare_task_type(task_type) if task_type else None
        if domain is not None:
            check_text(validation.expect(domain, str, "domain"), "domain")
        for name, value in (("since", since), ("until", until)):
            if value is not None:
                validation.expect(value, datetime, name)
        filters = QueryFilters(
            domain=domain,
            task_type=wanted_type.value if wanted_type else None,
            success_only=success_only,
            ended_after=since.timestamp() if since else None,
            ended_before=until.timestamp() if until else None,
            tags=tuple(tag.strip().lower() for tag in _tags(tags)),
        )
        engine = self._core.retrieval
        self._core.catch_up()  # episodes other processes completed or deleted
        with engine.querying(self.namespace) as index:
            vector = query_vector if query_vector is not None else engine.query_vector(description)
            ranked = rank(
                index,
                description,
                query_vector=vector,
                context=stated,
                task_type=wanted_type,
                filters=filters,
                weights=self._ranking,
                limit=limit,
            )
            episodes: list[ScoredEpisode] = []
            for item in ranked:
                try:
                    episode = self._episode(index.ids[item.row], caught_up=True)
                except NotFoundError:  # deleted by another handle since the index was built
                    continue
                episodes.append(ScoredEpisode(episode, item.score, item.signals))
            episodes = self._demote_outdated(episodes, filters, limit)
            loaded = {scored.episode.id: scored.episode for scored in episodes}
            patterns, heuristics = self._rank_patterns(
                description, stated, wanted_type, limit, vector, loaded
            )
            return RetrievalResult(
                query=description, episodes=episodes, patterns=patterns, heuristics=heuristics
            )

    def _superseded(self, episodes: Sequence[Episode]) -> dict[str, str]:
        """The episodes whose task family's procedure has changed since they ended and that
        used a step which now fails, each with its family's key: what worked for them no
        longer does (see ``ToolSequence.changed_at``). A run that ended earlier but already
        did something else (the new way, found while the old one was failing) is not
        superseded."""
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            changes = {
                key: (family.changed_at, family.changed_tools)
                for key, family in learner.families.families.items()
                if family.changed_at is not None
            }
            if not changes:
                return {}
            found = {}
            for episode in episodes:
                key = learner.family_of(episode) or ""
                changed, tools = changes.get(key, (None, []))
                if (
                    changed is not None
                    and episode.end_time is not None
                    and episode.end_time < changed
                    and (not tools or not set(tools).isdisjoint(procedure(episode)))
                ):
                    found[episode.id] = key
            return found

    def _failed_when_followed(self, episodes: Sequence[Episode]) -> set[str]:
        """The episodes whose latest followers all failed (see
        :mod:`selfmem.learning.followed`)."""
        engine = self._core.learning
        with engine.lock:
            return engine.learner(self.namespace).failed_when_followed(episodes)

    def _new_ways(
        self, superseded: dict[str, str], scores: dict[str, float], present: set[str]
    ) -> list[tuple[Episode, float, str]]:
        """The runs that show how a superseded episode's task is done now: its family's
        successful runs since the change (:meth:`PatternLearner.new_way_runs`), which may be
        worded quite differently from the query. Each comes with the score of the best
        superseded episode of its family (it stands in for it) and that episode's id."""
        engine = self._core.learning
        best: dict[str, str] = {}
        for episode_id, key in superseded.items():
            if key not in best or scores[episode_id] > scores[best[key]]:
                best[key] = episode_id
        with engine.lock:
            learner = engine.learner(self.namespace)
            ways = {key: learner.new_way_runs(key)[:_NEW_WAYS] for key in best}
        found = []
        for key, ids in ways.items():
            for episode_id in ids:
                if episode_id in present:
                    continue
                try:
                    episode = self._episode(episode_id, caught_up=True)
                except NotFoundError:
                    continue
                present.add(episode_id)
                found.append((episode, scores[best[key]], best[key]))
        return found

    def _demote_outdated(
        self, episodes: list[ScoredEpisode], filters: QueryFilters, limit: int
    ) -> list[ScoredEpisode]:
        """Superseded episodes keep their place only below the others, at half their score,
        marked with the signal ``superseded``; their family's runs since the change that pass
        the query's filters take their place, marked ``new_way``. Episodes whose latest
        followers failed are demoted alike, marked ``failed_when_followed``."""
        found = [s.episode for s in episodes]
        old = self._superseded(found)
        failed = self._failed_when_followed(found)
        if not old and not failed:
            return episodes
        scores = {s.episode.id: s.score for s in episodes}
        kept = [_demoted(s, old, failed) for s in episodes]
        present = set(scores)
        for episode, score, _ in self._new_ways(old, scores, present):
            if _passes(episode, filters):
                kept.append(ScoredEpisode(episode, score, {"new_way": 1.0}))
        return sorted(kept, key=lambda s: s.score, reverse=True)[:limit]

    def _rank_patterns(
        self,
        description: str,
        ctx: TaskContext | None,
        task_type: TaskType | None,
        limit: int,
        vector: npt.NDArray[np.float32] | None = None,
        loaded: dict[str, Episode] | None = None,
        partial: bool = False,
    ) -> tuple[list[ScoredPattern], list[ScoredHeuristic]]:
        """Served patterns and heuristics for a task; the sequence its nearest successful
        runs agree on (if any) is the first tool sequence, and always among the ``limit``.
        With ``partial``, when none of the task's nearest runs succeeded, how far they got is
        (:meth:`_progress`).

        A family's sequence is what most runs of a family did, and one family may hold
        several procedures; the nearest runs of this very task are more specific. When a
        stored sequence has the same tools it takes that place (it carries the evidence and
        the id for feedback); otherwise the runs' sequence is added there."""
        catalog = self._core.learning.catalog(self.namespace)
        ranked, heuristics = catalog.rank(description, ctx, task_type, limit)
        similar = self._similar_runs_sequence(description, ctx, task_type, vector, loaded, partial)
        if similar is None:
            return ranked, heuristics
        assert isinstance(similar.pattern, ToolSequence)
        tools = similar.pattern.tools
        sequences = [s for s in ranked if isinstance(s.pattern, ToolSequence)]
        same = next((s for s in sequences if getattr(s.pattern, "tools", None) == tools), None)
        if similar.pattern.key.startswith("transfer:"):
            same = None  # a stored one with these tools is of the other stack: its context says so
        first = same or similar
        if same is None and "partial" not in similar.signals:
            # feedback on it reaches the successful runs that held it
            learning = self._core.learning
            learning.offered(self.namespace, similar.pattern.id, similar.pattern.episode_ids)
        top = max((s.score for s in sequences), default=first.score)
        promoted = ScoredPattern(first.pattern, max(first.score, top * 1.01), first.signals)
        rest = [s for s in ranked if s is not same]
        ranked = sorted(rest, key=lambda s: s.score, reverse=True)[: limit - 1]
        ranked = sorted([promoted, *ranked], key=lambda s: s.score, reverse=True)
        return ranked, [ScoredHeuristic(s.heuristic, s.score) for s in ranked]

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
        caller has read already,
        by id (the retrieval's own results: not read again)."""
        from ..retrieval.index import QueryFilters

        engine = self._core.retrieval
        with engine.querying(self.namespace) as index:
            if index.size == 0:
                return None
            wanted = task_type.value if task_type else None
            domain = ctx.domain if ctx else None
            runs: list[Episode] = []
            scores: dict[str, float] = {}
            fits: dict[str, float] = {}
            # the caller's query vector, when it gave one, also picks the voters
            vector = engine.query_vector(description) if vector is None else vector

            nearest = functools.partial(
                self._nearest, index, description, vector, ctx, task_type, loaded, scores, fits
            )
            if partial:
                closest = nearest(QueryFilters(task_type=wanted, domain=domain), _NEIGHBOURS)
                closest = closest or self._same_context(index, ctx, wanted, scores, fits, False)
                closest = [run for run in closest if same_stack(run.context, ctx)]
                if closest and not any(succeeded(run) for run in closest):
                    return self._progress(closest, scores)
            filters = QueryFilters(success_only=True, task_type=wanted, domain=domain)
            same_context = functools.partial(self._same_context, index, ctx, wanted, scores, fits)
            runs, old = self._voters(functools.partial(nearest, filters), same_context)
            if old:  # the task's family changed: its runs since the change vote, however worded
                for episode, score, stand_in in self._new_ways(old, scores, {r.id for r in runs}):
                    if _passes(episode, filters):
                        runs.append(episode)
                        scores[episode.id], fits[episode.id] = score, fits[stand_in]
            vote = functools.partial(
                neighbour_sequence, self.namespace, description, runs, self.config.learning,
                [scores[r.id] for r in runs],
            )  # fmt: skip
            pattern = vote([fits[r.id] for r in runs], ctx)
            if pattern is None:  # none in its own stack agree: the closest runs of any stack
                pattern = vote(None, ctx, any_stack=True)
            if pattern is None:
                return None
            relevance = sum(scores[i] for i in pattern.episode_ids) / len(pattern.episode_ids)
            effectiveness = pattern.confidence
            ctx_fit = context_score(pattern.context, ctx, task_type)
            score = effectiveness * (0.6 * relevance + 0.25 * ctx_fit + 0.15 * 1.0)
            signals = {
                "effectiveness": effectiveness,
                "relevance": relevance,
                "neighbours": float(len(runs)),
            }
            return ScoredPattern(pattern, score, signals)

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
    ) -> tuple[list[Episode], dict[str, str]]:
        """The successful runs that vote for a task's sequence, and the superseded ones
        among those found (by id, with their family's key). The nearest runs vote; when some
        are superseded or failed when followed, the search widens. When no successful run
        shares a word (or a meaning) with the task, the latest of its context
        (:meth:`_same_context`) do. Runs that
        failed when followed vote only when no other run can: a demoted plan is a better
        start than none."""
        found: list[Episode] = []
        runs: list[Episode] = []
        old: dict[str, str] = {}
        for limit in (_NEIGHBOURS, _NEIGHBOURS * 4):  # wider when the nearest are superseded
            found = nearest(limit) or same_context()
            old = self._superseded(found)
            failed = self._failed_when_followed(found)
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

    def _progress(self, runs: list[Episode], scores: dict[str, float]) -> ScoredPattern | None:
        """How far the nearest runs of a task got when none of them succeeded: the steps
        that worked in them (:func:`progress_sequence`), to start from rather than start
        blind. Marked with the signal ``partial``; its effectiveness is 0."""
        pattern = progress_sequence(
            self.namespace, runs, self.config.learning, [scores[r.id] for r in runs]
        )
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

    def recommend_patterns(
        self,
        description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        task_type: TaskType | str | None = None,
        include_partial: bool = False,
    ) -> list[ScoredPattern]:
        """What to try for this task: served patterns ranked by effectiveness and fit.

        With ``include_partial=True``, when none of the task's nearest runs succeeded, the
        first tool sequence is how far they got: the steps that worked in them, with
        ``successes`` 0 and the signal ``partial``. It is for agents that carry on
        exploring after a plan runs out; one that runs a plan as the whole task would keep
        repeating what failed, so it is off by default."""
        self._check_open()
        if not isinstance(description, str) or not description.strip():
            raise InvalidInputError("description must be a non-empty string", field="description")
        limit = validation.check_count(limit, "limit", 1, _MAX_LIMIT)
        ctx = validation.prepare_context(context, self.config.limits)
        wanted = validation.prepare_task_type(task_type) if task_type else None
        if not isinstance(include_partial, bool):
            raise InvalidInputError(
                "include_partial must be true or false", field="include_partial"
            )
        stated = ctx if context is not None else None
        # the nearest runs come from the index: this handle's completions first, and what
        # other processes completed or deleted
        self._core.catch_up()
        return self._rank_patterns(description, stated, wanted, limit, partial=include_partial)[0]

    def reembed(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Embed every episode of this namespace that has no vector from the current model
        (after changing the model, say). ``progress(done, total)`` follows each batch."""
        self._check_open()
        self._core.flush()
        return self._core.retrieval.reembed(self.namespace, progress)

    aretrieve_relevant_context = twin(retrieve_relevant_context)
    arecommend_patterns = twin(recommend_patterns)
    areembed = twin(reembed)


def _tags(tags: object) -> list[str]:
    """The ``tags`` filter: a list, tuple or set of strings, valid Unicode."""
    if not isinstance(tags, list | tuple | set | frozenset):
        raise InvalidInputError("tags must be a list of strings", field="tags")
    return [check_text(validation.expect(tag, str, "tags[]"), "tags[]") for tag in tags]


def _demoted(
    scored: ScoredEpisode, superseded: Mapping[str, str], failed: set[str]
) -> ScoredEpisode:
    """The result at half its score with the signal saying why, if either set holds it."""
    if scored.episode.id in superseded:
        signal = "superseded"
    elif scored.episode.id in failed:
        signal = "failed_when_followed"
    else:
        return scored
    return ScoredEpisode(scored.episode, scored.score * 0.5, {**scored.signals, signal: 1.0})


def _passes(episode: Episode, filters: QueryFilters) -> bool:
    """Whether an episode added to a result passes the query's filters, as ranked ones do."""
    ended = episode.end_time.timestamp() if episode.end_time else None
    return (
        (filters.domain is None or episode.context.domain == filters.domain)
        and (filters.task_type is None or str(episode.task_type) == filters.task_type)
        and (not filters.success_only or succeeded(episode))
        and (filters.ended_after is None or (ended is not None and ended >= filters.ended_after))
        and (filters.ended_before is None or (ended is not None and ended < filters.ended_before))
        and set(filters.tags) <= {tag.lower() for tag in episode.context.tags}
    )
