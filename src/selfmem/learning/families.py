"""Task families found from the tasks themselves.

A family is a group of episodes that are the same kind of task. Its profile lives in its
:class:`~selfmem.records.learned.ToolSequence` record: how many runs used each word of the
task description, each tool and each context feature. A completed episode joins the family
it is most similar to, if that similarity reaches ``family_min_similarity``; otherwise it
starts a new one. Similarity combines three signals:

- **words** (weight 0.40): the idf-weighted share of the episode's description terms that
  are typical of the family (a term used by every member counts fully);
- **tools** (0.45): weighted Jaccard between the episode's tools and the family's tool
  shares, so occasional noise steps barely count;
- **context** (0.15): the share of the family's runs with the same domain, the same task
  type and the same language, averaged over the three. Context is one signal among three,
  not the definition: two kinds of task in one context become two families, and paraphrases
  of one task in two contexts can share one.

A query (a task about to start, so no tools yet) is matched by words and context only.
Everything is deterministic: the same episodes in the same order give the same families.

A successful run never joins a family whose successful runs share a core of tools it mostly
did without: two tasks worded alike in one context ("refund the order", "reset the password
of the customer of order ...") stay two families when their work differs.

Early on, when a family has few runs, a paraphrase with new words can start a second family
of the same task. Once two families' profiles are as similar as an episode must be to join
one (:meth:`FamilyIndex.twin`), the learner merges them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable

from ..records.episodes import Episode, TaskContext, TaskType
from ..records.learned import ChoiceStats, ToolSequence
from ..text.tokens import query_terms
from . import extractors as ex
from .state import count_choice
from .stated_context import value_counts

__all__ = ["SAMPLE_CHARS", "FamilyIndex", "context_key", "stem", "task_terms"]

_WORDS, _TOOLS, _CONTEXT = 0.40, 0.45, 0.15
_MAX_TASK_TERMS = 48
_MAX_PROFILE_TERMS = 256
SAMPLE_CHARS = 200


def stem(word: str) -> str:
    """A light suffix strip so "tests" meets "test" and "deploying" meets "deploy"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def task_terms(description: str) -> tuple[str, ...]:
    """The distinct stemmed terms of a task description."""
    found = dict.fromkeys(stem(term) for term in query_terms(description, _MAX_TASK_TERMS))
    return tuple(found)


def context_key(context: TaskContext, task_type: TaskType | str | None) -> str:
    kind = task_type.value if isinstance(task_type, TaskType) else (task_type or "-")
    return f"{context.domain}|{kind}|{(context.language or '-').lower()}"


def _share(stats: ChoiceStats | None, members: int) -> float:
    return stats.n / members if stats is not None and members > 0 else 0.0


def _count(stats: ChoiceStats | None) -> int:
    return stats.n if stats is not None else 0


#: A run as :meth:`FamilyIndex._score` compares it: its weighted terms, tools, context
#: values and whether it was partial (failed).
_Run = tuple[list[tuple[str, float]], set[str], list[str], bool]


def _context_values(episode: Episode) -> list[str]:
    return context_key(episode.context, episode.task_type).split("|")


class FamilyIndex:
    """The families of one namespace, indexed by word and by tool for quick matching."""

    def __init__(self, min_similarity: float) -> None:
        self.min_similarity = min_similarity
        self.families: dict[str, ToolSequence] = {}  # by family key
        self._by_term: dict[str, set[str]] = {}
        self._by_tool: dict[str, set[str]] = {}
        self._runs = 0  # episodes counted over all families
        self._total_share: dict[str, float] = {}  # per family: the sum of its tool shares
        self._term_runs: dict[str, int] = {}  # per term: the families' runs that have it
        #: per family: for domain, task type and language, its runs per value
        self._context_counts: dict[str, list[dict[str, int]]] = {}

    # -- index ------------------------------------------------------------------------------

    def add(self, family: ToolSequence) -> None:
        """Index a family's profile (a new one, or one loaded from the store)."""
        self.families[family.key] = family
        self._total_share.pop(family.key, None)
        self._context_counts.pop(family.key, None)
        self._runs += family.members.n
        for term, count in family.terms.items():
            self._by_term.setdefault(term, set()).add(family.key)
            self._term_runs[term] = self._term_runs.get(term, 0) + count
        for tool in family.tool_stats:
            self._by_tool.setdefault(tool, set()).add(family.key)

    def remove(self, key: str) -> None:
        family = self.families.pop(key, None)
        if family is None:
            return
        self._runs -= family.members.n
        self._unindex(family)

    def _unindex(self, family: ToolSequence) -> None:
        key = family.key
        self._total_share.pop(key, None)
        self._context_counts.pop(key, None)
        for term, count in family.terms.items():
            self._by_term.get(term, set()).discard(key)
            self._term_count(term, -count)
        for tool in family.tool_stats:
            self._by_tool.get(tool, set()).discard(key)

    def _term_count(self, term: str, change: int) -> None:
        left = self._term_runs.get(term, 0) + change
        if left > 0:
            self._term_runs[term] = left
        else:
            self._term_runs.pop(term, None)

    def context_counts(self, family: ToolSequence) -> list[dict[str, int]]:
        """For the family's domain, task type and language, its runs per value (kept up to
        date as runs are counted)."""
        counts = self._context_counts.get(family.key)
        if counts is None:
            counts = self._context_counts[family.key] = value_counts(family.context_keys)
        return counts

    # -- similarity -------------------------------------------------------------------------

    def _df(self, term: str) -> int:
        return self._term_runs.get(term, 0)

    def _weights(self, terms: tuple[str, ...]) -> list[tuple[str, float]]:
        """The task's terms with their idf weights, for :meth:`_words`. Terms no family has
        seen say nothing about which family a task belongs to: left out."""
        weighted = []
        for term in terms:
            df = self._df(term)
            if df > 0:
                weighted.append((term, self._idf(df)))
        return weighted

    def _idf(self, df: int) -> float:
        """The weight of a term that ``df`` of the families' runs have."""
        return math.log(1.0 + (self._runs + 1) / (df + 1))

    @staticmethod
    def _words(weighted: list[tuple[str, float]], family: ToolSequence, own: int = 0) -> float:
        """The idf-weighted share of the task's terms (:meth:`_weights`) that are typical of
        the family. ``own`` 1: the episode is one of the family's runs, left out."""
        members = family.members.n - own
        if not weighted or members <= 0:
            return 0.0
        typical = total = 0.0
        for term, weight in weighted:
            total += weight
            typical += weight * min(1.0, max(0, family.terms.get(term, 0) - own) / members)
        return typical / total if total else 0.0

    def _tools(
        self, tools: set[str], family: ToolSequence, *, partial: bool = False, own: int = 0
    ) -> float:
        """Weighted Jaccard of the episode's tools (weight 1) and the family's tool shares:
        the shares of the tools they have in common over the episode's tools plus the
        shares of the family's other tools. For a ``partial`` run (one that failed, so did
        only part of its task) the family's tools it never reached do not count against it:
        the common shares over the episode's tools. ``own`` 1: the episode is one of the
        family's runs, left out."""
        members = family.members.n - own
        if members <= 0:
            return 0.0
        stats = family.tool_stats
        common = sum(max(0, _count(stats.get(tool)) - own) / members for tool in tools)
        if partial:
            return common / len(tools) if tools else 0.0
        total = self._total_share.get(family.key) if not own else None
        if total is None:
            total = sum(
                max(0, s.n - (own if tool in tools else 0)) / members for tool, s in stats.items()
            )
            if not own:
                self._total_share[family.key] = total
        spread = len(tools) + total - common
        return common / spread if spread > 0 else 0.0

    def _context(self, key: str | list[str], family: ToolSequence, own: int = 0) -> float:
        """The average, over domain, task type and language, of the share of the family's
        runs that have the same value: another language alone costs a third. ``key``: a
        :func:`context_key`, or its values (split once for many families). ``own`` 1: the
        episode is one of the family's runs, left out."""
        members = family.members.n - own
        if members <= 0:
            return 0.0
        counts = self._context_counts.get(family.key)
        if counts is None:
            counts = self.context_counts(family)
        ours = key.split("|") if isinstance(key, str) else key
        same = 0
        for table, value in zip(counts, ours, strict=False):
            same += max(0, table.get(value, 0) - own)
        return same / (members * len(ours))

    def _candidates(self, terms: Iterable[str], tools: Iterable[str]) -> list[str]:
        found: set[str] = set()
        for term in terms:
            found |= self._by_term.get(term, set())
        for tool in tools:
            found |= self._by_tool.get(tool, set())
        return sorted(found)

    def scores(self, episode: Episode) -> list[tuple[float, str]]:
        """Similarity of a completed episode to each family it shares a word or tool with."""
        terms = task_terms(episode.task_description)
        run = self._as_run(episode, terms)
        found = []
        for family_key in self._candidates(terms, run[1]):
            found.append((self._score(run, self.families[family_key]), family_key))
        found.sort(key=lambda item: (-item[0], item[1]))
        return found

    def fit_without(self, episode: Episode, family: ToolSequence) -> float:
        """The similarity of one of the family's runs to the family's other runs: how well it
        would fit there if it joined now."""
        run = self._as_run(episode, task_terms(episode.task_description))
        return self._score(run, family, own=1)

    def _as_run(self, episode: Episode, terms: tuple[str, ...]) -> _Run:
        tools = set(ex.tool_path(episode))
        return self._weights(terms), tools, _context_values(episode), not ex.succeeded(episode)

    def _score(self, run: _Run, family: ToolSequence, own: int = 0) -> float:
        """The similarity of a run (its weighted terms, tools, context values and whether
        it was partial) to a family (``own`` 1: one of the family's runs, left out)."""
        weighted, tools, key, partial = run
        context = self._context(key, family, own)
        words = self._words(weighted, family, own)
        if not tools:
            return (_WORDS * words + _CONTEXT * context) / (_WORDS + _CONTEXT)
        return (
            _WORDS * words
            + _TOOLS * self._tools(tools, family, partial=partial, own=own)
            + _CONTEXT * context
        )

    def elsewhere(self, episode: Episode, family: ToolSequence) -> tuple[float, str] | None:
        """The family other than ``family`` (and those it was divided from) that one of its
        runs would join now, with its similarity (see :meth:`best`)."""

        def apart(key: str) -> bool:
            other = self.families[key]
            return key == family.key or key in family.apart or family.key in other.apart

        return self._first_fit(episode, apart)

    def best(self, episode: Episode) -> str | None:
        """The family the episode belongs to, or None if none is similar enough. A successful
        run never joins a family whose successful runs share a core of tools it mostly did
        without (:func:`_different_work`): alike words and context do not make it that task."""
        found = self._first_fit(episode, lambda _key: False)
        return found[1] if found is not None else None

    def _first_fit(self, episode: Episode, skip: Callable[[str], bool]) -> tuple[float, str] | None:
        """The most similar family, not ``skip``-ped, that the episode may join, with its
        similarity (see :meth:`best`)."""
        tools = set(ex.tool_path(episode)) if ex.succeeded(episode) else None
        for score, key in self.scores(episode):
            if score < self.min_similarity:
                return None
            if skip(key):
                continue
            if tools is None or not _different_work(tools, _core(self.families[key])):
                return score, key
        return None

    def does_work_of(self, episode: Episode, key: str) -> bool:
        """Whether the episode did the work of family ``key``: most of the tools its
        successful runs share (:func:`_different_work`)."""
        return not _different_work(set(ex.tool_path(episode)), _core(self.families[key]))

    def match(
        self, description: str, context: TaskContext | None, task_type: TaskType | str | None
    ) -> list[tuple[float, float, str]]:
        """``(similarity, word similarity, family key)`` of the families a new task may
        belong to, best first; only families that share a word with the task."""
        terms = task_terms(description)
        key = context_key(context, task_type) if context is not None else None
        weighted = self._weights(terms)
        found = []
        for family_key in self._candidates(terms, ()):
            family = self.families[family_key]
            words = self._words(weighted, family)
            if words <= 0:
                continue
            if key is None:
                score = words
            else:
                score = (_WORDS * words + _CONTEXT * self._context(key, family)) / (
                    _WORDS + _CONTEXT
                )
            found.append((score, words, family_key))
        found.sort(key=lambda item: (-item[0], item[2]))
        return found

    def _known_idf(self, term: str, known: dict[str, float]) -> float:
        """A term's :meth:`_idf`, remembered in ``known`` (valid until a run is counted)."""
        weight = known.get(term)
        if weight is None:
            weight = known[term] = self._idf(self._df(term))
        return weight

    def _profile_words(
        self, family: ToolSequence, other: ToolSequence, known: dict[str, float]
    ) -> float:
        """How typical ``family``'s words are of ``other``: :meth:`_words` averaged over
        ``family``'s members (each term weighted by its share of them)."""
        members, theirs = family.members.n, other.members.n
        typical = total = 0.0
        for term, count in family.terms.items():
            weight = self._known_idf(term, known) * count / members
            total += weight
            typical += weight * min(1.0, other.terms.get(term, 0) / theirs)
        return typical / total if total else 0.0

    @staticmethod
    def _profile_tools(family: ToolSequence, other: ToolSequence) -> float:
        """Weighted Jaccard of the two families' tool shares."""
        shares = {
            tool: (_share(family.tool_stats.get(tool), family.members.n),
                   _share(other.tool_stats.get(tool), other.members.n))
            for tool in family.tool_stats.keys() | other.tool_stats.keys()
        }  # fmt: skip
        union = sum(max(a, b) for a, b in shares.values())
        return sum(min(a, b) for a, b in shares.values()) / union if union else 0.0

    def _profile_context(self, family: ToolSequence, other: ToolSequence) -> float:
        members = family.members.n
        return (
            sum(count * self._context(key, other) for key, count in family.context_keys.items())
            / members
        )

    def profile_similarity(
        self, family: ToolSequence, other: ToolSequence, known: dict[str, float] | None = None
    ) -> float:
        """The similarity of two families' profiles, on the scale an episode joins a family
        by: words and context each the lower of the two directions, tools the weighted
        Jaccard of the tool shares. ``known``: idf weights already worked out (by
        :meth:`_known_idf`) since the last run was counted."""
        if family.members.n <= 0 or other.members.n <= 0:
            return 0.0
        known = {} if known is None else known
        words = min(
            self._profile_words(family, other, known), self._profile_words(other, family, known)
        )
        context = min(self._profile_context(family, other), self._profile_context(other, family))
        return _WORDS * words + _TOOLS * self._profile_tools(family, other) + _CONTEXT * context

    def twin(self, family: ToolSequence) -> str | None:
        """Another family that has become the same kind of task as ``family`` (their profiles
        are as similar as an episode must be to join one), the most similar first; never
        one it was divided from by the tasks' words (``apart``)."""
        found = []
        known: dict[str, float] = {}
        for key in self._candidates((), family.tool_stats):
            other = self.families[key]
            if key == family.key or key in family.apart or family.key in other.apart:
                continue
            ours, theirs = _core(family), _core(other)
            if _different_work(ours, theirs) or _different_work(theirs, ours):
                continue
            similarity = self.profile_similarity(family, other, known)
            if similarity >= self.min_similarity:
                found.append((similarity, key))
        return min(found, key=lambda item: (-item[0], item[1]))[1] if found else None

    # -- profiles ---------------------------------------------------------------------------

    def count(self, family: ToolSequence, episode: Episode, sign: int) -> None:
        """Add (``sign`` 1) or remove (-1) one episode from a family's profile, and the
        index with it: only what the episode changes (an episode counts in one family, a
        family may have hundreds of terms)."""
        key = family.key
        if self.families.get(key) is not family:
            self.remove(key)
            self.add(family)
        before = family.members.n
        self.families[key] = self.families.pop(key)  # the most recently counted last
        self._total_share.pop(key, None)
        success = int(ex.succeeded(episode))
        family.members.n += sign
        family.members.successes += sign * success
        if sign > 0 and not family.sample_task:
            family.sample_task = episode.task_description[:SAMPLE_CHARS]
        self._count_terms(family, task_terms(episode.task_description), sign)
        failed = {step.tool for step in episode.steps if not step.success}
        for tool in set(ex.tool_path(episode)):
            known = tool in family.tool_stats
            count_choice(family.tool_stats, tool, sign, success)
            count_choice(family.tool_calls, tool, sign, int(tool not in failed))
            if known != (tool in family.tool_stats):
                used = self._by_tool.setdefault(tool, set())
                used.discard(key) if known else used.add(key)
        for feature in ex.context_features(episode):
            count_choice(family.feature_stats, feature, sign, success)
        self._count_context(family, context_key(episode.context, episode.task_type), sign)
        if family.members.n > 0:
            self._runs += family.members.n - before
        else:
            del self.families[key]
            self._runs -= before
            self._unindex(family)

    def _count_terms(self, family: ToolSequence, terms: tuple[str, ...], sign: int) -> None:
        key = family.key
        for term in terms:
            had = term in family.terms
            _bump(family.terms, term, sign)
            self._term_count(term, sign if had or sign > 0 else 0)
            if had != (term in family.terms):
                found = self._by_term.setdefault(term, set())
                found.discard(key) if had else found.add(key)
        excess = len(family.terms) - _MAX_PROFILE_TERMS
        while excess > 0:
            # keep the most frequent, ties by term: drop the rarest terms, the last in
            # alphabetical order first (usually the few this episode brought in)
            rarest = min(family.terms.values())
            dropped = heapq.nlargest(
                excess, [term for term, count in family.terms.items() if count == rarest]
            )
            for term in dropped:
                del family.terms[term]
                self._term_count(term, -rarest)
                self._by_term.get(term, set()).discard(key)
            excess -= len(dropped)

    def _count_context(self, family: ToolSequence, key: str, sign: int) -> None:
        _bump(family.context_keys, key, sign)
        counts = self._context_counts.get(family.key)
        if counts is None:
            return
        parts = key.split("|")
        if len(parts) > len(counts):
            del self._context_counts[family.key]  # worked out again when next needed
            return
        for table, value in zip(counts, parts, strict=False):
            _bump(table, value, sign)


#: The share of a family's successful runs that use a tool for it to be in the family's core:
#: the share a tool needs to be in a learned sequence (``sequence_min_frequency``).
_CORE_SHARE = 0.6


def _core(family: ToolSequence) -> set[str]:
    """The tools most of the family's successful runs used."""
    wins = family.members.successes
    if wins <= 0:
        return set()
    return {tool for tool, s in family.tool_stats.items() if s.successes >= _CORE_SHARE * wins}


def _different_work(tools: set[str], core: set[str]) -> bool:
    """Whether work that used ``tools`` did without most of ``core``: the tools a family's
    successful runs share. Such work is another task however alike its words (a choice at
    one step of a short procedure, ``plan`` then ``edit`` or ``guess``, is not)."""
    return bool(core) and 2 * len(tools & core) < len(core)


def _bump(table: dict[str, int], key: str, sign: int) -> None:
    value = table.get(key, 0) + sign
    if value > 0:
        table[key] = value
    else:
        table.pop(key, None)
