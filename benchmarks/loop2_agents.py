"""The policy and the memory arms of the second closed-loop benchmark.

Spec implemented:

- The policy is the same in every arm. Before a task it asks its memory for a plan (a tool
  list) and follows it, skipping tools that already succeeded in this run. When the plan is
  exhausted, or after 3 failed calls in a row (then for the rest of the task), it explores:
  every tool is scored by the words its name and one-line description share with the task's
  description + context + the last error, plus Gaussian noise (seeded by seed and task),
  minus a penalty for each failure of that tool since the last successful call. After a
  failed call it asks the memory for a recovery (a tool to run first, a retry, or a
  replacement), applied at most once per (tool, recovery) and state; else it moves on.
- Arms: ``none`` (no memory); ``plain`` (a LangGraph ``InMemoryStore`` with a MiniLM index
  holding each successful run's description and successful tools; plan = the nearest run's
  tools; no recoveries); ``selfmem`` / ``selfmem-minilm`` (selfmem without / with the MiniLM
  embedder), see :class:`SelfmemArm`.
"""

from __future__ import annotations

import random
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from benchmarks.loop2_world import TOOLS, CallResult, Run, Task
from selfmem import (
    AnyPattern,
    ErrorRecovery,
    PatternContext,
    SelfLearningMemory,
    TaskContext,
    TaskOutcome,
    ToolSequence,
)

PLAN_FAILURE_LIMIT = 3
NOISE_SIGMA = 0.5
FAILED_PENALTY = 2.5
ERROR_WEIGHT = 1.5
STOP = frozenset("a an the of to for in on and or by is are its it their them from with as "
                 "be can so after before at all every one no not this that get".split())


def words(text: str) -> set[str]:
    """Lower-case content words, a trailing plural 's' dropped."""
    out: set[str] = set()
    for w in re.findall(r"[a-z]+", text.lower().replace("_", " ")):
        if len(w) > 1 and w not in STOP:
            out.add(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


TOOL_WORDS: dict[str, set[str]] = {t: words(t) | words(d) for t, d in TOOLS.items()}


@dataclass(frozen=True)
class Recovery:
    mode: str  # "retry" | "fix" | "replace"
    tool: str  # the fix tool or the replacement ("" for a retry)


@dataclass(frozen=True)
class Call:
    tool: str
    ok: bool
    error: str | None
    observation: str


class Memory(Protocol):
    name: str

    def begin(self, task: Task) -> list[str]:
        """Start a task and return the plan."""
        ...

    def recovery(self, task: Task, tool: str, error: str) -> Recovery | None: ...

    def end(self, task: Task, calls: Sequence[Call], success: bool) -> None: ...

    def close(self) -> None: ...


def task_text(task: Task) -> str:
    return " ".join([task.description, task.domain, task.task_type, task.language or "",
                     *task.tags])


class Policy:
    """Plan following, exploration and recoveries for one run."""

    def __init__(self, run: Run, memory: Memory, rng: random.Random) -> None:
        self.run, self.memory, self.rng = run, memory, rng
        self.task = run.task
        self.query = words(task_text(self.task))
        self.calls: list[Call] = []
        self.succeeded: set[str] = set()
        self.failed_here: dict[str, int] = {}
        self.tried_recoveries: set[tuple[str, Recovery]] = set()
        self.pending: list[str] = []
        self.last_error = ""
        self.fail_streak = 0
        self.plan_abandoned = False

    def execute(self) -> bool:
        plan = [t for t in self.memory.begin(self.task) if t in TOOLS]
        while not self.run.done and self.run.calls < self.run.budget:
            tool, from_plan = self._next(plan)
            result = self.run.call(tool)
            self.calls.append(Call(tool, result.ok, result.error, result.observation))
            if result.ok:
                self._on_success(tool)
            else:
                self._on_failure(tool, result)
            if from_plan:
                plan.pop(0)
        self.memory.end(self.task, self.calls, self.run.done)
        return self.run.done

    def _next(self, plan: list[str]) -> tuple[str, bool]:
        if self.pending:
            return self.pending.pop(0), False
        while plan and plan[0] in self.succeeded:
            plan.pop(0)
        if plan and not self.plan_abandoned:
            return plan[0], True
        return self._explore(), False

    def _explore(self) -> str:
        error_words = words(self.last_error)
        best, best_score = "", float("-inf")
        for tool, tw in TOOL_WORDS.items():
            if tool in self.succeeded:
                continue
            score = (len(tw & self.query) + ERROR_WEIGHT * len(tw & error_words)
                     + self.rng.gauss(0.0, NOISE_SIGMA)
                     - FAILED_PENALTY * self.failed_here.get(tool, 0))
            if score > best_score:
                best, best_score = tool, score
        return best

    def _on_success(self, tool: str) -> None:
        self.succeeded.add(tool)
        self.failed_here.clear()
        self.tried_recoveries.clear()
        self.fail_streak = 0
        self.last_error = ""

    def _on_failure(self, tool: str, result: CallResult) -> None:
        error = result.error or ""
        self.failed_here[tool] = self.failed_here.get(tool, 0) + 1
        self.last_error = error
        self.fail_streak += 1
        if self.fail_streak >= PLAN_FAILURE_LIMIT:
            self.plan_abandoned = True
        rec = self.memory.recovery(self.task, tool, error)
        if rec is None or (tool, rec) in self.tried_recoveries:
            return
        self.tried_recoveries.add((tool, rec))
        if rec.mode == "retry":
            self.pending = [tool]
        elif rec.mode == "fix" and rec.tool in TOOLS:
            self.pending = [rec.tool, tool]
        elif rec.mode == "replace" and rec.tool in TOOLS:
            self.pending = [rec.tool]


def successful_tools(calls: Sequence[Call]) -> list[str]:
    return [c.tool for c in calls if c.ok]


class NoMemory:
    name = "none"

    def begin(self, task: Task) -> list[str]:
        return []

    def recovery(self, task: Task, tool: str, error: str) -> Recovery | None:
        return None

    def end(self, task: Task, calls: Sequence[Call], success: bool) -> None:
        return None

    def close(self) -> None:
        return None


class PlainVectorArm:
    """LangGraph's InMemoryStore with a MiniLM index over successful runs' descriptions."""

    name = "plain"

    def __init__(self, encode: Callable[[Sequence[str]], list[list[float]]]) -> None:
        from langgraph.store.base import IndexConfig
        from langgraph.store.memory import InMemoryStore

        index = IndexConfig(dims=384, embed=encode, fields=["text"])
        self.store = InMemoryStore(index=index)
        self.count = 0

    def begin(self, task: Task) -> list[str]:
        hits = self.store.search(("runs",), query=task.description, limit=1)
        return list(hits[0].value["tools"]) if hits else []

    def recovery(self, task: Task, tool: str, error: str) -> Recovery | None:
        return None

    def end(self, task: Task, calls: Sequence[Call], success: bool) -> None:
        if success:
            self.count += 1
            self.store.put(("runs",), f"run-{self.count}",
                           {"text": task.description, "tools": successful_tools(calls)})

    def close(self) -> None:
        return None


def context_fits(pattern_ctx: PatternContext, task: Task) -> bool:
    """A pattern's stated context (None = any) is compatible with the task's."""
    return (pattern_ctx.domain in (None, task.domain)
            and pattern_ctx.language in (None, task.language)
            and (pattern_ctx.task_type is None or str(pattern_ctx.task_type) == task.task_type)
            and set(pattern_ctx.tags) <= set(task.tags))


def error_similarity(error_class: str, error: str) -> float:
    a, b = words(error_class), words(error)
    return len(a & b) / len(a | b) if a | b else 0.0


class SelfmemArm:
    """selfmem as the agent's memory.

    Plan: ``recommend_patterns`` (``include_partial`` if asked); the first ``tool_sequence``
    pattern whose context fits the task, with ``record_feedback(pattern_ids=...)`` unless it
    is a partial one. Else ``retrieve_relevant_context``: the steps that worked in the best
    successful retrieved episode of the same domain and language, with
    ``record_feedback(followed_episode_ids=...)``. Recovery: among the ``error_recovery``
    patterns that ``recommend_patterns`` offers for "<task>: <tool> failed with <error>" in
    the task's context (or, with ``recovery_source="list"``, all of
    ``list_patterns(kind="error_recovery")``), the one of the failing tool whose error class
    best matches the error (word Jaccard >= 0.5), acted on by its ``best_mode`` /
    ``best_recovery``.
    """

    def __init__(self, embedder: Any = None, partial: bool = False,
                 recovery_source: str = "recommend") -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="loop2-")
        self.memory = SelfLearningMemory.open(self.tmp.name, embedder=embedder,
                                              learn_inline=True, flush_interval_s=None)
        self.embedder = embedder
        self.partial = partial
        self.recovery_source = recovery_source  # "recommend" or "list"
        self.name = "selfmem-minilm" if embedder is not None else "selfmem"
        self.eid = ""
        self.recoveries: list[AnyPattern] | None = None
        self.plan_source = ""

    def _context(self, task: Task) -> TaskContext:
        return TaskContext(domain=task.domain, language=task.language, tags=list(task.tags))

    def begin(self, task: Task) -> list[str]:
        ctx = self._context(task)
        self.recoveries = None
        self.eid = self.memory.start_episode(task.description, ctx, task.task_type)
        plan = self._plan_from_patterns(task, ctx)
        if plan is None:
            plan = self._plan_from_episodes(task, ctx)
        return plan or []

    def _plan_from_patterns(self, task: Task, ctx: TaskContext) -> list[str] | None:
        recs = self.memory.recommend_patterns(task.description, ctx, limit=10,
                                              task_type=task.task_type,
                                              include_partial=self.partial)
        for rec in recs:
            pattern = rec.pattern
            if not isinstance(pattern, ToolSequence):
                continue
            if not context_fits(pattern.context, task) or not pattern.tools:
                continue
            if rec.signals.get("partial", 0.0) > 0:
                self.plan_source = "partial"
            else:
                self.plan_source = "pattern"
                self.memory.record_feedback(self.eid, pattern_ids=[pattern.id])
            return list(pattern.tools)
        return None

    def _plan_from_episodes(self, task: Task, ctx: TaskContext) -> list[str] | None:
        result = self.memory.retrieve_relevant_context(task.description, ctx, limit=5,
                                                       task_type=task.task_type)
        for scored in result.successes:
            ep = scored.episode
            if ep.context.domain != task.domain or ep.context.language != task.language:
                continue
            self.plan_source = "episode"
            self.memory.record_feedback(self.eid, followed_episode_ids=[ep.id])
            return [s.tool for s in ep.steps if s.success]
        self.plan_source = "none"
        return None

    def recovery(self, task: Task, tool: str, error: str) -> Recovery | None:
        if self.recovery_source == "recommend":
            query = f"{task.description}: {tool} failed with {error}"
            candidates = [r.pattern for r in self.memory.recommend_patterns(
                query, self._context(task), limit=20, task_type=task.task_type)]
        else:
            if self.recoveries is None:
                self.recoveries = self.memory.list_patterns(kind="error_recovery", limit=500)
            candidates = self.recoveries
        best: ErrorRecovery | None = None
        best_sim = 0.5
        for p in candidates:
            if not isinstance(p, ErrorRecovery):
                continue
            if p.tool != tool or p.best_recovery is None or p.best_mode is None:
                continue
            sim = error_similarity(p.error_class, error)
            if sim >= best_sim:
                best, best_sim = p, sim
        if best is None:
            return None
        return Recovery(str(best.best_mode), "" if best.best_mode == "retry"
                        else str(best.best_recovery))

    def end(self, task: Task, calls: Sequence[Call], success: bool) -> None:
        for c in calls:
            self.memory.log_step(self.eid, tool=c.tool, success=c.ok, error=c.error,
                                 observation=c.observation or None)
        outcome = (TaskOutcome.success("task complete") if success
                   else TaskOutcome.failure("procedure not completed within budget"))
        self.memory.complete_episode(self.eid, outcome)
        if self.embedder is not None:
            self.memory.flush()

    def close(self) -> None:
        self.memory.close()
        self.tmp.cleanup()


def run_task(run: Run, memory: Memory, rng: random.Random) -> bool:
    return Policy(run, memory, rng).execute()
