"""A planted world of IT-operations, customer-support and data-engineering agents.

Twelve task families, each with paraphrased task descriptions, a context and a canonical
tool sequence; facts planted on top of them and returned as data (:class:`Truth`):

- **Sequences**: every family runs its canonical tools in order. A *slot* is a point where
  the agent picks one of two tools; the family's expected sequence holds the better one (or
  either, for a decoy slot with no effect), and the slot may be left out.
- **Decisions**: in four slots the first option raises the success rate over the second by
  0.25 to 0.5 (``after`` is the canonical tool before the slot). One decoy slot has no effect.
- **Context effects**: in four families an extra tool is used in half the runs; under one
  feature (a tag or the language) it raises or lowers the success rate, elsewhere it does
  nothing. Decoy tags (``vip``, ``weekend``, ``eu-west``, ``team-a``) do nothing.
- **Errors**: four tools fail now and then with messages whose numbers, paths and versions
  vary; one is fixed by a plain retry, one by another tool and then a retry, one by a
  replacement tool (the failing one is abandoned) and one has no reliable recovery. An error
  that is not overcome ends the episode as a failure.
- **Base rates**: each family has its own success rate (0.55 to 0.95), independent of tools.
- **Noise**: between two steps, a noise tool is inserted with probability 0.2, independent
  of anything else. An error and the steps that recover from it are never split by noise.

Pairs built to confuse: ``deploy_service`` / ``rollback_release`` share domain, task type
and language and their wording ("the payments service release on staging"), but not their
tools; ``refund_request`` / ``password_reset`` and ``etl_backfill`` / ``schema_migration``
share domain, task type and language too. Tools are shared across families (``ssh_host``,
``check_rollout``, ``read_ticket``, ``reply_customer``, ``query_warehouse``, ...).

Episodes come in time order, two to six minutes apart, with per-step latencies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["Choice", "Family", "GeneratedEpisode", "GeneratedStep", "Truth", "FAMILIES",
           "CONTEXT_EFFECTS", "ERRORS", "generate", "truth"]  # fmt: skip

NOISE_RATE = 0.2
NOISE_TOOLS = ("search_docs", "list_files", "echo_status", "check_metrics", "read_runbook")
DECOY_TAGS = {"vip": 0.3, "weekend": 0.25, "eu-west": 0.4, "team-a": 0.35}


@dataclass(frozen=True)
class Choice:
    """A slot: after the previous canonical tool the agent runs ``best`` (with ``p_best``)
    or ``worst``; ``worst`` lowers the success rate by ``delta`` (0 for a decoy)."""

    best: str
    worst: str
    p_best: float
    delta: float


@dataclass(frozen=True)
class Family:
    name: str
    domain: str
    task_type: str
    languages: dict[str, float]
    base: float
    steps: tuple[str | Choice, ...]
    templates: tuple[str, ...]
    tags: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ContextEffect:
    """In ``family``, under ``feature`` (``tag`` or ``language`` = ``value``), running
    ``tool`` (before ``before``, in half the runs) shifts the success rate by ``delta``."""

    family: str
    feature: str
    value: str
    tool: str
    before: str
    delta: float

    @property
    def direction(self) -> str:
        return "success" if self.delta > 0 else "failure"


@dataclass(frozen=True)
class ErrorSpec:
    tool: str
    rate: float
    behaviour: str  # retry | fix | replace | none
    recovery: str | None  # the tool that fixes it, "retry", or None


SLOTS = {
    "svc": "payments checkout search billing auth inventory".split(),
    "env": "staging production canary qa".split(),
    "ver": "v1.4.2 v2.0.0 v2.3.1 v3.1.0 v0.9.7".split(),
    "host": "web-03 db-11 api-07 cache-02 batch-05".split(),
    "domain": "shop.example.com api.example.com status.example.com".split(),
    "order": "48213 77120 90331 13579 66002".split(),
    "product": "headphones laptop stand coffee grinder backpack".split(),
    "table": "orders events sessions invoices clicks".split(),
    "date": ["March 3", "last week", "yesterday", "Q1"],
    "dag": "daily_orders hourly_clicks nightly_billing".split(),
    "db": "orders_db users_db ledger_db".split(),
}

FAMILIES = (
    Family("deploy_service", "infra", "deployment", {"yaml": 1.0}, 0.85,
           ("git_pull", "build_image", Choice("scan_image", "sign_image", 0.5, 0.40),
            "push_image", "kubectl_apply", "check_rollout"),
           ("Deploy the {svc} service release {ver} to {env}",
            "Ship {svc} {ver} to the {env} cluster",
            "Roll out the new {svc} service release on {env}")),
    Family("rollback_release", "infra", "deployment", {"yaml": 1.0}, 0.9,
           ("list_releases", "helm_rollback", Choice("check_rollout", "watch_pods", 0.5, 0.0),
            "notify_channel"),
           ("Roll back the {svc} service release {ver} on {env}",
            "Revert {svc} to the previous release on the {env} cluster",
            "Undo the bad {svc} service release on {env}")),
    Family("disk_full_incident", "infra", "incident_response", {"bash": 1.0}, 0.75,
           ("ssh_host", "check_disk", Choice("rotate_logs", "delete_tmp", 0.6, 0.30),
            "verify_service"),
           ("Disk almost full on {host}, free some space",
            "Alert: /var at 97% on {host}",
            "Clean up the full disk on host {host}")),
    Family("cert_renewal", "infra", "maintenance", {"bash": 1.0}, 0.6,
           ("ssh_host", "check_cert", "renew_cert", "reload_nginx", "verify_service"),
           ("Renew the TLS certificate for {domain}",
            "The certificate of {domain} expires in 5 days",
            "Rotate the expiring cert on {domain}"),
           {"legacy-os": 0.35}),
    Family("refund_request", "support", "ticket_triage", {"english": 1.0}, 0.9,
           ("read_ticket", "lookup_order", Choice("check_refund_policy", "ask_supervisor",
                                                  0.5, 0.25),
            "issue_refund", "reply_customer"),
           ("Customer asks for a refund on order {order}",
            "Refund request: the {product} from order {order} arrived broken",
            "Please refund order {order}, the customer returned the {product}")),
    Family("password_reset", "support", "ticket_triage", {"english": 1.0}, 0.95,
           ("read_ticket", "verify_identity", "reset_password", "reply_customer"),
           ("Customer cannot log in and asks for a password reset",
            "Password reset request from the account behind order {order}",
            "Locked out: reset the password for the customer of order {order}"),
           {"sso": 0.3}),
    Family("bug_report_triage", "support", "debugging",
           {"english": 0.55, "german": 0.3, "french": 0.15}, 0.55,
           ("read_ticket", "search_kb", "reproduce_issue", "file_jira", "reply_customer"),
           ("Customer reports the {product} page crashes at checkout",
            "Bug report: the app freezes when ordering a {product}",
            "Triage the crash report about the {product} listing")),
    Family("etl_backfill", "data", "etl", {"sql": 1.0}, 0.7,
           ("read_config", "query_warehouse", "transform_batch",
            Choice("load_table", "bulk_insert", 0.4, 0.50), "validate_counts"),
           ("Backfill the {table} table for {date}",
            "Reload missing {table} rows from {date}",
            "Re-run the {table} load for {date}")),
    Family("schema_migration", "data", "etl", {"sql": 1.0}, 0.65,
           ("read_config", "diff_schema", "write_migration", "run_migration", "validate_counts"),
           ("Add a column to the {table} table",
            "Migrate the {table} schema to the new layout",
            "Change the type of a column in {table}"),
           {"mysql": 0.4}),
    Family("dashboard_report", "data", "analysis", {"python": 1.0}, 0.85,
           ("query_warehouse", "pandas_aggregate", "render_chart", "publish_dashboard"),
           ("Build the weekly {table} dashboard",
            "Chart {table} volume for {date}",
            "Refresh the {table} report for {date}")),
    Family("pipeline_debug", "data", "debugging", {"python": 1.0}, 0.55,
           ("read_logs", "inspect_dag", "pip_install", "rerun_task", "validate_counts"),
           ("The {dag} DAG failed last night, fix it",
            "Debug why {dag} is stuck",
            "Airflow task in {dag} keeps failing")),
    Family("db_restore", "infra", "recovery", {"bash": 1.0}, 0.8,
           ("ssh_host", "list_backups", "restore_snapshot", "verify_service", "notify_channel"),
           ("Restore {db} from last night's backup",
            "Recover {db} on {host} after the bad migration",
            "Bring back {db} from the snapshot")),
)  # fmt: skip

CONTEXT_EFFECTS = (
    ContextEffect("cert_renewal", "tag", "legacy-os", "install_certbot_compat", "renew_cert", 0.35),
    ContextEffect("bug_report_triage", "language", "german", "translate_text", "reproduce_issue",
                  0.40),
    ContextEffect("schema_migration", "tag", "mysql", "lock_tables", "run_migration", -0.35),
    ContextEffect("password_reset", "tag", "sso", "reset_mfa", "reply_customer", -0.45),
)  # fmt: skip

ERRORS = (
    ErrorSpec("kubectl_apply", 0.15, "retry", "retry"),
    ErrorSpec("pip_install", 0.25, "fix", "pin_dependency"),
    ErrorSpec("query_warehouse", 0.15, "replace", "query_replica"),
    ErrorSpec("restore_snapshot", 0.15, "none", None),
)


@dataclass(frozen=True)
class Truth:
    """The planted facts.

    ``sequences``: family -> accepted tool sequences; ``decisions``: (family, after, best,
    worst); ``contexts``: (family, feature value, tool, direction); ``recoveries``: (tool,
    recovery, mode) with recovery ``"retry"``, a tool, or ``None`` for no known recovery.
    ``decoys``: (family, after, option, option) slots without an effect.
    """

    sequences: dict[str, frozenset[tuple[str, ...]]]
    decisions: tuple[tuple[str, str, str, str], ...]
    contexts: tuple[tuple[str, str, str, str], ...]
    recoveries: tuple[tuple[str, str | None, str | None], ...]
    decoys: tuple[tuple[str, str, str, str], ...]


def _variants(steps: tuple[str | Choice, ...]) -> frozenset[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for step in steps:
        if isinstance(step, str):
            out = [(*v, step) for v in out]
            continue
        options = [step.best] if step.delta else [step.best, step.worst]
        out = [(*v, o) for v in out for o in options] + out  # the slot may be left out
    return frozenset(out)


def truth() -> Truth:
    decisions, decoys = [], []
    for family in FAMILIES:
        for before, step in zip(family.steps, family.steps[1:], strict=False):
            if isinstance(step, Choice) and isinstance(before, str):
                row = (family.name, before, step.best, step.worst)
                (decisions if step.delta else decoys).append(row)
    return Truth(
        sequences={f.name: _variants(f.steps) for f in FAMILIES},
        decisions=tuple(decisions),
        contexts=tuple((c.family, c.value, c.tool, c.direction) for c in CONTEXT_EFFECTS),
        recoveries=tuple((e.tool, e.recovery, None if e.recovery is None else e.behaviour)
                         for e in ERRORS),
        decoys=tuple(decoys),
    )  # fmt: skip


@dataclass
class GeneratedStep:
    tool: str
    latency_ms: float
    success: bool = True
    error: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    observation: str | None = None


@dataclass
class GeneratedEpisode:
    family: str
    description: str
    domain: str
    task_type: str
    language: str
    tags: list[str]
    start_time: datetime
    steps: list[GeneratedStep]
    success: bool


def _error_message(tool: str, rng: random.Random) -> str:
    n = rng.randint
    if tool == "kubectl_apply":
        return f"dial tcp 10.0.{n(0, 9)}.{n(2, 250)}:6443: connect: connection refused " \
               f"(attempt {n(1, 3)})"  # fmt: skip
    if tool == "pip_install":
        pkg = rng.choice(["requests", "botocore", "apache-airflow-providers-amazon"])
        return (
            f"ResolutionImpossible: {pkg}=={n(1, 3)}.{n(0, 31)}.{n(0, 9)} requires "
            f"urllib3<{n(1, 2)}.{n(0, 3)}, but urllib3 2.{n(0, 5)}.{n(0, 9)} is installed"
        )
    if tool == "query_warehouse":
        return (
            f"QueryTimeout: scan of s3://lake/events/dt=2026-{n(1, 12):02d}-{n(1, 28):02d}"
            f"/part-{n(0, 99999):05d}.parquet exceeded {rng.choice([30, 60, 120])}s"
        )
    db = rng.choice(SLOTS["db"])
    return f"ChecksumError: /backups/{db}/{db}-{n(100, 999)}.tar.gz expected sha256 " \
           f"{rng.getrandbits(32):08x} got {rng.getrandbits(32):08x}"  # fmt: skip


def _step(tool: str, rng: random.Random, error: str | None = None) -> GeneratedStep:
    latency = round(rng.lognormvariate(5.5 + sum(map(ord, tool)) % 7 / 4, 0.5), 1)
    if error:
        return GeneratedStep(tool, latency, success=False, error=error,
                             parameters={"attempt": str(rng.randint(1, 9))})  # fmt: skip
    return GeneratedStep(tool, latency, parameters={"ref": str(rng.randint(1, 9999))},
                         observation=f"{tool} ok")  # fmt: skip


def _fail(tool: str, rng: random.Random) -> GeneratedStep:
    return _step(tool, rng, _error_message(tool, rng))


def _by_retry(tool: str, rng: random.Random) -> tuple[list[GeneratedStep], bool]:
    steps = [_fail(tool, rng)]
    for _ in range(2):
        if rng.random() < 0.9:
            return [*steps, _step(tool, rng)], True
        steps.append(_fail(tool, rng))
    return steps, False


def _by_fix(tool: str, fix: str, rng: random.Random) -> tuple[list[GeneratedStep], bool]:
    steps = [_fail(tool, rng)]
    if rng.random() < 0.3:  # a plain retry first: it fails again
        steps.append(_fail(tool, rng))
    steps.append(_step(fix, rng))
    if rng.random() < 0.9:
        return [*steps, _step(tool, rng)], True
    return [*steps, _fail(tool, rng)], False


def _by_replacement(tool: str, other: str, rng: random.Random) -> tuple[list[GeneratedStep], bool]:
    steps = [_fail(tool, rng)]
    if rng.random() < 0.4:  # retry first: it rarely works
        if rng.random() < 0.15:
            return [*steps, _step(tool, rng)], True
        steps.append(_fail(tool, rng))
    return [*steps, _step(other, rng)], rng.random() < 0.92


def _unrecoverable(tool: str, rng: random.Random) -> tuple[list[GeneratedStep], bool]:
    steps = [_fail(tool, rng)]
    if rng.random() < 0.5:  # anything tried works 12% of the time
        steps.append(_step("verify_backup", rng))
    if rng.random() < 0.12:
        return [*steps, _step(tool, rng)], True
    return [*steps, _fail(tool, rng)], False


def _recover(spec: ErrorSpec, rng: random.Random) -> tuple[list[GeneratedStep], bool]:
    """The steps from the first failed call to the recovery; whether it was overcome."""
    if spec.behaviour == "retry":
        return _by_retry(spec.tool, rng)
    if spec.behaviour == "fix":
        return _by_fix(spec.tool, str(spec.recovery), rng)
    if spec.behaviour == "replace":
        return _by_replacement(spec.tool, str(spec.recovery), rng)
    return _unrecoverable(spec.tool, rng)


def _plan(family: Family, rng: random.Random, features: set[str]) -> tuple[list[str], float]:
    """The tools the agent means to run, and the episode's success probability."""
    p = family.base
    tools: list[str] = []
    for step in family.steps:
        if isinstance(step, str):
            tools.append(step)
        elif rng.random() < step.p_best:
            tools.append(step.best)
        else:
            tools.append(step.worst)
            p -= step.delta
    for effect in CONTEXT_EFFECTS:
        if effect.family == family.name and rng.random() < 0.5:
            tools.insert(tools.index(effect.before), effect.tool)
            if f"{effect.feature}={effect.value}" in features:
                p += effect.delta
    return tools, min(0.98, max(0.02, p))


def _episode(family: Family, rng: random.Random, at: datetime) -> GeneratedEpisode:
    language = rng.choices(list(family.languages), list(family.languages.values()))[0]
    pool = {**family.tags, **DECOY_TAGS}
    tags = [tag for tag, rate in pool.items() if rng.random() < rate]
    features = {f"tag={t}" for t in tags} | {f"language={language}"}
    tools, p = _plan(family, rng, features)
    errors = {e.tool: e for e in ERRORS}
    steps: list[GeneratedStep] = []
    overcome = True
    for i, tool in enumerate(tools):
        if i and rng.random() < NOISE_RATE:
            steps.append(_step(rng.choice(NOISE_TOOLS), rng))
        spec = errors.get(tool)
        if spec is not None and rng.random() < spec.rate:
            block, overcome = _recover(spec, rng)
            steps.extend(block)
            if not overcome:
                break  # the agent gives up
        else:
            steps.append(_step(tool, rng))
    template = rng.choice(family.templates)
    description = template.format(**{k: rng.choice(v).strip() for k, v in SLOTS.items()})
    return GeneratedEpisode(
        family=family.name, description=description, domain=family.domain,
        task_type=family.task_type, language=language, tags=tags, start_time=at,
        steps=steps, success=overcome and rng.random() < p,
    )  # fmt: skip


def generate(size: int, seed: int, start: datetime | None = None) -> list[GeneratedEpisode]:
    """``size`` episodes in time order, families drawn uniformly; by default the last ones
    end about now (learned patterns decay with the age of their evidence)."""
    rng = random.Random(seed)
    at = start or datetime.now(UTC) - timedelta(seconds=240 * size)
    episodes = []
    for _ in range(size):
        episodes.append(_episode(rng.choice(FAMILIES), rng, at))
        at += timedelta(seconds=rng.randint(120, 360))
    return episodes
