"""Loop 3's catalog: the tools and their descriptions, the task templates' slot values, the 12
task families, the context rules that make a needed tool fail, and the procedure changes.

Data only, as the spec in :mod:`benchmarks.loop3_world` describes them; the world's
mechanics (tasks, calls, what a call answers) are there.
"""

from __future__ import annotations

from dataclasses import dataclass

# ----------------------------------------------------------------------------------- tools

_TOOL_TEXT: dict[str, str] = {
    # source control and review
    "checkout_branch": "Create or switch to a git branch in the repo for a code change",
    "search_code": "Search the codebase source for a symbol, test or error",
    "edit_source": "Edit a source file to fix code in the codebase",
    "open_pull_request": "Open a pull request so the change gets reviewed and checked",
    "merge_pull_request": "Merge an approved pull request into main",
    "resolve_conflicts": "Resolve merge conflicts left in files by a rebase",
    # language variants
    "pytest": "Run the Python unit test suite with pytest",
    "jest": "Run the JavaScript unit test suite with jest for node",
    "go_test": "Run the Go unit test suite with go test",
    "pip_install": "Install a Python package dependency with pip",
    "npm_install": "Install a Node package dependency with npm",
    "go_get": "Add a Go module dependency to go.mod",
    "build_wheel": "Build a Python wheel for a release",
    "npm_pack": "Build a Node package tarball for a release",
    "go_build": "Build the Go binary for a release",
    # dependencies and upgrades
    "update_lockfile": "Regenerate the lock file that pins dependencies",
    # database
    "create_migration": "Create a new database migration script for a schema change",
    "snapshot_database": "Take a snapshot backup of a database",
    "apply_migration": "Apply pending schema migrations to the database",
    "find_backup": "Find the latest backup that still holds a deleted row",
    "restore_rows": "Restore rows from a backup into the live table",
    # certificates
    "generate_csr": "Generate a private key and signing request for a new TLS certificate",
    "issue_certificate": "Have the public certificate authority issue a signed certificate",
    "install_certificate": "Install a certificate and key on the load balancer",
    "reload_service": "Reload a running service so it picks up a new certificate or config",
    # observability
    "query_metrics": "Query memory and latency metrics dashboards of a service",
    "capture_heap_profile": "Capture a heap profile of a process's memory",
    "analyze_heap_dump": "Analyze a heap dump for objects that leak",
    # CI
    "write_ci_config": "Write the CI pipeline configuration for continuous integration",
    "add_ci_secret": "Add a secret to the CI settings of a repo",
    "trigger_pipeline": "Trigger a CI pipeline run through the API",
    "rerun_job": "Re-run a CI job to see whether a failure is flaky",
    "quarantine_test": "Quarantine a flaky test so it no longer blocks merges",
    # release
    "bump_version": "Bump the version number of a package for a new release",
    "tag_release": "Create and push a git tag for a release version",
    "upload_to_registry": "Upload a built package to the package registry",
    # feature flags and deploys
    "create_flag": "Create a feature flag in the flag service",
    "set_flag_rollout": "Set what percentage of users a feature flag is rolled out to",
    "deploy_service": "Deploy a service build to an environment",
    "request_change_approval": "Ask the change advisory board to approve a prod change",
    # fix and replacement tools of the failure rules
    "release_migration_lock": "Release a stale migration lock held on a database",
    "issue_internal_certificate":
        "Issue a certificate from the internal CA instead of the public ACME one",
    "renew_registry_token": "Renew an expired upload token for the package registry",
    "merge_with_override": "Merge a pull request with the hotfix override when reviews are missing",
    # new tools after the change
    "configure_rollout_rule": "Configure a feature flag rollout rule in the new targeting API",
    "pitr_restore": "Restore deleted rows to a point in time from the backup service",
    "register_ci_runner": "Register a CI runner that builds the repo",
    # noise: always succeed, do nothing
    "list_directory": "List the files in a directory of the repo",
    "git_status": "Show the git status of the working tree",
    "post_team_update": "Post a status update on the task to the team channel",
    # destructive decoys: succeed, but the final step then fails
    "force_push": "Force push the branch to main, overwriting its history",
    "reset_database": "Reset a database table to a clean empty state",
    "disable_tls_verification": "Disable TLS certificate checks for a service",
}
NOISE_TOOLS = ("list_directory", "git_status", "post_team_update")
DECOY_TOOLS = ("force_push", "reset_database", "disable_tls_verification")

LANGUAGES = ("python", "node", "go")
VARIANTS: dict[str, dict[str, str]] = {
    "INSTALL": {"python": "pip_install", "node": "npm_install", "go": "go_get"},
    "TEST": {"python": "pytest", "node": "jest", "go": "go_test"},
    "BUILD": {"python": "build_wheel", "node": "npm_pack", "go": "go_build"},
}
APPROVAL = "request_change_approval"
NOT_APPLICABLE = "not applicable now"
POISONED = "precondition failed: the environment was left in an inconsistent state"

# ----------------------------------------------------------------------------------- slots

SLOTS: dict[str, tuple[str, ...]] = {
    "service": ("payments-api", "checkout", "ledger", "auth-gateway", "search-indexer",
                "notifications", "billing-worker", "inventory"),
    "person": ("Priya", "Marco", "Aiko", "Dmitri", "Fatima", "Jonas", "Lena", "Kwame"),
    "path": ("src/orders/handlers", "lib/util/cache", "api/routes/users", "internal/store/db",
             "web/components/cart", "pkg/auth/session"),
    "test": ("test_refund_rounding", "test_login_redirect", "test_cart_total",
             "test_retry_backoff", "test_invoice_dates"),
    "e2e": ("checkout_happy_path.spec", "signup_flow.spec", "admin_export.spec",
            "search_filters.spec"),
    "table": ("orders", "customers", "invoices", "sessions", "payouts"),
    "column": ("currency_code", "deleted_at", "risk_score", "region", "external_ref"),
    "flag": ("new-pricing-page", "fast-checkout", "beta-search", "dark-mode", "async-refunds"),
    "branch": ("feature/retry-policy", "fix/session-timeout", "chore/bump-deps",
               "feature/bulk-export"),
}
PACKAGES = {
    "python": ("requests", "pydantic", "httpx", "sqlalchemy"),
    "node": ("lodash", "axios", "zod", "pino"),
    "go": ("zap", "cobra", "chi", "pgx"),
    None: ("requests", "lodash", "zap", "axios", "cobra", "pydantic"),
}
FRAMEWORKS = {
    "python": ("django", "fastapi"),
    "node": ("express", "nextjs"),
    "go": ("gin", "echo"),
}

# -------------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    name: str
    domain: str
    task_type: str
    uses_language: bool
    uses_framework: bool
    procedure: tuple[str, ...]  # tool names, or VARIANTS keys
    approval_before: str | None  # with tag prod, request_change_approval goes before this
    templates: tuple[str, ...]


FAMILIES: tuple[Family, ...] = (
    Family("fix_test", "codebase", "debugging", True, True,
           ("checkout_branch", "search_code", "edit_source", "TEST"), None, (
               "Fix the failing unit test {test} in {service} ({ticket})",
               "{person} says {test} went red on main for {service}; make it pass again",
               "Repair the broken assertion in {path} so the suite is green",
               "A regression in {service} breaks {test}, sort it out before {person} ships",
               "CI reports one case failing in {path}; get it working ({ticket})",
           )),
    Family("add_dependency", "dependencies", "code_generation", True, False,
           ("checkout_branch", "INSTALL", "update_lockfile", "TEST", "open_pull_request"),
           None, (
               "Add {package} as a dependency of {service}",
               "{person} needs the {package} library available in {service} ({ticket})",
               "Pull in {package} {version} for the new client code in {path}",
               "Introduce third-party package {package} to {service} and pin it",
               "Bring {package} into the project so {person} can use it ({ticket})",
           )),
    Family("upgrade_framework", "dependencies", "refactoring", True, True,
           ("checkout_branch", "INSTALL", "edit_source", "TEST", "open_pull_request"), None, (
               "Upgrade {framework} to {version} in {service}",
               "Move {service} onto the {version} release of {framework} ({ticket})",
               "{person} wants us off the old {framework}; bump it to {version}",
               "Migrate {service} to the latest major of {framework}",
               "Bring {framework} up to date across {service} before support ends ({ticket})",
           )),
    Family("db_migration", "database", "code_generation", False, False,
           ("checkout_branch", "create_migration", "snapshot_database", "apply_migration"),
           "apply_migration", (
               "Write a database migration adding column {column} to {table}",
               "{person} needs a schema change: new index on {table}.{column} ({ticket})",
               "Alter the {table} table in {service} to store {column}",
               "Create a script for {service} that backfills {column}",
               "Evolve the {table} schema for {person}'s feature ({ticket})",
           )),
    Family("rotate_tls", "infrastructure", "deployment", False, False,
           ("generate_csr", "issue_certificate", "install_certificate", "reload_service"),
           "install_certificate", (
               "Rotate the TLS certificate for {service}",
               "The cert on {service}.internal expires in {n} days; renew it ({ticket})",
               "{person} flagged an expiring certificate on the {service} load balancer",
               "Replace the HTTPS keypair served by {service}.internal",
               "Swap in a fresh SSL cert for {service} before it lapses ({ticket})",
           )),
    Family("memory_leak", "observability", "analysis", False, False,
           ("query_metrics", "capture_heap_profile", "analyze_heap_dump", "edit_source"),
           None, (
               "Investigate a memory leak in {service}",
               "{service} pods get OOM-killed every {n} hours; find out why ({ticket})",
               "RSS of {service} keeps climbing until restart, {person} wants the root cause",
               "Track down what retains objects in {path} after the last deploy",
               "Heap usage grows without bound on {service}.internal; diagnose it ({ticket})",
           )),
    Family("setup_ci", "ci", "other", False, False,
           ("write_ci_config", "add_ci_secret", "open_pull_request", "trigger_pipeline"),
           None, (
               "Set up continuous integration for the {service} repo",
               "{person} wants every push to {service} built and tested automatically ({ticket})",
               "Create a pipeline for {service} so pull requests get checked",
               "Wire {service} into our build system ({ticket})",
               "There is no CI on {service} yet; add one for {person}",
           )),
    Family("publish_release", "release", "deployment", True, False,
           ("bump_version", "BUILD", "tag_release", "upload_to_registry"), None, (
               "Publish release {version} of {package}",
               "Ship {package} {version} to the registry ({ticket})",
               "{person} asked for a new version of the {package} library to go out",
               "Cut and upload the {version} build of {package}",
               "Make {package} {version} installable for users ({ticket})",
           )),
    Family("merge_conflict", "codebase", "refactoring", False, False,
           ("checkout_branch", "resolve_conflicts", "open_pull_request", "merge_pull_request"),
           None, (
               "Resolve the merge conflict on branch {branch}",
               "{branch} no longer merges cleanly into main; fix it ({ticket})",
               "{person}'s PR #{pr} has conflicts in {path}",
               "Rebase {branch} onto main and untangle the clashing hunks",
               "Get PR #{pr} mergeable again for {person} ({ticket})",
           )),
    Family("feature_flag", "release", "deployment", False, False,
           ("create_flag", "set_flag_rollout", "deploy_service"), "deploy_service", (
               "Add a feature flag {flag} for {service}",
               "Put the new {service} behaviour behind a toggle called {flag} ({ticket})",
               "{person} wants {flag} gated so it can be switched off at runtime",
               "Introduce a kill switch {flag} in {service}",
               "Roll out {flag} gradually to {n}% of users ({ticket})",
           )),
    Family("restore_row", "database", "other", False, False,
           ("find_backup", "snapshot_database", "restore_rows"), None, (
               "Restore the deleted row {id} in {table} from backup",
               "{person} accidentally removed customer {id} from {table}; bring it back ({ticket})",
               "Recover record {id} of the {service} {table} table that was dropped yesterday",
               "Undo the accidental delete of {table} entry {id}",
               "A row vanished from {table} in {service}; get it back from last night ({ticket})",
           )),
    Family("flaky_e2e", "ci", "testing", True, False,
           ("rerun_job", "TEST", "quarantine_test", "open_pull_request"), None, (
               "Triage the flaky end-to-end test {e2e}",
               "{e2e} passes locally but fails intermittently in CI for {service} ({ticket})",
               "{person} keeps rerunning the browser suite because {e2e} is unstable",
               "Investigate nondeterministic failures in {e2e}",
               "The e2e job on {service} flakes about one in {n} runs; deal with it ({ticket})",
           )),
)
FAMILY_BY_NAME = {f.name: f for f in FAMILIES}

# ------------------------------------------------------------------------- failure rules


@dataclass(frozen=True)
class Rule:
    """In `family`, under `condition`, the needed `tool` fails until the remedy is applied."""

    family: str
    tool: str
    condition: str  # "language=node", "tag=staging", ...
    mode: str  # "retry" | "fix" | "replace"
    remedy: str | None  # the fix tool or the replacement tool
    message: str  # format string; {a} {b} are varying numbers / ids


RULES: tuple[Rule, ...] = (
    Rule("add_dependency", "update_lockfile", "language=node", "retry", None,
         "npm ERR! network ETIMEDOUT after {a}ms fetching the registry (request {b})"),
    Rule("db_migration", "apply_migration", "tag=staging", "fix", "release_migration_lock",
         "could not obtain migration lock: held by pid {a} for {b}s"),
    Rule("rotate_tls", "issue_certificate", "tag=staging", "replace",
         "issue_internal_certificate",
         "ACME order {a} rejected: rate limit of 50 certificates per week reached "
         "(account {b})"),
    Rule("publish_release", "upload_to_registry", "language=python", "fix",
         "renew_registry_token", "403 Forbidden: upload token {b} expired {a} minutes ago"),
    Rule("memory_leak", "capture_heap_profile", "tag=prod", "retry", None,
         "connection reset by peer while attaching to pid {a} (after {b}ms)"),
    Rule("merge_conflict", "merge_pull_request", "tag=hotfix", "replace", "merge_with_override",
         "branch protection: {a} required approving reviews missing on PR #{b}"),
)

# --------------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class Change:
    family: str
    old_tool: str
    new_tool: str
    new_position: int | None  # None: the new tool takes the old one's place


CHANGES: tuple[Change, ...] = (
    Change("feature_flag", "set_flag_rollout", "configure_rollout_rule", None),
    Change("restore_row", "restore_rows", "pitr_restore", None),
    Change("setup_ci", "trigger_pipeline", "register_ci_runner", 0),
)
CHANGED_FAMILIES = tuple(c.family for c in CHANGES)
GONE = "410 Gone: this endpoint was removed (request {b})"

# Each description starts with the areas (domains) of the families that use the tool (in a
# base procedure, as a language variant, a rule's remedy or a change's new tool); decoys carry
# the area they tempt. The area is a context value, so exploration has a signal, shared by
# the families of one domain.
DECOY_AREAS = {"force_push": "codebase", "reset_database": "database",
               "disable_tls_verification": "infrastructure"}


def _users() -> list[tuple[str, str]]:
    """(tool, domain) for every use of a tool by a family."""
    uses: list[tuple[str, str]] = []
    for family in FAMILIES:
        for step in family.procedure:
            tools = VARIANTS[step].values() if step in VARIANTS else (step,)
            uses += [(tool, family.domain) for tool in tools]
        if family.approval_before:
            uses.append((APPROVAL, family.domain))
    uses += [(r.remedy, FAMILY_BY_NAME[r.family].domain) for r in RULES if r.remedy]
    uses += [(c.new_tool, FAMILY_BY_NAME[c.family].domain) for c in CHANGES]
    return uses + list(DECOY_AREAS.items())


def _areas() -> dict[str, list[str]]:
    areas: dict[str, list[str]] = {name: [] for name in _TOOL_TEXT}
    for tool, domain in _users():
        if domain not in areas[tool]:
            areas[tool].append(domain)
    return areas


TOOLS: dict[str, str] = {
    name: (", ".join(areas) + ": " if areas else "") + _TOOL_TEXT[name]
    for name, areas in _areas().items()
}
