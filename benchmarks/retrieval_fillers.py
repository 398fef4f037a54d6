"""Distractor episodes that grow the labelled retrieval set to 1k / 10k / 100k items.

Other tasks in the same domains, languages and tools as the seeds, built from subjects
unrelated to every seed; every generated text is checked against ``FORBIDDEN_STEMS`` and
``FORBIDDEN_WORDS`` (the distinctive words of the seeds and queries), so no filler is relevant
to any query.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from selfmem import TaskType
from selfmem.text.tokens import tokenize

from .retrieval_records import EpisodeSpec, Step, ctx

__all__ = ["FORBIDDEN_STEMS", "FORBIDDEN_WORDS", "fillers", "forbidden_tokens"]

_T = TaskType

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
        context=ctx(domain, language, framework, *tags),
        task_type=task_type,
        steps=steps,
        outcome=outcome,
        verdict=verdicts[outcome],
    )


def forbidden_tokens(text: str) -> list[str]:
    return [t for t in tokenize(text) if t in FORBIDDEN_WORDS or t.startswith(FORBIDDEN_STEMS)]


def fillers(n: int, seed: int = 20240531) -> Iterator[EpisodeSpec]:
    """``n`` distractor episodes, deterministic for a given ``seed``.

    Raises ``ValueError`` if a generated text contains a forbidden stem (a bug in the word
    lists above, never expected at run time).
    """
    rng = random.Random(seed)
    for index in range(n):
        spec = _filler(rng, index)
        bad = forbidden_tokens(spec.text() + " " + " ".join(spec.context.get("tags", [])))
        if bad:
            raise ValueError(f"filler {spec.key} uses seed words {bad}: {spec.description!r}")
        yield spec
