"""The simulated world of the closed-loop benchmark (``bench_closed_loop``).

Spec implemented here:

- A toolbox of about 50 tools, each with a one-line description, an area (web, backend, data,
  docs, security, ops, research) and a phase (inspect, prepare, change, verify, report), as a
  tool spec would list them: the tools the procedures need, decoys whose names look plausible
  (``deploy_docs``, ``read_docs``, ``verify_schema`` vs ``diff_schema``, ...) and three
  destructive tools (``drop_database``, ``reset_cluster``, ``force_push``) whose call aborts
  the task.
- 12 task families. A task has a paraphrased description (one of several templates with slot
  words; the templates of a family use different verbs and nouns) and a context: domain,
  language, tags and a ``selfmem.TaskType``. Its procedure is a sequence of 3-4 tools (up to
  5 calls with a fix) that depends on the family and, in some families, on the language
  (``pip_install`` for python, ``cargo_add`` for rust). Two families (``fix_failing_test``
  and ``slow_endpoint``) share domain, task type and language.
- Some tools fail in some contexts with a message whose details vary (versions, ports,
  table names, trace ids), and each failure has a fixed remedy: ``retry`` (a transient error:
  the second call succeeds), ``fix`` (a fix tool, then the same tool again; the fix may also
  come first) or ``replace`` (another tool does the job instead).
- From task ``change_at`` on (2/3 of the run), three families swap one tool for another; the
  old tool then fails with a message that names nothing useful.
- A task succeeds iff the agent calls the procedure's tools in order (recovering from
  failures as above) within its budget of tool calls: the shortest solution plus ``slack``
  (8 by default).
  A tool that does not apply in the current state fails without effect ("precondition
  failed") and uses up a call; a destructive tool ends the task at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from selfmem import TaskType

Remedy = Literal["retry", "fix", "replace"]
DESTRUCTIVE = frozenset({"drop_database", "reset_cluster", "force_push"})
DEFAULT_SLACK = 8
PRECONDITION = "precondition failed"


@dataclass(frozen=True)
class Failure:
    """``tool`` fails when the task's context has ``when`` (``tag:x`` or ``language:x``)."""

    tool: str
    when: str
    remedy: Remedy
    message: str  # a template: {v} version, {n} number, {port}, {hex}, {word}
    words: tuple[str, ...] = ()
    by: str = ""  # the fix tool or the replacement tool


@dataclass(frozen=True)
class Family:
    name: str
    domain: str
    task_type: TaskType
    languages: tuple[str | None, ...]
    tag_sets: tuple[tuple[str, ...], ...]
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]
    steps: tuple[str, ...]  # "@role" is resolved per language through ``roles``
    roles: dict[str, dict[str, str]] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()
    change: tuple[str, str] | None = None  # (old tool, new tool) from ``change_at`` on


_TEST = {"python": "run_pytest", "rust": "cargo_test"}
CHANGED_ERROR = "403 Forbidden: request rejected (trace {hex})"


def _family(name: str, domain: str, task_type: TaskType, languages: str, tag_sets: str,
            templates: str, slots: dict[str, str], steps: str, **more: Any) -> Family:
    """A family from compact text: lists are split on " | ", steps and languages on spaces."""
    return Family(name, domain, task_type,
                  tuple(None if x == "-" else x for x in languages.split()),
                  tuple(tuple(t.split()) for t in tag_sets.split(" | ")),
                  tuple(templates.split(" | ")),
                  {slot: tuple(values.split(" | ")) for slot, values in slots.items()},
                  tuple(steps.split()), **more)


# fmt: off
FAMILIES: tuple[Family, ...] = (
    _family("deploy_service", "web", TaskType.OTHER, "python go", "k8s | vm",
            "Deploy the {svc} service to {env} | Ship a new {svc} release to {env} | "
            "Roll out the latest {svc} build on {env} | "
            "Get {svc} running in {env} with the new image",
            {"svc": "checkout | billing | search | auth",
             "env": "staging | production | the canary pool"},
            "build_image push_image deploy_service check_health",
            failures=(Failure("deploy_service", "tag:k8s", "replace",
                              "410 Gone: deploy API removed in cluster {v}; use helm",
                              by="helm_upgrade"),),
            change=("push_image", "publish_artifact")),
    _family("fix_failing_test", "backend", TaskType.DEBUGGING, "python rust", "tests | ci tests",
            "Fix the failing {mod} test | The {mod} unit test is red, make it pass | "
            "CI reports a broken assertion in {mod}; repair it | "
            "Debug why {mod} tests fail since yesterday",
            {"mod": "parser | invoice | session | scheduler"},
            "@test read_file edit_file @test", roles={"@test": _TEST}),
    _family("add_dependency", "backend", TaskType.CODE_GENERATION, "python rust", "legacy | deps",
            "Add the {pkg} library as a dependency | Install {pkg} and wire it into the build | "
            "We need {pkg} in the project; add the package | Pull in {pkg} for the new feature",
            {"pkg": "a yaml parser | an http client | a retry helper | a date library"},
            "@add @lock @test",
            roles={"@add": {"python": "pip_install", "rust": "cargo_add"},
                   "@lock": {"python": "update_lockfile", "rust": "cargo_build"}, "@test": _TEST},
            failures=(Failure("pip_install", "tag:legacy", "fix",
                              "ResolutionImpossible: {word}=={v} requires Python>=3.{n}",
                              ("numpy", "pandas", "scipy"), by="pin_versions"),)),
    _family("migrate_schema", "data", TaskType.REFACTORING, "sql", "large | small",
            "Migrate the {table} table to the new schema | Add a {col} column to {table} | "
            "Change the database schema of {table} | Evolve {table} so it stores {col}",
            {"table": "orders | users | events", "col": "created_at | tenant id | status"},
            "backup_database generate_migration apply_migration verify_schema",
            failures=(Failure("apply_migration", "tag:large", "retry",
                              "lock timeout after {n}s waiting for table {word}",
                              ("orders", "users", "events")),),
            change=("verify_schema", "diff_schema")),
    _family("write_docs", "docs", TaskType.DOCUMENTATION, "python", "sphinx | mkdocs",
            "Document the {api} API | Write a user guide page for {api} | "
            "The {api} reference is outdated; update the docs | Explain {api} in the handbook",
            {"api": "export | billing | webhook | search"},
            "read_file write_docs build_docs publish_docs",
            failures=(Failure("build_docs", "tag:sphinx", "fix",
                              "Sphinx {v}: unknown config value 'html_theme_{n}'",
                              by="update_docs_config"),)),
    _family("security_audit", "security", TaskType.ANALYSIS, "python rust", "audit | compliance",
            "Audit the dependencies of {proj} for vulnerabilities | "
            "Run a security review of {proj} | "
            "Check {proj} for known CVEs and license problems | Is {proj} safe to release? Scan it",
            {"proj": "the api gateway | the worker | the cli"},
            "scan_dependencies check_licenses write_report",
            failures=(Failure("scan_dependencies", "language:rust", "replace",
                              "unsupported lockfile Cargo.lock (format {n}); try cargo audit",
                              by="cargo_audit"),)),
    _family("slow_endpoint", "backend", TaskType.DEBUGGING, "python", "perf | latency perf",
            "The {ep} endpoint is slow; find out why | Profile {ep} and speed it up | "
            "Latency of {ep} doubled since the release | Make {ep} respond faster",
            {"ep": "/search | /orders | /login | /export"},
            "run_profiler read_logs edit_file run_pytest"),
    _family("incident_response", "ops", TaskType.DEBUGGING, "go", "prod | staging",
            "Users see 500 errors from {svc}; handle the incident | {svc} is down, restore it | "
            "Alert: {svc} error rate above threshold | "
            "Investigate the {svc} outage and bring it back",
            {"svc": "checkout | payments | notifications"},
            "read_logs query_metrics restart_service notify_team",
            failures=(Failure("restart_service", "tag:prod", "fix",
                              "permission denied: role {word} cannot restart in prod",
                              ("oncall", "dev", "ci-bot"), by="request_approval"),),
            change=("notify_team", "page_oncall")),
    _family("rollback_release", "ops", TaskType.OTHER, "go", "prod | staging",
            "Roll back the {svc} release | Revert {svc} to the previous version | "
            "The last {svc} deploy broke things; undo it | Return {svc} to yesterday's build",
            {"svc": "checkout | payments | notifications"},
            "query_metrics rollback_release check_health notify_team"),
    _family("refresh_report", "data", TaskType.ANALYSIS, "sql", "warehouse | local",
            "Refresh the {rep} report | Rebuild the numbers for the {rep} dashboard | "
            "Export this week's {rep} figures | The {rep} spreadsheet needs today's data",
            {"rep": "revenue | churn | signup"},
            "fetch_dataset clean_data run_query export_csv",
            failures=(Failure("run_query", "tag:warehouse", "retry",
                              "connection reset by peer (port {port})"),)),
    _family("refactor_module", "backend", TaskType.REFACTORING, "python rust",
            "cleanup | tech-debt",
            "Refactor the {mod} module | Split {mod} into smaller functions | "
            "Clean up the code in {mod} without changing behaviour | "
            "Simplify {mod}; it is hard to read",
            {"mod": "parser | invoice | session | scheduler"},
            "read_file edit_file @lint @test",
            roles={"@lint": {"python": "run_linter", "rust": "cargo_clippy"}, "@test": _TEST}),
    _family("research_library", "research", TaskType.RESEARCH, "-", "survey | comparison",
            "Compare libraries for {topic} | Which {topic} library should we use? | "
            "Survey the options for {topic} and recommend one | Find the best tool for {topic}",
            {"topic": "pdf parsing | rate limiting | feature flags"},
            "search_web read_docs write_report"),
)
# fmt: on

DECOYS = ("deploy_docs", "test_image", "rollback_migration", "search_logs", *sorted(DESTRUCTIVE))


# fmt: off
# What a tool says about itself (an agent sees these, as with function-calling tool specs).
TOOL_DOCS = {
    "apply_migration": "apply a schema migration to the database table",
    "backup_database": "back up a database table before a schema change",
    "build_docs": "build the documentation site from the docs pages",
    "build_image": "build a container image of a service release",
    "cargo_add": "add a rust crate dependency to the project",
    "cargo_audit": "audit rust crates for security vulnerabilities",
    "cargo_build": "build a rust project and update its lockfile",
    "cargo_clippy": "lint rust code after a refactor or cleanup",
    "cargo_test": "run the rust unit tests, to check a fix or a change",
    "check_health": "check that a service is healthy after a release or rollback",
    "check_licenses": "check licenses of dependencies for compliance",
    "clean_data": "clean and deduplicate a dataset for a report",
    "deploy_docs": "deploy documentation to a preview host",
    "deploy_service": "deploy a service release to an environment",
    "diff_schema": "compare the live database schema with the expected one",
    "drop_database": "drop a database table and its data",
    "edit_file": "edit source code in a file to fix, refactor or speed it up",
    "export_csv": "export query results as a spreadsheet of figures",
    "fetch_dataset": "fetch the latest data for a report or dashboard",
    "force_push": "force push a branch to ship changes, overwriting history",
    "generate_migration": "generate a migration for a schema or column change",
    "helm_upgrade": "upgrade a kubernetes release with helm",
    "notify_team": "notify the team about a release, rollback or incident",
    "page_oncall": "page the on-call engineer about an incident or outage",
    "pin_versions": "pin dependency versions to compatible ones",
    "pip_install": "install a python package dependency or library",
    "publish_artifact": "publish a build artifact or service image to the release store",
    "publish_docs": "publish documentation pages to the handbook",
    "push_image": "push a service image to the registry for a release",
    "query_metrics": "query service metrics, latency and error rates",
    "read_docs": "read the documentation of a library or tool",
    "read_file": "read source code in a file to understand, debug or refactor it",
    "read_logs": "read service logs to debug errors, outages or slow requests",
    "request_approval": "request approval for a production change",
    "reset_cluster": "reset the cluster, deleting every service",
    "restart_service": "restart a service that is down or failing",
    "rollback_migration": "roll back the last database migration",
    "rollback_release": "roll back a service to the previous release",
    "run_linter": "lint python code after a refactor or cleanup",
    "run_profiler": "profile an endpoint to find slow code",
    "run_pytest": "run the python unit tests, to check a fix or a change",
    "run_query": "run a sql query on the warehouse data",
    "scan_dependencies": "scan dependencies for known vulnerabilities and cves",
    "search_logs": "search logs for a pattern",
    "search_web": "search the web to compare libraries and options",
    "test_image": "test a container image",
    "update_docs_config": "update the documentation build configuration",
    "update_lockfile": "update the python lockfile after adding a dependency",
    "verify_schema": "verify a database schema after a migration",
    "write_docs": "write documentation pages for an api or guide",
    "write_report": "write a report with findings and a recommendation",
}


# Where a tool belongs (the server or group a toolbox lists it under).
TOOL_AREAS = {area: tuple(tools.split()) for area, tools in {
    "web": "build_image push_image publish_artifact deploy_service helm_upgrade check_health "
           "test_image reset_cluster query_metrics",
    "backend": "read_file edit_file run_pytest cargo_test pip_install cargo_add cargo_build "
               "update_lockfile pin_versions run_linter cargo_clippy run_profiler read_logs "
               "force_push",
    "data": "backup_database generate_migration apply_migration verify_schema diff_schema "
            "drop_database rollback_migration fetch_dataset clean_data run_query export_csv",
    "docs": "read_file write_docs build_docs publish_docs update_docs_config deploy_docs read_docs",
    "security": "scan_dependencies cargo_audit check_licenses write_report read_file",
    "ops": "read_logs search_logs query_metrics restart_service request_approval notify_team "
           "page_oncall rollback_release check_health reset_cluster",
    "research": "search_web read_docs write_report",
}.items()}

# The kind of work a tool does, in the order work usually goes (a tool spec's category).
PHASES = ("inspect", "prepare", "change", "verify", "report")
TOOL_PHASE = {tool: phase for phase, tools in {
    "inspect": "read_file read_logs query_metrics run_profiler search_web read_docs fetch_dataset "
               "scan_dependencies cargo_audit search_logs",
    "prepare": "backup_database build_image push_image publish_artifact generate_migration "
               "pin_versions update_docs_config clean_data cargo_add pip_install request_approval "
               "test_image",
    "change": "edit_file apply_migration deploy_service helm_upgrade restart_service "
              "rollback_release write_docs run_query deploy_docs rollback_migration drop_database "
              "reset_cluster force_push",
    "verify": "run_pytest cargo_test check_health verify_schema diff_schema run_linter "
              "cargo_clippy "
              "check_licenses build_docs cargo_build update_lockfile",
    "report": "notify_team page_oncall write_report export_csv publish_docs",
}.items() for tool in tools.split()}
# fmt: on


def _toolbox() -> tuple[str, ...]:
    tools: set[str] = set(DECOYS)
    for family in FAMILIES:
        tools.update(s for s in family.steps if not s.startswith("@"))
        for by_language in family.roles.values():
            tools.update(by_language.values())
        tools.update(f.by for f in family.failures if f.by)
        if family.change:
            tools.update(family.change)
    return tuple(sorted(tools))


TOOLBOX = _toolbox()
assert set(TOOL_DOCS) == set(TOOLBOX) == set(TOOL_PHASE), set(TOOL_DOCS) ^ set(TOOL_PHASE)


@dataclass(frozen=True)
class Task:
    """One task: what the agent sees (description, context) and the hidden procedure."""

    index: int
    family: str
    description: str
    domain: str
    language: str | None
    tags: tuple[str, ...]
    task_type: TaskType
    procedure: tuple[str, ...]
    failures: dict[str, tuple[Failure, str]]  # tool -> (failure, its message for this task)
    retired: tuple[str, str, str] | None  # (old tool, new tool, old tool's error) after the change


def _applies(failure: Failure, language: str | None, tags: tuple[str, ...]) -> bool:
    key, _, value = failure.when.partition(":")
    return value in tags if key == "tag" else value == language


def _message(template: str, words: tuple[str, ...], rng: random.Random) -> str:
    version = f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
    return template.format(v=version, n=rng.randint(7, 12), port=rng.choice((5432, 6432, 15432)),
                           hex=f"{rng.getrandbits(48):012x}",
                           word=rng.choice(words) if words else "")


def make_task(family: Family, index: int, rng: random.Random, changed: bool) -> Task:
    slots = {name: rng.choice(values) for name, values in family.slots.items()}
    description = rng.choice(family.templates).format(**slots)
    language = rng.choice(family.languages)
    tags = rng.choice(family.tag_sets)
    procedure = [family.roles[s][language or ""] if s.startswith("@") else s for s in family.steps]
    retired = None
    if changed and family.change:
        old, new = family.change
        procedure = [new if s == old else s for s in procedure]
        retired = (old, new, _message(CHANGED_ERROR, (), rng))
    failures = {f.tool: (f, _message(f.message, f.words, rng))
                for f in family.failures if _applies(f, language, tags) and f.tool in procedure}
    return Task(index, family.name, description, family.domain, language, tags, family.task_type,
                tuple(procedure), failures, retired)


def make_tasks(seed: int, count: int) -> tuple[list[Task], int]:
    """``count`` tasks over the families (shuffled rounds) and the index of the change."""
    rng = random.Random(seed)
    change_at = count * 2 // 3
    order: list[Family] = []
    while len(order) < count:
        round_ = list(FAMILIES)
        rng.shuffle(round_)
        order.extend(round_)
    return [make_task(f, i, rng, i >= change_at) for i, f in enumerate(order[:count])], change_at


@dataclass
class StepResult:
    tool: str
    ok: bool
    observation: str
    error: str | None = None


class Attempt:
    """One agent's attempt at a task: ``call(tool)`` until ``finished``."""

    def __init__(self, task: Task, slack: int = DEFAULT_SLACK) -> None:
        self.task = task
        fixes = sum(1 for f, _ in task.failures.values() if f.remedy == "fix")
        self.budget = len(task.procedure) + fixes + slack
        self.position = 0
        self.calls = 0
        self.aborted = False
        self._fixed: set[str] = set()
        self._retried: set[int] = set()

    @property
    def done(self) -> bool:
        return self.position >= len(self.task.procedure)

    @property
    def finished(self) -> bool:
        return self.done or self.aborted or self.calls >= self.budget

    def call(self, tool: str) -> StepResult:
        if self.finished:
            raise RuntimeError("the attempt is over")
        self.calls += 1
        if tool in DESTRUCTIVE:
            self.aborted = True
            return StepResult(tool, False, "", f"fatal: {tool} destroyed shared state; aborted")
        expected = self.task.procedure[self.position]
        error = self._error(tool, expected)
        if error is not None:
            return StepResult(tool, False, "", error)
        return self._advance(tool) if tool == expected else self._remedy(tool, expected)

    def _error(self, tool: str, expected: str) -> str | None:
        """The error of calling the expected tool (or the retired one in its place), if any."""
        retired = self.task.retired
        if retired and tool == retired[0] and expected == retired[1]:
            return retired[2]
        if tool != expected or tool not in self.task.failures:
            return None
        failure, message = self.task.failures[tool]
        if failure.remedy == "retry":
            if self.position in self._retried:
                return None
            self._retried.add(self.position)
            return message
        return None if failure.remedy == "fix" and tool in self._fixed else message

    def _remedy(self, tool: str, expected: str) -> StepResult:
        """Another tool: the expected tool's fix or replacement, or a call that does not apply."""
        found = self.task.failures.get(expected)
        if found and found[0].by == tool:
            if found[0].remedy == "replace":
                return self._advance(tool)
            if expected not in self._fixed:
                self._fixed.add(expected)
                return StepResult(tool, True, f"{tool}: done; {expected} can run now")
        return StepResult(tool, False, "", f"{PRECONDITION}: {tool} does not apply now")

    def _advance(self, tool: str) -> StepResult:
        self.position += 1
        left = len(self.task.procedure) - self.position
        return StepResult(tool, True, f"{tool}: ok" + ("; task complete" if left == 0 else ""))
