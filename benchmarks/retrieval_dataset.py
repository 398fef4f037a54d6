"""A labelled retrieval set for selfmem: seed episodes, graded queries and distractor fillers.

``SEEDS`` are past agent tasks written by hand (debugging, deploys, data cleaning, docs,
refactors, tests, ML, research), each with its tool steps and an outcome; some failed or
half-succeeded. ``QUERIES`` are new tasks whose relevant seeds are known, with graded
relevance: **2** is the past task itself (the one an agent should be shown first), **1** a
related one (same subsystem or the same kind of problem in another stack). Each query has a
``kind``:

- ``lexical``: worded much like the past task (shares its distinctive words);
- ``paraphrase``: the same need said differently, sharing at most two content words with
  the task description (often none), e.g. "the sign-in test keeps breaking" for "Fix the
  failing pytest for the /login endpoint";
- ``context``: an ambiguous request made specific only by its context (domain / language):
  the same wording appears twice with different contexts and different answers.

``fillers(n)`` generates ``n`` plausible distractor episodes (other tasks in the same
domains, languages and tools) to grow a store to 1k / 10k / 100k items. They are built from
subjects chosen to be unrelated to every seed, and every generated text is checked against
``FORBIDDEN_STEMS`` (the distinctive words of the seeds and queries), so no filler is
relevant to any query.

``check()`` validates the set (unique keys, labels that point at seeds, paraphrase overlap
within bounds, fillers clean); ``python -m benchmarks.retrieval_dataset`` prints a summary.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from selfmem import TaskOutcome, TaskType
from selfmem.retrieval.lexical import query_terms, tokenize

__all__ = [
    "FORBIDDEN_STEMS",
    "FORBIDDEN_WORDS",
    "QUERIES",
    "SEEDS",
    "EpisodeSpec",
    "LabelledQuery",
    "Step",
    "check",
    "content_overlap",
    "fillers",
]


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One tool call of a spec'd episode; ``error`` marks a failed call."""

    tool: str
    action: str
    observation: str = ""
    error: str | None = None

    def as_fields(self) -> dict[str, Any]:
        """Keyword fields for ``SelfLearningMemory.log_step``."""
        fields: dict[str, Any] = {"tool": self.tool, "action": self.action}
        if self.error is not None:
            fields["error"] = self.error
        else:
            fields["observation"] = self.observation
        return fields


@dataclass(frozen=True, slots=True)
class EpisodeSpec:
    """A past task to store: description, context, type, steps and how it ended.

    ``outcome`` is ``"success"``, ``"partial"`` or ``"failure"``; ``verdict`` says why.
    """

    key: str
    description: str
    context: Mapping[str, Any]
    task_type: TaskType
    steps: tuple[Step, ...]
    outcome: str = "success"
    verdict: str = ""

    def task_outcome(self) -> TaskOutcome:
        if self.outcome == "success":
            return TaskOutcome.success(self.verdict)
        if self.outcome == "partial":
            return TaskOutcome.partial(self.verdict, completed=["main change"], failed=["rest"])
        return TaskOutcome.failure(self.verdict or "failed")

    def text(self) -> str:
        """Everything searchable about it: description and step text."""
        parts = [self.description]
        for step in self.steps:
            parts += [step.tool, step.action, step.observation, step.error or ""]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A new task and its graded relevant seeds (seed key -> 2 exact, 1 related)."""

    text: str
    relevant: Mapping[str, int]
    kind: str
    context: Mapping[str, Any] | None = None
    note: str = field(default="", compare=False)


# -- compact builders -------------------------------------------------------------------------


def _ctx(domain: str, language: str | None = None, framework: str | None = None,
         *tags: str) -> dict[str, Any]:  # fmt: skip
    found: dict[str, Any] = {"domain": domain, "tags": list(tags)}
    if language:
        found["language"] = language
    if framework:
        found["framework"] = framework
    return found


def _steps(*lines: str) -> tuple[Step, ...]:
    """Steps from ``"tool: action => observation"``; a leading ``!`` makes it an error."""
    steps: list[Step] = []
    for line in lines:
        failed = line.startswith("!")
        head, _, result = line.lstrip("!").partition(" => ")
        tool, _, action = head.partition(": ")
        if failed:
            steps.append(Step(tool.strip(), action.strip(), error=result.strip()))
        else:
            steps.append(Step(tool.strip(), action.strip(), result.strip()))
    return tuple(steps)


def _seed(
    key: str,
    description: str,
    context: dict[str, Any],
    task_type: TaskType,
    steps: tuple[Step, ...],
    outcome: str = "success",
    verdict: str = "",
) -> EpisodeSpec:
    return EpisodeSpec(key, description, context, task_type, steps, outcome, verdict)


_T = TaskType

# -- seeds: 60 past tasks ---------------------------------------------------------------------

# fmt: off
_WEB = [
    _seed("login-test", "Fix the failing pytest for the /login endpoint",
          _ctx("web", "python", "fastapi", "auth", "pytest"), _T.DEBUGGING, _steps(
              "!run_tests: pytest tests/api/test_auth.py => test_login_returns_token: "
              "AssertionError: 401 != 200",
              "read_file: src/api/auth.py => verify_password passes a str to bcrypt.checkpw",
              "edit_file: encode the submitted password to bytes before checkpw => 1 file changed",
              "run_tests: pytest tests/api/test_auth.py => 14 passed"),
          verdict="login returns a token again"),
    _seed("session-expiry", "Find out why Flask sessions expire after a few minutes",
          _ctx("web", "python", "flask", "sessions"), _T.DEBUGGING, _steps(
              "grep: PERMANENT_SESSION_LIFETIME => config.py:12 PERMANENT_SESSION_LIFETIME = 300",
              "read_file: app/views/account.py => session.permanent is never set",
              "edit_file: lifetime timedelta(days=7) and session.permanent = True => 2 files",
              "run_tests: pytest tests/test_account.py => 9 passed"),
          verdict="sessions now last a week"),
    _seed("password-reset", "Implement a password reset flow with signed one-time email links",
          _ctx("web", "python", "django", "auth", "email"), _T.CODE_GENERATION, _steps(
              "search_docs: django PasswordResetTokenGenerator => token invalidated on login",
              "edit_file: accounts/views.py add PasswordResetView and confirm view => ok",
              "edit_file: templates/registration/reset_email.txt => ok",
              "run_tests: pytest accounts => 21 passed"),
          verdict="reset links expire after one use"),
    _seed("github-oauth", "Add GitHub OAuth sign-in with authlib",
          _ctx("web", "python", "flask", "auth", "oauth"), _T.CODE_GENERATION, _steps(
              "edit_file: app/auth/github.py register the authlib client => ok",
              "!http_request: GET /auth/github/callback => redirect_uri_mismatch",
              "edit_file: set the callback URL registered in the GitHub app settings => ok",
              "http_request: GET /auth/github/callback => 302 to /dashboard"),
          verdict="users can sign in with GitHub"),
    _seed("rate-limit", "Add per-IP rate limiting to the public REST API using Redis",
          _ctx("web", "python", "fastapi", "api", "redis"), _T.CODE_GENERATION, _steps(
              "edit_file: app/middleware/ratelimit.py sliding window counter in Redis => ok",
              "run_tests: pytest tests/test_ratelimit.py => 6 passed",
              "shell: hey -n 500 http://localhost:8000/v1/items => 100 OK, 400 status 429"),
          verdict="429 after 100 requests per minute"),
    _seed("cors-preflight", "Fix CORS preflight failures when the React frontend calls the API",
          _ctx("web", "python", "fastapi", "cors"), _T.DEBUGGING, _steps(
              "browser_console: load the app => blocked by CORS policy: no "
              "Access-Control-Allow-Origin header on the OPTIONS response",
              "edit_file: main.py add CORSMiddleware with the frontend origin => ok",
              "http_request: OPTIONS /v1/items => 200 with allow-origin header"),
          verdict="preflight passes"),
    _seed("signup-validation", "Add client-side validation to the React signup form",
          _ctx("web", "typescript", "react", "forms"), _T.CODE_GENERATION, _steps(
              "read_file: src/components/SignupForm.tsx => uncontrolled inputs, no checks",
              "edit_file: add zod schema and react-hook-form resolver => ok",
              "run_tests: npx jest SignupForm => 8 passed"),
          verdict="invalid fields show inline messages"),
    _seed("ts-strict", "Resolve TypeScript strict mode errors after upgrading to TypeScript 5.4",
          _ctx("web", "typescript", None, "typescript"), _T.REFACTORING, _steps(
              "!shell: npx tsc --noEmit => 214 errors: Object is possibly 'undefined'",
              "edit_file: add narrowing and non-null checks in src/store => 120 errors left",
              "edit_file: type the API client responses => 37 errors left"),
          outcome="partial", verdict="37 errors remain in legacy widgets"),
    _seed("orders-n-plus-one",
          "Speed up the orders list page by removing N+1 queries in the Django ORM",
          _ctx("web", "python", "django", "performance", "orm"), _T.DEBUGGING, _steps(
              "profile: django-debug-toolbar on /orders => 412 SQL queries, 3.8 s",
              "edit_file: select_related('customer') and prefetch_related('items') => ok",
              "profile: /orders again => 3 SQL queries, 140 ms"),
          verdict="page renders in 140 ms"),
    _seed("ws-reconnect", "Make the chat websocket client reconnect with exponential backoff",
          _ctx("web", "typescript", None, "websocket", "chat"), _T.CODE_GENERATION, _steps(
              "read_file: src/chat/socket.ts => onclose only logs",
              "edit_file: reconnect with backoff 1s..30s plus jitter, resubscribe rooms => ok",
              "run_tests: npx vitest socket => 5 passed"),
          verdict="chat recovers after network drops"),
    _seed("node-leak", "Track down the memory leak in the Node.js image resizing worker",
          _ctx("web", "javascript", "node", "memory", "workers"), _T.DEBUGGING, _steps(
              "shell: node --inspect worker.js and take two heap snapshots => "
              "retained sharp Buffers grow by 40 MB per 1000 jobs",
              "grep: queue.on('completed' => listener added inside the job handler",
              "edit_file: register the listener once at start-up => ok",
              "shell: run 10000 jobs => heap flat at 180 MB"),
          verdict="RSS stays flat"),
    _seed("celery-leak", "Fix the Celery worker whose memory grows until it is OOM-killed",
          _ctx("data", "python", "celery", "memory", "workers"), _T.DEBUGGING, _steps(
              "shell: dmesg | grep -i oom => Killed process 8812 (celery) rss 7.9 GB",
              "read_file: tasks/enrich.py => module-level dict caches every payload",
              "edit_file: bound the cache with lru_cache(maxsize=1024) and set "
              "worker_max_tasks_per_child=200 => ok",
              "shell: soak test 2 h => worker RSS between 300 and 420 MB"),
          verdict="no more OOM kills"),
]

_INFRA = [
    _seed("compose-staging", "Deploy the API service to staging with docker compose",
          _ctx("infra", "yaml", "docker", "deploy", "staging"), _T.DEPLOYMENT, _steps(
              "shell: docker compose -f compose.staging.yml build => 3 images built",
              "!shell: docker compose up -d => Bind for 0.0.0.0:5432 failed: port is "
              "already allocated",
              "edit_file: compose.staging.yml stop publishing the postgres port => ok",
              "shell: docker compose up -d => 3 containers started",
              "http_request: GET https://staging.example.com/health => 200"),
          verdict="staging runs the new build"),
    _seed("payments-crashloop",
          "Debug the payments pod stuck in CrashLoopBackOff on Kubernetes",
          _ctx("infra", "yaml", "kubernetes", "k8s", "payments"), _T.DEBUGGING, _steps(
              "shell: kubectl describe pod payments-7f9c => Back-off restarting failed container",
              "shell: kubectl logs payments-7f9c --previous => KeyError: 'STRIPE_API_KEY'",
              "edit_file: deploy/payments.yaml add the secretKeyRef for STRIPE_API_KEY => ok",
              "shell: kubectl rollout status deploy/payments => successfully rolled out"),
          verdict="pod is Running"),
    _seed("helm-rollback", "Roll back the failed Helm release of the web frontend",
          _ctx("infra", "yaml", "helm", "k8s", "release"), _T.DEPLOYMENT, _steps(
              "shell: helm history web-frontend => revision 42 failed, 41 deployed",
              "shell: helm rollback web-frontend 41 => Rollback was a success",
              "http_request: GET https://www.example.com => 200"),
          verdict="revision 41 serves traffic"),
    _seed("terraform-s3", "Create a versioned S3 bucket with lifecycle rules in Terraform",
          _ctx("infra", "hcl", "terraform", "aws", "s3"), _T.CODE_GENERATION, _steps(
              "edit_file: modules/storage/main.tf aws_s3_bucket_versioning and "
              "lifecycle_configuration (glacier after 90 days) => ok",
              "shell: terraform plan => 3 to add, 0 to change, 0 to destroy",
              "shell: terraform apply => Apply complete! Resources: 3 added"),
          verdict="bucket created"),
    _seed("ci-pip-cache", "Speed up the GitHub Actions workflow by caching pip dependencies",
          _ctx("infra", "yaml", "github-actions", "ci", "python"), _T.OTHER, _steps(
              "read_file: .github/workflows/test.yml => pip install takes 9 of 14 minutes",
              "edit_file: actions/setup-python with cache: pip keyed on requirements*.txt => ok",
              "shell: gh run watch => workflow finished in 6m 10s"),
          verdict="14 min -> 6 min"),
    _seed("tls-renew", "Renew the expired TLS certificate on the nginx ingress",
          _ctx("infra", "yaml", "kubernetes", "tls", "nginx"), _T.DEPLOYMENT, _steps(
              "!http_request: GET https://shop.example.com => certificate has expired",
              "shell: kubectl describe certificate shop-tls => ACME challenge failing: 404",
              "edit_file: ingress class annotation for cert-manager solver => ok",
              "shell: kubectl get certificate shop-tls => READY True, expires in 89 days"),
          verdict="certificate valid again"),
    _seed("prod-migration-fail",
          "Deploy release 4.2 to production with the new database migration",
          _ctx("infra", "python", "django", "deploy", "production", "database"), _T.DEPLOYMENT,
          _steps(
              "shell: ./deploy.sh 4.2 production => image pushed, starting migrations",
              "!shell: python manage.py migrate => canceling statement due to lock timeout "
              "on table orders",
              "shell: ./deploy.sh rollback 4.1 => rolled back"),
          outcome="failure",
          verdict="migration took a lock on the orders table and timed out; rolled back"),
    _seed("disk-full",
          "Free disk space on the build server after /var/lib/docker filled the root volume",
          _ctx("infra", "shell", None, "disk", "docker"), _T.OTHER, _steps(
              "shell: df -h / => 100% used",
              "shell: du -sh /var/lib/docker/* => overlay2 212G",
              "shell: docker system prune -af --filter until=72h => reclaimed 180 GB",
              "shell: df -h / => 38% used"),
          verdict="added a weekly prune timer"),
    _seed("lb-502", "Investigate intermittent 502 errors from the load balancer after the "
          "DNS change", _ctx("infra", None, None, "dns", "networking"), _T.DEBUGGING, _steps(
              "shell: dig api.example.com => two A records, one an old decommissioned host",
              "edit_file: remove the stale record in the zone file => ok",
              "shell: curl -s -o /dev/null -w '%{http_code}' x200 => 196 OK, 4 bad gateway"),
          outcome="partial", verdict="502s are rarer; TTL caches still hold the old record"),
    _seed("ci-python", "Set up a CI pipeline that runs lint and tests on every pull request",
          _ctx("infra", "python", "github-actions", "ci"), _T.OTHER, _steps(
              "edit_file: .github/workflows/ci.yml ruff check and pytest on 3.11 and 3.12 => ok",
              "shell: gh pr create --draft => checks running",
              "shell: gh pr checks => lint pass, test pass"),
          verdict="required checks enabled on main"),
    _seed("ci-go", "Set up a CI pipeline that runs lint and tests on every pull request",
          _ctx("infra", "go", "github-actions", "ci"), _T.OTHER, _steps(
              "edit_file: .github/workflows/ci.yml golangci-lint and go test ./... => ok",
              "!shell: gh pr checks => golangci-lint: errcheck: 4 unchecked errors",
              "edit_file: handle the returned errors in cmd/server => ok",
              "shell: gh pr checks => lint pass, test pass"),
          verdict="required checks enabled on main"),
    _seed("dockerfile-rust", "Write a multi-stage Dockerfile to shrink the service image",
          _ctx("infra", "rust", "docker", "docker"), _T.CODE_GENERATION, _steps(
              "shell: docker images svc => 1.3 GB (rust:1.79 base)",
              "edit_file: Dockerfile cargo-chef planner, builder, distroless runtime => ok",
              "shell: docker build -t svc . && docker images svc => 24 MB"),
          verdict="1.3 GB -> 24 MB"),
    _seed("dockerfile-node", "Write a multi-stage Dockerfile to shrink the service image",
          _ctx("infra", "javascript", "docker", "docker"), _T.CODE_GENERATION, _steps(
              "shell: docker images web => 1.1 GB (node:20 base, dev dependencies included)",
              "edit_file: Dockerfile build stage, npm ci --omit=dev, node:20-slim runtime => ok",
              "shell: docker build -t web . && docker images web => 190 MB"),
          verdict="1.1 GB -> 190 MB"),
    _seed("report-cron-dupes", "Stop the nightly report cron job from sending duplicate emails",
          _ctx("infra", "python", None, "cron", "email"), _T.DEBUGGING, _steps(
              "shell: grep send_report /var/log/syslog => two runs at 02:00 from app-1 and app-2",
              "edit_file: take a Postgres advisory lock before sending => ok",
              "shell: run the job on both hosts => one email sent"),
          verdict="one email per night"),
]

_DATA = [
    _seed("crm-dedupe", "Deduplicate customer records in the CRM export CSV by normalized email",
          _ctx("data", "python", "pandas", "csv", "cleaning"), _T.ANALYSIS, _steps(
              "python: df = pd.read_csv('crm_export.csv') => 48210 rows",
              "python: df['email'].str.strip().str.lower().duplicated().sum() => 3912",
              "python: keep the most recently updated row per email => 44298 rows",
              "write_file: crm_dedup.csv => ok"),
          verdict="3912 duplicates removed"),
    _seed("mixed-dates", "Normalize mixed date formats in the sales spreadsheet",
          _ctx("data", "python", "pandas", "cleaning", "dates"), _T.ANALYSIS, _steps(
              "!python: pd.to_datetime(df['sold_on']) => ValueError: day is out of range for "
              "month",
              "python: detect DD/MM/YYYY rows by a day > 12 and parse with dayfirst => ok",
              "python: df['sold_on'].dt.strftime('%Y-%m-%d') => all ISO 8601"),
          verdict="every row in ISO format"),
    _seed("revenue-sql", "Optimize the slow monthly revenue SQL report",
          _ctx("data", "sql", "postgres", "performance"), _T.ANALYSIS, _steps(
              "sql: EXPLAIN ANALYZE the report query => Seq Scan on payments, 38.2 s",
              "sql: CREATE INDEX CONCURRENTLY ON payments (created_at) => ok",
              "sql: EXPLAIN ANALYZE again => Index Scan, 0.41 s"),
          verdict="38 s -> 0.4 s"),
    _seed("airflow-drift",
          "Repair the nightly Airflow ingestion DAG that breaks when the vendor adds JSON fields",
          _ctx("data", "python", "airflow", "etl", "schema"), _T.DEBUGGING, _steps(
              "shell: airflow tasks logs ingest_vendor load => KeyError: 'discount_code'",
              "edit_file: dags/ingest_vendor.py map unknown keys to an extras column => ok",
              "!shell: airflow dags test ingest_vendor => BigQuery: schema mismatch, field "
              "extras has changed type"),
          outcome="failure", verdict="table schema must be migrated first; left for the data team"),
    _seed("sensor-nulls", "Fill gaps in the sensor readings dataset before training",
          _ctx("data", "python", "pandas", "timeseries", "cleaning"), _T.ANALYSIS, _steps(
              "python: df.isna().mean() => temperature 7.9%, humidity 3.1% missing",
              "python: resample to 1 min and interpolate(method='time', limit=10) => ok",
              "python: drop the remaining gaps longer than 10 min => 0.4% rows dropped"),
          verdict="training set complete"),
    _seed("supplier-encoding",
          "Fix garbled accented characters when importing the supplier file",
          _ctx("data", "python", None, "encoding"), _T.DEBUGGING, _steps(
              "read_file: supplier_2024.txt => 'CafÃ© crÃ¨me' in product names",
              "python: chardet.detect(raw) => cp1252 with 0.73 confidence",
              "edit_file: open the file with encoding='cp1252' and write utf-8 => ok"),
          verdict="names read correctly"),
    _seed("events-parquet", "Convert the event logs from CSV to partitioned Parquet",
          _ctx("data", "python", "pyarrow", "parquet", "storage"), _T.CODE_GENERATION, _steps(
              "python: pyarrow.csv.read_csv over 412 files => 1.9 billion rows",
              "python: pq.write_to_dataset(partition_cols=['event_date']) => 7.1 GB from 96 GB",
              "sql: duckdb count(*) over the dataset => matches the CSV total"),
          verdict="13x smaller, queries 20x faster"),
    _seed("dbt-unique", "dbt unique test fails on the orders model after the backfill",
          _ctx("data", "sql", "dbt", "dbt", "testing"), _T.DEBUGGING, _steps(
              "!shell: dbt test -s orders => unique_orders_order_id: 1840 failures",
              "sql: find the duplicate order_id rows => the backfill overlapped the daily load",
              "edit_file: models/orders.sql qualify row_number() over (partition by order_id "
              "order by loaded_at desc) = 1 => ok",
              "shell: dbt build -s orders => PASS"),
          verdict="orders is unique again"),
]

_ML = [
    _seed("cuda-oom", "Training crashes with CUDA out of memory at batch size 64",
          _ctx("ml", "python", "pytorch", "gpu", "training"), _T.DEBUGGING, _steps(
              "!shell: python train.py --batch-size 64 => torch.cuda.OutOfMemoryError: tried "
              "to allocate 2.00 GiB",
              "edit_file: gradient accumulation over 4 steps of 16 and torch.autocast bf16 => ok",
              "shell: python train.py => peak 14.2 GiB of 24 GiB, loss matches"),
          verdict="same effective batch, fits in memory"),
    _seed("drift-report", "Analyse the accuracy drop of the fraud model on last month's data",
          _ctx("ml", "python", "sklearn", "monitoring", "drift"), _T.ANALYSIS, _steps(
              "python: evaluate on March vs January holdout => AUC 0.91 -> 0.83",
              "python: population stability index per feature => merchant_category PSI 0.41",
              "write_file: drift_report.md => new merchant categories since the app launch"),
          verdict="retrain with the new categories"),
    _seed("churn-sweep", "Run a hyperparameter sweep for the XGBoost churn model",
          _ctx("ml", "python", "xgboost", "tuning"), _T.RESEARCH, _steps(
              "python: optuna study with 200 trials over depth, eta, subsample => running",
              "python: best trial => max_depth 6, eta 0.05, AUC 0.874 (baseline 0.861)"),
          verdict="AUC +0.013"),
    _seed("tokenizer-mismatch",
          "Inference returns gibberish text after swapping the model checkpoint",
          _ctx("ml", "python", "transformers", "nlp", "inference"), _T.DEBUGGING, _steps(
              "python: tokenizer.vocab_size, model.config.vocab_size => 32000 vs 50257",
              "edit_file: load the tokenizer from the same checkpoint directory => ok",
              "python: generate('Hello') => coherent output"),
          verdict="tokenizer and weights match"),
]

_DOCS = [
    _seed("billing-api-docs",
          "Write API reference docs for the billing endpoints from the OpenAPI spec",
          _ctx("docs", "markdown", "mkdocs", "api", "billing"), _T.DOCUMENTATION, _steps(
              "read_file: openapi.yaml => 14 billing paths, 6 without descriptions",
              "write_file: docs/api/billing.md with request and response examples => ok",
              "shell: mkdocs build --strict => built in 3.1 s"),
          verdict="reference published"),
    _seed("readme-quickstart",
          "Rewrite the README quickstart so a new user can install and run the CLI",
          _ctx("docs", "markdown", None, "onboarding"), _T.DOCUMENTATION, _steps(
              "shell: follow the current README in a clean container => fails at step 3: "
              "missing libpq",
              "edit_file: README.md pipx install, one example command, expected output => ok",
              "shell: follow the new README in a clean container => works in 4 minutes"),
          verdict="install to first result in under 5 minutes"),
    _seed("release-notes",
          "Draft the changelog and release notes for v2.3.0 from merged pull requests",
          _ctx("docs", "markdown", None, "release"), _T.DOCUMENTATION, _steps(
              "shell: gh pr list --state merged --search 'milestone:v2.3.0' => 47 PRs",
              "write_file: CHANGELOG.md grouped as Added, Changed, Fixed, Deprecated => ok",
              "write_file: docs/releases/2.3.0.md highlights and upgrade notes => ok"),
          verdict="notes reviewed"),
    _seed("geometry-docstrings",
          "Add Google-style docstrings to the public functions of the geometry module",
          _ctx("docs", "python", None, "docstrings"), _T.DOCUMENTATION, _steps(
              "shell: interrogate geometry/ => 31% documented",
              "edit_file: geometry/polygon.py, geometry/transform.py Args/Returns/Raises => ok",
              "shell: interrogate geometry/ => 100% documented"),
          verdict="all public functions documented"),
    _seed("mkdocs-links", "Fix broken links in the mkdocs site after pages were moved",
          _ctx("docs", "markdown", "mkdocs", "links"), _T.DOCUMENTATION, _steps(
              "!shell: mkdocs build --strict => 23 warnings: Doc file contains a link to "
              "'guide/setup.md', not found",
              "edit_file: update relative links, add redirects plugin entries => ok",
              "shell: mkdocs build --strict => 0 warnings"),
          verdict="no broken links"),
]

_CODE = [
    _seed("split-utils",
          "Split the 3,000-line utils.py into focused modules without breaking imports",
          _ctx("cli", "python", None, "cleanup"), _T.REFACTORING, _steps(
              "read_file: src/app/utils.py => 3012 lines, 5 unrelated groups of helpers",
              "edit_file: move into text.py, paths.py, timing.py, http.py, cache.py => ok",
              "edit_file: utils.py re-exports the old names with a deprecation warning => ok",
              "run_tests: pytest => 612 passed"),
          verdict="old imports still work"),
    _seed("uploader-async", "Convert the callback-based file uploader to async/await",
          _ctx("web", "javascript", "node", "async"), _T.REFACTORING, _steps(
              "read_file: lib/uploader.js => 6 levels of nested callbacks",
              "edit_file: promisify fs and S3 calls, async functions with try/catch => ok",
              "run_tests: npm test => 33 passed"),
          verdict="same behaviour, flat code"),
    _seed("config-keys",
          "Rename deprecated configuration keys and keep backward compatibility",
          _ctx("cli", "python", None, "config"), _T.REFACTORING, _steps(
              "grep: 'max_conn' and 'timeout_secs' => 41 uses in 12 files",
              "edit_file: alias table old -> new with a DeprecationWarning on load => ok",
              "run_tests: pytest tests/test_settings.py => 18 passed"),
          verdict="old keys accepted with a warning"),
    _seed("checkout-flags",
          "Remove stale feature flags and dead code from the checkout service",
          _ctx("web", "python", None, "cleanup", "checkout"), _T.REFACTORING, _steps(
              "shell: list flags unchanged for 180 days => 9 flags always on",
              "edit_file: inline the on branch and delete the off branch of each => -1240 lines",
              "run_tests: pytest services/checkout => 201 passed"),
          verdict="9 flags removed"),
    _seed("midnight-flaky",
          "Fix the test that fails only around midnight because of timezone handling",
          _ctx("cli", "python", "pytest", "flaky", "datetime"), _T.TESTING, _steps(
              "!run_tests: pytest tests/test_schedule.py at 23:59 UTC-5 => expected "
              "2024-03-02, got 2024-03-03",
              "read_file: scheduler/dates.py => date.today() mixed with UTC datetimes",
              "edit_file: use datetime.now(UTC) everywhere and freeze time in the test => ok",
              "run_tests: pytest tests/test_schedule.py with 24 frozen hours => passed"),
          verdict="deterministic"),
    _seed("cli-export",
          "Add an export subcommand to the CLI with a --format option for JSON and CSV",
          _ctx("cli", "python", "click", "cli"), _T.CODE_GENERATION, _steps(
              "edit_file: cli/main.py @cli.command() export with --format json|csv => ok",
              "run_tests: pytest tests/test_cli.py -k export => 4 passed"),
          verdict="export works in both formats"),
    _seed("billing-coverage", "Raise unit test coverage of the billing module from 60% to 85%",
          _ctx("web", "python", "pytest", "coverage", "billing"), _T.TESTING, _steps(
              "shell: pytest --cov=billing => 60%",
              "edit_file: tests for proration, refunds and currency rounding => 37 new tests",
              "shell: pytest --cov=billing => 86%"),
          verdict="86% coverage"),
    _seed("checkout-e2e", "Write Playwright end-to-end tests for the checkout flow",
          _ctx("web", "typescript", "playwright", "e2e", "checkout"), _T.TESTING, _steps(
              "edit_file: e2e/checkout.spec.ts cart, address, payment, confirmation => ok",
              "!run_tests: npx playwright test => payment step: iframe not ready, timeout "
              "30000 ms",
              "edit_file: wait for the Stripe frame to load => ok",
              "run_tests: npx playwright test => 5 passed, 1 flaky on webkit"),
          outcome="partial", verdict="webkit run still flaky"),
    _seed("go-race", "Fix the data race in the Go metrics collector reported by go test -race",
          _ctx("cli", "go", None, "concurrency"), _T.DEBUGGING, _steps(
              "!run_tests: go test -race ./metrics => WARNING: DATA RACE write at "
              "collector.go:88 by goroutine 14",
              "edit_file: guard the counters map with a sync.RWMutex => ok",
              "run_tests: go test -race -count=20 ./metrics => ok"),
          verdict="no races in 20 runs"),
    _seed("rust-borrow", "Resolve borrow checker errors in the Rust config parser",
          _ctx("cli", "rust", None, "lifetimes"), _T.DEBUGGING, _steps(
              "!shell: cargo build => error[E0502]: cannot borrow `self.tokens` as mutable "
              "because it is also borrowed as immutable",
              "edit_file: clone the peeked token before advancing the cursor => ok",
              "shell: cargo test => 48 passed"),
          verdict="compiles and passes"),
    _seed("deps-upgrade-py", "Upgrade the project's dependencies and fix the tests that broke",
          _ctx("web", "python", "pytest", "dependencies"), _T.TESTING, _steps(
              "shell: poetry update => pydantic 1.10 -> 2.7, httpx 0.24 -> 0.27",
              "!run_tests: pytest => 23 failed: AttributeError: 'Model' has no attribute 'dict'",
              "edit_file: model_dump instead of dict, field_validator instead of validator => ok",
              "run_tests: pytest => 431 passed"),
          verdict="on pydantic v2"),
    _seed("deps-upgrade-ts", "Upgrade the project's dependencies and fix the tests that broke",
          _ctx("web", "typescript", "jest", "dependencies"), _T.TESTING, _steps(
              "shell: npx npm-check-updates -u && npm install => 38 packages updated",
              "!run_tests: npx jest => SyntaxError: Cannot use import statement outside a "
              "module (nanoid 5 is ESM only)",
              "edit_file: jest.config transformIgnorePatterns for ESM packages => ok",
              "run_tests: npx jest => 289 passed"),
          verdict="all green on the new versions"),
    _seed("json-logging-py", "Add structured JSON logging with request ids",
          _ctx("web", "python", "fastapi", "logging", "observability"), _T.CODE_GENERATION,
          _steps(
              "edit_file: app/logging.py structlog JSONRenderer and a contextvar request_id "
              "=> ok",
              "edit_file: middleware sets request_id from the X-Request-ID header => ok",
              "shell: curl localhost:8000/health; tail app.log => {\"event\": \"request\", "
              "\"request_id\": \"4f1c\"}"),
          verdict="every line is JSON with a request_id"),
    _seed("json-logging-go", "Add structured JSON logging with request ids",
          _ctx("web", "go", "net/http", "logging", "observability"), _T.CODE_GENERATION,
          _steps(
              "edit_file: internal/log/log.go slog.NewJSONHandler as the default logger => ok",
              "edit_file: middleware stores the request id in the context and logs with it "
              "=> ok",
              "shell: curl localhost:8080/health; tail server.log => {\"msg\":\"request\","
              "\"request_id\":\"9b2e\"}"),
          verdict="every line is JSON with a request_id"),
    _seed("android-login-test", "Fix the failing login UI test on Android",
          _ctx("mobile", "kotlin", "espresso", "auth", "ui-test"), _T.DEBUGGING, _steps(
              "!run_tests: ./gradlew connectedAndroidTest => LoginActivityTest: "
              "NoMatchingViewException: with id login_button",
              "read_file: res/layout/activity_login.xml => button id renamed to sign_in_button",
              "edit_file: LoginActivityTest.kt use R.id.sign_in_button => ok",
              "run_tests: ./gradlew connectedAndroidTest => 12 passed"),
          verdict="UI test green"),
]

_RESEARCH = [
    _seed("vector-db-compare", "Compare vector databases for storing 10M embeddings",
          _ctx("research", None, None, "vectors", "databases"), _T.RESEARCH, _steps(
              "search_web: pgvector vs qdrant vs milvus benchmarks 10M vectors => 6 sources",
              "shell: load 1M sample vectors into each => p95 query 4 ms / 6 ms / 9 ms",
              "write_file: notes/vector_db.md cost per month and ops burden => ok"),
          verdict="pgvector with HNSW recommended"),
    _seed("license-audit", "Audit third-party dependency licenses for GPL conflicts",
          _ctx("research", "python", None, "licenses", "compliance"), _T.ANALYSIS, _steps(
              "shell: pip-licenses --format=csv => 212 packages",
              "python: filter GPL/AGPL/LGPL => 3 packages (one AGPL)",
              "write_file: licenses.md replace the AGPL package, LGPL ok when dynamic => ok"),
          verdict="one package to replace"),
]

# fmt: on

SEEDS: tuple[EpisodeSpec, ...] = tuple(_WEB + _INFRA + _DATA + _ML + _DOCS + _CODE + _RESEARCH)


# -- queries ----------------------------------------------------------------------------------


def _q(text: str, kind: str, context: dict[str, Any] | None = None,
       **relevant: int) -> LabelledQuery:  # fmt: skip
    """``relevant`` is given with ``_`` for ``-`` in seed keys (``login_test=2``)."""
    labels = {key.replace("_", "-"): grade for key, grade in relevant.items()}
    return LabelledQuery(text, labels, kind, context)


_L, _P, _C = "lexical", "paraphrase", "context"
_PY = {"domain": "web", "language": "python"}

# fmt: off
QUERIES: tuple[LabelledQuery, ...] = (
    # -- web / auth
    _q("the sign-in test keeps breaking", _P, login_test=2, android_login_test=1),
    _q("pytest failing on the login endpoint", _L, login_test=2, android_login_test=1),
    _q("fix the failing login test", _C, {"domain": "mobile", "language": "kotlin"},
       android_login_test=2, login_test=1),
    _q("fix the failing login test", _C, _PY, login_test=2, android_login_test=1),
    _q("users keep getting kicked out and have to log back in all the time", _P,
       session_expiry=2),
    _q("flask session expires too early", _L, session_expiry=2),
    _q("let people who forgot their credentials regain access to their account", _P,
       password_reset=2),
    _q("add a password reset email with a one-time link", _L, password_reset=2),
    _q("let users log in with their GitHub account", _P, github_oauth=2),
    _q("throttle clients that hammer our public endpoints", _P, rate_limit=2),
    _q("browser refuses the frontend's requests to the backend: missing "
       "Access-Control-Allow-Origin", _P, cors_preflight=2),
    _q("validate the React registration form before submit", _L, signup_validation=2),
    _q("the compiler complains that values are possibly undefined since we bumped tsc", _P,
       ts_strict=2, deps_upgrade_ts=1),
    _q("the purchase history view hits the database hundreds of times per page load", _P,
       orders_n_plus_one=2, revenue_sql=1),
    _q("chat drops when the wifi flickers and never comes back", _P, ws_reconnect=2),
    _q("the thumbnail service's RAM usage climbs until the process is restarted", _P,
       node_leak=2, celery_leak=1),
    _q("worker process memory keeps growing until it gets killed", _C,
       {"domain": "data", "language": "python"}, celery_leak=2, node_leak=1),
    _q("worker process memory keeps growing until it gets killed", _C,
       {"domain": "web", "language": "javascript"}, node_leak=2, celery_leak=1),
    # -- infra
    _q("deploy the api to staging using docker compose", _L, compose_staging=2,
       prod_migration_fail=1),
    _q("ship the backend to the pre-production environment in containers", _P,
       compose_staging=2, prod_migration_fail=1),
    _q("the payment service keeps restarting in the cluster", _P, payments_crashloop=2),
    _q("revert the broken UI rollout to the previous chart version", _P, helm_rollback=2),
    _q("terraform an s3 bucket with versioning", _L, terraform_s3=2),
    _q("pull request checks take forever; reuse downloaded python packages between runs", _P,
       ci_pip_cache=2, ci_python=1),
    _q("browsers warn that our shop's https is not secure anymore", _P, tls_renew=2),
    _q("what went wrong last time a schema change went out to prod", _P,
       prod_migration_fail=2, dbt_unique=1),
    _q("production deploy with a database migration", _L, prod_migration_fail=2,
       compose_staging=1),
    _q("the build machine ran out of storage", _P, disk_full=2),
    _q("intermittent 502 errors from the load balancer", _L, lb_502=2),
    _q("some requests fail with bad gateway since we changed name records", _P, lb_502=2),
    _q("set up CI to check every PR", _C, {"domain": "infra", "language": "go"},
       ci_go=2, ci_python=1),
    _q("set up CI to check every PR", _C, {"domain": "infra", "language": "python"},
       ci_python=2, ci_go=1, ci_pip_cache=1),
    _q("make our container image smaller", _C, {"domain": "infra", "language": "rust"},
       dockerfile_rust=2, dockerfile_node=1),
    _q("make our container image smaller", _C, {"domain": "infra", "language": "javascript"},
       dockerfile_node=2, dockerfile_rust=1),
    _q("everyone gets the overnight summary message two times", _P, report_cron_dupes=2),
    # -- data
    _q("the customer list has the same person several times with different capitalisation",
       _P, crm_dedupe=2),
    _q("remove duplicate customers from the CRM CSV", _L, crm_dedupe=2),
    _q("some rows say 03/04/2023 and others 2023-04-03; make them consistent", _P,
       mixed_dates=2),
    _q("the finance dashboard query takes almost a minute", _P, revenue_sql=2,
       orders_n_plus_one=1),
    _q("scheduled pipeline fails whenever the upstream feed adds new keys", _P,
       airflow_drift=2),
    _q("interpolate missing measurements in the IoT time series", _P, sensor_nulls=2),
    _q("é shows up as Ã© after loading the vendor's product list", _P, supplier_encoding=2),
    _q("convert event log csv files to parquet", _L, events_parquet=2),
    _q("the no-repeats check on orders started erroring when we reloaded historical rows", _P,
       dbt_unique=2),
    # -- ml
    _q("the GPU cannot fit the larger mini-batches anymore", _P, cuda_oom=2),
    _q("why did the fraud classifier get worse recently", _P, drift_report=2),
    _q("tune xgboost hyperparameters for churn prediction", _L, churn_sweep=2),
    _q("the language model outputs nonsense after we changed the weights file", _P,
       tokenizer_mismatch=2),
    # -- docs
    _q("document the invoicing REST endpoints for external developers", _P,
       billing_api_docs=2),
    _q("make getting started easier for first-time users of the command line tool", _P,
       readme_quickstart=2),
    _q("summarize what changed in the upcoming version for customers", _P, release_notes=2),
    _q("add docstrings to the geometry module", _L, geometry_docstrings=2),
    _q("documentation site has dead hyperlinks after reorganizing", _P, mkdocs_links=2),
    # -- refactors, tests, cli
    _q("break up the giant helpers file into smaller pieces", _P, split_utils=2),
    _q("get rid of callback hell in the upload code using promises", _P, uploader_async=2),
    _q("rename old config keys but keep the old names working", _L, config_keys=2),
    _q("clean up toggles nobody uses anymore in the purchase flow", _P, checkout_flags=2),
    _q("a unit test randomly fails late at night", _P, midnight_flaky=2),
    _q("add an export command with json and csv output", _L, cli_export=2),
    _q("write more unit tests for invoicing so more lines are exercised", _P,
       billing_coverage=2),
    _q("playwright tests for checkout", _L, checkout_e2e=2, checkout_flags=1),
    _q("concurrent map writes crash the stats collector under load", _P, go_race=2),
    _q("cannot borrow as mutable because it is also borrowed as immutable in the settings "
       "reader", _P, rust_borrow=2),
    _q("tests broke after bumping package versions", _C,
       {"domain": "web", "language": "typescript"}, deps_upgrade_ts=2, deps_upgrade_py=1,
       ts_strict=1),
    _q("tests broke after bumping package versions", _C, _PY, deps_upgrade_py=2,
       deps_upgrade_ts=1),
    _q("emit machine-readable logs that include a request id", _C,
       {"domain": "web", "language": "go"}, json_logging_go=2, json_logging_py=1),
    _q("emit machine-readable logs that include a request id", _C, _PY, json_logging_py=2,
       json_logging_go=1),
    # -- research / topic queries with several answers
    _q("which embedding store should we pick for ten million vectors", _P,
       vector_db_compare=2),
    _q("make sure none of our libraries have copyleft terms that conflict with shipping", _P,
       license_audit=2),
    _q("anything we learned about making slow database queries fast", _P,
       orders_n_plus_one=2, revenue_sql=2),
    _q("problems we hit with sign-in and accounts", _P, login_test=2, session_expiry=2,
       password_reset=2, github_oauth=2, android_login_test=1),
)
# fmt: on


# -- fillers ----------------------------------------------------------------------------------

#: The seeds' and queries' distinctive words: no filler text contains a token that starts
#: with one of ``FORBIDDEN_STEMS`` or equals one of ``FORBIDDEN_WORDS`` (short words, matched
#: exactly so that "prod" does not rule out "product"), so no filler is relevant to a query.
FORBIDDEN_STEMS = tuple(
    """login sign auth password session oauth github credential csv dedup duplicat docker
    compose contain kubernetes helm terraform bucket certificat https migrat schema cuda
    tokeniz readme changelog docstring link hyperlink flaky midnight timezone coverage
    playwright leak memory borrow cron email summary throttl cors websocket reconnect chat
    date encod parquet dbt airflow export upgrade logging logs machine dockerfile deploy
    staging production rollback revert release toggle flag checkout billing invoic order
    purchase payment upload callback promis config util helper report fraud churn xgboost
    drift vector embedding licens copyleft sensor interpolat vendor supplier gibberish
    nonsense collector concurren mutex geometry mkdocs quickstart frontend backend cluster
    storage disk gateway balancer pipeline pull signup registration valid crash worker
    thumbnail resiz customer finance revenue uniqu backfill""".split()
)
FORBIDDEN_WORDS = frozenset(
    "prod pr prs ci pod ram s3 oom k8s gpu dns tls gpl crm iot tsc api".split()
)

_FILLER_DOMAINS: dict[str, tuple[tuple[str | None, str | None], ...]] = {
    "web": (("python", "django"), ("python", "fastapi"), ("typescript", "react"),
            ("javascript", "node"), ("go", None)),
    "infra": (("yaml", None), ("hcl", None), ("shell", None), ("python", None)),
    "data": (("python", "pandas"), ("sql", "postgres"), ("python", None)),
    "ml": (("python", "pytorch"), ("python", "sklearn")),
    "docs": (("markdown", None), ("python", None)),
    "cli": (("python", "click"), ("go", None), ("rust", None)),
    "mobile": (("kotlin", None), ("swift", None)),
}  # fmt: skip

_SUBJECTS: dict[str, tuple[str, ...]] = {
    "web": ("packing slip renderer", "shipping cost calculator", "loyalty points ledger",
            "product review widget", "store locator map", "gift card balance page",
            "wishlist sharing", "seat picker grid", "recipe search filters",
            "newsletter preference center", "parcel tracking timeline", "coupon redemption",
            "tax rounding in the basket", "currency formatting", "breadcrumb navigation",
            "dark theme palette", "infinite scroll feed", "print stylesheet",
            "button accessibility labels", "product comparison table"),
    "infra": ("log rotation policy", "NTP offset alerts", "nightly snapshot retention",
              "bastion host access", "VPN split tunnelling", "queue depth dashboard",
              "autoscaling thresholds", "firewall rules for the analytics subnet",
              "on-call escalation policy", "uptime probe intervals", "syslog forwarding",
              "object replication between regions", "SSH key rotation", "swap usage alerts",
              "package mirror"),
    "data": ("warehouse stock snapshot", "weather station aggregates", "survey response weights",
             "clickstream funnel metrics", "store footfall counts", "shipment delay histogram",
             "product category taxonomy", "exchange rate table", "call centre wait times",
             "energy meter rollups", "marketing attribution model", "store opening hours table",
             "loyalty tier segments", "basket size distribution"),
    "ml": ("sentiment classifier labels", "demand forecast features", "speech keyword spotter",
           "anomaly score thresholds", "label noise audit", "feature store freshness",
           "A/B test power analysis", "ranking model calibration", "image captioning eval set",
           "ticket routing classifier", "price elasticity estimate"),
    "docs": ("glossary of warehouse terms", "architecture decision record for the queue",
             "style guide for error messages", "onboarding checklist for support staff",
             "runbook for the search index", "FAQ page about shipping",
             "diagram of the notification flow", "tutorial on the plugin interface",
             "troubleshooting guide for the scanner app", "contribution guide"),
    "cli": ("progress bar for long jobs", "shell completion script",
            "interactive prompt for project names", "coloured output on Windows terminals",
            "plugin discovery via entry points", "man page generation",
            "--dry-run option of the sync command", "table formatter",
            "archive extraction subcommand", "verbose and quiet switches"),
    "mobile": ("offline map tiles", "barcode scanner screen", "push notification opt-in",
               "haptic feedback settings", "widget for the home screen",
               "photo picker permissions", "swipe-down refresh on the feed",
               "font scaling in settings"),
}  # fmt: skip

_VERBS: dict[TaskType, tuple[str, ...]] = {
    _T.CODE_GENERATION: ("Add", "Implement", "Build", "Create"),
    _T.DEBUGGING: ("Fix", "Investigate", "Debug"),
    _T.REFACTORING: ("Refactor", "Simplify", "Clean up the code of"),
    _T.TESTING: ("Write unit tests for", "Add property-based tests for",
                 "Add snapshot tests for"),
    _T.DOCUMENTATION: ("Document", "Write a how-to guide for", "Add examples for"),
    _T.ANALYSIS: ("Analyze", "Profile", "Measure the usage of"),
    _T.RESEARCH: ("Evaluate libraries for", "Prototype alternatives for"),
    _T.OTHER: ("Adjust", "Tune", "Review"),
}  # fmt: skip

_PROBLEMS = (
    "wrong totals in", "an off-by-one error in", "an exception on empty input in",
    "slow responses from", "missing entries in", "stale values in", "a rounding error in",
    "a hang in", "wrong sorting in", "a null pointer in",
)  # fmt: skip

_TEAMS = tuple(
    """atlas heron juniper kestrel lumen marlin nimbus orchid pelican quartz raven sequoia
    tundra umber vireo willow yarrow zephyr alder birch cedar dahlia egret fennel garnet
    hazel iris jasper kelp larch maple nettle onyx poplar quince rowan sorrel thistle""".split()
)

_EXT = {"python": "py", "typescript": "ts", "javascript": "js", "go": "go", "rust": "rs",
        "sql": "sql", "yaml": "yaml", "hcl": "tf", "shell": "sh", "markdown": "md",
        "kotlin": "kt", "swift": "swift"}  # fmt: skip

_TYPES_BY_DOMAIN: dict[str, tuple[TaskType, ...]] = {
    "docs": (_T.DOCUMENTATION, _T.DOCUMENTATION, _T.OTHER),
    "data": (_T.ANALYSIS, _T.DEBUGGING, _T.CODE_GENERATION, _T.TESTING),
    "ml": (_T.ANALYSIS, _T.RESEARCH, _T.DEBUGGING, _T.CODE_GENERATION),
    "infra": (_T.OTHER, _T.DEBUGGING, _T.ANALYSIS, _T.DOCUMENTATION),
}
_DEFAULT_TYPES = (_T.CODE_GENERATION, _T.DEBUGGING, _T.REFACTORING, _T.TESTING,
                  _T.DOCUMENTATION, _T.CODE_GENERATION, _T.DEBUGGING)  # fmt: skip


def _slug(text: str) -> str:
    return "_".join(tokenize(text))[:40]


def _filler_steps(rng: random.Random, subject: str, team: str, language: str | None,
                  task_type: TaskType) -> tuple[tuple[Step, ...], str]:  # fmt: skip
    """2-4 steps with the seeds' tools; returns the steps and the outcome."""
    path = f"src/{team}/{_slug(subject)}.{_EXT.get(language or '', 'txt')}"
    lines = rng.randint(40, 900)
    steps = [Step("read_file", path, f"{lines} lines; {rng.randint(2, 14)} functions")]
    if rng.random() < 0.5:
        matches = f"{rng.randint(1, 30)} matches in {rng.randint(1, 6)} files"
        steps.append(Step("grep", _slug(subject).split("_")[0], matches))
    steps.append(Step("edit_file", f"update {subject}", f"{rng.randint(1, 4)} files changed"))
    passed = rng.randint(5, 400)
    if task_type is _T.DOCUMENTATION:
        steps.append(Step("shell", "build the docs", "built without warnings"))
    roll = rng.random()
    if roll < 0.12:
        steps.append(Step("run_tests", "run the suite", error=f"{rng.randint(1, 5)} failed, "
                          f"{passed} passed: test_{_slug(subject)}"))  # fmt: skip
        return tuple(steps), "failure"
    steps.append(Step("run_tests", "run the suite", f"{passed} passed"))
    return tuple(steps), "partial" if roll < 0.2 else "success"


def _filler(rng: random.Random, index: int) -> EpisodeSpec:
    domain = rng.choice(tuple(_FILLER_DOMAINS))
    language, framework = rng.choice(_FILLER_DOMAINS[domain])
    task_type = rng.choice(_TYPES_BY_DOMAIN.get(domain, _DEFAULT_TYPES))
    subject = rng.choice(_SUBJECTS[domain])
    team = rng.choice(_TEAMS)
    verb = rng.choice(_VERBS[task_type])
    if task_type is _T.DEBUGGING:
        description = f"{verb} {rng.choice(_PROBLEMS)} the {subject} of the {team} team"
    else:
        description = f"{verb} the {subject} for the {team} team"
    if rng.random() < 0.5:
        description += f" ({team[:3].upper()}-{rng.randint(100, 9999)})"
    steps, outcome = _filler_steps(rng, subject, team, language, task_type)
    verdicts = {"success": "done", "partial": "most of it done", "failure": "tests still red"}
    tags = [team] + ([domain] if rng.random() < 0.3 else [])
    return EpisodeSpec(
        key=f"filler-{index}",
        description=description,
        context=_ctx(domain, language, framework, *tags),
        task_type=task_type,
        steps=steps,
        outcome=outcome,
        verdict=verdicts[outcome],
    )


def _forbidden_tokens(text: str) -> list[str]:
    return [t for t in tokenize(text) if t in FORBIDDEN_WORDS or t.startswith(FORBIDDEN_STEMS)]


def fillers(n: int, seed: int = 20240531) -> Iterator[EpisodeSpec]:
    """``n`` distractor episodes, deterministic for a given ``seed``.

    Raises ``ValueError`` if a generated text contains a forbidden stem (a bug in the word
    lists above, never expected at run time).
    """
    rng = random.Random(seed)
    for index in range(n):
        spec = _filler(rng, index)
        bad = _forbidden_tokens(spec.text() + " " + " ".join(spec.context.get("tags", [])))
        if bad:
            raise ValueError(f"filler {spec.key} uses seed words {bad}: {spec.description!r}")
        yield spec


# -- checks -----------------------------------------------------------------------------------


def _stems(text: str) -> set[str]:
    return {term[:5] for term in query_terms(text)}


def content_overlap(query: str, description: str) -> int:
    """Content words (stopwords dropped, compared on 5-letter stems) two texts share."""
    return len(_stems(query) & _stems(description))


def check(filler_sample: int = 5_000) -> dict[str, Any]:
    """Validate the set; returns summary statistics (raises ``ValueError`` on a problem)."""
    keys = [seed.key for seed in SEEDS]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate seed keys")
    by_key = {seed.key: seed for seed in SEEDS}
    overlaps: dict[str, list[int]] = {}
    for query in QUERIES:
        unknown = set(query.relevant) - set(by_key)
        if unknown or 2 not in query.relevant.values():
            raise ValueError(f"bad labels for {query.text!r}: unknown {unknown}")
        exact = [by_key[k].description for k, g in query.relevant.items() if g == 2]
        shared = min(content_overlap(query.text, text) for text in exact)
        if query.kind == "paraphrase" and shared > 2:
            raise ValueError(f"paraphrase {query.text!r} shares {shared} words with its task")
        overlaps.setdefault(query.kind, []).append(shared)
        if query.kind == "context" and query.context is None:
            raise ValueError(f"context query without a context: {query.text!r}")
    unreferenced = set(by_key) - {k for q in QUERIES for k in q.relevant}
    if unreferenced:
        raise ValueError(f"seeds no query points at: {sorted(unreferenced)}")
    for seed in SEEDS:  # forbidden stems must not make fillers impossible to tell apart
        if not _forbidden_tokens(seed.text()):
            raise ValueError(f"seed {seed.key} has no distinctive word in FORBIDDEN_STEMS")
    sample = list(fillers(filler_sample))
    return {
        "seeds": len(SEEDS),
        "queries": len(QUERIES),
        "queries_by_kind": dict(Counter(q.kind for q in QUERIES)),
        "mean_shared_words_by_kind": {
            kind: round(sum(v) / len(v), 2) for kind, v in overlaps.items()
        },
        "paraphrases_sharing_no_word": sum(1 for v in overlaps.get("paraphrase", []) if v == 0),
        "relevant_per_query": round(sum(len(q.relevant) for q in QUERIES) / len(QUERIES), 2),
        "seed_outcomes": dict(Counter(seed.outcome for seed in SEEDS)),
        "seed_domains": dict(Counter(seed.context["domain"] for seed in SEEDS)),
        "filler_sample": len(sample),
        "distinct_filler_descriptions": len({spec.description for spec in sample}),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(check(), indent=2))
