"""Which of a task's nearest runs are superseded, and what stands in for them: runs that
did what has changed since, or used a tool that has stopped working, are superseded; the runs
since the change, and those that met the stopped tool's error, show how the task is done now.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..errors import NotFoundError
from ..learning.extractors import procedure, run_setting, setting_of, succeeded
from ..learning.sequences import same_task, with_decisions
from ..records.episodes import Episode, TaskContext
from ..records.learned import ToolSequence
from .handle import Handle
from .offers import with_own_steps

__all__ = ["SupersededRuns"]

#: How many of a changed family's runs since the change stand in for its superseded runs.
_NEW_WAYS = 8


class SupersededRuns(Handle):
    """The superseded runs among a task's nearest and what stands for them (a part of
    :class:`~selfmem.memory.nearest_runs.NearestRuns`)."""

    def _superseded(self, episodes: Sequence[Episode]) -> dict[str, str]:
        """The episodes whose task family's procedure has changed since they ended and that
        used a step which now fails, or that used a tool which has stopped working since,
        whatever their family (:meth:`PatternLearner.stopped_tools`: everywhere, or in the
        episode's own setting), each with its family's key: what worked for them no longer
        does (see ``ToolSequence.changed_at``). A run that ended earlier but already did
        something else (the new way, found while the old one was failing) is not
        superseded."""
        return {episode_id: key for episode_id, (key, _) in self._outdated(episodes).items()}

    def _outdated(self, episodes: Sequence[Episode]) -> dict[str, tuple[str, set[str]]]:
        """:meth:`_superseded`, with the steps of each episode's procedure that broke."""
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            changes = {
                key: (family.changed_at, family.changed_tools)
                for key, family in learner.families.families.items()
                if family.changed_at is not None
            }
            stopped = learner.stopped_tools()
            if not changes and not stopped:
                return {}
            found = {}
            for episode in episodes:
                if (end := episode.end_time) is None:
                    continue
                done = procedure(episode)
                key = learner.family_of(episode) or ""
                where = run_setting(episode) if stopped else frozenset()
                broken = {
                    tool
                    for tool in done
                    if (stop := stopped.get(tool))
                    and end < stop.since
                    and stop.applies(where, done)
                }
                changed, tools = changes.get(key, (None, []))
                hit = not tools or not set(tools).isdisjoint(done)  # no steps known: any
                if changed is not None and end < changed and hit:
                    found[episode.id] = (key, broken | set(tools))
                elif broken:
                    found[episode.id] = (key, broken)
            return found

    def _failed_when_followed(
        self, episodes: Sequence[Episode], ctx: TaskContext | None = None
    ) -> set[str]:
        """The episodes whose latest followers all failed, or, for a task's ``ctx``, whose
        latest followers in its setting did (see :mod:`selfmem.learning.followed`)."""
        engine = self._core.learning
        with engine.lock:
            return engine.learner(self.namespace).failed_when_followed(episodes, ctx)

    def _new_ways(
        self,
        superseded: dict[str, str],
        scores: dict[str, float],
        present: set[str],
        failed_too: bool = False,
    ) -> list[tuple[Episode, float, str]]:
        """The runs that show how a superseded episode's task is done now: its family's
        successful runs since the change (:meth:`PatternLearner.new_way_runs`; with
        ``failed_too``, all its runs since, :meth:`PatternLearner.runs_since_change`), which
        may be worded quite differently from the query; and the runs that met the errors by
        which a tool that episode used stopped working (:meth:`PatternLearner.breaking_runs`:
        whatever their family, which may not have seen the change). Each comes with the score
        of the best superseded episode of its family (it stands in for it) and that
        episode's id."""
        engine = self._core.learning
        best: dict[str, str] = {}
        for episode_id, key in superseded.items():
            if key not in best or scores[episode_id] > scores[best[key]]:
                best[key] = episode_id
        used = {key: self._procedure_of(episode_id) for key, episode_id in best.items()}
        with engine.lock:
            learner = engine.learner(self.namespace)
            since = learner.runs_since_change if failed_too else learner.new_way_runs
            ways = {key: since(key)[:_NEW_WAYS] for key in best}
            broke = {key: learner.breaking_runs(used[key])[:_NEW_WAYS] for key in best}
            idle, stopped = learner.idle_tools(), learner.stopped_tools().keys()
        found = []
        for key, ids in ways.items():
            for episode_id in [*ids, *broke[key]]:
                if episode_id in present:
                    continue
                try:
                    episode = self._episode(episode_id, caught_up=True)
                except NotFoundError:
                    continue
                if episode_id not in ids and not _stands_for(episode, used[key], idle, stopped):
                    continue  # a run of another task that used the same tool
                if failed_too or succeeded(episode):
                    present.add(episode_id)
                    found.append((episode, scores[best[key]], best[key]))
        return found

    def _procedure_of(self, episode_id: str) -> tuple[str, ...]:
        try:
            return procedure(self._episode(episode_id, caught_up=True))
        except NotFoundError:
            return ()

    def _own_steps(
        self,
        pattern: ToolSequence,
        old: dict[str, str],
        voters: list[Episode],
        ctx: TaskContext | None,
    ) -> ToolSequence:
        """The way that runs in other settings voted for (or got as far as), with the
        steps that the recent successful runs of their families, and of the families of the
        superseded runs among the task's nearest (``old``), took with a feature of the task's
        setting (a tag, its language or framework) and those without it did not
        (:func:`.offers.with_own_steps`). A feature that a run holding the way had is left
        out: that run shows the way with it. Feature by feature, so that the other tags a
        task happens to have (``vip``, ``urgent``) do not hide the runs that share the one
        that matters."""
        here = setting_of(ctx) if ctx is not None else frozenset()
        held = set(pattern.episode_ids)
        settings = [run_setting(run) for run in voters]
        holders = [s for run, s in zip(voters, settings, strict=True) if run.id in held]
        features = sorted(f for f in here if not any(f in setting for setting in holders))
        if not features:
            return pattern
        done = [procedure(run) for run in voters]
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            stopped = set(learner.stopped_tools())
            keys = {learner.family_of(run) for run in voters if run.id in held}
            families = sorted(str(k) for k in {*old.values(), *keys} if k)
            for feature in features:
                voted = [d for d, s in zip(done, settings, strict=True) if feature not in s]
                for key in families:
                    ours, others, changed = learner.feature_paths(key, feature)
                    if len(ours) >= 2:
                        pattern = with_own_steps(pattern, ours, voted + others, stopped | changed)
        return pattern

    def _decided(self, pattern: ToolSequence, runs: list[Episode]) -> ToolSequence:
        """The voted way with the served decisions of its voters' families applied
        (:func:`~selfmem.learning.sequences.with_decisions`)."""
        held = set(pattern.episode_ids)
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            keys = {learner.family_of(run) for run in runs if run.id in held}
            decisions = engine.catalog(self.namespace).decisions({k for k in keys if k})
        return with_decisions(pattern, runs, decisions) if decisions else pattern

    def _found_new_way(self, superseded: dict[str, str], runs: Sequence[Episode]) -> bool:
        """Whether a run of these episodes' changed families has succeeded since, or one of
        the task's nearest successful ``runs`` that is not superseded ended after a tool
        those episodes used stopped working: what works now."""
        ids = superseded if runs else {}
        used = {tool for episode_id in ids for tool in self._procedure_of(episode_id)}
        engine = self._core.learning
        with engine.lock:
            learner = engine.learner(self.namespace)
            stopped = learner.stopped_tools()
            since = [stopped[tool].since for tool in used if tool in stopped]
            if since and any(run.end_time and run.end_time > min(since) for run in runs):
                return True
            return any(learner.new_way_runs(key) for key in set(superseded.values()))

    def _broken(self, runs: list[Episode]) -> dict[str, set[str]]:
        """For each of ``runs`` that is superseded, the steps of its procedure that broke:
        when its family's procedure changed, or that have stopped working since it ended."""
        return {key: broken for key, (_, broken) in self._outdated(runs).items()}


def _stands_for(
    run: Episode, old: Sequence[str], idle: Collection[str], stopped: Collection[str]
) -> bool:
    """Whether a run that met a stopped tool's error did the task of a superseded run whose
    procedure was ``old``: as a success, the same task (:func:`same_task`); as a failure, it
    tried a step of that way besides the tools that stopped (and those that work in any
    state): it set out to do that task and met the change."""
    if succeeded(run):
        return same_task(procedure(run), old, idle)
    steps = set(old) - set(idle) - set(stopped)
    return any(step.tool in steps for step in run.steps)
