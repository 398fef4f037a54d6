"""The planted truth of the fifth world, as data: a hospital IT and clinical-data desk.

Twelve task families with their canonical tools, weights and base success rates; the
decisions, context effects and errors planted in them; the noise tools and tags that have
no effect. :mod:`benchmarks.planted_fifth` draws episodes from these tables and
:mod:`benchmarks.bench_planted_fifth` judges the learner against them. Nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A kind of task. ``canonical`` holds the better option at a decision slot."""

    name: str
    weight: float  # share of episodes
    base: float  # success rate before any effect
    domain: str
    task_type: str
    languages: tuple[tuple[str, float], ...]  # programming language and its share
    framework: str
    complexity: str
    canonical: tuple[str, ...]
    german: float = 0.0  # share of runs whose task text is German


FAMILIES: tuple[Family, ...] = (
    Family(
        "lab_import", 0.22, 0.50, "clinical-data", "data_import",
        (("python", 0.6), ("sql", 0.4)), "mirth-connect", "moderate",
        ("fetch_ticket", "pull_lab_feed", "map_loinc_codes", "validate_hl7",
         "push_to_ehr", "close_ticket"),
    ),
    Family(
        "ehr_access", 0.13, 0.62, "identity", "access_request",
        (("powershell", 1.0),), "active-directory", "simple",
        ("fetch_ticket", "check_ad_group", "confirm_approval_chain", "grant_ehr_role",
         "notify_requester", "close_ticket"),
    ),
    Family(
        "hl7_fix", 0.10, 0.55, "integration", "debugging",
        (("bash", 1.0),), "cloverleaf", "complex",
        ("fetch_ticket", "check_interface_queue", "restart_interface", "tail_engine_log",
         "close_ticket"),
    ),
    Family(
        "pacs_reroute", 0.09, 0.60, "imaging", "operations",
        (("bash", 1.0),), "dcm4chee", "moderate",
        ("query_pacs_study", "check_modality_worklist", "route_study", "verify_study_count",
         "notify_requester"),
    ),
    Family(
        "bed_board_sync", 0.08, 0.75, "patient-flow", "data_sync",
        (("sql", 1.0),), "epic-adt", "moderate",
        ("fetch_ticket", "query_adt_events", "reconcile_bed_status", "push_bed_board",
         "close_ticket"),
        german=0.8,
    ),
    Family(
        "formulary_update", 0.08, 0.45, "pharmacy", "config_change",
        (("sql", 1.0),), "willow", "complex",
        ("fetch_ticket", "snapshot_config", "stage_formulary_change", "validate_formulary",
         "push_to_ehr", "close_ticket"),
    ),
    Family(
        "badge_provision", 0.07, 0.92, "identity", "access_request",
        (("powershell", 1.0),), "active-directory", "simple",
        ("fetch_ticket", "lookup_hr_record", "check_ad_group", "encode_badge",
         "notify_requester"),
    ),
    Family(
        "lab_reconcile", 0.075, 0.42, "clinical-data", "data_import",
        (("python", 0.5), ("sql", 0.5)), "mirth-connect", "moderate",
        ("fetch_ticket", "pull_lab_feed", "diff_result_sets", "validate_hl7", "push_to_ehr",
         "close_ticket"),
    ),
    Family(
        "hl7_replay", 0.065, 0.45, "integration", "debugging",
        (("bash", 1.0),), "cloverleaf", "complex",
        ("fetch_ticket", "check_interface_queue", "replay_backlog", "verify_ack",
         "close_ticket"),
    ),
    Family(
        "dicom_export", 0.035, 0.80, "imaging", "data_export",
        (("python", 1.0),), "pydicom", "moderate",
        ("query_pacs_study", "strip_phi_tags", "validate_deidentification",
         "export_to_research_share"),
        german=0.8,
    ),
    Family(
        "audit_extract", 0.03, 0.40, "compliance", "data_export",
        (("sql", 1.0),), "splunk", "simple",
        ("fetch_ticket", "run_audit_query", "redact_export", "export_to_research_share",
         "notify_requester"),
    ),
    Family(
        "firmware_rollout", 0.025, 0.65, "biomed", "deployment",
        (("bash", 1.0),), "alaris-systems-manager", "complex",
        ("fetch_ticket", "snapshot_config", "check_device_inventory", "stage_firmware",
         "push_firmware", "verify_device_checkin", "close_ticket"),
    ),
)  # fmt: skip

FAMILY = {f.name: f for f in FAMILIES}

# ---------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A slot of a family's sequence with alternative tools; ``options[0]`` is the better
    one (for the decoy, no option is better)."""

    id: str
    family: str
    slot: int  # index in the family's canonical tools
    options: tuple[str, ...]
    shares: tuple[float, ...]  # how often each option is taken
    effect: float  # added to the success rate when options[0] is taken
    decoy: bool = False

    @property
    def after_tool(self) -> str:
        return FAMILY[self.family].canonical[self.slot - 1]


DECISIONS: tuple[Decision, ...] = (
    Decision(
        "dec:lab_import", "lab_import", 2, ("map_loinc_codes", "guess_lab_codes"),
        (0.6, 0.4), 0.15,
    ),
    Decision(
        "dec:ehr_access", "ehr_access", 2, ("confirm_approval_chain", "assume_standing_approval"),
        (0.3, 0.7), 0.25,
    ),
    Decision(
        "dec:hl7_fix", "hl7_fix", 2,
        ("restart_interface", "clear_queue_manually", "bounce_listener_port"),
        (0.4, 0.3, 0.3), 0.35,
    ),
    Decision(
        "dec:formulary_update", "formulary_update", 2,
        ("stage_formulary_change", "apply_formulary_direct"), (0.6, 0.4), 0.45,
    ),
    Decision(
        "decoy:bed_board_sync", "bed_board_sync", 2,
        ("reconcile_bed_status", "rebuild_bed_census"), (0.5, 0.5), 0.0, decoy=True,
    ),
)  # fmt: skip

DECISION_OF = {d.family: d for d in DECISIONS}

# ---------------------------------------------------------------------------------------
# Context effects
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextEffect:
    """An optional tool that changes success only when ``feature`` holds."""

    id: str
    family: str
    tool: str
    feature: str  # "tag=<tag>" or "language=<language>"
    effect: float
    holds: float  # share of the family's runs with the feature (tags; languages: FAMILIES)
    after: int  # the tool is inserted after this canonical index
    use_rate: float = 0.45

    @property
    def tag(self) -> str | None:
        return self.feature.removeprefix("tag=") if self.feature.startswith("tag=") else None


CONTEXT_EFFECTS: tuple[ContextEffect, ...] = (
    ContextEffect("ctx:pacs_reroute", "pacs_reroute", "prefetch_prior_studies",
                  "tag=oncology", 0.30, 0.30, 2),
    ContextEffect("ctx:lab_reconcile", "lab_reconcile", "freeze_result_batch",
                  "tag=month-end", 0.50, 0.35, 2),
    ContextEffect("ctx:lab_import", "lab_import", "explain_query_plan",
                  "language=sql", 0.40, 0.40, 3),
    ContextEffect("ctx:badge_provision", "badge_provision", "bulk_sync_door_controllers",
                  "tag=after-hours", -0.35, 0.30, 3),
)  # fmt: skip

CONTEXT_OF = {c.family: c for c in CONTEXT_EFFECTS}

# A feature tag also shows up, with no tool effect, in other families' runs at this rate.
FEATURE_TAG_ELSEWHERE = 0.05

# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedError:
    """An error of a canonical tool and what recovers it.

    ``kind``: ``retry`` (run it again), ``fix`` (run ``remedy``, then again), ``replace``
    (run ``remedy`` instead), ``none`` (nothing works: the run fails), ``varied`` (one class
    of error whose messages vary a lot; recovered by retry). ``wrong`` is the recovery a
    mistaken agent tries instead.
    """

    id: str
    tool: str
    kind: str
    rate: float  # chance that a call of the tool raises it
    remedy: str | None
    wrong: str | None  # a tool used wrongly in its place; None: the wrong move is a retry

    @property
    def expected(self) -> tuple[str | None, str | None]:
        """The right (best_recovery, best_mode) of a served ErrorRecovery."""
        return {
            "retry": ("retry", "retry"),
            "varied": ("retry", "retry"),
            "fix": (self.remedy, "fix"),
            "replace": (self.remedy, "replace"),
            "none": (None, None),
        }[self.kind]


ERRORS: tuple[PlantedError, ...] = (
    PlantedError("err:pull_lab_feed", "pull_lab_feed", "retry", 0.12, None,
                 "load_lab_csv_export"),
    PlantedError("err:push_to_ehr", "push_to_ehr", "fix", 0.10, "refresh_service_token", None),
    PlantedError("err:query_pacs_study", "query_pacs_study", "replace", 0.12,
                 "query_vna_index", None),
    PlantedError("err:grant_ehr_role", "grant_ehr_role", "none", 0.10, None, None),
    PlantedError("err:check_interface_queue", "check_interface_queue", "varied", 0.15, None,
                 "failover_engine_node"),
)  # fmt: skip

ERROR_OF = {e.tool: e for e in ERRORS}

# What the agent does after an error: the right recovery, a wrong one, or give up.
RECOVERY_SHARES = (0.70, 0.20, 0.10)
# For the error with no recovery: retry (fails again), the token fix then retry (fails
# again), give up.
NO_RECOVERY_FIX = "refresh_service_token"

# ---------------------------------------------------------------------------------------
# Noise, tags and run-level rates
# ---------------------------------------------------------------------------------------

# Inserted at a random position in any family's run.
RANDOM_NOISE = {"check_service_status": 0.25, "search_kb_articles": 0.12}
# Rate depends on the family.
FAMILY_NOISE = ("open_vendor_portal", "hl7_replay", 0.60, 0.05)
# Rate depends on the tag urgent: (tool, rate with urgent, rate without).
URGENT_NOISE = ("page_on_call", 0.50, 0.10)
# Appended after a run has failed, in this share of failed runs.
INCIDENT_NOTE = ("write_incident_note", 0.70)
NOISE_TOOLS = (
    *RANDOM_NOISE,
    FAMILY_NOISE[0],
    URGENT_NOISE[0],
    INCIDENT_NOTE[0],
)

URGENT_TAG = "urgent"
URGENT_RATE = 0.20
URGENT_EFFECT = -0.25

# Decoy tags: (tag, family it is correlated with or None, rate in it, rate elsewhere).
DECOY_TAGS = (
    ("interface-team", "hl7_fix", 0.85, 0.03),
    ("cloverleaf-prod", "hl7_fix", 0.75, 0.02),
    ("weekend", None, 0.20, 0.20),
    ("night-shift", None, 0.15, 0.15),
)

SKIP_RATE = 0.05  # a canonical step left out ...
SKIP_FAILS = 0.90  # ... and the run then fails with this probability
EARLY_STOP_RATE = 0.03  # the run stops early and fails
CLIP = (0.03, 0.97)


def clip(p: float) -> float:
    return min(CLIP[1], max(CLIP[0], p))


# ---------------------------------------------------------------------------------------
# What the judge counts as a family's sequence
# ---------------------------------------------------------------------------------------


def sequence_variants(family: Family) -> list[tuple[str, ...]]:
    """The canonical tools with the better option at a decision slot, or any option at the
    decoy's slot."""
    decision = DECISION_OF.get(family.name)
    if decision is None or not decision.decoy:
        return [family.canonical]
    variants = []
    for option in decision.options:
        tools = list(family.canonical)
        tools[decision.slot] = option
        variants.append(tuple(tools))
    return variants
