"""The 60 seeds of the labelled retrieval set: past agent tasks written by hand, each with
its tool steps and an outcome (see :mod:`benchmarks.retrieval_dataset`)."""

from __future__ import annotations

from selfmem import TaskType

from .retrieval_records import EpisodeSpec, ctx, seed, steps_from

__all__ = ["SEEDS"]

_T = TaskType

# -- seeds: 60 past tasks ---------------------------------------------------------------------

# fmt: off
_WEB = [
    seed("login-test", "Fix the failing pytest for the /login endpoint",
         ctx("web", "python", "fastapi", "auth", "pytest"), _T.DEBUGGING, steps_from(
             "!run_tests: pytest tests/api/test_auth.py => test_login_returns_token: "
             "AssertionError: 401 != 200",
             "read_file: src/api/auth.py => verify_password passes a str to bcrypt.checkpw",
             "edit_file: encode the submitted password to bytes before checkpw => 1 file changed",
             "run_tests: pytest tests/api/test_auth.py => 14 passed"),
         verdict="login returns a token again"),
    seed("session-expiry", "Find out why Flask sessions expire after a few minutes",
         ctx("web", "python", "flask", "sessions"), _T.DEBUGGING, steps_from(
             "grep: PERMANENT_SESSION_LIFETIME => config.py:12 PERMANENT_SESSION_LIFETIME = 300",
             "read_file: app/views/account.py => session.permanent is never set",
             "edit_file: lifetime timedelta(days=7) and session.permanent = True => 2 files",
             "run_tests: pytest tests/test_account.py => 9 passed"),
         verdict="sessions now last a week"),
    seed("password-reset", "Implement a password reset flow with signed one-time email links",
         ctx("web", "python", "django", "auth", "email"), _T.CODE_GENERATION, steps_from(
             "search_docs: django PasswordResetTokenGenerator => token invalidated on login",
             "edit_file: accounts/views.py add PasswordResetView and confirm view => ok",
             "edit_file: templates/registration/reset_email.txt => ok",
             "run_tests: pytest accounts => 21 passed"),
         verdict="reset links expire after one use"),
    seed("github-oauth", "Add GitHub OAuth sign-in with authlib",
         ctx("web", "python", "flask", "auth", "oauth"), _T.CODE_GENERATION, steps_from(
             "edit_file: app/auth/github.py register the authlib client => ok",
             "!http_request: GET /auth/github/callback => redirect_uri_mismatch",
             "edit_file: set the callback URL registered in the GitHub app settings => ok",
             "http_request: GET /auth/github/callback => 302 to /dashboard"),
         verdict="users can sign in with GitHub"),
    seed("rate-limit", "Add per-IP rate limiting to the public REST API using Redis",
         ctx("web", "python", "fastapi", "api", "redis"), _T.CODE_GENERATION, steps_from(
             "edit_file: app/middleware/ratelimit.py sliding window counter in Redis => ok",
             "run_tests: pytest tests/test_ratelimit.py => 6 passed",
             "shell: hey -n 500 http://localhost:8000/v1/items => 100 OK, 400 status 429"),
         verdict="429 after 100 requests per minute"),
    seed("cors-preflight", "Fix CORS preflight failures when the React frontend calls the API",
         ctx("web", "python", "fastapi", "cors"), _T.DEBUGGING, steps_from(
             "browser_console: load the app => blocked by CORS policy: no "
             "Access-Control-Allow-Origin header on the OPTIONS response",
             "edit_file: main.py add CORSMiddleware with the frontend origin => ok",
             "http_request: OPTIONS /v1/items => 200 with allow-origin header"),
         verdict="preflight passes"),
    seed("signup-validation", "Add client-side validation to the React signup form",
         ctx("web", "typescript", "react", "forms"), _T.CODE_GENERATION, steps_from(
             "read_file: src/components/SignupForm.tsx => uncontrolled inputs, no checks",
             "edit_file: add zod schema and react-hook-form resolver => ok",
             "run_tests: npx jest SignupForm => 8 passed"),
         verdict="invalid fields show inline messages"),
    seed("ts-strict", "Resolve TypeScript strict mode errors after upgrading to TypeScript 5.4",
         ctx("web", "typescript", None, "typescript"), _T.REFACTORING, steps_from(
             "!shell: npx tsc --noEmit => 214 errors: Object is possibly 'undefined'",
             "edit_file: add narrowing and non-null checks in src/store => 120 errors left",
             "edit_file: type the API client responses => 37 errors left"),
         outcome="partial", verdict="37 errors remain in legacy widgets"),
    seed("orders-n-plus-one",
         "Speed up the orders list page by removing N+1 queries in the Django ORM",
         ctx("web", "python", "django", "performance", "orm"), _T.DEBUGGING, steps_from(
             "profile: django-debug-toolbar on /orders => 412 SQL queries, 3.8 s",
             "edit_file: select_related('customer') and prefetch_related('items') => ok",
             "profile: /orders again => 3 SQL queries, 140 ms"),
         verdict="page renders in 140 ms"),
    seed("ws-reconnect", "Make the chat websocket client reconnect with exponential backoff",
         ctx("web", "typescript", None, "websocket", "chat"), _T.CODE_GENERATION, steps_from(
             "read_file: src/chat/socket.ts => onclose only logs",
             "edit_file: reconnect with backoff 1s..30s plus jitter, resubscribe rooms => ok",
             "run_tests: npx vitest socket => 5 passed"),
         verdict="chat recovers after network drops"),
    seed("node-leak", "Track down the memory leak in the Node.js image resizing worker",
         ctx("web", "javascript", "node", "memory", "workers"), _T.DEBUGGING, steps_from(
             "shell: node --inspect worker.js and take two heap snapshots => "
             "retained sharp Buffers grow by 40 MB per 1000 jobs",
             "grep: queue.on('completed' => listener added inside the job handler",
             "edit_file: register the listener once at start-up => ok",
             "shell: run 10000 jobs => heap flat at 180 MB"),
         verdict="RSS stays flat"),
    seed("celery-leak", "Fix the Celery worker whose memory grows until it is OOM-killed",
         ctx("data", "python", "celery", "memory", "workers"), _T.DEBUGGING, steps_from(
             "shell: dmesg | grep -i oom => Killed process 8812 (celery) rss 7.9 GB",
             "read_file: tasks/enrich.py => module-level dict caches every payload",
             "edit_file: bound the cache with lru_cache(maxsize=1024) and set "
             "worker_max_tasks_per_child=200 => ok",
             "shell: soak test 2 h => worker RSS between 300 and 420 MB"),
         verdict="no more OOM kills"),
]

_INFRA = [
    seed("compose-staging", "Deploy the API service to staging with docker compose",
         ctx("infra", "yaml", "docker", "deploy", "staging"), _T.DEPLOYMENT, steps_from(
             "shell: docker compose -f compose.staging.yml build => 3 images built",
             "!shell: docker compose up -d => Bind for 0.0.0.0:5432 failed: port is "
             "already allocated",
             "edit_file: compose.staging.yml stop publishing the postgres port => ok",
             "shell: docker compose up -d => 3 containers started",
             "http_request: GET https://staging.example.com/health => 200"),
         verdict="staging runs the new build"),
    seed("payments-crashloop",
         "Debug the payments pod stuck in CrashLoopBackOff on Kubernetes",
         ctx("infra", "yaml", "kubernetes", "k8s", "payments"), _T.DEBUGGING, steps_from(
             "shell: kubectl describe pod payments-7f9c => Back-off restarting failed container",
             "shell: kubectl logs payments-7f9c --previous => KeyError: 'STRIPE_API_KEY'",
             "edit_file: deploy/payments.yaml add the secretKeyRef for STRIPE_API_KEY => ok",
             "shell: kubectl rollout status deploy/payments => successfully rolled out"),
         verdict="pod is Running"),
    seed("helm-rollback", "Roll back the failed Helm release of the web frontend",
         ctx("infra", "yaml", "helm", "k8s", "release"), _T.DEPLOYMENT, steps_from(
             "shell: helm history web-frontend => revision 42 failed, 41 deployed",
             "shell: helm rollback web-frontend 41 => Rollback was a success",
             "http_request: GET https://www.example.com => 200"),
         verdict="revision 41 serves traffic"),
    seed("terraform-s3", "Create a versioned S3 bucket with lifecycle rules in Terraform",
         ctx("infra", "hcl", "terraform", "aws", "s3"), _T.CODE_GENERATION, steps_from(
             "edit_file: modules/storage/main.tf aws_s3_bucket_versioning and "
             "lifecycle_configuration (glacier after 90 days) => ok",
             "shell: terraform plan => 3 to add, 0 to change, 0 to destroy",
             "shell: terraform apply => Apply complete! Resources: 3 added"),
         verdict="bucket created"),
    seed("ci-pip-cache", "Speed up the GitHub Actions workflow by caching pip dependencies",
         ctx("infra", "yaml", "github-actions", "ci", "python"), _T.OTHER, steps_from(
             "read_file: .github/workflows/test.yml => pip install takes 9 of 14 minutes",
             "edit_file: actions/setup-python with cache: pip keyed on requirements*.txt => ok",
             "shell: gh run watch => workflow finished in 6m 10s"),
         verdict="14 min -> 6 min"),
    seed("tls-renew", "Renew the expired TLS certificate on the nginx ingress",
         ctx("infra", "yaml", "kubernetes", "tls", "nginx"), _T.DEPLOYMENT, steps_from(
             "!http_request: GET https://shop.example.com => certificate has expired",
             "shell: kubectl describe certificate shop-tls => ACME challenge failing: 404",
             "edit_file: ingress class annotation for cert-manager solver => ok",
             "shell: kubectl get certificate shop-tls => READY True, expires in 89 days"),
         verdict="certificate valid again"),
    seed("prod-migration-fail",
         "Deploy release 4.2 to production with the new database migration",
         ctx("infra", "python", "django", "deploy", "production", "database"), _T.DEPLOYMENT,
         steps_from(
             "shell: ./deploy.sh 4.2 production => image pushed, starting migrations",
             "!shell: python manage.py migrate => canceling statement due to lock timeout "
             "on table orders",
             "shell: ./deploy.sh rollback 4.1 => rolled back"),
         outcome="failure",
         verdict="migration took a lock on the orders table and timed out; rolled back"),
    seed("disk-full",
         "Free disk space on the build server after /var/lib/docker filled the root volume",
         ctx("infra", "shell", None, "disk", "docker"), _T.OTHER, steps_from(
             "shell: df -h / => 100% used",
             "shell: du -sh /var/lib/docker/* => overlay2 212G",
             "shell: docker system prune -af --filter until=72h => reclaimed 180 GB",
             "shell: df -h / => 38% used"),
         verdict="added a weekly prune timer"),
    seed("lb-502", "Investigate intermittent 502 errors from the load balancer after the "
         "DNS change", ctx("infra", None, None, "dns", "networking"), _T.DEBUGGING, steps_from(
             "shell: dig api.example.com => two A records, one an old decommissioned host",
             "edit_file: remove the stale record in the zone file => ok",
             "shell: curl -s -o /dev/null -w '%{http_code}' x200 => 196 OK, 4 bad gateway"),
         outcome="partial", verdict="502s are rarer; TTL caches still hold the old record"),
    seed("ci-python", "Set up a CI pipeline that runs lint and tests on every pull request",
         ctx("infra", "python", "github-actions", "ci"), _T.OTHER, steps_from(
             "edit_file: .github/workflows/ci.yml ruff check and pytest on 3.11 and 3.12 => ok",
             "shell: gh pr create --draft => checks running",
             "shell: gh pr checks => lint pass, test pass"),
         verdict="required checks enabled on main"),
    seed("ci-go", "Set up a CI pipeline that runs lint and tests on every pull request",
         ctx("infra", "go", "github-actions", "ci"), _T.OTHER, steps_from(
             "edit_file: .github/workflows/ci.yml golangci-lint and go test ./... => ok",
             "!shell: gh pr checks => golangci-lint: errcheck: 4 unchecked errors",
             "edit_file: handle the returned errors in cmd/server => ok",
             "shell: gh pr checks => lint pass, test pass"),
         verdict="required checks enabled on main"),
    seed("dockerfile-rust", "Write a multi-stage Dockerfile to shrink the service image",
         ctx("infra", "rust", "docker", "docker"), _T.CODE_GENERATION, steps_from(
             "shell: docker images svc => 1.3 GB (rust:1.79 base)",
             "edit_file: Dockerfile cargo-chef planner, builder, distroless runtime => ok",
             "shell: docker build -t svc . && docker images svc => 24 MB"),
         verdict="1.3 GB -> 24 MB"),
    seed("dockerfile-node", "Write a multi-stage Dockerfile to shrink the service image",
         ctx("infra", "javascript", "docker", "docker"), _T.CODE_GENERATION, steps_from(
             "shell: docker images web => 1.1 GB (node:20 base, dev dependencies included)",
             "edit_file: Dockerfile build stage, npm ci --omit=dev, node:20-slim runtime => ok",
             "shell: docker build -t web . && docker images web => 190 MB"),
         verdict="1.1 GB -> 190 MB"),
    seed("report-cron-dupes", "Stop the nightly report cron job from sending duplicate emails",
         ctx("infra", "python", None, "cron", "email"), _T.DEBUGGING, steps_from(
             "shell: grep send_report /var/log/syslog => two runs at 02:00 from app-1 and app-2",
             "edit_file: take a Postgres advisory lock before sending => ok",
             "shell: run the job on both hosts => one email sent"),
         verdict="one email per night"),
]

_DATA = [
    seed("crm-dedupe", "Deduplicate customer records in the CRM export CSV by normalized email",
         ctx("data", "python", "pandas", "csv", "cleaning"), _T.ANALYSIS, steps_from(
             "python: df = pd.read_csv('crm_export.csv') => 48210 rows",
             "python: df['email'].str.strip().str.lower().duplicated().sum() => 3912",
             "python: keep the most recently updated row per email => 44298 rows",
             "write_file: crm_dedup.csv => ok"),
         verdict="3912 duplicates removed"),
    seed("mixed-dates", "Normalize mixed date formats in the sales spreadsheet",
         ctx("data", "python", "pandas", "cleaning", "dates"), _T.ANALYSIS, steps_from(
             "!python: pd.to_datetime(df['sold_on']) => ValueError: day is out of range for "
             "month",
             "python: detect DD/MM/YYYY rows by a day > 12 and parse with dayfirst => ok",
             "python: df['sold_on'].dt.strftime('%Y-%m-%d') => all ISO 8601"),
         verdict="every row in ISO format"),
    seed("revenue-sql", "Optimize the slow monthly revenue SQL report",
         ctx("data", "sql", "postgres", "performance"), _T.ANALYSIS, steps_from(
             "sql: EXPLAIN ANALYZE the report query => Seq Scan on payments, 38.2 s",
             "sql: CREATE INDEX CONCURRENTLY ON payments (created_at) => ok",
             "sql: EXPLAIN ANALYZE again => Index Scan, 0.41 s"),
         verdict="38 s -> 0.4 s"),
    seed("airflow-drift",
         "Repair the nightly Airflow ingestion DAG that breaks when the vendor adds JSON fields",
         ctx("data", "python", "airflow", "etl", "schema"), _T.DEBUGGING, steps_from(
             "shell: airflow tasks logs ingest_vendor load => KeyError: 'discount_code'",
             "edit_file: dags/ingest_vendor.py map unknown keys to an extras column => ok",
             "!shell: airflow dags test ingest_vendor => BigQuery: schema mismatch, field "
             "extras has changed type"),
         outcome="failure", verdict="table schema must be migrated first; left for the data team"),
    seed("sensor-nulls", "Fill gaps in the sensor readings dataset before training",
         ctx("data", "python", "pandas", "timeseries", "cleaning"), _T.ANALYSIS, steps_from(
             "python: df.isna().mean() => temperature 7.9%, humidity 3.1% missing",
             "python: resample to 1 min and interpolate(method='time', limit=10) => ok",
             "python: drop the remaining gaps longer than 10 min => 0.4% rows dropped"),
         verdict="training set complete"),
    seed("supplier-encoding",
         "Fix garbled accented characters when importing the supplier file",
         ctx("data", "python", None, "encoding"), _T.DEBUGGING, steps_from(
             "read_file: supplier_2024.txt => 'CafÃ© crÃ¨me' in product names",
             "python: chardet.detect(raw) => cp1252 with 0.73 confidence",
             "edit_file: open the file with encoding='cp1252' and write utf-8 => ok"),
         verdict="names read correctly"),
    seed("events-parquet", "Convert the event logs from CSV to partitioned Parquet",
         ctx("data", "python", "pyarrow", "parquet", "storage"), _T.CODE_GENERATION, steps_from(
             "python: pyarrow.csv.read_csv over 412 files => 1.9 billion rows",
             "python: pq.write_to_dataset(partition_cols=['event_date']) => 7.1 GB from 96 GB",
             "sql: duckdb count(*) over the dataset => matches the CSV total"),
         verdict="13x smaller, queries 20x faster"),
    seed("dbt-unique", "dbt unique test fails on the orders model after the backfill",
         ctx("data", "sql", "dbt", "dbt", "testing"), _T.DEBUGGING, steps_from(
             "!shell: dbt test -s orders => unique_orders_order_id: 1840 failures",
             "sql: find the duplicate order_id rows => the backfill overlapped the daily load",
             "edit_file: models/orders.sql qualify row_number() over (partition by order_id "
             "order by loaded_at desc) = 1 => ok",
             "shell: dbt build -s orders => PASS"),
         verdict="orders is unique again"),
]

_ML = [
    seed("cuda-oom", "Training crashes with CUDA out of memory at batch size 64",
         ctx("ml", "python", "pytorch", "gpu", "training"), _T.DEBUGGING, steps_from(
             "!shell: python train.py --batch-size 64 => torch.cuda.OutOfMemoryError: tried "
             "to allocate 2.00 GiB",
             "edit_file: gradient accumulation over 4 steps of 16 and torch.autocast bf16 => ok",
             "shell: python train.py => peak 14.2 GiB of 24 GiB, loss matches"),
         verdict="same effective batch, fits in memory"),
    seed("drift-report", "Analyse the accuracy drop of the fraud model on last month's data",
         ctx("ml", "python", "sklearn", "monitoring", "drift"), _T.ANALYSIS, steps_from(
             "python: evaluate on March vs January holdout => AUC 0.91 -> 0.83",
             "python: population stability index per feature => merchant_category PSI 0.41",
             "write_file: drift_report.md => new merchant categories since the app launch"),
         verdict="retrain with the new categories"),
    seed("churn-sweep", "Run a hyperparameter sweep for the XGBoost churn model",
         ctx("ml", "python", "xgboost", "tuning"), _T.RESEARCH, steps_from(
             "python: optuna study with 200 trials over depth, eta, subsample => running",
             "python: best trial => max_depth 6, eta 0.05, AUC 0.874 (baseline 0.861)"),
         verdict="AUC +0.013"),
    seed("tokenizer-mismatch",
         "Inference returns gibberish text after swapping the model checkpoint",
         ctx("ml", "python", "transformers", "nlp", "inference"), _T.DEBUGGING, steps_from(
             "python: tokenizer.vocab_size, model.config.vocab_size => 32000 vs 50257",
             "edit_file: load the tokenizer from the same checkpoint directory => ok",
             "python: generate('Hello') => coherent output"),
         verdict="tokenizer and weights match"),
]

_DOCS = [
    seed("billing-api-docs",
         "Write API reference docs for the billing endpoints from the OpenAPI spec",
         ctx("docs", "markdown", "mkdocs", "api", "billing"), _T.DOCUMENTATION, steps_from(
             "read_file: openapi.yaml => 14 billing paths, 6 without descriptions",
             "write_file: docs/api/billing.md with request and response examples => ok",
             "shell: mkdocs build --strict => built in 3.1 s"),
         verdict="reference published"),
    seed("readme-quickstart",
         "Rewrite the README quickstart so a new user can install and run the CLI",
         ctx("docs", "markdown", None, "onboarding"), _T.DOCUMENTATION, steps_from(
             "shell: follow the current README in a clean container => fails at step 3: "
             "missing libpq",
             "edit_file: README.md pipx install, one example command, expected output => ok",
             "shell: follow the new README in a clean container => works in 4 minutes"),
         verdict="install to first result in under 5 minutes"),
    seed("release-notes",
         "Draft the changelog and release notes for v2.3.0 from merged pull requests",
         ctx("docs", "markdown", None, "release"), _T.DOCUMENTATION, steps_from(
             "shell: gh pr list --state merged --search 'milestone:v2.3.0' => 47 PRs",
             "write_file: CHANGELOG.md grouped as Added, Changed, Fixed, Deprecated => ok",
             "write_file: docs/releases/2.3.0.md highlights and upgrade notes => ok"),
         verdict="notes reviewed"),
    seed("geometry-docstrings",
         "Add Google-style docstrings to the public functions of the geometry module",
         ctx("docs", "python", None, "docstrings"), _T.DOCUMENTATION, steps_from(
             "shell: interrogate geometry/ => 31% documented",
             "edit_file: geometry/polygon.py, geometry/transform.py Args/Returns/Raises => ok",
             "shell: interrogate geometry/ => 100% documented"),
         verdict="all public functions documented"),
    seed("mkdocs-links", "Fix broken links in the mkdocs site after pages were moved",
         ctx("docs", "markdown", "mkdocs", "links"), _T.DOCUMENTATION, steps_from(
             "!shell: mkdocs build --strict => 23 warnings: Doc file contains a link to "
             "'guide/setup.md', not found",
             "edit_file: update relative links, add redirects plugin entries => ok",
             "shell: mkdocs build --strict => 0 warnings"),
         verdict="no broken links"),
]

_CODE = [
    seed("split-utils",
         "Split the 3,000-line utils.py into focused modules without breaking imports",
         ctx("cli", "python", None, "cleanup"), _T.REFACTORING, steps_from(
             "read_file: src/app/utils.py => 3012 lines, 5 unrelated groups of helpers",
             "edit_file: move into text.py, paths.py, timing.py, http.py, cache.py => ok",
             "edit_file: utils.py re-exports the old names with a deprecation warning => ok",
             "run_tests: pytest => 612 passed"),
         verdict="old imports still work"),
    seed("uploader-async", "Convert the callback-based file uploader to async/await",
         ctx("web", "javascript", "node", "async"), _T.REFACTORING, steps_from(
             "read_file: lib/uploader.js => 6 levels of nested callbacks",
             "edit_file: promisify fs and S3 calls, async functions with try/catch => ok",
             "run_tests: npm test => 33 passed"),
         verdict="same behaviour, flat code"),
    seed("config-keys",
         "Rename deprecated configuration keys and keep backward compatibility",
         ctx("cli", "python", None, "config"), _T.REFACTORING, steps_from(
             "grep: 'max_conn' and 'timeout_secs' => 41 uses in 12 files",
             "edit_file: alias table old -> new with a DeprecationWarning on load => ok",
             "run_tests: pytest tests/test_settings.py => 18 passed"),
         verdict="old keys accepted with a warning"),
    seed("checkout-flags",
         "Remove stale feature flags and dead code from the checkout service",
         ctx("web", "python", None, "cleanup", "checkout"), _T.REFACTORING, steps_from(
             "shell: list flags unchanged for 180 days => 9 flags always on",
             "edit_file: inline the on branch and delete the off branch of each => -1240 lines",
             "run_tests: pytest services/checkout => 201 passed"),
         verdict="9 flags removed"),
    seed("midnight-flaky",
         "Fix the test that fails only around midnight because of timezone handling",
         ctx("cli", "python", "pytest", "flaky", "datetime"), _T.TESTING, steps_from(
             "!run_tests: pytest tests/test_schedule.py at 23:59 UTC-5 => expected "
             "2024-03-02, got 2024-03-03",
             "read_file: scheduler/dates.py => date.today() mixed with UTC datetimes",
             "edit_file: use datetime.now(UTC) everywhere and freeze time in the test => ok",
             "run_tests: pytest tests/test_schedule.py with 24 frozen hours => passed"),
         verdict="deterministic"),
    seed("cli-export",
         "Add an export subcommand to the CLI with a --format option for JSON and CSV",
         ctx("cli", "python", "click", "cli"), _T.CODE_GENERATION, steps_from(
             "edit_file: cli/main.py @cli.command() export with --format json|csv => ok",
             "run_tests: pytest tests/test_cli.py -k export => 4 passed"),
         verdict="export works in both formats"),
    seed("billing-coverage", "Raise unit test coverage of the billing module from 60% to 85%",
         ctx("web", "python", "pytest", "coverage", "billing"), _T.TESTING, steps_from(
             "shell: pytest --cov=billing => 60%",
             "edit_file: tests for proration, refunds and currency rounding => 37 new tests",
             "shell: pytest --cov=billing => 86%"),
         verdict="86% coverage"),
    seed("checkout-e2e", "Write Playwright end-to-end tests for the checkout flow",
         ctx("web", "typescript", "playwright", "e2e", "checkout"), _T.TESTING, steps_from(
             "edit_file: e2e/checkout.spec.ts cart, address, payment, confirmation => ok",
             "!run_tests: npx playwright test => payment step: iframe not ready, timeout "
             "30000 ms",
             "edit_file: wait for the Stripe frame to load => ok",
             "run_tests: npx playwright test => 5 passed, 1 flaky on webkit"),
         outcome="partial", verdict="webkit run still flaky"),
    seed("go-race", "Fix the data race in the Go metrics collector reported by go test -race",
         ctx("cli", "go", None, "concurrency"), _T.DEBUGGING, steps_from(
             "!run_tests: go test -race ./metrics => WARNING: DATA RACE write at "
             "collector.go:88 by goroutine 14",
             "edit_file: guard the counters map with a sync.RWMutex => ok",
             "run_tests: go test -race -count=20 ./metrics => ok"),
         verdict="no races in 20 runs"),
    seed("rust-borrow", "Resolve borrow checker errors in the Rust config parser",
         ctx("cli", "rust", None, "lifetimes"), _T.DEBUGGING, steps_from(
             "!shell: cargo build => error[E0502]: cannot borrow `self.tokens` as mutable "
             "because it is also borrowed as immutable",
             "edit_file: clone the peeked token before advancing the cursor => ok",
             "shell: cargo test => 48 passed"),
         verdict="compiles and passes"),
    seed("deps-upgrade-py", "Upgrade the project's dependencies and fix the tests that broke",
         ctx("web", "python", "pytest", "dependencies"), _T.TESTING, steps_from(
             "shell: poetry update => pydantic 1.10 -> 2.7, httpx 0.24 -> 0.27",
             "!run_tests: pytest => 23 failed: AttributeError: 'Model' has no attribute 'dict'",
             "edit_file: model_dump instead of dict, field_validator instead of validator => ok",
             "run_tests: pytest => 431 passed"),
         verdict="on pydantic v2"),
    seed("deps-upgrade-ts", "Upgrade the project's dependencies and fix the tests that broke",
         ctx("web", "typescript", "jest", "dependencies"), _T.TESTING, steps_from(
             "shell: npx npm-check-updates -u && npm install => 38 packages updated",
             "!run_tests: npx jest => SyntaxError: Cannot use import statement outside a "
             "module (nanoid 5 is ESM only)",
             "edit_file: jest.config transformIgnorePatterns for ESM packages => ok",
             "run_tests: npx jest => 289 passed"),
         verdict="all green on the new versions"),
    seed("json-logging-py", "Add structured JSON logging with request ids",
         ctx("web", "python", "fastapi", "logging", "observability"), _T.CODE_GENERATION,
         steps_from(
             "edit_file: app/logging.py structlog JSONRenderer and a contextvar request_id "
             "=> ok",
             "edit_file: middleware sets request_id from the X-Request-ID header => ok",
             "shell: curl localhost:8000/health; tail app.log => {\"event\": \"request\", "
             "\"request_id\": \"4f1c\"}"),
         verdict="every line is JSON with a request_id"),
    seed("json-logging-go", "Add structured JSON logging with request ids",
         ctx("web", "go", "net/http", "logging", "observability"), _T.CODE_GENERATION,
         steps_from(
             "edit_file: internal/log/log.go slog.NewJSONHandler as the default logger => ok",
             "edit_file: middleware stores the request id in the context and logs with it "
             "=> ok",
             "shell: curl localhost:8080/health; tail server.log => {\"msg\":\"request\","
             "\"request_id\":\"9b2e\"}"),
         verdict="every line is JSON with a request_id"),
    seed("android-login-test", "Fix the failing login UI test on Android",
         ctx("mobile", "kotlin", "espresso", "auth", "ui-test"), _T.DEBUGGING, steps_from(
             "!run_tests: ./gradlew connectedAndroidTest => LoginActivityTest: "
             "NoMatchingViewException: with id login_button",
             "read_file: res/layout/activity_login.xml => button id renamed to sign_in_button",
             "edit_file: LoginActivityTest.kt use R.id.sign_in_button => ok",
             "run_tests: ./gradlew connectedAndroidTest => 12 passed"),
         verdict="UI test green"),
]

_RESEARCH = [
    seed("vector-db-compare", "Compare vector databases for storing 10M embeddings",
         ctx("research", None, None, "vectors", "databases"), _T.RESEARCH, steps_from(
             "search_web: pgvector vs qdrant vs milvus benchmarks 10M vectors => 6 sources",
             "shell: load 1M sample vectors into each => p95 query 4 ms / 6 ms / 9 ms",
             "write_file: notes/vector_db.md cost per month and ops burden => ok"),
         verdict="pgvector with HNSW recommended"),
    seed("license-audit", "Audit third-party dependency licenses for GPL conflicts",
         ctx("research", "python", None, "licenses", "compliance"), _T.ANALYSIS, steps_from(
             "shell: pip-licenses --format=csv => 212 packages",
             "python: filter GPL/AGPL/LGPL => 3 packages (one AGPL)",
             "write_file: licenses.md replace the AGPL package, LGPL ok when dynamic => ok"),
         verdict="one package to replace"),
]

# fmt: on

SEEDS: tuple[EpisodeSpec, ...] = tuple(_WEB + _INFRA + _DATA + _ML + _DOCS + _CODE + _RESEARCH)
