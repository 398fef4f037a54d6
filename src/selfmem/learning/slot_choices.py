"""A step of a family's procedure where its runs choose between tools.

A sequence holds the tools most successful runs called (``sequence_min_frequency``). Where
the runs take one of two or three tools at one step ("map the codes" or "guess them"), no
option may reach that share, and the sequence would skip a step every run takes. Such a step
shows as tools that never come together in one run, that sit between the same two steps of
the sequence, and that together most successful runs called. The sequence then holds the
option whose runs succeeded most (failed runs included, the rate shrunk by one success and
one failure), unless the setting decides the option (``npm_install`` in every node run,
``go_get`` in every go run): a sequence for every setting then leaves the step out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..config import LearningConfig
from .state import FamilyRun

__all__ = ["with_choices"]

#: A tool is an option of a step if at least this share of the successful runs called it.
_MIN_SHARE = 0.15
#: ... and at least this share of the runs that called it did so at the same step.
_SAME_STEP = 0.8
#: Two options come together in at most this share of the runs of the rarer one.
_TOGETHER = 0.05
#: An option follows the setting when this share of its runs has a feature that at most
#: the rest of this share of the other options' runs has.
_TYPICAL = 0.9

Slot = tuple[str | None, str | None]


def _slot(path: tuple[str, ...], tool: str, sequence: set[str]) -> Slot:
    """The steps of the sequence around the tool's first call in the path."""
    i = path.index(tool)
    before = next((t for t in reversed(path[:i]) if t in sequence), None)
    after = next((t for t in path[i + 1 :] if t in sequence), None)
    return before, after


def with_choices(
    tools: tuple[str, ...], runs: Sequence[FamilyRun], cfg: LearningConfig
) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    """``tools`` with each step where the runs choose between tools filled in, and those
    options by the step of ``tools`` they follow (``""``: the first step)."""
    wins = [set(run.path) for run in runs if run.success]
    paths = [run.path for run in runs if run.success]
    if len(wins) < cfg.min_support or not tools:
        return tools, {}
    sequence = set(tools)
    presence = Counter(t for used in wins for t in used if t not in sequence)
    options: dict[Slot, list[str]] = {}
    for tool, n in sorted(presence.items(), key=lambda item: (-item[1], item[0])):
        if n < _MIN_SHARE * len(wins):
            continue
        slots = Counter(_slot(p, tool, sequence) for p in paths if tool in p)
        slot, same = slots.most_common(1)[0]
        if same >= _SAME_STEP * n:
            options.setdefault(slot, []).append(tool)
    out = list(tools)
    chosen: dict[str, list[str]] = {}
    for slot, candidates in sorted(options.items(), key=lambda item: str(item[0])):
        group: list[str] = []
        for tool in candidates:
            if all(_apart(tool, other, wins, presence) for other in group):
                group.append(tool)
        covered = sum(1 for used in wins if used & set(group))
        if len(group) < 2 or covered < cfg.sequence_min_frequency * len(wins):
            continue
        if _follows_setting(group, runs):
            continue  # a step done one way in one setting, another in another
        pick = max(group, key=lambda tool: (_rate(tool, runs), presence[tool], tool))
        before, _ = slot
        at = out.index(before) + 1 if before in out else 0
        out.insert(at, pick)
        chosen[before or ""] = sorted(group)
    return tuple(out), chosen


def _follows_setting(group: list[str], runs: Sequence[FamilyRun]) -> bool:
    """Whether the setting decides the option: a feature (``language=go``, ``tag=eu``) that
    nearly every run of one option has and nearly no run of the others."""
    for tool in group:
        mine = [run.setting for run in runs if tool in run.path]
        others = [
            run.setting for run in runs if tool not in run.path and set(run.path) & set(group)
        ]
        if not mine or not others:
            continue
        shared = Counter(feature for setting in mine for feature in setting)
        for feature, n in shared.items():
            elsewhere = sum(1 for setting in others if feature in setting)
            if n >= _TYPICAL * len(mine) and elsewhere <= (1 - _TYPICAL) * len(others):
                return True
    return False


def _apart(a: str, b: str, wins: list[set[str]], presence: Counter[str]) -> bool:
    together = sum(1 for used in wins if a in used and b in used)
    return together <= _TOGETHER * min(presence[a], presence[b])


def _rate(tool: str, runs: Sequence[FamilyRun]) -> float:
    """The success rate of the runs that used the tool, one success and one failure added:
    which option to take is a choice, not a claim, and a lower bound would favour the option
    most runs happen to take."""
    used = [run.success for run in runs if tool in run.path]
    return (sum(used) + 1) / (len(used) + 2)
