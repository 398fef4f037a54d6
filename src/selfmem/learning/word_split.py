"""Two tasks taken for one: a family whose tool choice the tasks' words decide.

Two kinds of task can share most of their tools and their context ("book the supplier's
invoice", "book the supplier's credit note": fetch, match, then post the invoice or post the
credit note). Their first runs look alike enough to form one family, and what tells them
apart then looks like a choice at one step. A real choice at one step is made whatever the
task says; this one follows the task's words: every task that says "credit note" posted a
credit note and no other did.

While a family is young (at most :data:`HELD_RUNS` runs) the learner holds its episodes
(:class:`HeldRuns`). When their number reaches one of :data:`CHECKPOINTS`,
:func:`dividing_terms` looks among those that did not break off (the successful runs, and
failed ones whose every failed call was followed by one of the same tool that worked: judged
failed at the end, they still made each choice of the procedure, while a run that broke off
early made only some) for a tool used by at most half of them and the terms of the tasks
that go with it: each term (in at least :data:`_MIN_TERM` runs) is one whose runs all used
the tool (90% of them from :data:`_MIN_ARM` runs on). A task is worded in more ways than one
("reconcile the results", "compare the results and fix the mismatches"), so no single term
need cover it: the fewest of them that together cover 90% of the runs that used the tool are
taken, and at least 90% of the runs with one of them must have used it. Each side needs
:data:`_MIN_ARM` runs, and Fisher's exact test must be significant at ``alpha`` over every
tool, every set of as many terms as were taken (terms that go with a tool by chance, a name
here and there, cover it only in numbers) and every checkpoint (Bonferroni). The learner then
moves the runs with one of the terms into a family of their own, and the two are never
merged again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from math import comb

from ..records.episodes import Episode
from . import extractors as ex
from .families import task_terms
from .significance import fisher_exact_p

__all__ = ["CHECKPOINTS", "HELD_RUNS", "HeldRuns", "by_end", "dividing_terms"]

#: A family is checked, and its episodes held, while it has at most this many runs.
HELD_RUNS = 100
#: The numbers of runs at which a young family is looked at (each a look).
CHECKPOINTS = frozenset((10, 13, 17, 22, 28, 36, 46, 60, 77, 100))
#: At most this many episodes are held over all families (the least recently counted
#: families' are let go first).
_HELD_TOTAL = 4096
#: Runs needed on each side: with the terms and the tool, and without either.
_MIN_ARM = 5
#: Runs a term needs to be one of the terms that divide (all of them with the tool while
#: it has fewer than :data:`_MIN_ARM`).
_MIN_TERM = 3
#: How pure each side must be.
_PURITY = 0.9


def by_end(episode: Episode) -> tuple[datetime, str]:
    """Sort key: when the episode ended, then its id."""
    return episode.end_time or episode.start_time, episode.id


def _light(episode: Episode) -> Episode:
    """The episode without what learning never reads (the steps' observations)."""
    steps = [s.model_copy(update={"observation": None}) for s in episode.steps]
    return episode.model_copy(update={"steps": steps})


class HeldRuns:
    """The episodes of young families, by family key, oldest first."""

    def __init__(self) -> None:
        self._by_family: dict[str, list[tuple[Episode, frozenset[str]]]] = {}
        self._total = 0

    def add(self, key: str, episode: Episode, members: int) -> None:
        """Hold an episode just counted into family ``key`` (now of ``members`` runs)."""
        held = self._by_family.pop(key, [])
        if members > HELD_RUNS:
            self._total -= len(held)
            return
        held.append((_light(episode), frozenset(task_terms(episode.task_description))))
        self._by_family[key] = held  # the most recently counted last
        self._total += 1
        while self._total > _HELD_TOTAL:
            oldest = next(iter(self._by_family))
            self._total -= len(self._by_family.pop(oldest))

    def seed(self, key: str, episodes: list[Episode], members: int) -> None:
        """Hold a young family's earlier runs, oldest first (read back from the store)."""
        self.drop(key)
        for episode in episodes if members <= HELD_RUNS else ():
            self.add(key, episode, members)

    def of(self, key: str, members: int) -> list[tuple[Episode, frozenset[str]]] | None:
        """Every run of the family, or None if some are not held."""
        held = self._by_family.get(key)
        return held if held is not None and len(held) == members else None

    def merge(self, keep: str, gone: str) -> None:
        """Family ``gone`` was merged into ``keep``: hold its episodes as ``keep``'s."""
        theirs = self._by_family.pop(gone, None)
        if theirs is not None:
            both = self._by_family.pop(keep, []) + theirs
            self._by_family[keep] = sorted(both, key=lambda item: by_end(item[0]))

    def take(self, key: str, words: tuple[str, ...]) -> list[Episode]:
        """Let go of the family's episodes whose task has one of ``words``, and return them."""
        held = self._by_family.get(key, [])
        taken = [episode for episode, terms in held if terms & set(words)]
        self.drop(key, [episode.id for episode in taken])
        return taken

    def families(self) -> list[str]:
        """The families whose episodes are held, in order of their keys."""
        return sorted(self._by_family)

    def first_task(self, key: str) -> str:
        """The task of the family's oldest held episode ("" if none)."""
        held = self._by_family.get(key)
        return held[0][0].task_description if held else ""

    def drop(self, key: str, episode_ids: Iterable[str] | None = None) -> None:
        """Let go of a family's episodes (``episode_ids``: only these)."""
        held = self._by_family.get(key)
        if held is None:
            return
        if episode_ids is None:
            del self._by_family[key]
            self._total -= len(held)
            return
        gone = set(episode_ids)
        kept = [item for item in held if item[0].id not in gone]
        self._total -= len(held) - len(kept)
        self._by_family[key] = kept


def dividing_terms(
    held: list[tuple[Episode, frozenset[str]]], alpha: float
) -> tuple[str, ...] | None:
    """The terms whose runs are another task than the family's other runs (see the module
    docstring), most frequent first, or None. ``held``: the family's runs and their terms,
    looked at only when their number is one of :data:`CHECKPOINTS`."""
    if len(held) not in CHECKPOINTS:
        return None
    runs = [
        (set(ex.tool_path(episode)), terms)
        for episode, terms in held
        if ex.succeeded(episode) or ex.broke_at(episode)[0] < 0
    ]
    if len(runs) < 2 * _MIN_ARM:
        return None
    tools = Counter(tool for used, _ in runs for tool in used)
    terms = Counter(term for _, words in runs for term in words)
    # the task divided off is the smaller part: what most runs do is the family's own way
    choices = sorted(t for t, n in tools.items() if _MIN_ARM <= n <= len(runs) / 2)
    words = sorted(t for t, n in terms.items() if _MIN_TERM <= n <= len(runs) - _MIN_ARM)
    best: tuple[float, tuple[str, ...]] | None = None
    for tool in choices:
        found = _covering(tool, runs, _terms_of(tool, runs, words, terms))
        if not found:
            continue
        # Bonferroni over every tool, every set of as many terms, and every look
        tests = len(choices) * comb(len(words), len(found)) * len(CHECKPOINTS)
        p = _together_p(tool, found, runs)
        if p * tests <= alpha and (best is None or (p, found) < best):
            best = (p, found)
    return best[1] if best is not None else None


def _covering(
    tool: str, runs: list[tuple[set[str], frozenset[str]]], pure: tuple[str, ...]
) -> tuple[str, ...]:
    """The fewest of the ``pure`` terms that together cover 90% of the runs with the tool
    (each next the one that covers most runs not yet covered), or none."""
    left = [words for used, words in runs if tool in used]
    need = len(left) - _PURITY * len(left)
    chosen: list[str] = []
    while len(left) > need:
        gain = {term: sum(1 for words in left if term in words) for term in pure}
        term = max(pure, key=lambda t: (gain[t], -pure.index(t)), default=None)
        if term is None or gain[term] == 0:
            return ()
        chosen.append(term)
        left = [words for words in left if term not in words]
    return tuple(chosen)


def _terms_of(
    tool: str, runs: list[tuple[set[str], frozenset[str]]], words: list[str], terms: Counter[str]
) -> tuple[str, ...]:
    """The terms whose runs (nearly) all used the tool, most frequent first."""
    pure = []
    for term in words:
        both = sum(1 for used, words_of in runs if tool in used and term in words_of)
        if both == terms[term] or (terms[term] >= _MIN_ARM and both >= _PURITY * terms[term]):
            pure.append(term)
    return tuple(sorted(pure, key=lambda t: (-terms[t], t)))


def _together_p(
    tool: str, found: tuple[str, ...], runs: list[tuple[set[str], frozenset[str]]]
) -> float:
    """Fisher's p that the runs with one of the terms are the runs that used the tool; 1.0
    unless each side is at least 90% the other."""
    words = set(found)
    with_term = sum(1 for _, words_of in runs if words & words_of)
    with_tool = sum(1 for used, _ in runs if tool in used)
    both = sum(1 for used, words_of in runs if tool in used and words & words_of)
    if with_term < _MIN_ARM or both < _PURITY * max(with_tool, with_term):
        return 1.0
    return fisher_exact_p(both, with_term, with_tool - both, len(runs) - with_term)
