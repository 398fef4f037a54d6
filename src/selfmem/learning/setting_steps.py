"""Steps of a learned sequence that do not fit a task's setting.

A served context pattern can say that, under a feature (``tag=staging``), a tool's calls fail
in the family's runs, where they do not without it. When a replacement is served for an error
of that tool ("rate limit reached", then ``issue_internal_certificate``), the replacement
takes its place in a sequence offered to a task with that feature. When every error the tool
raised only says that a call does not apply (error classes many tools raise, see
:func:`.serving.state_errors`: an approval step that staging does not have), the step is left
out. Otherwise it stays: it fails there with an error of its own, which the agent meets, and a
recovery may still apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..records.learned import AnyPattern, ContextPattern, ErrorRecovery

__all__ = ["UnfitSteps", "fitted", "unfit_steps"]

#: ``(family, feature, tool)`` -> the tool to call in its place, or None to leave it out.
UnfitSteps = dict[tuple[str, str, str], str | None]


def unfit_steps(
    patterns: Iterable[AnyPattern], served: Callable[[AnyPattern], bool], state_errors: set[str]
) -> UnfitSteps:
    """The steps that do not fit a setting, from the learner's ``patterns`` (``served``
    tells which are served) and the error classes that only say a call does not apply."""
    failing: list[ContextPattern] = []
    errors: dict[str, list[ErrorRecovery]] = {}
    for pattern in patterns:
        if isinstance(pattern, ErrorRecovery):
            errors.setdefault(pattern.tool, []).append(pattern)
        elif (
            isinstance(pattern, ContextPattern)
            and pattern.measure == "calls"
            and pattern.association == "failure"
            and served(pattern)
        ):
            failing.append(pattern)
    found: UnfitSteps = {}
    for pattern in failing:
        raised = errors.get(pattern.tool, [])
        replaced = [
            e for e in raised if e.best_mode == "replace" and e.best_recovery and served(e)
        ]
        key = (pattern.family, pattern.feature, pattern.tool)
        if replaced:
            found[key] = max(replaced, key=lambda e: (e.support, e.error_class)).best_recovery
        elif raised and all(e.error_class in state_errors for e in raised):
            found[key] = None
    return found


def fitted(
    tools: Iterable[str], features: set[str], families: set[str], unfit: UnfitSteps
) -> list[str]:
    """``tools`` with the steps that do not fit a task with ``features`` left out or
    replaced, by what the context patterns of ``families`` say (:func:`unfit_steps`)."""
    kept: list[str] = []
    for tool in tools:
        action: str | None = tool
        for family in families:
            for feature in features:
                if (family, feature, tool) in unfit:
                    action = unfit[(family, feature, tool)]
                    break
            if action != tool:
                break
        if action is not None and action not in kept:
            kept.append(action)
    return kept
