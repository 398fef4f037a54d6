"""How old a pattern's evidence is: measured from when what it is about was last seen.

A decision or a context pattern ages while its family's runs go on without it, a recovery
while its tool is called and no longer fails that way; a family's sequence does not age (a
change in how its runs go is what change detection is for). Not the wall clock: a memory left
alone for months, or a history imported from last year, serves what it learned, before and
after new episodes come in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from ..records.learned import AnyPattern, ContextPattern, DecisionPoint, ErrorRecovery, ToolSequence

__all__ = ["ToolsSeen", "saw"]


def saw(seen: dict[str, datetime], tools: Iterable[str], when: datetime) -> None:
    """Note that a run that called ``tools`` ended ``when``."""
    for tool in tools:
        if tool not in seen or when > seen[tool]:
            seen[tool] = when


class ToolsSeen:
    """When a run that called each tool last ended, and the age a pattern is taken at."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}

    def saw(self, tools: Iterable[str], when: datetime) -> None:
        saw(self._seen, tools, when)

    def adopt(self, pattern: AnyPattern) -> None:
        """What a stored pattern says of its tools' last runs (on load). A family stored
        before it kept ``tools_seen`` stands for every tool it ever used at its newest run."""
        if isinstance(pattern, ToolSequence):
            for tool, when in pattern.tools_seen.items():
                self.saw((tool,), when)
            if not pattern.tools_seen:
                self.saw(pattern.tool_stats, pattern.last_seen)
        elif isinstance(pattern, ErrorRecovery):
            self.saw((pattern.tool,), pattern.last_seen)

    def age_from(self, pattern: AnyPattern, families: Mapping[str, ToolSequence]) -> datetime:
        """When what the pattern is about was last seen (see the module)."""
        seen = pattern.last_seen
        if isinstance(pattern, ErrorRecovery):
            scope = self._seen.get(pattern.tool)
        elif isinstance(pattern, (DecisionPoint, ContextPattern)):
            family = families.get(pattern.family)
            scope = family.last_seen if family is not None else None
        else:
            scope = None
        return seen if scope is None or scope < seen else scope
