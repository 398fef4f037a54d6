"""The planted truth of the booking-desk world (:mod:`benchmarks.planted_third`): its task
families, decisions, context effects, errors and the rates its agents act by."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONTEXT_EFFECTS",
    "DECISIONS",
    "ERRORS",
    "FAMILIES",
    "NOISE_TOOLS",
    "ContextEffect",
    "Decision",
    "Family",
    "PlantedError",
    "CONTEXT_OF",
    "DECISION_OF",
    "ERROR_OF",
    "canonical_variants",
    "random_date",
]

RecoveryKind = Literal["retry", "fix", "replace", "none"]

# ---------------------------------------------------------------------------------------
# The planted truth
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A kind of task: its canonical tools (a decision slot holds its first option)."""

    name: str
    domain: str
    task_type: str
    language: str
    framework: str | None
    base: float
    tools: tuple[str, ...]
    templates: tuple[str, ...]
    weight: float = 1.0
    alt_language: tuple[str, float] | None = None  # (language, probability)


@dataclass(frozen=True)
class Decision:
    """At ``slot`` the agent takes ``better`` with ``p_better``, else ``worse``.

    ``effect`` is the success the worse option costs; 0 for a decoy (then ``better`` and
    ``worse`` are just the two options)."""

    family: str
    slot: int
    better: str
    worse: str
    effect: float
    p_better: float

    @property
    def decoy(self) -> bool:
        return self.effect == 0.0


@dataclass(frozen=True)
class ContextEffect:
    """``tool`` (called with ``p_call`` before ``before``) matters only under the feature."""

    family: str
    kind: Literal["tag", "language"]
    value: str
    tool: str
    before: str
    effect: float
    p_call: float = 0.5
    p_feature: float = 0.5

    @property
    def feature(self) -> str:
        return f"{self.kind}={self.value}"


@dataclass(frozen=True)
class PlantedError:
    """``tool`` fails with ``rate`` per call; ``kind`` says what recovers it."""

    family: str
    tool: str
    kind: RecoveryKind
    rate: float
    message: Callable[[random.Random], str]
    fix_tool: str | None = None
    replacement: str | None = None
    wrong_tool: str | None = None  # a scraper the agent wrongly switches to (retry kind)


FAMILIES: tuple[Family, ...] = (
    Family(
        "book_flight",
        "flights",
        "booking",
        "english",
        "amadeus",
        0.85,
        ("search_fares", "hold_seat", "issue_ticket", "send_itinerary"),
        (
            "Book a {cabin} flight from {city} to {city2} on {date} for {person}",
            "Find and ticket the best fare {iata}-{iata2} departing {date}, {n} passengers",
            "{person} needs to fly to {city2} from {city} on {date}; reserve and issue the ticket",
            "Get {n} seats on a flight to {city2} leaving {date}; send {person} the itinerary",
            "Arrange air travel {city} to {city2} ({date}) in {cabin} for client {person}",
        ),
        weight=1.3,
    ),
    Family(
        "change_flight",
        "flights",
        "booking",
        "english",
        "amadeus",
        0.80,
        ("lookup_pnr", "search_fares", "reissue_ticket", "send_itinerary"),
        (
            "Change {person}'s flight (PNR {pnr}) to depart {date} instead",
            "Rebook reservation {pnr} onto a later flight to {city2}",
            "Customer {person} wants to move PNR {pnr} from {date} to {date2}",
            "Reissue the ticket for booking {pnr} after a schedule change to {city2}",
            "Swap the return leg of {pnr} to {date2} and send the new itinerary",
        ),
    ),
    Family(
        "book_hotel",
        "hotels",
        "booking",
        "german",
        "hotelbeds",
        0.90,
        ("search_rooms", "compare_rates", "reserve_direct", "send_confirmation"),
        (
            "Book a hotel room in {city} from {date} for {nights} nights for {person}",
            "Find {n} rooms near {landmark} in {city}, check-in {date}",
            "Reserve accommodation in {city} for {person}, {nights} nights, budget {budget} EUR",
            "{person} needs a {room} room in {city} starting {date}",
        ),
        weight=1.2,
    ),
    Family(
        "cancel_hotel",
        "hotels",
        "booking",
        "german",
        "hotelbeds",
        0.75,
        ("lookup_reservation", "check_cancel_policy", "cancel_room", "issue_refund"),
        (
            "Cancel hotel reservation {conf} in {city} for {person}",
            "Customer {person} wants to cancel booking {conf} and get a refund",
            "Void the {city} hotel stay {conf} ({nights} nights) and process the refund",
            "Cancel {n} rooms on confirmation {conf} at the {city} property",
        ),
        weight=0.8,
    ),
    Family(
        "visa_check",
        "visas",
        "research",
        "english",
        None,
        0.55,
        ("fetch_entry_rules", "check_passport_validity", "draft_entry_note"),
        (
            "Does {person} ({nationality} passport) need a visa for {country}?",
            "Check entry requirements for {country} for a {nationality} traveller on {date}",
            "Verify visa rules and passport validity for {person} travelling to {country}",
            "Write an entry requirements note for a trip to {country} ({nationality} citizen)",
        ),
    ),
    Family(
        "visa_application",
        "visas",
        "research",
        "english",
        None,
        0.80,
        ("collect_documents", "fill_visa_form", "submit_via_portal", "track_application"),
        (
            "File a {visa} visa application for {person} to {country}",
            "Submit {person}'s visa paperwork for {country}, travel date {date}",
            "Prepare and lodge a {visa} visa for {country} on behalf of {person}",
            "Apply for a {country} {visa} visa for client {person} and track it",
        ),
        weight=0.9,
    ),
    Family(
        "group_tour",
        "groups",
        "planning",
        "french",
        None,
        0.90,
        ("build_roster", "block_rooms", "book_coach", "publish_tour_pack"),
        (
            "Organise a {n}-person group tour of {region} starting {date}",
            "Plan the {region} coach trip for the {org} group ({n} travellers)",
            "Set up rooms and transport for a group of {n} visiting {region} on {date}",
            "Build the tour pack for {org}'s {nights}-day trip to {region}",
        ),
    ),
    Family(
        "expense_report",
        "finance",
        "analysis",
        "english",
        "netsuite",
        0.65,
        ("export_invoices", "reconcile_auto", "build_report"),
        (
            "Prepare the {month} expense report for the {dept} team",
            "Reconcile {month} supplier invoices and produce the spending summary",
            "Compile travel spend for {dept} covering {month}",
            "Produce the monthly ledger reconciliation report ({month}, cost centre {cc})",
        ),
        weight=0.7,
    ),
    Family(
        "complaint",
        "customer-care",
        "support",
        "english",
        "zendesk",
        0.95,
        ("read_complaint", "lookup_pnr", "compute_compensation", "reply_customer"),
        (
            "Respond to {person}'s complaint about the delayed flight (PNR {pnr})",
            "Handle complaint #{ticket}: lost luggage on booking {pnr}",
            "{person} is unhappy about a downgrade on {pnr}; work out compensation and reply",
            "Answer the complaint from {person} about the cancelled {city} trip",
        ),
        weight=1.1,
        alt_language=("japanese", 0.5),
    ),
    Family(
        "rail_pass",
        "rail",
        "booking",
        "italian",
        "trenitalia",
        0.95,
        ("search_rail", "reserve_rail_seat", "issue_rail_pass", "send_itinerary"),
        (
            "Book a {rail} rail pass for {person} starting {date}",
            "Get {person} a train ticket from {city} to {city2} on {date}",
            "Issue rail passes for {n} travellers touring {region} from {date}",
            "Reserve seats on the {city}-{city2} train for {person} and send the pass",
        ),
    ),
)

DECISIONS: tuple[Decision, ...] = (
    Decision("book_flight", 1, "hold_seat", "instant_purchase", 0.2, 0.5),
    Decision("book_hotel", 2, "reserve_direct", "reserve_via_aggregator", 0.4, 0.4),
    Decision("visa_application", 2, "submit_via_portal", "submit_via_courier", 0.3, 0.6),
    Decision("rail_pass", 1, "reserve_rail_seat", "reserve_via_reseller", 0.5, 0.5),
    Decision("expense_report", 1, "reconcile_auto", "reconcile_manual", 0.0, 0.5),  # decoy
)

CONTEXT_EFFECTS: tuple[ContextEffect, ...] = (
    ContextEffect(
        "change_flight", "tag", "peak-season", "recheck_availability", "reissue_ticket", 0.40
    ),
    ContextEffect(
        "cancel_hotel", "tag", "group-booking", "notify_hotel_manager", "cancel_room", 0.35
    ),
    ContextEffect(
        "group_tour", "tag", "accessibility", "request_accessible_coach", "book_coach", 0.50
    ),
    ContextEffect("complaint", "language", "japanese", "translate_message", "reply_customer", 0.45),
)

DECOY_TAGS: tuple[str, ...] = ("vip", "weekend", "mobile-app", "repeat-customer")
DECOY_TAG_RATE = 0.3
PLANTED_TAG_ELSEWHERE = 0.15
NOISE_TOOLS: tuple[str, ...] = (
    "check_weather",
    "convert_currency",
    "lookup_timezone",
    "fetch_customer_profile",
    "add_crm_note",
)
NOISE_RATE = 0.3
SKIP_RATE = 0.05
SKIP_FAILS = 0.9
STOP_EARLY_RATE = 0.04
RIGHT_RECOVERY = 0.78
WRONG_RECOVERY = 0.14
RETRY_WORKS = 0.85
MAX_RETRIES = 3


def random_date(rng: random.Random) -> str:
    """A day of 2025, as the tasks and error messages write it."""
    return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _msg_gateway(rng: random.Random) -> str:
    return (
        f"503 Service Unavailable: entry-rules gateway timed out after "
        f"{rng.randint(3000, 30000)}ms (request_id={_hex(rng, 12)})"
    )


def _msg_token(rng: random.Random) -> str:
    return (
        f"401 Unauthorized: OAuth token for ledger account ACC-{rng.randint(10000, 99999)} "
        f"expired {rng.randint(1, 240)} minutes ago"
    )


def _msg_coach(rng: random.Random) -> str:
    depot = rng.choice(("LYS", "CDG", "MRS", "NCE", "BOD"))
    return (
        f"BookingRejected: operator returned no coach available for "
        f"{random_date(rng)} at depot {depot}-{rng.randint(1, 9)} (ref {_hex(rng, 8)})"
    )


def _msg_quota(rng: random.Random) -> str:
    train = rng.choice(("FR", "IC", "ITA"))
    return (
        f"QuotaExhausted: fare class {rng.choice('ABCDE')}{rng.randint(1, 3)} sold out on "
        f"train {train} {rng.randint(1000, 9999)} (quota id {_hex(rng, 10)})"
    )


ERRORS: tuple[PlantedError, ...] = (
    PlantedError(
        "visa_check",
        "fetch_entry_rules",
        "retry",
        0.30,
        _msg_gateway,
        wrong_tool="scrape_embassy_site",
    ),
    PlantedError(
        "expense_report",
        "export_invoices",
        "fix",
        0.25,
        _msg_token,
        fix_tool="refresh_ledger_token",
    ),
    PlantedError(
        "group_tour", "book_coach", "replace", 0.30, _msg_coach, replacement="book_coach_partner"
    ),
    PlantedError(
        "rail_pass",
        "issue_rail_pass",
        "none",
        0.20,
        _msg_quota,
        fix_tool="refresh_fare_cache",
        replacement="issue_paper_pass",
    ),
)

DECISION_OF = {d.family: d for d in DECISIONS}
CONTEXT_OF = {c.family: c for c in CONTEXT_EFFECTS}
ERROR_OF = {e.tool: e for e in ERRORS}


def canonical_variants(family: Family) -> set[tuple[str, ...]]:
    """The sequences that state the family's way correctly: its canonical tools with the
    better option at a decision slot (either option at the decoy), or that slot left out.
    Context tools are never part of it."""
    decision = DECISION_OF.get(family.name)
    if decision is None:
        return {family.tools}
    options = [decision.better] + ([decision.worse] if decision.decoy else [])
    head, tail = family.tools[: decision.slot], family.tools[decision.slot + 1 :]
    return {(*head, o, *tail) for o in options} | {head + tail}
