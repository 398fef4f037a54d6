"""Whether a family's learned tool sequence includes an optional step exactly when it should.

    python -m benchmarks.bench_optional_steps [--quick] [--sizes 40,80,160,400] [--seeds 0-9]

Each seed builds 6-9 task families, each with its own domain, task type, language, task
templates and base procedure of 3-5 tools, plus one optional tool inserted at a fixed position;
a run takes it with a fixed share between 0.3 and 0.7. Runs succeed with a base probability
between 0.4 and 0.7, raised (up to 0.98) by the step's effect of 0.2, 0.3 or 0.45:
"everywhere" in every run that takes it (the step belongs in the sequence), "feature" only when
the run has one tag or language (it does not belong), "none" never (it does not belong). Runs
carry 0-3 decoy tags; all families' runs are interleaved one minute apart, ending one day ago,
and fed to one ``PatternLearner``. A family's served sequence is the served ``ToolSequence``
holding all its base tools (the largest by support). Prints, per kind and effect and per runs
per family, in how many cases that sequence included the optional step.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning import PatternLearner
from selfmem.records.learned import ToolSequence

Counts = Counter[tuple[str, float, int, str]]  # (kind, effect, size, verdict) -> cases


@dataclass(frozen=True)
class Blueprint:
    """What a family is about: its words, its tools and its optional step."""

    domain: str
    task_type: TaskType
    language: str | None
    templates: tuple[str, ...]
    tools: tuple[str, ...]
    optional: str


@dataclass(frozen=True)
class Family:
    """A blueprint with the planted truth of one seed."""

    plan: Blueprint
    kind: str
    effect: float
    base: float
    position: int
    take_share: float
    tag_rates: tuple[tuple[str, float], ...]
    feature_tag: str | None
    feature_language: str | None
    feature_share: float


CATALOG = (
    Blueprint("billing", TaskType.DEBUGGING, "python", (
        "Reconcile the invoice ledger of account {id} flagged by {name}",
        "Find why the billing run charged {name} twice on invoice {id}",
        "Refund the duplicate charge on invoice {id} for {name}",
        "Check the proration of plan {id} billed to {name}",
    ), ("fetch_ledger", "diff_charges", "issue_refund", "close_ticket"), "audit_tax_rules"),
    Blueprint("infra", TaskType.DEPLOYMENT, "go", (
        "Rotate the TLS certificate on host web-{id} for {name}",
        "Renew the expiring certificate of node {id} before {name}'s release",
        "Replace the load balancer certificate {id} requested by {name}",
    ), ("ssh_host", "renew_cert", "reload_proxy", "verify_handshake"), "drain_traffic"),
    Blueprint("support", TaskType.OTHER, None, (
        "Answer {name}'s complaint about the delayed parcel {id}",
        "Reply to ticket {id} where {name} asks for a delivery refund",
        "Escalate the shipping complaint {id} from {name}",
    ), ("open_ticket", "lookup_shipment", "draft_reply", "close_ticket"), "offer_voucher"),
    Blueprint("analytics", TaskType.ANALYSIS, "python", (
        "Build the weekly churn cohort report {id} for {name}",
        "Compute retention cohorts of segment {id} for {name}'s review",
        "Explain the churn spike in cohort {id} that {name} noticed",
    ), ("query_warehouse", "build_cohorts", "plot_retention"), "dedupe_events"),
    Blueprint("mobile", TaskType.TESTING, "kotlin", (
        "Run the UI regression suite on app build {id} for {name}",
        "Check the login screen snapshots of app build {id} before {name} ships",
        "Verify the crash fix in app build {id} reported by {name}",
    ), ("fetch_build", "boot_emulator", "run_ui_suite", "upload_report"), "clear_app_cache"),
    Blueprint("docs", TaskType.DOCUMENTATION, None, (
        "Write the changelog entry for release {id} with {name}",
        "Update the reference pages of endpoint {id} after {name}'s change",
        "Publish the migration guide section {id} reviewed by {name}",
    ), ("collect_commits", "render_markdown", "publish_site"), "check_links"),
    Blueprint("warehouse", TaskType.REFACTORING, "sql", (
        "Split the orders table in migration {id} planned by {name}",
        "Rename the column of schema {id} as {name} asked",
        "Backfill the partitioned table {id} for {name}",
    ), ("dump_schema", "write_migration", "apply_migration", "run_tests"), "snapshot_table"),
    Blueprint("security", TaskType.RESEARCH, None, (
        "Investigate the suspicious login burst on account {id} reported by {name}",
        "Trace the leaked access key {id} that {name} found",
        "Review the firewall alerts of subnet {id} with {name}",
    ), ("pull_auth_logs", "geoip_lookup", "revoke_sessions", "file_incident"), "notify_owner"),
    Blueprint("payments", TaskType.CODE_GENERATION, "java", (
        "Add a webhook handler for payment event {id} as {name} specified",
        "Implement the retry policy of card processor {id} for {name}",
        "Generate the client for acquirer API version {id} that {name} needs",
    ), ("scaffold_handler", "write_code", "run_tests", "open_pull_request"), "regen_stubs"),
    Blueprint("ml", TaskType.OTHER, "python", (
        "Retrain the ranking model {id} on fresh clicks for {name}",
        "Evaluate the recommender checkpoint {id} against {name}'s baseline",
        "Tune the learning rate of model {id} as {name} suggested",
    ), ("load_dataset", "train_model", "evaluate_model", "register_model"), "shuffle_shards"),
)  # fmt: skip
KIND_EFFECTS = (
    ("everywhere", 0.2), ("everywhere", 0.3), ("everywhere", 0.45),
    ("feature", 0.2), ("feature", 0.3), ("feature", 0.45), ("none", 0.0),
)  # fmt: skip
DESIRED = {"everywhere": True, "feature": False, "none": False}
TAGS = (
    "night-shift", "urgent", "customer-facing", "eu-region", "legacy-os", "on-call",
    "vip", "batch-job", "fips-mode", "weekend", "large-tenant", "beta",
)  # fmt: skip
LANGUAGES = ("python", "go", "rust", "typescript", "java", "kotlin", "sql")
NAMES = ("Anna", "Bilal", "Chen", "Dora", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jules")


def make_family(rng: random.Random, plan: Blueprint, kind: str, effect: float) -> Family:
    """Draw one seed's truth for a blueprint."""
    by_language = kind == "feature" and plan.language is not None and rng.random() < 0.5
    by_tag = kind == "feature" and not by_language
    tags = rng.sample(TAGS, 3)
    decoys = tags[:2] if by_tag else tags
    return Family(
        plan=plan,
        kind=kind,
        effect=effect,
        base=rng.uniform(0.4, 0.7),
        position=rng.randint(1, len(plan.tools) - 1),
        take_share=rng.uniform(0.3, 0.7),
        tag_rates=tuple((tag, rng.uniform(0.15, 0.4)) for tag in decoys),
        feature_tag=tags[2] if by_tag else None,
        feature_language=(
            rng.choice([x for x in LANGUAGES if x != plan.language]) if by_language else None
        ),
        feature_share=rng.uniform(0.25, 0.5),
    )


def build_world(seed: int) -> list[Family]:
    """The 6-9 families of a seed, kinds and effects spread over them."""
    rng = random.Random(seed)
    plans = rng.sample(CATALOG, rng.randint(6, 9))
    truths = list(KIND_EFFECTS)
    rng.shuffle(truths)
    return [make_family(rng, plan, *truths[i % len(truths)]) for i, plan in enumerate(plans)]


def run_context(rng: random.Random, family: Family) -> tuple[TaskContext, bool]:
    """A run's context, and whether it has the family's feature."""
    tags = [tag for tag, rate in family.tag_rates if rng.random() < rate]
    language = family.plan.language
    has_feature = False
    if family.feature_tag is not None and rng.random() < family.feature_share:
        tags.append(family.feature_tag)
        has_feature = True
    if family.feature_language is not None and rng.random() < family.feature_share:
        language = family.feature_language
        has_feature = True
    rng.shuffle(tags)
    return TaskContext(domain=family.plan.domain, language=language, tags=tags), has_feature


def success_chance(family: Family, took: bool, has_feature: bool) -> float:
    """The planted probability that a run succeeds."""
    helps = took and (family.kind == "everywhere" or (family.kind == "feature" and has_feature))
    return min(family.base + (family.effect if helps else 0.0), 0.98)


def make_run(rng: random.Random, family: Family, end: datetime) -> Episode:
    """One run of a family that ends at ``end``."""
    context, has_feature = run_context(rng, family)
    tools = list(family.plan.tools)
    took = rng.random() < family.take_share
    if took:
        tools.insert(family.position, family.plan.optional)
    ok = rng.random() < success_chance(family, took, has_feature)
    start = end - timedelta(seconds=30)
    steps = [
        ExecutionStep(tool=tool, observation="ok", timestamp=start + timedelta(seconds=5 * i))
        for i, tool in enumerate(tools)
    ]
    if not ok and rng.random() < 0.5:
        last = steps[-1]
        steps[-1] = ExecutionStep(
            tool=last.tool, error="failed: bad state", timestamp=last.timestamp
        )
    text = rng.choice(family.plan.templates).format(
        id=rng.randint(100, 9999), name=rng.choice(NAMES)
    )
    return Episode(
        task_description=text,
        context=context,
        task_type=family.plan.task_type,
        steps=steps,
        start_time=start,
        end_time=end,
        outcome=TaskOutcome.success("done") if ok else TaskOutcome.failure("not done"),
    )


def verdict(served: list[ToolSequence], family: Family) -> str:
    """The verdict on a family's served sequence: included, left out or no sequence."""
    mine = [p for p in served if set(family.plan.tools) <= set(p.tools)]
    if not mine:
        return "no sequence"
    best = max(mine, key=lambda p: p.support)
    return "included" if family.plan.optional in best.tools else "left out"


def run_case(seed: int, size: int) -> list[tuple[Family, str]]:
    """Feed one seed's stream of ``size`` runs per family to a learner; verdict per family."""
    families = build_world(seed)
    rng = random.Random(seed * 100_003 + size)
    order = [family for family in families for _ in range(size)]
    rng.shuffle(order)
    last = datetime.now(UTC) - timedelta(days=1)
    learner = PatternLearner("default")
    for i, family in enumerate(order):
        learner.observe(make_run(rng, family, last - timedelta(minutes=len(order) - 1 - i)))
    served = [p for p in learner.patterns() if isinstance(p, ToolSequence)]
    return [(family, verdict(served, family)) for family in families]


def parse_seeds(text: str) -> list[int]:
    """Seeds from "0-9", "0,3,5" or a mix such as "0-2,7"."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def tally(sizes: list[int], seeds: list[int]) -> Counts:
    """Counts of verdicts by kind, effect and size."""
    counts: Counts = Counter()
    for size in sizes:
        for seed in seeds:
            for family, outcome in run_case(seed, size):
                counts[(family.kind, family.effect, size, outcome)] += 1
    return counts


def cell(counts: Counts, key: tuple[str, float, int]) -> dict[str, int]:
    """The verdict counts of one kind, effect and size."""
    found = {name: counts[(*key, name)] for name in ("included", "left out", "no sequence")}
    return {**found, "with_sequence": found["included"] + found["left out"]}


def correct_share(counts: Counts, kind: str, size: int) -> str:
    """The share of a kind's cases with a sequence whose verdict is the desired one."""
    rows = [cell(counts, (k, e, size)) for k, e in KIND_EFFECTS if k == kind]
    total = sum(row["with_sequence"] for row in rows)
    right = sum(row["included" if DESIRED[kind] else "left out"] for row in rows)
    return f"{right / total:.2f} ({right}/{total})" if total else "-"


def included_cell(found: dict[str, int]) -> str:
    """A cell of the first table: how often the optional step was in the sequence."""
    return f"included {found['included']}/{found['with_sequence']}"


def missing_cell(found: dict[str, int]) -> str:
    """A cell of the second table: how often no sequence was served."""
    return f"{found['no sequence']}/{found['no sequence'] + found['with_sequence']}"


def print_report(counts: Counts, sizes: list[int]) -> None:
    """The two tables and the per-kind lines."""
    header = f"{'kind':<12}{'effect':>7}" + "".join(f"{size:>16}" for size in sizes)
    tables = (
        ("optional step in the served sequence (of cases with one), by runs per family:",
         included_cell),
        ("cases with no served sequence:", missing_cell),
    )  # fmt: skip
    for title, show in tables:
        print(title)
        print(header)
        for kind, effect in KIND_EFFECTS:
            cells = "".join(f"{show(cell(counts, (kind, effect, s))):>16}" for s in sizes)
            print(f"{kind:<12}{effect:>7.2f}{cells}")
        print()
    for kind, want in DESIRED.items():
        shares = ", ".join(f"{size}: {correct_share(counts, kind, size)}" for size in sizes)
        print(f"{kind}: desired {'included' if want else 'left out'}; correct {shares}")


def as_json(counts: Counts, sizes: list[int], seeds: list[int]) -> str:
    """The results as JSON."""
    cells = [
        {"kind": kind, "effect": effect, "size": size, **cell(counts, (kind, effect, size))}
        for kind, effect in KIND_EFFECTS
        for size in sizes
    ]
    correct = {
        kind: {size: correct_share(counts, kind, size) for size in sizes} for kind in DESIRED
    }
    return json.dumps(
        {"sizes": sizes, "seeds": seeds, "cells": cells, "correct": correct}, indent=2
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="40,80,160,400", help="runs per family, comma list")
    parser.add_argument("--seeds", default="0-9", help='"0-9" or a comma list')
    parser.add_argument("--quick", action="store_true", help="sizes 40,160 and seeds 0-2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    seeds = parse_seeds(args.seeds)
    if args.quick:
        sizes, seeds = [40, 160], [0, 1, 2]
    counts = tally(sizes, seeds)
    if args.json:
        print(as_json(counts, sizes, seeds))
    else:
        print_report(counts, sizes)


if __name__ == "__main__":
    main()
