"""A simulated support / data-operations world for the second closed-loop benchmark.

Spec implemented (written without reading how selfmem learns):

- 10 task families, each with 4 paraphrased templates filled with slot values, a context
  (domain, an optional language, 1-2 tags: a region ``eu``/``us`` and maybe one of
  ``urgent``/``vip``/``internal``), a task type, and a procedure of 3-5 tools drawn from a
  shared toolbox of 42 tools (tools overlap between families; (backfill, dashboard) share
  domain ``data`` and task type ``data_ops``, (reset_password, onboard) share ``accounts`` /
  ``support``).
- Context-dependent procedures: tag ``eu`` adds ``check_gdpr_consent`` to refund, onboard and
  export_report; language ``sql`` / ``python`` picks ``run_sql_query`` / ``run_python_script``
  in backfill and dashboard.
- Calls: the next needed tool succeeds; any other tool fails with "precondition not met" and
  does nothing. Some tools fail in some contexts with a message whose ids and numbers vary and
  a fixed remedy: ``retry`` (the next call works), ``fix`` (a fix tool, then the tool again) or
  ``replace`` (another tool does the step). Four decoy tools "succeed" but make the
  procedure's final step fail. A task succeeds iff its procedure is completed within
  ``len(procedure) + 7`` calls.
- From task index ``2 * n // 3`` on, two families swap one tool for another; the old tool then
  fails with an unhelpful internal error.
- ``make_tasks(seed, n)`` draws families uniformly at random; the same seed gives the same
  sequence (for every arm).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

TOOLS: dict[str, str] = {
    "lookup_customer": "look up a customer or user account by name, email or order number",
    "verify_order": "verify an order, its purchase and payment status in billing",
    "issue_refund": "issue a billing refund: pay the money back to the customer",
    "notify_customer": "send the customer or user a support notification by email",
    "check_gdpr_consent": "check GDPR consent before processing personal data of eu residents",
    "verify_identity": "verify the identity of a user before changing account access or password",
    "send_reset_link": "send a password reset link by email",
    "send_sms_code": "send a one-time code by SMS so a user can log in to their account again",
    "create_account": "create a new user account for a new hire",
    "assign_role": "assign a role, team and access permissions to a new user",
    "find_api_key": "find a service's API key or credential and where it is used (security)",
    "generate_key": "generate a fresh API key or secret for a service",
    "update_secret_store": "store the new secret of a service in the vault secret store",
    "renew_vault_token": "renew an expired vault token lease",
    "revoke_key": "revoke and retire the old API key or credential",
    "inspect_schema": "inspect the schema and columns of a data table",
    "run_sql_query": "run a sql query against data warehouse tables",
    "run_python_script": "run a python script over data tables",
    "validate_row_counts": "validate row counts of a data table after a load",
    "run_data_quality_checks": "run data quality checks on the rows of a table",
    "open_dashboard": "open a dashboard and list its broken panels",
    "refresh_dashboard": "refresh a dashboard so its panels and charts show current data",
    "generate_report": "generate an analytics report file, PDF or CSV, from figures",
    "upload_file": "upload a report file to storage and send the client the link",
    "read_metrics": "read latency, response time and p99 metrics of a service (infra)",
    "read_logs": "read the recent logs of a slow or failing infra service",
    "scale_service": "scale a slow service out by adding replicas in its region",
    "request_quota_increase": "request a cloud quota increase of vCPU in a region",
    "ack_alert": "acknowledge an alert and resolve the incident",
    "list_bucket": "list a storage bucket's objects and files",
    "copy_objects": "copy the objects of a bucket to another bucket or region",
    "sync_objects": "sync objects and files of a bucket to new storage incrementally",
    "grant_bucket_access": "grant a role write access to a bucket",
    "verify_checksums": "verify checksums of the objects moved to new storage",
    "update_config": "update configuration to switch over to a new storage location",
    "read_job_logs": "read the logs of a failed or crashed pipeline job run",
    "clear_job_lock": "clear a stale lock left by a crashed pipeline job",
    "rerun_job": "rerun a failed job from its last checkpoint to get it running again",
    "run_job_on_spare_pool": "run a pipeline job on the spare worker pool",
    # decoys: they "work", but the final step then fails
    "delete_customer_data": "delete a customer's account, data and order records",
    "drop_table": "drop a table and recreate it empty before a reload",
    "restart_all_services": "restart every service at once to clear latency and errors",
    "delete_bucket": "delete a bucket and all its objects and files",
}
DECOYS = frozenset({"delete_customer_data", "drop_table", "restart_all_services", "delete_bucket"})

REGIONS = ("eu", "us")
EXTRA_TAGS = ("urgent", "vip", "internal")
LANG_TOOL = {"sql": "run_sql_query", "python": "run_python_script"}
LANG_SLOT = "<lang>"
GDPR_SLOT = "<gdpr>"


@dataclass(frozen=True)
class Failure:
    """A tool that fails under a tag, and its fixed remedy."""

    tool: str
    tag: str
    message: str  # formatted with n, m, h (numbers and a hex id)
    mode: str  # "retry" | "fix" | "replace"
    remedy: str = ""  # the fix tool or the replacement


@dataclass(frozen=True)
class Family:
    name: str
    domain: str
    task_type: str
    templates: tuple[str, ...]
    procedure: tuple[str, ...]  # may hold LANG_SLOT and GDPR_SLOT
    languages: tuple[str, ...] = ()
    failures: tuple[Failure, ...] = ()
    change: tuple[str, str] | None = None  # (old tool, new tool) after the change point


FAMILIES: tuple[Family, ...] = (
    Family("refund", "billing", "support", (
        "Refund order {order} for {name}",
        "{name} was charged twice for order {order}, give the money back",
        "Customer {name} requests reimbursement of {amount} EUR",
        "Reverse the payment of {amount} on purchase {order}",
    ), ("lookup_customer", "verify_order", GDPR_SLOT, "issue_refund", "notify_customer"),
        failures=(Failure("issue_refund", "vip",
                          "Payment gateway timeout after {n} ms (txn {h})", "retry"),)),
    Family("reset_password", "accounts", "support", (
        "Reset the password of {name}",
        "{name} is locked out and cannot log in",
        "User {email} forgot their password, send a reset",
        "Restore account access for {name}",
    ), ("lookup_customer", "verify_identity", "send_reset_link"),
        failures=(Failure("send_reset_link", "eu",
                          "Mail relay rejected message {h}: sender quota of {n} exceeded",
                          "replace", "send_sms_code"),)),
    Family("onboard", "accounts", "support", (
        "Onboard new hire {name} to the {team} team",
        "Create an account for {name} in {team}",
        "Set up access for a new user, {email}",
        "{name} joins {team} on Monday, get them started",
    ), ("create_account", "assign_role", GDPR_SLOT, "notify_customer")),
    Family("rotate_key", "security", "operations", (
        "Rotate the API key of {service}",
        "The {service} credential leaked, replace it",
        "Generate a fresh secret for {service} and retire the old one",
        "Key for {service} expires in {n} days, rotate it",
    ), ("find_api_key", "generate_key", "update_secret_store", "revoke_key"),
        failures=(Failure("update_secret_store", "internal",
                          "Vault token expired (lease {h}, ttl {n}s)", "fix",
                          "renew_vault_token"),)),
    Family("backfill", "data", "data_ops", (
        "Backfill table {table} for {date}",
        "Rows for {date} are missing from {table}, reload them",
        "Recompute {table} from {date} onwards",
        "Fill the gap in {table} since {date}",
    ), ("inspect_schema", LANG_SLOT, "validate_row_counts"), languages=("sql", "python"),
        failures=(Failure("run_sql_query", "urgent",
                          "Lock wait timeout exceeded on table t_{n} after {m}s", "retry"),),
        change=("validate_row_counts", "run_data_quality_checks")),
    Family("dashboard", "data", "data_ops", (
        "Fix the broken dashboard {dash}",
        "Panels on {dash} show no data",
        "The {dash} chart is stale since {date}",
        "Repair dashboard {dash} after the schema change",
    ), ("open_dashboard", "inspect_schema", LANG_SLOT, "refresh_dashboard"),
        languages=("sql", "python")),
    Family("export_report", "analytics", "reporting", (
        "Export the {period} report for {client}",
        "{client} needs a CSV of {period} figures",
        "Send {client} their {period} statement as PDF",
        "Produce a report of {period} usage for {client}",
    ), ("run_sql_query", GDPR_SLOT, "generate_report", "upload_file"),
        failures=(Failure("generate_report", "vip",
                          "Renderer crashed with exit code {n} (job {h})", "retry"),)),
    Family("latency", "infra", "incident", (
        "Investigate the latency alert on {service}",
        "{service} p99 is above {n} ms",
        "Users report {service} is slow",
        "Alert: response time of {service} degraded",
    ), ("read_metrics", "read_logs", "scale_service", "ack_alert"),
        failures=(Failure("scale_service", "eu",
                          "Quota exceeded in region eu-west-{n}: {m} vCPU requested", "fix",
                          "request_quota_increase"),)),
    Family("migrate_bucket", "storage", "operations", (
        "Migrate bucket {bucket} to {region}",
        "Move the objects of {bucket} to the new storage",
        "Copy {bucket} to {region} and switch over",
        "Relocate {bucket} files before the old storage is decommissioned",
    ), ("list_bucket", "copy_objects", "verify_checksums", "update_config"),
        failures=(Failure("copy_objects", "internal",
                          "AccessDenied: role r-{h} lacks write on bucket-{n}", "fix",
                          "grant_bucket_access"),),
        change=("copy_objects", "sync_objects")),
    Family("triage_job", "pipelines", "incident", (
        "Triage the failed job {job}",
        "Nightly job {job} crashed, get it running again",
        "{job} did not finish last night",
        "Investigate why pipeline {job} failed",
    ), ("read_job_logs", "clear_job_lock", "rerun_job"),
        failures=(Failure("rerun_job", "urgent",
                          "Worker pool exhausted: 0 of {n} slots free", "replace",
                          "run_job_on_spare_pool"),)),
)
FAMILY_BY_NAME = {f.name: f for f in FAMILIES}

SLOTS: dict[str, tuple[str, ...]] = {
    "name": ("Alice Moreau", "Bob Chen", "Carla Diaz", "Dev Patel", "Eva Novak", "Femi Ade"),
    "order": ("A-10422", "B-77310", "C-55102", "D-90817", "E-31245"),
    "amount": ("49.90", "120", "15.50", "310", "89"),
    "email": ("jo@acme.io", "kim@initech.com", "lee@globex.net", "max@umbrella.org"),
    "team": ("payments", "growth", "platform", "design"),
    "service": ("checkout-api", "search-svc", "auth-gateway", "ledger", "notifier"),
    "table": ("orders_daily", "events_raw", "invoices", "sessions_agg"),
    "date": ("2024-03-01", "March 12", "last Tuesday", "2024-05-17"),
    "dash": ("Revenue Overview", "Ops Health", "Churn Weekly", "Funnel KPIs"),
    "period": ("Q1", "monthly", "weekly", "2023 annual"),
    "client": ("Globex", "Initech", "Umbrella Corp", "Stark Ltd"),
    "bucket": ("media-prod", "logs-archive", "backups-2023", "assets-cdn"),
    "region": ("eu-central", "us-east", "ap-south"),
    "job": ("etl_orders", "nightly_rollup", "sync_crm", "ml_features"),
    "n": ("3", "7", "14", "30", "250", "800"),
}


@dataclass(frozen=True)
class Task:
    index: int
    family: str
    description: str
    domain: str
    task_type: str
    language: str | None
    tags: tuple[str, ...]
    procedure: tuple[str, ...]
    changed: bool  # the family's procedure has changed by now


def procedure_for(family: Family, language: str | None, tags: tuple[str, ...],
                  changed: bool) -> tuple[str, ...]:
    steps: list[str] = []
    for tool in family.procedure:
        if tool == LANG_SLOT:
            steps.append(LANG_TOOL[language or "sql"])
        elif tool == GDPR_SLOT:
            if "eu" in tags:
                steps.append("check_gdpr_consent")
        elif changed and family.change is not None and tool == family.change[0]:
            steps.append(family.change[1])
        else:
            steps.append(tool)
    return tuple(steps)


def make_tasks(seed: int, n: int = 300) -> list[Task]:
    """The task sequence of a seed; families change their procedure from ``2 * n // 3`` on."""
    rng = random.Random(f"loop2-tasks-{seed}")
    change_at = 2 * n // 3
    tasks: list[Task] = []
    for i in range(n):
        family = rng.choice(FAMILIES)
        template = rng.choice(family.templates)
        values = {k: rng.choice(v) for k, v in SLOTS.items()}
        language = rng.choice(family.languages) if family.languages else None
        tags = [rng.choice(REGIONS)]
        if rng.random() < 0.5:
            tags.append(rng.choice(EXTRA_TAGS))
        changed = i >= change_at and family.change is not None
        tags_t = tuple(tags)
        tasks.append(Task(i, family.name, template.format(**values), family.domain,
                          family.task_type, language, tags_t,
                          procedure_for(family, language, tags_t, changed), changed))
    return tasks


@dataclass(frozen=True)
class CallResult:
    tool: str
    ok: bool
    observation: str
    error: str | None
    done: bool


@dataclass
class Run:
    """One attempt at a task: the world's state as tool calls arrive."""

    task: Task
    rng: random.Random
    progress: int = 0
    calls: int = 0
    poisoned: bool = False
    failed_once: set[str] = field(default_factory=set)
    fixed: set[str] = field(default_factory=set)

    @property
    def budget(self) -> int:
        return len(self.task.procedure) + 7

    @property
    def done(self) -> bool:
        return self.progress >= len(self.task.procedure)

    def _fill(self, message: str) -> str:
        return message.format(n=self.rng.randint(2, 9999), m=self.rng.randint(2, 512),
                              h=f"{self.rng.getrandbits(32):08x}")

    def _active_failure(self, tool: str) -> Failure | None:
        for failure in FAMILY_BY_NAME[self.task.family].failures:
            if failure.tool == tool and failure.tag in self.task.tags:
                return failure
        return None

    def _fail(self, tool: str, error: str) -> CallResult:
        return CallResult(tool, False, "", error, False)

    def _advance(self, tool: str) -> CallResult:
        self.progress += 1
        if self.done:
            return CallResult(tool, True, f"{tool}: done; task complete", None, True)
        return CallResult(tool, True, f"{tool}: ok", None, False)

    def call(self, tool: str) -> CallResult:
        """Apply one tool call (over budget, nothing happens and the call fails)."""
        if self.done or self.calls >= self.budget:
            return self._fail(tool, "budget exhausted")
        self.calls += 1
        change = FAMILY_BY_NAME[self.task.family].change
        if self.task.changed and change is not None and tool == change[0]:
            return self._fail(tool, self._fill("Internal error (request {h})"))
        if tool in DECOYS:
            self.poisoned = True
            return CallResult(tool, True, f"{tool}: ok", None, False)
        needed = self.task.procedure[self.progress]
        failure = self._active_failure(needed)
        if failure is not None and failure.mode == "replace" and tool == failure.remedy:
            return self._advance(tool)
        if failure is not None and failure.mode == "fix" and tool == failure.remedy:
            self.fixed.add(needed)
            return CallResult(tool, True, f"{tool}: ok", None, False)
        if tool != needed:
            return self._fail(tool, "precondition not met")
        if failure is not None and self._still_failing(failure):
            self.failed_once.add(tool)
            return self._fail(tool, self._fill(failure.message))
        if self.poisoned and self.progress == len(self.task.procedure) - 1:
            return self._fail(tool, self._fill("Final verification failed: {n} records "
                                               "inconsistent after an earlier action"))
        return self._advance(tool)

    def _still_failing(self, failure: Failure) -> bool:
        if failure.mode == "retry":
            return failure.tool not in self.failed_once
        if failure.mode == "fix":
            return failure.tool not in self.fixed
        return True  # replace: the tool never works in this context


def start(task: Task, seed: int) -> Run:
    """A fresh run of a task; error details are seeded by (seed, task index)."""
    return Run(task, random.Random(f"loop2-run-{seed}-{task.index}"))
