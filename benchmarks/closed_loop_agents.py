"""The agent policy of the closed-loop benchmark and the memories it can consult.

Spec implemented here:

- One policy, the same in every arm (``run_task``). Before a task it asks its memory for a
  plan (a tool sequence) and follows it. Without a plan, or once the plan is off (three
  failed calls in a row), it explores: it scores every tool by the words its name, its
  one-line description and its area share with the task's description, context and last
  error, minus a penalty for a phase out of order (inspect, prepare, change, verify, report)
  and for repeats, plus noise; it prefers a retry after a real error and never calls a tool
  twice in the same state.
- On a failed call it asks the memory for a recovery: a tool to run before retrying, a plain
  retry, or a warning that retries do not help. Without one it moves on to the next planned
  tool (a learned sequence may already contain the remedy) and otherwise explores.
- The memories (the arms): none; a LangGraph ``InMemoryStore`` over MiniLM that keeps each
  successful run's description and tools and plans by copying the nearest run's tools (no
  recovery advice); selfmem, with or without an embedder, whose plan is the tool sequence of
  the best recommended pattern that fits the task's context (``include_partial=True``: when
  no similar run succeeded yet, the steps that worked in the nearest runs, since the policy
  explores once a plan runs out), else the successful steps of the best successful
  retrieved episode, and whose recoveries come from error-recovery patterns
  (recommended for the error, from the retrieved heuristics, or listed), and from decision
  points after the previous tool. After each task the run is recorded: in selfmem every step
  with its real success flag and error, the outcome, and feedback on the patterns used; in
  the plain store successful runs only.
"""

from __future__ import annotations

import random
import re
import tempfile
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from selfmem import OutcomeStatus, SelfLearningMemory, TaskContext, TaskOutcome, TaskType

from .closed_loop_world import (
    PHASES,
    PRECONDITION,
    TOOL_AREAS,
    TOOL_DOCS,
    TOOL_PHASE,
    TOOLBOX,
    Attempt,
    StepResult,
    Task,
)

NOISE = 0.5  # random exploration: ties and near-ties are broken at random
RETRY_PRIOR = 0.7
REPEAT_PENALTY = 1.0
PLAN_OFF_AFTER = 3
_STOP = frozenset({"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "it",
                   "is", "are", "be", "we", "this", "that", "its", "why", "new"})


def words(text: str) -> set[str]:
    """Crude stems: lower-case alphabetic words without stop words, cut to 5 letters."""
    found = set()
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _STOP or len(word) < 3:
            continue
        found.add(word.rstrip("s")[:5] if len(word) > 3 else word)
    return found


TOOL_WORDS = {
    tool: words(" ".join([tool.replace("_", " "), TOOL_DOCS[tool],
                          *(area for area, tools in TOOL_AREAS.items() if tool in tools)]))
    for tool in TOOLBOX
}
PHASE = {tool: PHASES.index(TOOL_PHASE[tool]) for tool in TOOLBOX}
PHASE_WEIGHT = 0.6  # per phase away from "the same as the last step's, or the next one"


@dataclass(frozen=True)
class TaskView:
    """What the agent knows about a task: its description and context, not the procedure."""

    description: str
    domain: str
    language: str | None
    tags: tuple[str, ...]
    task_type: TaskType

    @classmethod
    def of(cls, task: Task) -> TaskView:
        return cls(task.description, task.domain, task.language, task.tags, task.task_type)


@dataclass
class Plan:
    tools: list[str]
    source: str  # "pattern", "episode", "store" or "none"
    pattern_ids: list[str] = field(default_factory=list)


@dataclass
class Recovery:
    tools: list[str] = field(default_factory=list)  # "retry" means: call the failed tool again
    no_retry: bool = False  # the memory warns that retrying this error does not help
    instead: bool = False  # the tools replace the failed one rather than prepare its retry
    source: str = ""
    pattern_ids: list[str] = field(default_factory=list)


class Memory(Protocol):
    name: str

    def plan(self, view: TaskView) -> Plan: ...

    def recover(self, view: TaskView, tool: str, error: str, previous: str | None) -> Recovery: ...

    def record(self, view: TaskView, steps: Sequence[StepResult], success: bool,
               pattern_ids: Sequence[str]) -> None: ...

    def close(self) -> None: ...


@dataclass
class RunOutcome:
    success: bool
    steps: list[StepResult]
    plan_source: str
    plan: list[str]
    recoveries: Counter[str]  # source of each suggested recovery, plus "worked"


def run_task(view: TaskView, attempt: Attempt, memory: Memory, rng: random.Random) -> RunOutcome:
    """Run one task with the policy; the memory is consulted, never the task's procedure."""
    plan = memory.plan(view)
    queue = deque(plan.tools)
    pending: deque[str] = deque()  # a recovery's calls go first
    state = _State(view)
    used = list(plan.pattern_ids)
    recoveries: Counter[str] = Counter()
    recovering = False
    while not attempt.finished:
        from_queue = not pending and not state.exploring and bool(queue)
        tool = pending.popleft() if pending else queue[0] if from_queue else state.explore(rng)
        result = attempt.call(tool)
        state.steps.append(result)
        if from_queue:
            queue.popleft()
        if result.ok:
            state.progress(tool)
            if recovering and not pending:
                recoveries["worked"] += 1
                recovering = False
            continue
        if attempt.aborted:
            break
        state.failed(tool, result.error or "")
        if state.failures_in_row >= PLAN_OFF_AFTER:
            queue.clear()
        recovery = memory.recover(view, tool, result.error or "", state.previous)
        used.extend(recovery.pattern_ids)
        if recovery.no_retry:
            state.retried.add(tool)
        actions = _recovery_calls(recovery, tool, state, queue)
        if actions:
            recoveries[recovery.source] += 1
            recovering = True
            pending.extendleft(reversed(actions))
        elif from_queue and state.failures_in_row >= 2 and PRECONDITION in (result.error or ""):
            queue.appendleft(tool)  # the plan skipped ahead too far: find the missing step
            state.exploring = True
    memory.record(view, state.steps, attempt.done, used)
    return RunOutcome(attempt.done, state.steps, plan.source, plan.tools, recoveries)


def _recovery_calls(recovery: Recovery, tool: str, state: _State, queue: deque[str]) -> list[str]:
    """The calls a suggested recovery asks for, minus what is already planned or was tried."""
    for suggestion in recovery.tools:
        if suggestion == "retry":
            if tool not in state.retried and not (queue and queue[0] == tool):
                state.retried.add(tool)
                return [tool]
            continue
        if suggestion in state.tried or suggestion not in TOOL_WORDS:
            continue
        if queue and queue[0] == suggestion:
            return []  # the plan already runs the remedy next
        return [suggestion] if recovery.instead else [suggestion, tool]
    return []


class _State:
    """What the policy tracks inside one attempt."""

    def __init__(self, view: TaskView) -> None:
        self.base_words = words(" ".join([view.description, view.domain, view.language or "",
                                          view.task_type.value, *view.tags]))
        self.steps: list[StepResult] = []
        self.tried: set[str] = set()  # failed since the last progress: not again in this state
        self.retried: set[str] = set()
        self.done: Counter[str] = Counter()
        self.previous: str | None = None
        self.failures_in_row = 0
        self.exploring = False
        self.error_words: set[str] = set()
        self.last_error_tool: str | None = None

    def progress(self, tool: str) -> None:
        self.tried.clear()
        self.done[tool] += 1
        self.previous = tool
        self.failures_in_row = 0
        self.exploring = False
        self.error_words = set()
        self.last_error_tool = None

    def failed(self, tool: str, error: str) -> None:
        self.tried.add(tool)
        self.failures_in_row += 1
        if PRECONDITION not in error:  # a real error: its words and a retry stay candidates
            self.error_words = words(error)
            self.last_error_tool = tool

    def explore(self, rng: random.Random) -> str:
        """The best-scoring tool by shared words, noise, retry preference and repetition."""
        query = self.base_words | self.error_words
        best, best_score = TOOLBOX[0], float("-inf")
        for tool in TOOLBOX:
            retry = tool == self.last_error_tool and tool not in self.retried
            if tool in self.tried and not retry:
                continue
            score = len(TOOL_WORDS[tool] & query) + NOISE * rng.random()
            score -= PHASE_WEIGHT * self._distance(tool)
            repeats = self.done[tool] + (tool == self.previous)
            score += RETRY_PRIOR if retry else -REPEAT_PENALTY * repeats
            if score > best_score:
                best, best_score = tool, score
        if best == self.last_error_tool:
            self.retried.add(best)
        return best

    def _distance(self, tool: str) -> float:
        """Phases from the last successful step's phase or the one after (back counts half)."""
        here = PHASE[self.previous] if self.previous else 0
        phase = PHASE[tool]
        return (here - phase) / 2 if phase < here else max(0, phase - here - 1)


class NoMemory:
    """The baseline: no plan, no recovery, nothing recorded."""

    name = "no memory"

    def plan(self, view: TaskView) -> Plan:
        return Plan([], "none")

    def recover(self, view: TaskView, tool: str, error: str, previous: str | None) -> Recovery:
        return Recovery()

    def record(self, view: TaskView, steps: Sequence[StepResult], success: bool,
               pattern_ids: Sequence[str]) -> None:
        return None

    def close(self) -> None:
        return None


def _effective_tools(tools_and_flags: Sequence[tuple[str, bool]]) -> list[str]:
    return [tool for tool, ok in tools_and_flags if ok]


class PlainStore:
    """LangGraph ``InMemoryStore`` over MiniLM: copy the nearest successful run's tools."""

    name = "plain store"

    def __init__(self, embed: Any) -> None:
        from langgraph.store.memory import InMemoryStore

        self.store = InMemoryStore(index={"dims": 384, "embed": embed, "fields": ["text"]})
        self.count = 0

    def plan(self, view: TaskView) -> Plan:
        hits = self.store.search(("runs",), query=view.description, limit=1)
        return Plan(list(hits[0].value["tools"]), "store") if hits else Plan([], "none")

    def recover(self, view: TaskView, tool: str, error: str, previous: str | None) -> Recovery:
        return Recovery()

    def record(self, view: TaskView, steps: Sequence[StepResult], success: bool,
               pattern_ids: Sequence[str]) -> None:
        if success:
            self.count += 1
            tools = _effective_tools([(s.tool, s.ok) for s in steps])
            record = {"text": view.description, "tools": tools}
            self.store.put(("runs",), f"run-{self.count}", record)

    def close(self) -> None:
        return None


def _kind(pattern: Any) -> str:
    return str(getattr(pattern.kind, "value", pattern.kind))


def _fits(pattern_context: Any, view: TaskView, ctx: TaskContext) -> bool:
    """The pattern's stated domain, language and task type are the task's own."""
    wanted = {"domain": ctx.domain, "language": ctx.language, "task_type": view.task_type}
    return all(getattr(pattern_context, k, None) in (None, v) for k, v in wanted.items())


def _error_match(error_class: str, error: str) -> float:
    """Share of the class's words (placeholders aside) found in the error."""
    class_words = words(re.sub(r"<[^>]*>", " ", error_class))
    return len(class_words & words(error)) / len(class_words) if class_words else 0.0


class SelfMem:
    """selfmem through its public API, in a temporary directory."""

    def __init__(self, name: str, embedder: Any = None, *, partial: bool = True) -> None:
        self.name = name
        self.partial = partial  # the policy explores after a plan: how far others got helps
        self._dir = tempfile.TemporaryDirectory(prefix="selfmem-closed-loop-")
        self.memory = SelfLearningMemory.open(self._dir.name, embedder=embedder, learn_inline=True,
                                              flush_interval_s=None)
        self._embedder = embedder
        self._heuristic_patterns: list[str] = []
        self.rejected_pattern_plans = 0  # top tool sequences that did not fit the context

    @staticmethod
    def context(view: TaskView) -> TaskContext:
        return TaskContext(domain=view.domain, language=view.language, tags=list(view.tags))

    def plan(self, view: TaskView) -> Plan:
        ctx = self.context(view)
        plan: Plan | None = None
        for scored in self.memory.recommend_patterns(view.description, ctx, limit=5,
                                                     task_type=view.task_type,
                                                     include_partial=self.partial):
            pattern: Any = scored.pattern  # the kinds are not exported: read by ``kind``
            if _kind(pattern) != "tool_sequence":
                continue
            if _fits(pattern.context, view, ctx):
                plan = Plan(list(pattern.tools), "pattern", [pattern.id])
                break
            self.rejected_pattern_plans += 1
        result = self.memory.retrieve_relevant_context(view.description, ctx, limit=5)
        self._heuristic_patterns = [pid for sh in result.heuristics
                                    if _kind(sh.heuristic) == "recover"
                                    for pid in sh.heuristic.source_pattern_ids]
        if plan is not None:
            return plan
        for scored_episode in result.episodes:
            episode = scored_episode.episode
            if episode.outcome is not None and episode.outcome.status is OutcomeStatus.SUCCESS:
                steps = [(step.tool, step.success) for step in episode.steps]
                return Plan(_effective_tools(steps), "episode")
        return Plan([], "none")

    def recover(self, view: TaskView, tool: str, error: str, previous: str | None) -> Recovery:
        ctx = self.context(view)
        query = f"{tool} failed: {error}"
        recommended = [s.pattern for s in self.memory.recommend_patterns(
            query, ctx, limit=10, task_type=view.task_type)]
        from_heuristics = [self.memory.get_pattern(pid) for pid in self._heuristic_patterns]
        for source, candidates in (("recommended", recommended), ("heuristic", from_heuristics),
                                   ("listed", None)):
            if candidates is None:
                candidates = self.memory.list_patterns(kind="error_recovery", limit=500)
            found = self._recovery(candidates, tool, error, source)
            if found is not None:
                return found
        points: list[Any] = self.memory.list_patterns(kind="decision_point", limit=500)
        for point in points:
            if point.after_tool == previous and point.worst == tool and point.best:
                return Recovery([point.best], source="decision point", pattern_ids=[point.id],
                                instead=True)
        return Recovery()

    @staticmethod
    def _recovery(candidates: Sequence[Any], tool: str, error: str, source: str) -> Recovery | None:
        matching = [(_error_match(p.error_class, error), p) for p in candidates
                    if _kind(p) == "error_recovery" and p.tool == tool]
        matching = [(m, p) for m, p in matching if m >= 0.5]
        if not matching:
            return None
        _, best = max(matching, key=lambda mp: (mp[0], mp[1].confidence))
        if best.best_recovery:
            return Recovery([best.best_recovery], source=source, pattern_ids=[best.id])
        return Recovery(no_retry=True, source=source, pattern_ids=[best.id])

    def record(self, view: TaskView, steps: Sequence[StepResult], success: bool,
               pattern_ids: Sequence[str]) -> None:
        memory = self.memory
        eid = memory.start_episode(view.description, self.context(view), view.task_type)
        for step in steps:
            memory.log_step(eid, tool=step.tool, observation=step.observation or None,
                            error=step.error, success=step.ok)
        if pattern_ids:
            memory.record_feedback(eid, list(dict.fromkeys(pattern_ids)))
        last_error = next((s.error for s in reversed(steps) if s.error), None)
        outcome = (TaskOutcome.success("task complete") if success
                   else TaskOutcome.failure("task not completed", error_details=last_error))
        memory.complete_episode(eid, outcome)
        if self._embedder is not None:
            memory.flush()  # the next task's retrieval sees this episode's vector

    def close(self) -> None:
        self.memory.close()
        self._dir.cleanup()
