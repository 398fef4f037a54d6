"""In-process state of open episodes and the buffer of steps not yet written.

``log_step`` only touches this buffer (no I/O), which keeps the hot path in microseconds.
Steps leave the buffer in batches (``take_pending``); if a write fails they are put back
(``restore_pending``) in their original order, so nothing is lost.

A step the store could not write (changed after it was validated, say) would fail the
whole batch, every time, for every episode. ``take_pending`` therefore checks each step and
parks one that cannot be stored: it leaves the episode, and the episode's next completion
reports it (``raise_parked``) while every other step is written as usual.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from ..errors import EpisodeStateError, InvalidInputError, LimitExceededError
from ..records.episodes import Episode, ExecutionStep
from ..records.json_once import step_json
from ..security.validation import MAX_STEP_NUMBER, storable_problem
from ..security.values import INT64_MAX

logger = logging.getLogger(__name__)

__all__ = ["OpenEpisode", "ParkedStep", "StepBuffer"]


@dataclass(frozen=True, slots=True)
class ParkedStep:
    """A step left out of its episode because the store could not write it."""

    step_number: int | None
    tool: str
    reason: str


@dataclass(slots=True)
class OpenEpisode:
    """An episode being executed: its header, every step so far, the numbers in use."""

    header: Episode
    steps: list[ExecutionStep] = field(default_factory=list)
    used_numbers: set[int] = field(default_factory=set)
    next_number: int = 1
    completing: bool = False
    parked: list[ParkedStep] = field(default_factory=list)


class StepBuffer:
    """Thread-safe registry of open episodes plus the queue of unwritten steps."""

    def __init__(self, max_steps_per_episode: int) -> None:
        self._open: dict[str, OpenEpisode] = {}
        self._pending: list[tuple[str, ExecutionStep]] = []
        self._max_steps = max_steps_per_episode
        self.lock = threading.RLock()

    def track(self, header: Episode, steps: list[ExecutionStep] | None = None) -> OpenEpisode:
        with self.lock:
            state = OpenEpisode(header=header, steps=list(steps or []))
            state.used_numbers = {s.step_number for s in state.steps if s.step_number}
            state.next_number = max(state.used_numbers, default=0) + 1
            return self._open.setdefault(header.id, state)

    def get(self, episode_id: str) -> OpenEpisode | None:
        with self.lock:
            return self._open.get(episode_id)

    def add(self, episode_id: str, step: ExecutionStep) -> tuple[ExecutionStep, int]:
        """Number and queue a step; return it and the count of pending steps."""
        with self.lock:
            state = self._open.get(episode_id)
            if state is None or state.completing:
                raise EpisodeStateError(f"episode {episode_id!r} is no longer open")
            if len(state.steps) >= self._max_steps:
                raise LimitExceededError(
                    "steps per episode", self._max_steps, len(state.steps) + 1, unit="steps"
                )
            number = step.step_number
            if number is None:
                number = state.next_number
                step = step.model_copy(update={"step_number": number})
            elif number in state.used_numbers:
                raise InvalidInputError(
                    f"step_number {number} is already used in episode {episode_id!r}",
                    field="step.step_number",
                )
            state.used_numbers.add(number)
            state.next_number = max(state.next_number, number + 1)
            state.steps.append(step)
            self._pending.append((episode_id, step))
            return step, len(self._pending)

    def pending_count(self) -> int:
        with self.lock:
            return len(self._pending)

    def take_pending(self, episode_id: str | None = None) -> list[tuple[str, ExecutionStep]]:
        """Remove and return pending steps (of one episode, or all) that can be stored;
        park the others (see ``raise_parked``)."""
        with self.lock:
            if episode_id is None:
                taken, self._pending = self._pending, []
            else:
                taken = [item for item in self._pending if item[0] == episode_id]
                self._pending = [item for item in self._pending if item[0] != episode_id]
        return [item for item in taken if not self._parks(*item)]  # checked outside the lock

    def _parks(self, episode_id: str, step: ExecutionStep) -> bool:
        if _storable(step):
            return False
        problem = storable_problem(step)
        if problem is None:
            return False
        with self.lock:
            state = self._open.get(episode_id)
            if state is not None:
                state.steps = [s for s in state.steps if s is not step]
                state.parked.append(ParkedStep(step.step_number, step.tool, problem))
        logger.warning("step %s of episode %s left out: %s", step.step_number, episode_id, problem)
        return True

    def raise_parked(self, episode_id: str) -> None:
        """Raise ``InvalidInputError`` naming the steps of this episode that were left out
        since the last call, and forget them (so completing again succeeds without them)."""
        with self.lock:
            state = self._open.get(episode_id)
            if state is None or not state.parked:
                return
            parked, state.parked = state.parked, []
        first = parked[0]
        more = f" (and {len(parked) - 1} more)" if len(parked) > 1 else ""
        raise InvalidInputError(
            f"step {first.step_number} ({first.tool!r}) of episode {episode_id!r} could not "
            f"be stored and was left out{more}: {first.reason}; complete the episode again "
            "to finish it without the step",
            field="step",
        )

    def restore_pending(self, items: list[tuple[str, ExecutionStep]]) -> None:
        """Put steps whose write failed back at the front of the queue."""
        with self.lock:
            self._pending = items + self._pending

    def begin_completion(self, episode_id: str) -> OpenEpisode:
        with self.lock:
            state = self._open[episode_id]
            if state.completing:
                raise EpisodeStateError(f"episode {episode_id!r} is already being completed")
            state.completing = True
            return state

    def abort_completion(self, episode_id: str) -> None:
        with self.lock:
            state = self._open.get(episode_id)
            if state is not None:
                state.completing = False

    def forget(self, episode_id: str) -> None:
        with self.lock:
            self._open.pop(episode_id, None)
            self._pending = [item for item in self._pending if item[0] != episode_id]


def _storable(step: ExecutionStep) -> bool:
    """True in the common case where :func:`~selfmem.security.validation.storable_problem`
    finds nothing, without serialising the step a second time: its JSON is taken with
    :func:`~selfmem.records.json_once.step_json`, which the write that follows reuses inside
    ``reuse_json``. False sends the step to ``storable_problem``, which says why."""
    try:
        step_json(step)
    except (ValueError, RecursionError):  # PydanticSerializationError is a ValueError
        return False
    number, tokens = step.step_number, step.tokens
    return (number is None or 1 <= number <= MAX_STEP_NUMBER) and (
        tokens is None or 0 <= tokens <= INT64_MAX
    )
