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

The parts live beside this module: the records and builders in ``retrieval_records``, the
seeds in ``retrieval_seeds``, the fillers in ``retrieval_fillers``; this module holds the
queries and the checks, and is the one the benchmark imports.

``check()`` validates the set (unique keys, labels that point at seeds, paraphrase overlap
within bounds, fillers clean); ``python -m benchmarks.retrieval_dataset`` prints a summary.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from selfmem.text.tokens import query_terms

from .retrieval_fillers import FORBIDDEN_STEMS, FORBIDDEN_WORDS, fillers, forbidden_tokens
from .retrieval_records import EpisodeSpec, LabelledQuery, Step
from .retrieval_seeds import SEEDS

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
        if not forbidden_tokens(seed.text()):
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
