"""Loop 3's simulated world: a software-engineering / devops assistant (no customer support).

Written from a fixed written spec, without reading selfmem's learner, memory or retrieval code
(nor the earlier closed-loop benchmarks). The spec it implements:

- 12 task families (fix a failing unit test, add a dependency, upgrade a framework, write a
  database migration, rotate a TLS certificate, investigate a memory leak, set up CI, publish a
  package release, resolve a merge conflict, add a feature flag, restore a deleted database row,
  triage a flaky end-to-end test). Each has 5 paraphrased templates with slots (services, paths,
  packages, versions, people, ticket ids); paraphrases share few words, and the slot values are
  shared across families so that word overlap alone is misleading.
- A task's context: the family's domain (some families share one), a language (python / node /
  go) for the five families whose procedure depends on it and none otherwise, a framework for
  two of them, 1-3 tags (`prod` or `staging`, maybe `hotfix`, maybe `customer-facing`) and a
  task type (a selfmem `TaskType` value).
- A shared toolbox of 53 tools (a task's language makes 6 of the variants irrelevant), each
  with a one-line description that starts with the areas (domains) of the families using it;
  each family's procedure is 3-5 of them, overlapping between families.
- Context-dependent procedures: the language picks the variant of the install / test / build
  step (`pip_install` / `npm_install` / `go_get`, `pytest` / `jest` / `go_test`,
  `build_wheel` / `npm_pack` / `go_build`); tag `prod` adds `request_change_approval` before one
  step in three families (database migration, TLS rotation, feature flag).
- Calls: the next needed tool succeeds; any other tool fails with "not applicable now" and does
  nothing. Six context rules make a needed tool fail with a message carrying varying numbers /
  ids and a fixed remedy: `retry` (the next call of the tool works), `fix` (a fix tool, then
  the tool works) or `replace` (another tool does the step instead).
- 3 noise tools always succeed and do nothing; 3 destructive decoys "succeed" but make the
  procedure's final step fail ("precondition failed").
- A task succeeds iff its procedure is completed within len(procedure) + 6 calls.
- From task index 2n/3 on, three families change: one step is replaced by a new tool (the old
  tool now fails with "410 Gone: this endpoint was removed ..."); for one of them (set up CI)
  the new step is also inserted at a different position.
- `make_tasks(seed, n=300)` draws the families uniformly, reproducibly per seed.

Pilot before the benchmark run (seeds 98 and 99, not the reported seeds): a 30-task smoke run
of every arm and 300-task runs of the no-memory arm showed that with plain one-line descriptions
exploration completed about 1 task in 600 (also with a failure penalty of 0.5 or 0.25 instead
of 1.0, which was put back), so every arm would have stayed at zero. The descriptions were then
given the area prefix (the domain is a context value the explorer already reads), which brought
no-memory exploration to about 2% of tasks. Nothing was changed after that, and nothing was
tuned on a memory arm's success rate.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from benchmarks.loop3_catalog import (
    APPROVAL,
    CHANGED_FAMILIES,
    CHANGES,
    DECOY_TOOLS,
    FAMILIES,
    FRAMEWORKS,
    GONE,
    LANGUAGES,
    NOISE_TOOLS,
    NOT_APPLICABLE,
    PACKAGES,
    POISONED,
    RULES,
    SLOTS,
    TOOLS,
    VARIANTS,
    Family,
    Rule,
)

__all__ = ["CHANGED_FAMILIES", "FAMILIES", "TOOLS", "Call", "Run", "Task", "make_task",
           "make_tasks", "words"]  # fmt: skip

# ----------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    index: int
    family: str
    description: str
    domain: str
    language: str | None
    framework: str | None
    tags: tuple[str, ...]
    task_type: str
    procedure: tuple[str, ...]
    rules: tuple[Rule, ...]
    gone: tuple[str, ...]  # tools removed by a change: they answer 410 Gone
    after_change: bool

    @property
    def budget(self) -> int:
        return len(self.procedure) + 6

    def context_values(self) -> list[str]:
        values = [self.domain, self.task_type, *self.tags]
        values += [v for v in (self.language, self.framework) if v]
        return values


def _holds(condition: str, language: str | None, tags: tuple[str, ...]) -> bool:
    key, value = condition.split("=", 1)
    if key == "language":
        return language == value
    return value in tags


def _procedure(family: Family, language: str | None, tags: tuple[str, ...],
               after_change: bool) -> tuple[list[str], list[str]]:
    steps = [VARIANTS[s][language] if s in VARIANTS and language else s
             for s in family.procedure]
    gone: list[str] = []
    if after_change:
        for change in CHANGES:
            if change.family != family.name:
                continue
            at = steps.index(change.old_tool)
            gone.append(change.old_tool)
            if change.new_position is None:
                steps[at] = change.new_tool
            else:
                del steps[at]
                steps.insert(change.new_position, change.new_tool)
    if family.approval_before and "prod" in tags:
        steps.insert(steps.index(family.approval_before), APPROVAL)
    return steps, gone


def _fill(template: str, rng: random.Random, language: str | None,
          framework: str | None) -> str:
    values = {k: rng.choice(v) for k, v in SLOTS.items()}
    values["package"] = rng.choice(PACKAGES[language])
    values["version"] = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    values["framework"] = framework or ""
    values["ticket"] = f"{rng.choice(('OPS', 'PLAT', 'SEC', 'DEV'))}-{rng.randint(100, 9999)}"
    values["n"] = str(rng.randint(2, 40))
    values["pr"] = str(rng.randint(100, 5000))
    values["id"] = str(rng.randint(1000, 99999))
    return template.format(**values)


def _tags(rng: random.Random) -> tuple[str, ...]:
    tags = ["prod" if rng.random() < 0.5 else "staging"]
    if rng.random() < 0.25:
        tags.append("hotfix")
    if rng.random() < 0.3:
        tags.append("customer-facing")
    return tuple(tags)


def make_task(index: int, family: Family, rng: random.Random, change_at: int) -> Task:
    language = rng.choice(LANGUAGES) if family.uses_language else None
    framework = rng.choice(FRAMEWORKS[language]) if family.uses_framework and language else None
    tags = _tags(rng)
    description = _fill(rng.choice(family.templates), rng, language, framework)
    after = index >= change_at
    steps, gone = _procedure(family, language, tags, after)
    rules = tuple(r for r in RULES
                  if r.family == family.name and _holds(r.condition, language, tags))
    return Task(index, family.name, description, family.domain, language, framework, tags,
                family.task_type, tuple(steps), rules, tuple(gone), after)


def make_tasks(seed: int, n: int = 300) -> list[Task]:
    """n tasks, families drawn uniformly; the same sequence for a seed, whatever the arm."""
    rng = random.Random(f"loop3-tasks-{seed}")
    change_at = (2 * n) // 3
    return [make_task(i, rng.choice(FAMILIES), rng, change_at) for i in range(n)]


# ------------------------------------------------------------------------------------- run


@dataclass
class Call:
    tool: str
    ok: bool
    message: str  # the observation on success, the error on failure


@dataclass
class Run:
    """One attempt at a task: call tools until the procedure is done or the budget is spent."""

    task: Task
    seed: int
    position: int = 0
    poisoned: bool = False
    calls: list[Call] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)  # retry rules that already failed once
    fixed: set[str] = field(default_factory=set)  # fix rules whose fix tool ran

    @property
    def done(self) -> bool:
        return self.position >= len(self.task.procedure)

    @property
    def over(self) -> bool:
        return self.done or len(self.calls) >= self.task.budget

    def _ids(self, tool: str) -> tuple[str, str]:
        rng = random.Random(f"{self.seed}-{self.task.index}-{tool}-{len(self.calls)}")
        return str(rng.randint(100, 99999)), f"{rng.getrandbits(32):08x}"

    def call(self, tool: str) -> Call:
        if self.over:
            raise RuntimeError("the run is over")
        ok, message = self._answer(tool)
        result = Call(tool, ok, message)
        self.calls.append(result)
        return result

    def _answer(self, tool: str) -> tuple[bool, str]:
        if tool not in TOOLS:
            return False, f"unknown tool {tool}"
        if tool in NOISE_TOOLS:
            return True, "ok, nothing to report"
        if tool in DECOY_TOOLS:
            self.poisoned = True
            return True, "done"
        if tool in self.task.gone:
            a, b = self._ids(tool)
            return False, GONE.format(a=a, b=b)
        needed = self.task.procedure[self.position]
        for rule in self.task.rules:
            if rule.tool == needed:
                answer = self._rule(rule, tool)
                if answer is not None:
                    return answer
        if tool != needed:
            return False, NOT_APPLICABLE
        return self._advance(tool)

    def _rule(self, rule: Rule, tool: str) -> tuple[bool, str] | None:
        """The answer under a rule whose tool is the needed step, or None for the usual one."""
        a, b = self._ids(tool)
        error = (False, rule.message.format(a=a, b=b))
        if rule.mode == "retry":
            if tool == rule.tool and rule.tool not in self.fired:
                self.fired.add(rule.tool)
                return error
            return None
        if rule.mode == "fix":
            if tool == rule.remedy and rule.tool not in self.fixed:
                self.fixed.add(rule.tool)
                return True, f"{tool}: done"
            if tool == rule.tool and rule.tool not in self.fixed:
                return error
            return None
        # replace
        if tool == rule.tool:
            return error
        if tool == rule.remedy:
            return self._advance(tool)
        return None

    def _advance(self, tool: str) -> tuple[bool, str]:
        last = self.position == len(self.task.procedure) - 1
        if last and self.poisoned:
            return False, POISONED
        self.position += 1
        return True, f"{tool}: ok"


def words(text: str) -> set[str]:
    """Lower-cased alphanumeric words of a text, without a few stop words."""
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP_WORDS}


STOP_WORDS = frozenset(
    "a an the of to in on for and or so it is be as at by from with into its this that our "
    "us we can get new one".split()
)
