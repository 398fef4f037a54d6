"""Learned experience: patterns, heuristics, feedback and relearning."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config import MAX_PAGE
from ..engine.learning import FEEDBACK_KEY, FOLLOWED_KEY, OFFER_FAMILIES_KEY
from ..engine.runtime import twin
from ..errors import InvalidInputError, NotFoundError
from ..learning import AnyPattern, ErrorRecovery, Heuristic, PatternKind
from ..learning.followed import links
from ..security.arguments import check_count, check_id, check_ids, expect
from ..security.values import INT64_MAX, show
from .handle import Handle

#: Feedback ids an open episode keeps, of each kind (patterns used, episodes followed).
_MAX_LINKS = 1_000

__all__ = ["LearningAPI"]


class LearningAPI(Handle):
    """Reading what the memory learned, and feeding back how it worked out."""

    def list_patterns(
        self,
        kind: PatternKind | str | None = None,
        *,
        include_unserved: bool = False,
        limit: int = 50,
        offset: int = 0,
        episode_id: str | None = None,
    ) -> list[AnyPattern]:
        """Learned patterns of this namespace, most effective first.

        Only patterns that passed the serving thresholds unless ``include_unserved``.
        ``offset`` skips that many (a page after ``limit``); ``episode_id`` keeps only the
        patterns that episode is evidence of (its id among their ``episode_ids``).
        """
        self._check_open()
        wanted = _pattern_kind(kind) if kind is not None else None
        limit = check_count(limit, "limit", 1, INT64_MAX)
        offset = check_count(offset, "offset", 0, INT64_MAX)
        if episode_id is not None:
            episode_id = check_id(episode_id)
        self._core.catch_up()  # what other processes learned
        learning = self._core.learning
        learner = learning.learner(self.namespace)
        with learning.lock:
            found = learner.patterns(wanted, served_only=not include_unserved)
            if episode_id is not None:
                found = [p for p in found if episode_id in p.episode_ids]
            return [_detached(p) for p in found[offset : offset + limit]]

    def pattern_effectiveness(self, pattern_ids: Sequence[str]) -> dict[str, float]:
        """Each known pattern's effectiveness, as ranking uses it: its confidence decayed by
        the age of its evidence, taken from when what it is about was last seen (its family's
        newest run, or the newest run that called its tool), not from the wall clock."""
        self._check_open()
        ids = check_ids(pattern_ids, "pattern_ids")
        self._core.catch_up()
        learning = self._core.learning
        with learning.lock:
            learner = learning.learner(self.namespace)
            found = {pid: learner.get(pid) for pid in ids}
            return {pid: learner.effectiveness(p) for pid, p in found.items() if p is not None}

    def get_pattern(self, pattern_id: str) -> AnyPattern:
        """One pattern by id (served or not)."""
        self._check_open()
        check_id(pattern_id, "pattern_id")
        self._core.catch_up()
        learning = self._core.learning
        with learning.lock:
            pattern = learning.learner(self.namespace).get(pattern_id)
            if pattern is None:
                raise NotFoundError("pattern", pattern_id, self.namespace)
            return _detached(pattern)

    def find_recovery(self, tool: str, error: str) -> ErrorRecovery | None:
        """What was learned about ``tool`` failing with ``error``: the served error-recovery
        pattern of that tool and the error's class, or None when there is none.

        ``error`` is the message as the agent sees it: it is size-limited and redacted as a
        logged step's would be, then reduced to its class (ids, numbers, paths and versions
        become placeholders), so it matches what was learned from the steps stored. On the
        pattern, ``best_mode`` says what to do: ``"retry"`` the tool, ``"fix"`` (run
        ``best_recovery``, then the tool again) or ``"replace"`` it with ``best_recovery``;
        with no ``best_mode``, nothing has recovered from that error (``describe()`` says so).
        """
        from ..learning.error_classes import normalize_error
        from ..records.learned import stable_id
        from ..security import validation

        self._check_open()
        if not isinstance(error, str) or not error.strip():
            raise InvalidInputError("error must be a non-empty string", field="error")
        step = validation.prepare_step(
            {"tool": expect(tool, str, "tool"), "error": error},
            self.config.limits,
            self.config.redact_secrets,
        )
        key = f"{step.tool}|{normalize_error(step.error)}"
        pattern_id = stable_id(self.namespace, PatternKind.ERROR_RECOVERY.value, key)
        self._core.catch_up()
        learning = self._core.learning
        with learning.lock:
            learner = learning.learner(self.namespace)
            pattern = learner.get(pattern_id)
            if not isinstance(pattern, ErrorRecovery) or not learner.is_served(pattern):
                return None
            found = _detached(pattern)
        assert isinstance(found, ErrorRecovery)
        return found

    def list_heuristics(self, *, limit: int = 50) -> list[Heuristic]:
        """Heuristics derived from served patterns, most confident first."""
        from ..learning.heuristics import derive_heuristics

        limit = check_count(limit, "limit", 1, INT64_MAX)
        return derive_heuristics(self.list_patterns(limit=MAX_PAGE))[:limit]

    def record_feedback(
        self,
        episode_id: str,
        pattern_ids: Sequence[str] = (),
        heuristic_ids: Sequence[str] = (),
        followed_episode_ids: Sequence[str] = (),
    ) -> None:
        """Record what an episode used: patterns and heuristics it was shown, and past
        episodes whose plan it followed (``followed_episode_ids``, e.g. the retrieved
        episode an agent copied).

        For an open episode the links are kept and applied when it completes; for a
        completed one its outcome is applied now. Patterns used in episodes that keep
        failing lose confidence and are eventually retired; a past episode whose latest two
        followers failed is put below the others in retrieval and no longer votes for a
        task's sequence, until a run that follows it succeeds. Feedback on a sequence that
        ``recommend_patterns`` offered from the nearest runs (keyed ``similar:`` or
        ``transfer:``, not stored) counts as following the runs that held it; on one keyed
        ``progress:`` or ``repair:`` (how far failed runs got, or a changed procedure's
        guessed repair: not stored, and no run has succeeded with it yet) it is accepted and
        changes nothing: the run's own outcome is what is learned from.
        """
        self._check_open()
        self._check_id(episode_id)
        patterns = check_ids(pattern_ids, "pattern_ids")
        heuristics = check_ids(heuristic_ids, "heuristic_ids")
        followed = check_ids(followed_episode_ids, "followed_episode_ids")
        if episode_id in followed:
            raise InvalidInputError("an episode cannot follow itself", field="followed_episode_ids")
        learning = self._core.learning
        # following a sequence offered from the nearest runs is following those runs
        behind = learning.runs_behind(self.namespace, patterns)
        followed = [*followed, *(run for run in behind if run != episode_id)]
        # following what was offered from a changed family's runs makes it that family's run
        families = learning.offer_families(self.namespace, patterns)
        ids = list(
            dict.fromkeys([*patterns, *learning.pattern_ids_for(self.namespace, heuristics)])
        )
        state = self._core.buffer.get(episode_id)
        if state is None or state.header.namespace != self.namespace:
            episode = self.get_episode(episode_id)
            if episode.is_complete:
                learning.feedback(episode, ids, list(dict.fromkeys(followed)))
                return
            state = self._open_state(episode_id)
        with self._core.buffer.lock:
            metadata = state.header.metadata
            kinds = ((FEEDBACK_KEY, ids), (FOLLOWED_KEY, followed), (OFFER_FAMILIES_KEY, families))
            held = {key: links(metadata, key) for key, _ in kinds}
            fresh = {
                key: [i for i in dict.fromkeys(new) if i not in held[key]] for key, new in kinds
            }
            for key, new in fresh.items():  # all checked before anything is kept
                if len(held[key]) + len(new) > _MAX_LINKS:
                    raise InvalidInputError(
                        f"an episode keeps at most {_MAX_LINKS} ids of each kind of feedback",
                        field="followed_episode_ids" if key == FOLLOWED_KEY else "pattern_ids",
                    )
            for key, new in fresh.items():
                if new:
                    metadata[key] = [*held[key], *new]

    def relearn(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild every pattern and heuristic of this namespace from the stored episodes.

        ``progress(done, total)`` is called after each page. Returns the episodes seen.
        """
        self._check_open()
        self._core.flush()
        return self._core.learning.relearn(self.namespace, progress)

    @property
    def learning_failures(self) -> list[str]:
        """Ids of episodes whose learning failed twice (``relearn()`` recovers them)."""
        return self._core.learning.failed

    alist_patterns = twin(list_patterns)
    aget_pattern = twin(get_pattern)
    apattern_effectiveness = twin(pattern_effectiveness)
    afind_recovery = twin(find_recovery)
    alist_heuristics = twin(list_heuristics)
    arecord_feedback = twin(record_feedback)
    arelearn = twin(relearn)


def _detached(pattern: AnyPattern) -> AnyPattern:
    """A copy that shares nothing with the learner's live record (rebuilt from its fields:
    about three times faster than ``model_copy(deep=True)`` on large patterns)."""
    return type(pattern).model_validate(pattern.model_dump())


def _pattern_kind(kind: object) -> PatternKind:
    name: str = expect(kind, str, "kind")
    try:
        return PatternKind(name)
    except ValueError:
        allowed = ", ".join(k.value for k in PatternKind)
        raise InvalidInputError(
            f"unknown kind {show(kind)}; expected one of: {allowed}", field="kind"
        ) from None
