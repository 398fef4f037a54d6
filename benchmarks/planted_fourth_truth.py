"""The planted truth of the fourth planted world: an online retailer's back office.

Everything :mod:`benchmarks.planted_fourth` generates follows from the data here (the task
families are in :mod:`benchmarks.planted_fourth_families`, imported here), and
:mod:`benchmarks.bench_planted_fourth` judges the learner's served patterns against it. The
world was written from a specification, independently of the learner (its code and its
documentation were not read).

The world
---------
- 14 task families (``FAMILIES``), each with a canonical tool sequence of 3-6 tools, task
  templates per language with slots, and a context (domain, task type, language, framework).
  Four pairs share domain + task type + language + framework (``returns``, ``payments`` /
  analysis, ``finance``, ``catalogue`` / deployment); several tools are shared between
  families (``lookup_order``, ``notify_customer``, ``fetch_customer_history``,
  ``fetch_invoice``, ``match_purchase_order``, ``archive_document``, ``load_product_feed``,
  ``publish_listings``, ``purge_cdn_cache``, ``inspect_return``, ``book_carrier_pickup``).
  ``supplier_sourcing`` is rare (3 % of episodes). Base success rates 0.45 .. 0.95.
- Noise tools (``NOISE_TOOLS``): each inserted independently at a random position with its
  own rate (about 35 % of runs hold at least one); they always succeed and change nothing.
- Decisions (``DECISIONS``): five families pick one of several options at one step; three
  two-option decisions with a better option (+0.25, +0.35, +0.5), one three-option decision
  (one better by +0.4, two equally worse) and one decoy (no effect).
- Context effects (``CONTEXT_EFFECTS``): a tool called in about half of a family's runs
  that helps only under one feature (``tag=electronics``, ``tag=high-value``,
  ``language=german``, ``tag=cross-border``; the last one is also on 20 % of every other
  family's runs, where it does nothing) and one tool that hurts under a tag
  (``auto_apply_credit`` with ``tag=partial-delivery``: -0.4; elsewhere no effect).
- Decoy context (``DECOY_TAGS``, ``CORRELATED_TAG``): four tags on 20-35 % of all runs with
  no effect, and ``tag=marketplace`` on 80 % of the (low-success) ``listing_qa`` runs and
  5 % of the others, without any effect of its own.
- Planted errors (``ERRORS``): retry, fix, replace, none, and one tool
  (``book_carrier_pickup``) with two error classes (retry / fix).
- Imperfect agents: a canonical step other than the first skipped in 4 % of runs (the run
  then fails with probability 0.9); 3 % of runs stop early (they fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .planted_fourth_families import FAMILIES, FAMILY, Family

__all__ = [
    "CONTEXT_EFFECTS",
    "CORRELATED_TAG",
    "DECISIONS",
    "DECOY_TAGS",
    "ERRORS",
    "FAMILIES",
    "NOISE_TOOLS",
    "ContextEffect",
    "CorrelatedTag",
    "Decision",
    "Family",
    "Option",
    "PlantedError",
    "canonical_variants",
    "context_tools",
]

# ---------------------------------------------------------------------------------------
# Agent behaviour and outcome rules
# ---------------------------------------------------------------------------------------

#: A canonical step (never the first) is left out of this share of runs ...
SKIP_RATE = 0.04
#: ... and such a run fails with this probability.
SKIP_FAILS = 0.9
#: This share of runs stops before a canonical step (never the first) and fails.
EARLY_STOP_RATE = 0.03
#: After a planted error: the right recovery, a wrong one, or giving up (the rest).
RECOVERY_RIGHT = 0.75
RECOVERY_WRONG = 0.15
#: The success probability is clipped to this range.
P_MIN, P_MAX = 0.03, 0.97


# ---------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    tool: str
    share: float
    effect: float  # added to the success probability when this option is taken


@dataclass(frozen=True)
class Decision:
    """At ``slot`` (an index into the family's ``tools``) the agent runs one option."""

    family: str
    slot: int
    options: tuple[Option, ...]

    @property
    def decoy(self) -> bool:
        return len({o.effect for o in self.options}) == 1

    @property
    def better(self) -> str:
        return max(self.options, key=lambda o: o.effect).tool

    @property
    def worse(self) -> tuple[str, ...]:
        low = min(o.effect for o in self.options)
        return tuple(o.tool for o in self.options if o.effect == low)

    @property
    def after_tool(self) -> str:
        """The canonical tool run just before the decision."""
        return FAMILY[self.family].tools[self.slot - 1]


DECISIONS: tuple[Decision, ...] = (
    Decision(
        "exchange_return",
        slot=3,  # after check_inventory
        options=(Option("reserve_stock", 0.45, 0.25), Option("backorder_item", 0.55, 0.0)),
    ),
    Decision(
        "fraud_review",
        slot=3,  # after score_fraud_risk
        options=(
            Option("request_id_verification", 0.35, 0.35),
            Option("auto_approve_order", 0.65, 0.0),
        ),
    ),
    Decision(
        "supplier_invoice",
        slot=2,  # after match_purchase_order
        options=(Option("three_way_match", 0.30, 0.50), Option("manual_override_match", 0.70, 0.0)),
    ),
    Decision(
        "stock_reconciliation",
        slot=3,  # after compare_counts
        options=(
            Option("recount_bin", 0.40, 0.40),
            Option("adjust_to_system", 0.30, 0.0),
            Option("adjust_to_scan", 0.30, 0.0),
        ),
    ),
    Decision(  # the decoy: no effect
        "ship_order",
        slot=2,  # after pick_items
        options=(
            Option("pack_standard_box", 0.55, 0.0),
            Option("pack_padded_envelope", 0.45, 0.0),
        ),
    ),
)

DECISION_OF = {d.family: d for d in DECISIONS}


# ---------------------------------------------------------------------------------------
# Context effects
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextEffect:
    """In ``family`` the agent runs ``tool`` (right after ``after``) in ``tool_rate`` of the
    runs; with ``feature`` present (``tag=...`` or ``language=...``) using it adds ``effect``
    to the success probability; without the feature it does nothing. ``feature_rate`` is the
    share of the family's runs with the feature (for a language feature: the family's
    ``alt_rate``); ``other_rate`` the share of every other family's runs with the tag."""

    family: str
    tool: str
    after: str
    tool_rate: float
    feature: str
    feature_rate: float
    effect: float
    other_rate: float = 0.0

    @property
    def association(self) -> str:
        return "success" if self.effect > 0 else "failure"


CONTEXT_EFFECTS: tuple[ContextEffect, ...] = (
    ContextEffect(
        family="refund_return",
        tool="verify_serial_number",
        after="inspect_return",
        tool_rate=0.50,
        feature="tag=electronics",
        feature_rate=0.40,
        effect=0.40,
    ),
    ContextEffect(
        family="chargeback_dispute",
        tool="attach_delivery_photo",
        after="collect_evidence",
        tool_rate=0.45,
        feature="tag=high-value",
        feature_rate=0.35,
        effect=0.35,
    ),
    ContextEffect(
        family="catalogue_update",
        tool="review_translation",
        after="validate_listings",
        tool_rate=0.55,
        feature="language=german",
        feature_rate=0.30,
        effect=0.45,
    ),
    ContextEffect(  # the tag is on 20 % of every other family's runs too, with no effect
        family="payment_failure",
        tool="check_3ds_status",
        after="fetch_payment_log",
        tool_rate=0.50,
        feature="tag=cross-border",
        feature_rate=0.45,
        effect=0.30,
        other_rate=0.20,
    ),
    ContextEffect(  # the harmful one
        family="credit_note",
        tool="auto_apply_credit",
        after="post_credit_note",
        tool_rate=0.50,
        feature="tag=partial-delivery",
        feature_rate=0.35,
        effect=-0.40,
    ),
)

CONTEXT_OF = {c.family: c for c in CONTEXT_EFFECTS}


def context_tools() -> set[str]:
    return {c.tool for c in CONTEXT_EFFECTS}


# ---------------------------------------------------------------------------------------
# Decoy context
# ---------------------------------------------------------------------------------------

#: Tags on a share of all runs, with no effect.
DECOY_TAGS: tuple[tuple[str, float], ...] = (
    ("morning-shift", 0.35),
    ("weekend-batch", 0.30),
    ("eu-warehouse", 0.25),
    ("new-hire", 0.20),
)


@dataclass(frozen=True)
class CorrelatedTag:
    tag: str
    family: str
    in_family: float
    elsewhere: float


#: On most runs of one low-success family and few others: no effect of its own.
CORRELATED_TAG = CorrelatedTag("marketplace", "listing_qa", 0.80, 0.05)

#: Noise tools: each inserted at a random position with its own rate; always succeed.
NOISE_TOOLS: tuple[tuple[str, float], ...] = (
    ("check_slack_messages", 0.11),
    ("view_dashboard", 0.08),
    ("refresh_session", 0.07),
    ("read_wiki_page", 0.06),
    ("ping_healthcheck", 0.055),
    ("open_shift_calendar", 0.05),
)


# ---------------------------------------------------------------------------------------
# Planted errors
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlantedError:
    """When ``tool`` runs (as a canonical step) it fails with ``message`` in ``rate`` of
    the calls. Kinds: ``retry`` (running it again works), ``fix`` (``fix_tool`` then the
    tool again works), ``replace`` (the tool keeps failing, ``replacement`` does its job),
    ``none`` (nothing works: the episode fails). ``wrong`` is the agent's wrong recovery:
    ``"retry"`` (the tool fails again) or a tool run instead (it succeeds as a call but the
    job is not done: the episode fails). For ``none``, ``fix_tool`` is what the agent tries
    (in vain). ``word`` is a distinctive lowercase word of the message; the judge uses it
    to tell the two classes of ``book_carrier_pickup`` apart.

    Message fields: ``{secs}`` ``{ms}`` ``{mins}`` ``{hex}`` ``{n}`` ``{order}`` ``{zip}``
    ``{carrier}`` ``{code}`` ``{cc}`` ``{bin}`` ``{decl}`` ``{acct}``."""

    name: str
    tool: str
    kind: str
    rate: float
    message: str
    word: str
    wrong: str
    fix_tool: str | None = None
    replacement: str | None = None
    families: tuple[str, ...] = field(default_factory=tuple)


ERRORS: tuple[PlantedError, ...] = (
    PlantedError(
        name="inventory_timeout",
        tool="sync_inventory",
        kind="retry",
        rate=0.25,
        message="Warehouse API timeout after {secs}s while syncing bin {bin} (request {hex})",
        word="timeout",
        wrong="manual_stock_count",
        families=("stock_reconciliation",),
    ),
    PlantedError(
        name="payment_token",
        tool="capture_payment",
        kind="fix",
        rate=0.30,
        message="Payment token expired for order {order} (issued {mins} minutes ago)",
        word="expired",
        wrong="retry",
        fix_tool="refresh_payment_token",
        families=("payment_failure",),
    ),
    PlantedError(
        name="printer_offline",
        tool="print_label",
        kind="replace",
        rate=0.20,
        message="Label printer PRN-{n} offline: spooler did not answer within {ms} ms",
        word="offline",
        wrong="reprint_last_label",
        replacement="generate_label_pdf",
        families=("ship_order",),
    ),
    PlantedError(
        name="customs_rejected",
        tool="submit_customs_declaration",
        kind="none",
        rate=0.15,
        message="Customs gateway rejected declaration {decl}: HS code {code} not permitted "
        "for {cc}",
        word="rejected",
        wrong="split_shipment",
        fix_tool="amend_hs_code",
        families=("international_shipment",),
    ),
    PlantedError(
        name="carrier_throttled",
        tool="book_carrier_pickup",
        kind="retry",
        rate=0.12,
        message="Carrier API throttled request {hex}: retry after {secs}s",
        word="throttled",
        wrong="verify_pickup_address",
        families=("ship_order", "international_shipment"),
    ),
    PlantedError(
        name="address_unverified",
        tool="book_carrier_pickup",
        kind="fix",
        rate=0.12,
        message="Pickup address unverified for postcode {zip} ({carrier} account {acct})",
        word="unverified",
        wrong="retry",
        fix_tool="verify_pickup_address",
        families=("ship_order", "international_shipment"),
    ),
)

ERRORS_OF_TOOL: dict[str, tuple[PlantedError, ...]] = {}
for _e in ERRORS:
    ERRORS_OF_TOOL[_e.tool] = (*ERRORS_OF_TOOL.get(_e.tool, ()), _e)


# ---------------------------------------------------------------------------------------
# Helpers for the judge
# ---------------------------------------------------------------------------------------


def canonical_variants(family: Family) -> set[tuple[str, ...]]:
    """The tool sequences that count as the family's: its canonical tools with the better
    option at its decision step (any option at the decoy), or that step left out."""
    tools = family.tools
    decision = DECISION_OF.get(family.name)
    if decision is None:
        return {tools}
    options = [o.tool for o in decision.options] if decision.decoy else [decision.better]
    head, tail = tools[: decision.slot], tools[decision.slot :]
    return {tools} | {(*head, option, *tail) for option in options}
