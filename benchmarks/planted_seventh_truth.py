"""What the seventh planted world plants: a logistics dispatch desk's task families, decisions,
context effects, errors and noise tools, as data.

A family's ``steps`` are its canonical tools in order, with two kinds of slot: ``"@name"`` is
the decision ``name`` (one of its options is called there) and ``"?tool"`` is an optional
tool (called in about half the runs, see :data:`OPTIONAL`). The generator
(:mod:`benchmarks.planted_seventh`) draws runs from these tables and the judge
(:mod:`benchmarks.bench_planted_seventh`) scores served patterns against them.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    name: str
    weight: float  # share of episodes
    base: float  # success rate before any effect
    domain: str  # the family's usual domain (the other one in 30% of runs)
    task_type: str
    ref: str  # the slot that names the object of the task (shipment, load, order, vehicle)
    steps: tuple[str, ...]


FAMILIES: tuple[Family, ...] = (
    # reroute_closure and delay_inquiry share their first three tools
    Family(
        "reroute_closure", 0.20, 0.55, "logistics", "dispatch", "shipment",
        ("lookup_shipment", "check_depot_status", "query_telematics", "plan_detour_route",
         "?check_hazmat_restrictions", "@linehaul", "notify_customer"),
    ),
    Family(
        "delay_inquiry", 0.16, 0.70, "logistics", "incident", "shipment",
        ("lookup_shipment", "check_depot_status", "query_telematics", "estimate_new_eta",
         "@eta_channel", "file_delay_report"),
    ),
    Family(
        "failed_delivery", 0.13, 0.50, "logistics", "incident", "shipment",
        ("lookup_shipment", "get_delivery_attempts", "contact_recipient",
         "?schedule_phone_confirmation", "@redelivery", "notify_customer"),
    ),
    Family(
        "driver_assignment", 0.11, 0.60, "fleet", "dispatch", "load",
        ("lookup_load", "check_driver_hours", "?verify_license_class", "assign_driver",
         "confirm_dispatch"),
    ),
    Family(
        "load_consolidation", 0.09, 0.45, "fleet", "dispatch", "load",
        ("lookup_load", "sync_pallet_manifest", "compute_trailer_fill",
         "?auto_consolidate_loads", "@stacking", "book_trailer"),
    ),
    Family(
        "customs_clearance", 0.08, 0.65, "logistics", "admin", "shipment",
        ("lookup_shipment", "check_hs_codes", "calculate_duties", "generate_ebol",
         "submit_customs_declaration", "clear_customs", "release_to_carrier",
         "notify_customer"),
    ),
    Family(
        "temperature_excursion", 0.07, 0.35, "logistics", "incident", "shipment",
        ("lookup_shipment", "read_reefer_log", "@excursion", "file_excursion_report"),
    ),
    # return_pickup and pallet_pickup are the look-alike pair: near-identical wording
    Family(
        "return_pickup", 0.06, 0.75, "logistics", "dispatch", "shipment",
        ("lookup_order", "validate_return_authorization", "book_pickup_window",
         "print_return_label", "notify_customer"),
    ),
    Family(
        "pallet_pickup", 0.05, 0.85, "logistics", "dispatch", "shipment",
        ("lookup_order", "sync_pallet_manifest", "book_pickup_window", "generate_ebol",
         "assign_courier"),
    ),
    # multi_stop_dispatch is driver_assignment plus two steps at the end
    Family(
        "multi_stop_dispatch", 0.03, 0.80, "fleet", "dispatch", "load",
        ("lookup_load", "check_driver_hours", "assign_driver", "confirm_dispatch",
         "optimize_stop_order", "publish_route_sheet"),
    ),
    Family(
        "fuel_card_limit", 0.02, 0.90, "fleet", "admin", "vehicle",
        ("lookup_vehicle", "check_fuel_card_limits", "raise_fuel_card_limit"),
    ),
)  # fmt: skip

FAMILY = {f.name: f for f in FAMILIES}
DOMAINS = ("logistics", "fleet")
USUAL_DOMAIN = 0.70

# ---------------------------------------------------------------------------------------
# Decisions: at the slot ``@name`` the agent calls one of ``options`` at ``rates``; the
# first option is the better one and adds ``effect`` to the run's success rate.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    name: str
    family: str
    options: tuple[str, ...]  # the better one first
    rates: tuple[float, ...]  # how often each is taken (see ``confounded``)
    effect: float  # what the first option adds to success
    decoy: bool = False
    # the tag under which the agent takes the first option 75% of the time (25% without)
    confounded: str | None = None

    @property
    def better(self) -> str:
        return self.options[0]

    @property
    def worse(self) -> tuple[str, ...]:
        return self.options[1:]


DECISIONS: tuple[Decision, ...] = (
    Decision("linehaul", "reroute_closure", ("book_linehaul_slot", "hold_at_hub"),
             (0.5, 0.5), 0.10),
    Decision("excursion", "temperature_excursion",
             ("quarantine_cargo", "release_cargo", "transfer_to_backup_reefer"),
             (0.4, 0.3, 0.3), 0.25),
    Decision("stacking", "load_consolidation", ("split_by_axle_weight", "fill_by_volume"),
             (0.2, 0.8), 0.40),
    # decoys: no effect of their own
    Decision("eta_channel", "delay_inquiry", ("send_eta_email", "send_eta_sms"),
             (0.5, 0.5), 0.0, decoy=True),
    Decision("redelivery", "failed_delivery",
             ("book_express_redelivery", "book_standard_redelivery"),
             (0.75, 0.25), 0.0, decoy=True, confounded="priority"),
)  # fmt: skip

DECISION = {d.name: d for d in DECISIONS}

# ---------------------------------------------------------------------------------------
# Optional tools: called in ``rate`` of the family's runs; ``effect`` applies when the
# feature (``("tag", value)`` or ``("language", value)``) holds, or always if it is None.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionalTool:
    name: str
    family: str
    tool: str
    feature: tuple[str, str] | None
    effect: float
    rate: float = 0.5

    @property
    def feature_text(self) -> str:
        return f"{self.feature[0]}={self.feature[1]}" if self.feature else "any"


OPTIONAL: tuple[OptionalTool, ...] = (
    OptionalTool("hazmat_check", "reroute_closure", "check_hazmat_restrictions",
             ("tag", "hazmat"), +0.35),
    OptionalTool("phone_confirmation", "failed_delivery", "schedule_phone_confirmation",
             ("language", "de"), +0.30),
    OptionalTool("auto_consolidate", "load_consolidation", "auto_consolidate_loads",
             ("tag", "oversize"), -0.30),
    # helps everywhere in its family: not a context effect
    OptionalTool("license_check", "driver_assignment", "verify_license_class", None, +0.20),
)  # fmt: skip

OPTIONAL_TOOL = {o.tool: o for o in OPTIONAL}
CONTEXT_EFFECTS = tuple(o for o in OPTIONAL if o.feature is not None)

# ---------------------------------------------------------------------------------------
# Context: languages, tags and the tags' own effects
# ---------------------------------------------------------------------------------------

LANGUAGES = {"fr": 0.30, "en": 0.30, "de": 0.25, "es": 0.15}  # independent of family

TAG_RATES = {
    "priority": 0.25,
    "weekend": 0.20,
    "hazmat": 0.08,
    "oversize": 0.08,
    "cross_border": 0.08,
    "fragile": 0.12,
    "key_account": 0.12,
    "cash_on_delivery": 0.08,
}
# weak ties of tags to families: the tag's rate in that family instead of the global one
FAMILY_TAG_RATES = {
    "reroute_closure": {"hazmat": 0.40},
    "load_consolidation": {"oversize": 0.45},
    "customs_clearance": {"cross_border": 0.60},
    "failed_delivery": {"cash_on_delivery": 0.25},
    "temperature_excursion": {"fragile": 0.30},
    "return_pickup": {"fragile": 0.25},
}
MAX_TAGS = 3
TAG_EFFECTS = {"priority": +0.15, "weekend": -0.10}  # in every family

# ---------------------------------------------------------------------------------------
# Noise tools: no effect of their own
# ---------------------------------------------------------------------------------------

GLOBAL_NOISE = {"fetch_weather_feed": 0.20, "log_ticket_note": 0.20}
FAMILY_NOISE = {"customs_clearance": ("ping_broker_portal", 0.40)}
# called in 60% of runs with the tag, 8% without; the tag lowers success (TAG_EFFECTS)
TAG_NOISE = ("log_after_hours_contact", "weekend", 0.60, 0.08)
NOISE_TOOLS = (*GLOBAL_NOISE, FAMILY_NOISE["customs_clearance"][0], TAG_NOISE[0])

# ---------------------------------------------------------------------------------------
# Errors: a call of ``tool`` fails with probability ``rate``; ``mode`` is the right
# recovery ("retry", "fix" with ``recovery`` then the tool again, "replace" with
# ``recovery`` instead, or None: none works). ``wrong`` is the wrong recovery tried.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedError:
    name: str
    tool: str
    rate: float
    mode: str | None
    recovery: str | None
    wrong: str | None  # a tool tried instead of the right recovery (None: the same tool again)


ERRORS: tuple[PlantedError, ...] = (
    PlantedError("telematics_timeout", "query_telematics", 0.10, "retry", None,
                 "read_cached_positions"),
    PlantedError("roster_locked", "assign_driver", 0.15, "fix", "refresh_driver_roster", None),
    PlantedError("bol_deprecated", "print_bill_of_lading", 1.0, "replace", "generate_ebol", None),
    PlantedError("manifest_stale", "sync_pallet_manifest", 0.15, "fix", "rebuild_manifest_cache",
                 "restart_edi_gateway"),
    PlantedError("customs_hold", "clear_customs", 0.20, None, None, None),
)  # fmt: skip

ERROR_OF_TOOL = {e.tool: e for e in ERRORS}
# the deprecated tool is called in place of its replacement in this share of the runs
DEPRECATED_CALL_RATE = 0.30
RECOVER_RIGHT, RECOVER_WRONG = 0.75, 0.15  # the rest give up
UNRECOVERABLE_RETRY = 0.30  # a futile retry before giving up on the error with no recovery
SKIP_RATE, SKIP_FAILS = 0.05, 0.85
CLIP = (0.03, 0.97)


def planted_facts() -> dict[str, list[str]]:
    """The fact ids per kind: one per family, effective decision, context effect and error."""
    return {
        "sequence": [f"sequence:{f.name}" for f in FAMILIES],
        "decision": [f"decision:{d.name}" for d in DECISIONS if not d.decoy],
        "context": [f"context:{o.name}" for o in CONTEXT_EFFECTS],
        "error": [f"error:{e.name}" for e in ERRORS],
    }
