"""What ``planted_world`` plants: the task families and the error plants, as data.

``FAMILIES`` holds the nine task families (templates and slot words, context, canonical tools,
base success rate, and the decision or context effect planted in some of them); ``ERRORS``
holds the five errors with their messages, rates and recoveries. The plant classes
(``DecisionPlant``, ``ContextPlant``, ``ErrorPlant``, ``Family``) describe one effect each;
``planted_world`` documents the whole world and generates its episodes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from selfmem import TaskType

__all__ = [
    "ERRORS",
    "FAMILIES",
    "ContextPlant",
    "DecisionPlant",
    "ErrorPlant",
    "Family",
]

Details = Callable[[random.Random], dict[str, object]]


@dataclass(frozen=True, slots=True)
class DecisionPlant:
    """After ``after`` the agent takes ``good`` (share ``good_share``) or ``bad``."""

    after: str
    good: str
    bad: str
    good_rate: float
    bad_rate: float
    good_share: float = 0.65


@dataclass(frozen=True, slots=True)
class ContextPlant:
    """Under ``feature`` (``tag=x`` or ``language=x``), running ``tool`` sets the success rate.

    ``rate_with_tool`` / ``rate_without_tool`` apply only under the feature (``None``: the
    family's own rate); elsewhere the tool changes nothing.
    """

    feature: str
    tool: str
    insert_after: str
    use_with: float
    use_without: float
    rate_with_tool: float | None
    rate_without_tool: float | None

    @property
    def association(self) -> str:
        with_tool = self.rate_with_tool if self.rate_with_tool is not None else 0.5
        without = self.rate_without_tool if self.rate_without_tool is not None else 0.5
        return "success" if with_tool > without else "failure"

    def present(self, language: str | None, tags: list[str]) -> bool:
        name, _, value = self.feature.partition("=")
        return value in tags if name == "tag" else language == value


@dataclass(frozen=True, slots=True)
class ErrorPlant:
    """``tool`` fails with ``template`` at ``rate``; ``recovery`` is retry, fix, replace or none.

    ``signature`` is a lower-case fragment that survives any normalization of the details.
    """

    name: str
    tool: str
    template: str
    details: Details
    signature: str
    rate: float
    recovery: str
    fix_tool: str | None = None

    def message(self, rng: random.Random) -> str:
        return self.template.format_map(self.details(rng))


@dataclass(frozen=True, slots=True)
class Family:
    """A kind of task; its last template is held out of training."""

    name: str
    domain: str
    task_type: TaskType
    languages: tuple[tuple[str | None, float], ...]
    templates: tuple[str, ...]
    slots: Mapping[str, tuple[str, ...]]
    canonical: tuple[str, ...]
    base_rate: float
    tags: tuple[tuple[str, float], ...] = ()
    decision: DecisionPlant | None = None
    context: ContextPlant | None = None
    errors: tuple[str, ...] = ()


def _pick(rng: random.Random, **options: Sequence[object]) -> dict[str, object]:
    return {name: rng.choice(values) for name, values in options.items()}


# fmt: off
ERRORS: dict[str, ErrorPlant] = {
    plant.name: plant
    for plant in (
        ErrorPlant(
            "tests_timeout", "run_tests",
            "Timeout: test run exceeded {secs}s on worker gw{w} ({k} pending) in {path}",
            lambda r: _pick(r, secs=(30, 60, 120, 300), w=range(8), k=range(1, 40),
                            path=("tests/api/test_views.py", "tests/unit/test_models.py")),
            "test run exceeded", 0.15, "retry",
        ),
        ErrorPlant(
            "registry_denied", "push_image",
            'denied: requested access to the resource is denied (registry "{host}", '
            'image "{repo}:{tag}")',
            lambda r: _pick(r, host=("ghcr.io", "registry.internal:5000", "docker.io"),
                            repo=("billing-api", "auth-service", "web"),
                            tag=("v1.4.2", "v2.0.0", "sha-3f9a1c2")),
            "requested access to the resource is denied", 0.25, "fix", "docker_login",
        ),
        ErrorPlant(
            "pip_no_match", "pip_install",
            "ERROR: No matching distribution found for {pkg}=={major}.{minor}.{patch}",
            lambda r: _pick(r, pkg=("requests", "django", "numpy", "pydantic"),
                            major=range(1, 6), minor=range(30), patch=range(9)),
            "no matching distribution found", 0.3, "replace", "uv_add",
        ),
        ErrorPlant(
            "npm_eresolve", "npm_install",
            'npm ERR! ERESOLVE unable to resolve dependency tree: peer react@"^{major}.0.0" '
            'required by "{lib}@{minor}.{patch}.0"',
            lambda r: _pick(r, major=(16, 17, 18, 19), minor=range(1, 12), patch=range(20),
                            lib=("react-datepicker", "@mui/material", "formik")),
            "eresolve", 0.3, "replace", "npm_install_legacy_peers",
        ),
        ErrorPlant(
            "kube_forbidden", "kubectl_apply",
            'Error from server (Forbidden): deployments.apps "{svc}" is forbidden: User '
            '"{user}" cannot patch resource "deployments" in namespace "{ns}"',
            lambda r: _pick(r, svc=("billing-api", "auth-service", "search-worker"),
                            user=("ci-bot", "deployer", "system:serviceaccount:ci:runner"),
                            ns=("staging", "production", "canary")),
            "forbidden", 0.15, "none",
        ),
    )
}

_PY = (("python", 1.0),)
FAMILIES: tuple[Family, ...] = (
    Family(
        "api_bugfix", "backend", TaskType.DEBUGGING, _PY,
        ("Fix the {code} error returned by the {endpoint} endpoint",
         "The {endpoint} API answers {code}; find the bug and fix it",
         "Debug why {endpoint} responds with HTTP {code} after the last deploy",
         "Users report {code} responses from {endpoint}; repair the handler"),
        {"endpoint": ("/users", "/orders", "/checkout", "/search", "/login"),
         "code": ("500", "502", "422", "401")},
        ("read_logs", "read_file", "edit_file", "run_tests"), 0.85,
        tags=(("api", 0.5),), errors=("tests_timeout",),
    ),
    Family(
        "dependency_upgrade", "backend", TaskType.DEBUGGING, _PY,
        ("Upgrade {pkg} to the latest release and fix what breaks",
         "Bump {pkg} from {old} and repair the build",
         "The {pkg} pin is outdated; update it and make CI green",
         "Move the project to a newer {pkg} than {old}"),
        {"pkg": ("requests", "django", "numpy", "pydantic", "sqlalchemy"),
         "old": ("1.x", "2.x", "3.x")},
        ("check_outdated", "pip_install", "run_tests", "commit_changes"), 0.55,
        errors=("pip_no_match", "tests_timeout"),
    ),
    Family(
        "db_migration", "backend", TaskType.CODE_GENERATION, _PY,
        ("Add a {col} column to the {table} table",
         "Write a migration that renames {table}.{col}",
         "Create an index on {table} ({col}) with a migration",
         "Change the type of {col} in {table} through a schema migration"),
        {"table": ("orders", "users", "invoices", "sessions"),
         "col": ("created_at", "status", "email", "total")},
        ("read_schema", "write_migration", "dry_run_migration", "apply_migration"), 0.8,
        decision=DecisionPlant("write_migration", "dry_run_migration", "apply_migration", 0.9, 0.4),
    ),
    Family(
        "cli_scaffold", "backend", TaskType.CODE_GENERATION, _PY,
        ("Create a command-line tool that {verb} {thing}",
         "Scaffold a CLI entry point to {verb} {thing}",
         "Write a small console script which {verb} {thing}",
         "Give the package a terminal command that {verb} {thing}"),
        {"verb": ("exports", "imports", "validates", "archives"),
         "thing": ("the reports", "user accounts", "CSV files", "old logs")},
        ("read_file", "scaffold_cli", "write_tests", "run_tests"), 0.95,
        errors=("tests_timeout",),
    ),
    Family(
        "frontend_component", "frontend", TaskType.CODE_GENERATION, (("typescript", 1.0),),
        ("Build a {widget} component for the {page} page",
         "Implement the {page} {widget} in React",
         "Create a reusable {widget} used on {page}",
         "Add a responsive {widget} to the {page} screen"),
        {"widget": ("date picker", "modal dialog", "data table", "nav bar"),
         "page": ("settings", "dashboard", "checkout", "profile")},
        ("npm_install", "read_design", "write_component", "run_storybook"), 0.8,
        decision=DecisionPlant("write_component", "run_storybook", "update_snapshots", 0.85, 0.45),
        errors=("npm_eresolve",),
    ),
    Family(
        "legacy_refactor", "backend", TaskType.REFACTORING, (("java", 1.0),),
        ("Refactor {cls} to split the {method} method",
         "Clean up {cls}.{method} without changing behaviour",
         "Extract the duplicated logic from {cls}.{method}",
         "Simplify the long {method} method of {cls}"),
        {"cls": ("OrderService", "BillingManager", "ReportBuilder", "UserDao"),
         "method": ("process", "validate", "render", "save")},
        ("read_file", "extract_method", "run_tests", "commit_changes"), 0.8,
        tags=(("legacy", 0.4),), errors=("tests_timeout",),
        context=ContextPlant("tag=legacy", "add_characterization_tests", "read_file",
                             0.5, 0.2, 0.9, 0.3),
    ),
    Family(
        "perf_tuning", "systems", TaskType.REFACTORING, (("rust", 0.5), ("cpp", 0.5)),
        ("Speed up the hot path of {thing}",
         "Reduce the latency of {thing} by {pct}%",
         "Profile and optimise {thing}",
         "Make {thing} faster; it dominates the flame graph"),
        {"thing": ("the JSON parser", "the tokenizer", "the image resizer", "the hash join"),
         "pct": ("20", "30", "50")},
        ("run_profiler", "read_file", "optimize_hot_loop", "run_benchmarks"), 0.55,
        context=ContextPlant("language=rust", "run_sanitizer", "optimize_hot_loop",
                             0.5, 0.4, 0.9, 0.3),
    ),
    Family(
        "infra_deploy", "infra", TaskType.OTHER, ((None, 1.0),),
        ("Deploy {svc} version {ver} to {env}",
         "Roll out the new {svc} image to {env}",
         "Ship {svc} {ver} to the {env} cluster",
         "Release {svc} build {ver} on {env}"),
        {"svc": ("billing-api", "auth-service", "search-worker", "web-frontend"),
         "env": ("staging", "production", "canary"), "ver": ("v1.4.2", "v2.0.0", "v2.1.3")},
        ("build_image", "push_image", "kubectl_apply", "check_rollout"), 0.8,
        tags=(("prod", 0.5),), errors=("registry_denied", "kube_forbidden"),
    ),
    Family(
        "data_report", "data", TaskType.ANALYSIS, _PY,
        ("Analyse {metric} by {dim} for {period}",
         "Produce a report of {metric} per {dim} over {period}",
         "Chart the trend of {metric} across {dim} in {period}",
         "Summarise how {metric} varied by {dim} during {period}"),
        {"metric": ("revenue", "churn", "signups", "latency"),
         "dim": ("region", "plan", "channel"), "period": ("Q1", "last month", "2024")},
        ("load_csv", "impute_missing", "plot_chart", "write_report"), 0.9,
        tags=(("big_data", 0.35),),
        decision=DecisionPlant("load_csv", "impute_missing", "drop_rows", 0.95, 0.65),
        context=ContextPlant("tag=big_data", "export_raw_data", "plot_chart",
                             0.4, 0.4, 0.15, None),
    ),
)
# fmt: on
