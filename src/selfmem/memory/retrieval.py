"""Retrieval: ``retrieve_relevant_context``, ``recommend_patterns`` and ``reembed``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..engine import telemetry
from ..engine.runtime import twin
from ..errors import InvalidInputError, NotFoundError
from ..learning.extractors import goes_on, is_subsequence, setting_of
from ..records.episodes import Episode, TaskContext, TaskType
from ..records.learned import ToolSequence
from ..retrieval.pattern_ranking import ScoredHeuristic, ScoredPattern
from ..retrieval.result import RetrievalResult, ScoredEpisode
from ..security import validation
from ..security.values import check_text
from .nearest_runs import NearestRuns
from .offers import for_setting, passes, without_idle

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..retrieval.index import QueryFilters

__all__ = ["RetrievalAPI"]

_MAX_LIMIT = 100


class RetrievalAPI(NearestRuns):
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
            episodes = self._demote_outdated(episodes, filters, limit, stated)
            loaded = {scored.episode.id: scored.episode for scored in episodes}
            patterns, heuristics = self._rank_patterns(
                description, stated, wanted_type, limit, vector, loaded
            )
            return RetrievalResult(
                query=description, episodes=episodes, patterns=patterns, heuristics=heuristics
            )

    def _demote_outdated(
        self,
        episodes: list[ScoredEpisode],
        filters: QueryFilters,
        limit: int,
        ctx: TaskContext | None = None,
    ) -> list[ScoredEpisode]:
        """Superseded episodes keep their place only below the others, at half their score,
        marked with the signal ``superseded``; their family's runs since the change that pass
        the query's filters take their place, marked ``new_way``. Episodes whose latest
        followers failed (or, for a task's ``ctx``, whose latest followers in its setting
        did) are demoted alike, marked ``failed_when_followed``."""
        found = [s.episode for s in episodes]
        old = self._superseded(found)
        failed = self._failed_when_followed(found, ctx)
        if not old and not failed:
            return episodes
        scores = {s.episode.id: s.score for s in episodes}
        kept = [_demoted(s, old, failed) for s in episodes]
        present = set(scores)
        for episode, score, _ in self._new_ways(old, scores, present):
            if passes(episode, filters):
                kept.append(ScoredEpisode(episode, score, {"new_way": 1.0}))
        return sorted(kept, key=_standing, reverse=True)[:limit]

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
        the id for feedback); otherwise the runs' sequence is added there. Tools that work in
        any state are left out of every sequence offered (:func:`.offers.without_idle`)."""
        catalog = self._core.learning.catalog(self.namespace)
        ranked, heuristics = catalog.rank(description, ctx, task_type, limit)
        similar = self._similar_runs_sequence(description, ctx, task_type, vector, loaded, partial)
        idle = self._idle()
        setting = setting_of(ctx) if ctx is not None else frozenset()
        if idle or setting:
            ranked, similar = self._shaped(ranked, similar, idle, setting)
            heuristics = [ScoredHeuristic(s.heuristic, s.score) for s in ranked]
        if similar is None:
            return ranked, heuristics
        assert isinstance(similar.pattern, ToolSequence)
        tools = similar.pattern.tools
        sequences = [s for s in ranked if isinstance(s.pattern, ToolSequence)]
        same = next((s for s in sequences if _stands_for(s.pattern, similar.pattern, ctx)), None)
        if "partial" in similar.signals:
            # a learned sequence that goes on from where the runs got is where they were going
            going_on = next((s for s in sequences if _goes_on(s.pattern, tools, ctx)), None)
            if same is None and going_on is not None:
                stored = going_on.pattern
                assert isinstance(stored, ToolSequence)
                way = goes_on(tools, stored.tools)
                if way == tuple(stored.tools):
                    same = going_on
                elif way is not None:  # it goes on from all their steps but the last: both
                    update = {"tools": list(way)}
                    signals = {**similar.signals, "went_on": 1.0}
                    similar = ScoredPattern(
                        similar.pattern.model_copy(update=update), similar.score, signals
                    )
            if same is None and len(tools) >= 2 and "went_on" not in similar.signals:
                similar = self._went_on(similar, ctx, idle)  # or a run that went on from them
        first = same or similar
        if same is None and "partial" not in similar.signals and "repair" not in similar.signals:
            # feedback on it reaches the successful runs that held it
            learning = self._core.learning
            learning.offered(self.namespace, similar.pattern.id, similar.pattern.episode_ids)
        top = max((s.score for s in sequences), default=first.score)
        promoted = ScoredPattern(first.pattern, max(first.score, top * 1.01), first.signals)
        rest = [s for s in ranked if s is not same]
        ranked = sorted(rest, key=lambda s: s.score, reverse=True)[: limit - 1]
        ranked = sorted([promoted, *ranked], key=lambda s: s.score, reverse=True)
        return ranked, [ScoredHeuristic(s.heuristic, s.score) for s in ranked]

    def _shaped(
        self,
        ranked: list[ScoredPattern],
        similar: ScoredPattern | None,
        idle: set[str],
        setting: frozenset[str],
    ) -> tuple[list[ScoredPattern], ScoredPattern | None]:
        """The offered sequences without the tools that work in any state
        (:func:`.offers.without_idle`: they are no step of a way) and without the steps the
        task's ``setting`` refuses (:func:`.offers.for_setting`)."""
        offers = [*ranked, *([similar] if similar is not None else [])]
        if idle:
            offers = [without_idle(s, idle) for s in offers]
        if setting:
            engine = self._core.learning
            with engine.lock:
                learner = engine.learner(self.namespace)
                offers = [for_setting(s, learner, setting) for s in offers]
        if similar is None:
            return offers, None
        return offers[:-1], offers[-1]

    def recommend_patterns(
        self,
        description: str,
        context: TaskContext | dict[str, Any] | None = None,
        limit: int = 5,
        *,
        task_type: TaskType | str | None = None,
        include_partial: bool = True,
    ) -> list[ScoredPattern]:
        """What to try for this task: served patterns ranked by effectiveness and fit.

        When none of the task's nearest runs succeeded, the first tool sequence is how far
        they got (``include_partial=False`` turns this off): the steps that worked in them,
        as far as the furthest of them got, with ``successes`` 0 and the signal ``partial``,
        a place to start from for an agent that carries on exploring after a plan runs out
        (a learned sequence known to work that goes on from those steps comes first
        instead). Once two of the nearest runs
        called nothing but the offered steps (an agent that runs a plan as the whole task
        and stops), it is no longer offered: it would only be repeated. Those steps
        "worked" in runs that failed: one of them may be what made them fail (a
        destructive step), and each run that follows the offer repeats it. A successful run
        of their family that took the same steps and went further carries the offer on
        (signal ``went_on``). Tools that work in any state, where calls out of turn fail,
        are left out of every sequence offered (signal ``idle_left_out``), and a first step
        that every run calling it called first, that never failed, and that no run did
        without, is left out of how far runs got (the next run shows whether it is needed:
        the step after it works first, or fails); a sequence with a
        step refused under a feature of the task's setting stops before it and goes on as
        the runs with that feature did (signal ``left_out_here``)."""
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


def _stands_for(pattern: Any, vote: ToolSequence, ctx: TaskContext | None) -> bool:
    """Whether a stored sequence may take the place of the one a task's nearest runs agree
    on (``vote``): the same tools, of the task's own stack (a ``transfer:`` vote is of
    another: a stored one with its tools is of that stack, its context says so), learned
    from runs that had no tag the task lacks (a family whose runs were all ``eu`` says
    nothing of a ``us`` task, where the runs' vote may hold); a task that states no tags
    rules none out."""
    if getattr(pattern, "tools", None) != vote.tools or vote.key.startswith("transfer:"):
        return False
    return ctx is None or not ctx.tags or set(pattern.context.tags) <= set(ctx.tags)


def _goes_on(pattern: Any, tools: Sequence[str], ctx: TaskContext | None) -> bool:
    """Whether a stored sequence holds the steps runs got through and goes further, known
    to work, stating no other language than the task (a family whose runs were in several
    languages states none: its steps are those they shared). It may differ in the last of
    them, after two or more it shares: there the runs left the way that has worked, and
    failed."""
    if not isinstance(pattern, ToolSequence):
        return False
    language = pattern.context.language
    held = tools if len(tools) < 3 or is_subsequence(tools, pattern.tools) else tools[:-1]
    return (
        not pattern.stale
        and pattern.successes > 0
        and len(pattern.tools) > len(held)
        and is_subsequence(held, pattern.tools)
        and (ctx is None or ctx.language is None or language is None
             or language.lower() == ctx.language.lower())
    )  # fmt: skip


def _tags(tags: object) -> list[str]:
    """The ``tags`` filter: a list, tuple or set of strings, valid Unicode."""
    if not isinstance(tags, list | tuple | set | frozenset):
        raise InvalidInputError("tags must be a list of strings", field="tags")
    return [check_text(validation.expect(tag, str, "tags[]"), "tags[]") for tag in tags]


def _standing(scored: ScoredEpisode) -> tuple[bool, float]:
    """Sort key: the results not demoted first (a demoted run stays below the others however
    close its words: its way no longer works), then by score."""
    signals = scored.signals
    return "superseded" not in signals and "failed_when_followed" not in signals, scored.score


def _demoted(
    scored: ScoredEpisode, superseded: Mapping[str, str], failed: set[str]
) -> ScoredEpisode:
    """The result at half its score with the signals saying why, if either set holds it."""
    why = {
        signal: 1.0
        for signal, held in (("superseded", superseded), ("failed_when_followed", failed))
        if scored.episode.id in held
    }
    if not why:
        return scored
    return ScoredEpisode(scored.episode, scored.score * 0.5, {**scored.signals, **why})
