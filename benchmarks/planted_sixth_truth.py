"""The planted facts of the sixth world (a game studio's build, release and live-ops desk), as data.

Ten task families with their canonical tools, weights and base success; three decisions and a
decoy; three context effects and two decoy tags; four planted errors (one of them a "state"
error shared by three tools called too early); four noise tools. The generator
(:mod:`benchmarks.planted_sixth`) draws episodes from these tables and the judge
(:mod:`benchmarks.bench_planted_sixth`) reads them back; nothing else defines the world.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    name: str
    weight: float
    base: float  # success rate with the worse option, without any context effect
    tools: tuple[str, ...]  # canonical; "@build" = the setting-dependent step, "?slot" = a decision
    domain: str
    task_type: str
    languages: tuple[tuple[str, float], ...]  # language and its share of the family's runs
    framework: str


@dataclass(frozen=True)
class Decision:
    id: str
    family: str
    slot: str  # the "?slot" marker in the family's tools
    after_tool: str
    better: str
    worse: str
    effect: float  # 0.0 = decoy
    p_better: float


@dataclass(frozen=True)
class ContextEffect:
    id: str
    family: str
    tool: str  # optional tool, used in about half the family's runs
    after: str  # inserted right after this canonical tool
    key: str  # "tag" or "language"
    value: str
    effect: float  # on success, only when the feature holds and the tool is used
    p_feature: float  # share of the family's runs with the feature (tags only)
    p_tool: float = 0.5


@dataclass(frozen=True)
class PlantedError:
    id: str
    kind: str  # "retry" | "fix" | "replace" | "state"
    tools: tuple[str, ...]
    message: str
    rate: float  # per call of the tool (state: per run of a family holding one of the tools)
    fix: str | None = None  # fix: the tool run before the retry; state: the missing earlier step
    replacement: str | None = None
    wrong: str | None = None  # the wrong recovery's tool (None: the wrong recovery is a bare retry)


DOMAIN_RELEASE = "release"

FAMILIES: tuple[Family, ...] = (
    Family(
        "pc_storefront_release",
        0.20,
        0.55,
        ("fetch_build", "sign_build", "upload_build", "notify_channel"),
        DOMAIN_RELEASE,
        "deployment",
        (("cpp", 0.7), ("csharp", 0.3)),
        "unreal",
    ),
    Family(
        "console_portal_release",
        0.16,
        0.70,
        ("fetch_build", "upload_build", "sign_build", "notify_channel"),
        DOMAIN_RELEASE,
        "deployment",
        (("cpp", 0.7), ("csharp", 0.3)),
        "unreal",
    ),
    Family(
        "engine_compile",
        0.13,
        0.60,
        ("sync_source", "@build", "run_unit_tests", "archive_artifacts"),
        "build",
        "build",
        (("cpp", 0.6), ("csharp", 0.4)),
        "custom-engine",
    ),
    Family(
        "live_hotfix",
        0.11,
        0.80,
        (
            "checkout_hotfix_branch",
            "run_smoke_tests",
            "apply_patch",
            "run_smoke_tests",
            "sign_build",
            "deploy_patch",
        ),
        "liveops",
        "hotfix",
        (("cpp", 0.5), ("csharp", 0.5)),
        "unity",
    ),
    Family(
        "store_certification",
        0.10,
        0.75,
        ("package_build", "sign_build", "submit_certification", "publish_store_page"),
        DOMAIN_RELEASE,
        "certification",
        (("cpp", 0.5), ("csharp", 0.5)),
        "unity",
    ),
    Family(
        "live_event_rollout",
        0.09,
        0.62,
        ("load_event_config", "validate_event_config", "?rollout", "monitor_metrics"),
        "liveops",
        "event",
        (("lua", 0.6), ("python", 0.4)),
        "playfab",
    ),
    Family(
        "player_account_support",
        0.07,
        0.95,
        ("lookup_player", "inspect_inventory", "grant_compensation", "close_ticket"),
        "support",
        "support",
        (("python", 1.0),),
        "zendesk",
    ),
    Family(
        "crash_report_triage",
        0.06,
        0.60,
        ("fetch_crash_dumps", "symbolicate_dumps", "?cluster", "file_bug"),
        "qa",
        "debugging",
        (("cpp", 0.8), ("csharp", 0.2)),
        "sentry",
    ),
    Family(
        "localization_pass",
        0.05,
        0.93,
        ("export_strings", "?vendor", "import_translations", "verify_fonts"),
        "localization",
        "localization",
        (("python", 1.0),),
        "crowdin",
    ),
    Family(
        "server_fleet_scaling",
        0.03,
        0.55,
        ("query_player_counts", "?forecast", "scale_server_fleet", "verify_matchmaking"),
        "liveops",
        "operations",
        (("go", 0.7), ("python", 0.3)),
        "kubernetes",
    ),
)

#: The setting-dependent step of engine_compile: the build tool of each language.
SETTING_FAMILY = "engine_compile"
SETTING_TOOLS: dict[str, str] = {"cpp": "build_with_msvc", "csharp": "build_with_dotnet"}

DECISIONS: tuple[Decision, ...] = (
    Decision(
        "dec:rollout",
        "live_event_rollout",
        "?rollout",
        "validate_event_config",
        "canary_rollout",
        "full_rollout",
        0.2,
        0.5,
    ),
    Decision(
        "dec:cluster",
        "crash_report_triage",
        "?cluster",
        "symbolicate_dumps",
        "cluster_by_callstack",
        "cluster_by_message",
        0.3,
        0.45,
    ),
    Decision(
        "dec:forecast",
        "server_fleet_scaling",
        "?forecast",
        "query_player_counts",
        "forecast_peak_load",
        "reuse_last_week_peak",
        0.4,
        0.55,
    ),
    Decision(
        "decoy:vendor",
        "localization_pass",
        "?vendor",
        "export_strings",
        "send_to_vendor_kyoto",
        "send_to_vendor_lisbon",
        0.0,
        0.5,
    ),
)

CONTEXT_EFFECTS: tuple[ContextEffect, ...] = (
    ContextEffect(
        "ctx:dlc_manifest",
        "pc_storefront_release",
        "verify_depot_manifest",
        "fetch_build",
        "tag",
        "dlc",
        0.4,
        0.4,
    ),
    ContextEffect(
        "ctx:csharp_clean",
        "engine_compile",
        "clean_intermediate_files",
        "sync_source",
        "language",
        "csharp",
        0.35,
        0.4,
    ),
    ContextEffect(
        "ctx:crosssave_merge",
        "player_account_support",
        "merge_linked_accounts",
        "inspect_inventory",
        "tag",
        "cross-save",
        -0.4,
        0.35,
    ),
)

#: Tags on any run, with no effect at all.
DECOY_TAGS: dict[str, float] = {"hdr-assets": 0.35, "weekend-crunch": 0.3}

STATE_MESSAGE = "precondition failed: build not signed"

ERRORS: tuple[PlantedError, ...] = (
    PlantedError(
        "err:upload_retry",
        "retry",
        ("upload_build",),
        "upload interrupted: connection reset by CDN edge",
        0.15,
        wrong="rotate_cdn_credentials",
    ),
    PlantedError(
        "err:symbols_fix",
        "fix",
        ("symbolicate_dumps",),
        "symbol server returned 404: missing PDB for module",
        0.18,
        fix="upload_debug_symbols",
    ),
    PlantedError(
        "err:import_replace",
        "replace",
        ("import_translations",),
        "unsupported XLIFF version in translation bundle",
        0.18,
        replacement="import_via_tms_api",
    ),
    PlantedError(
        "err:not_signed",
        "state",
        ("submit_certification", "publish_store_page", "deploy_patch"),
        STATE_MESSAGE,
        0.10,
        fix="sign_build",
    ),
)


@dataclass(frozen=True)
class Noise:
    tool: str
    rate: float
    families: tuple[str, ...] = field(default_factory=tuple)  # empty: every family


NOISE: tuple[Noise, ...] = (
    Noise("check_disk_space", 0.25),
    Noise("ping_build_farm", 0.12),
    Noise("read_team_wiki", 0.06),
    # Only in the two families at 0.93+: confounded with success, no effect of its own.
    Noise("post_status_emoji", 0.20, ("player_account_support", "localization_pass")),
)

# Agent behaviour after a planted error, and the skipped step.
P_RIGHT, P_WRONG = 0.75, 0.15  # the rest gives up
P_SKIP, P_SKIP_FAILS = 0.04, 0.9
P_MIN, P_MAX = 0.03, 0.97


def family(name: str) -> Family:
    return next(f for f in FAMILIES if f.name == name)


def planted_facts() -> dict[str, list[str]]:
    return {
        "sequence": [f"seq:{f.name}" for f in FAMILIES],
        "decision": [d.id for d in DECISIONS if d.effect],
        "context": [c.id for c in CONTEXT_EFFECTS],
        "error": [e.id for e in ERRORS],
    }
