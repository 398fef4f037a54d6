"""The words of the seventh planted world: task templates per family, slot values, tool
arguments and results, and the wording of each planted error.

Nothing here decides an outcome; :mod:`benchmarks.planted_seventh` draws from these lists.
"""

from __future__ import annotations

import random

TEMPLATES: dict[str, tuple[str, ...]] = {
    "reroute_closure": (
        "Reroute shipment {shipment} around the {city} depot closure",
        "The {city} depot is closed on {date}; find a new route for shipment {shipment}",
        "Shipment {shipment} is stuck behind the {city} depot shutdown, send it via another hub",
        "Plan a detour for consignment {shipment}: the {city} depot is closed until {date}",
        "Move shipment {shipment} off the {city} route, the depot is shut for maintenance",
    ),
    "delay_inquiry": (
        "{customer} asks why shipment {shipment} is late, give them a new ETA",
        "Shipment {shipment} missed its {date} delivery window, investigate the delay",
        "Where is consignment {shipment}? It was due in {city} on {date}",
        "Explain the delay on shipment {shipment} to {customer} and log it",
        "Delay report needed for shipment {shipment} held up near {city}",
    ),
    "failed_delivery": (
        "Delivery attempt failed for parcel {shipment} in {city}, arrange a redelivery",
        "Recipient not home for shipment {shipment} on {date}, book another attempt",
        "The courier could not deliver {shipment} to {customer}; reschedule it",
        "Second failed drop for shipment {shipment} at the {city} address, sort out redelivery",
        "Parcel {shipment} came back to the depot after a missed delivery on {date}",
    ),
    "driver_assignment": (
        "Assign a driver to load {load} leaving {city} on {date}",
        "Find a driver with enough hours left for load {load} to {city}",
        "Load {load} has no driver yet for the {date} departure",
        "Put {driver} or another available driver on load {load}",
        "Staff load {load} from the {city} yard for the {date} run",
    ),
    "load_consolidation": (
        "Consolidate the pallets of load {load} into one trailer at {city}",
        "Build a full trailer from load {load} and the {city} backlog for {date}",
        "Load {load} is half empty, combine it with other pallets bound for {city2}",
        "Merge partial loads into {load} before the {date} departure from {city}",
        "Plan the trailer fill for load {load} out of the {city} cross-dock",
    ),
    "customs_clearance": (
        "Clear customs for shipment {shipment} entering at {city}",
        "Shipment {shipment} is waiting at the {city} border, file the customs declaration",
        "Prepare import paperwork and duties for consignment {shipment} from {city}",
        "Get shipment {shipment} through customs before {date}",
        "{customer} needs shipment {shipment} released from customs in {city}",
    ),
    "temperature_excursion": (
        "Reefer alarm on shipment {shipment}: temperature excursion near {city}",
        "Cold-chain breach reported for consignment {shipment} on {date}, decide what to do",
        "Temperature went out of range in the trailer carrying {shipment} for {customer}",
        "Check the reefer log of shipment {shipment} after an alarm at {city}",
        "Handle the chilled-goods excursion on shipment {shipment} before it reaches {city2}",
    ),
    # the look-alike pair: only "return ... customer" against "pallet ... supplier"
    "return_pickup": (
        "Arrange pickup of return shipment {shipment} from the customer in {city} on {date}",
        "Book a collection for return shipment {shipment} at the customer site in {city}",
        "Schedule pickup of return shipment {shipment} from {customer} in {city} on {date}",
        "Arrange a {date} pickup of return shipment {shipment} from the customer in {city}",
        "Collect return shipment {shipment} from the customer in {city}, pickup on {date}",
    ),
    "pallet_pickup": (
        "Arrange pickup of pallet shipment {shipment} from the supplier in {city} on {date}",
        "Book a collection for pallet shipment {shipment} at the supplier site in {city}",
        "Schedule pickup of pallet shipment {shipment} from {customer} in {city} on {date}",
        "Arrange a {date} pickup of pallet shipment {shipment} from the supplier in {city}",
        "Collect pallet shipment {shipment} from the supplier in {city}, pickup on {date}",
    ),
    "multi_stop_dispatch": (
        "Dispatch a multi-stop run for load {load} through {city} and {city2}",
        "Set up the milk run for load {load} with stops in {city} and {city2} on {date}",
        "Load {load} has drops in {city} and {city2}: assign a driver and order the stops",
        "Plan the {date} delivery tour of load {load} from {city} to {city2}",
        "Give {driver} a route sheet for the multi-drop load {load} around {city}",
    ),
    "fuel_card_limit": (
        "Fuel card declined for truck {vehicle} near {city}, raise the limit",
        "Driver {driver} cannot refuel {vehicle} in {city}: card limit reached",
        "Increase the fuel card limit of vehicle {vehicle} for the {date} trip",
        "Truck {vehicle} is stranded at a {city} station with a blocked fuel card",
        "Check and lift the fuel allowance on {vehicle} before it leaves {city}",
    ),
}

CITIES = (
    "Lyon", "Lille", "Hamburg", "Rotterdam", "Milan", "Madrid", "Valencia", "Antwerp",
    "Bordeaux", "Munich", "Strasbourg", "Porto", "Duisburg", "Zaragoza", "Ghent", "Toulouse",
)  # fmt: skip
DRIVERS = (
    "Marc Dubois", "Anke Vogel", "Luis Ortega", "Sophie Martin", "Jan de Boer", "Elena Ruiz",
    "Tomasz Nowak", "Claire Bernard", "Jonas Weber", "Ines Carvalho", "Pieter Jansen",
)  # fmt: skip
CUSTOMERS = (
    "Maison Lefèvre", "Brauerei Kühn", "Frutas Levante", "Northwind Retail", "Atelier Roux",
    "Kessler Pharma", "Iberia Home", "Blue Harbor Foods", "Vanderveld Tools", "Casa Mila",
)  # fmt: skip
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CARRIERS = ("Transalp", "NordFreight", "IberLine", "RhineCargo", "Atlantic Haul")
AUTHORITIES = ("the customs office", "border control", "the veterinary service", "DGDDI")


def slots(rng: random.Random) -> dict[str, str]:
    """One episode's slot values."""
    city, city2 = rng.sample(CITIES, 2)
    plate = f"{rng.randint(100, 999)}-{rng.choice('ABCDEFGHJK')}{rng.choice('LMNPRSTVWX')}"
    return {
        "shipment": str(rng.randint(10000, 99999)),
        "load": f"LD-{rng.randint(1000, 9999)}",
        "vehicle": f"TR-{plate}",
        "city": city,
        "city2": city2,
        "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)}",
        "driver": rng.choice(DRIVERS),
        "customer": rng.choice(CUSTOMERS),
        "carrier": rng.choice(CARRIERS),
    }


def task(family: str, rng: random.Random, values: dict[str, str]) -> str:
    return rng.choice(TEMPLATES[family]).format(**values)


# ---------------------------------------------------------------------------------------
# Tool calls: arguments beyond the task's object, and results
# ---------------------------------------------------------------------------------------

_REF_PARAM = {"shipment": "shipment_id", "load": "load_id", "vehicle": "vehicle_id"}
_EXTRA_PARAMS = {
    "check_depot_status": ("city",),
    "plan_detour_route": ("city", "city2"),
    "assign_driver": ("driver",),
    "notify_customer": ("customer",),
    "contact_recipient": ("customer",),
    "book_pickup_window": ("date", "city"),
    "book_trailer": ("date",),
    "book_linehaul_slot": ("carrier",),
    "hold_at_hub": ("city2",),
    "optimize_stop_order": ("city", "city2"),
    "fetch_weather_feed": ("city",),
    "release_to_carrier": ("carrier",),
    "estimate_new_eta": ("city",),
}

_RESULTS = {
    "lookup_shipment": "shipment {shipment}: in transit, last scan {city} hub",
    "lookup_load": "load {load}: 14 pallets, 9.8 t, departs {city} {date}",
    "lookup_order": "order for shipment {shipment}: 6 pallets, pickup address in {city}",
    "lookup_vehicle": "vehicle {vehicle}: 40 t tractor, home depot {city}",
    "check_depot_status": "{city} depot: closed until {date}",
    "query_telematics": "last GPS fix 12 km from {city}, speed 0 km/h",
    "plan_detour_route": "route via {city2}: +94 km, +1 h 40 min",
    "estimate_new_eta": "new ETA {date} 16:30",
    "assign_driver": "{driver} assigned to {load}",
    "check_driver_hours": "{driver}: 6 h 10 min of driving time left",
    "notify_customer": "message sent to {customer}",
    "generate_ebol": "eBOL created for {shipment}",
    "clear_customs": "shipment {shipment} cleared",
}


def arguments(tool: str, ref: str, values: dict[str, str]) -> dict[str, str]:
    args = {_REF_PARAM[ref]: values[ref]}
    for name in _EXTRA_PARAMS.get(tool, ()):
        args[name] = values[name]
    return args


def result(tool: str, ref: str, values: dict[str, str]) -> str:
    template = _RESULTS.get(tool)
    if template is None:
        return f"{tool.replace('_', ' ')}: done for {values[ref]}"
    return template.format(**values)


# ---------------------------------------------------------------------------------------
# Error wordings
# ---------------------------------------------------------------------------------------


def _timeout(rng: random.Random, values: dict[str, str]) -> str:
    ms = rng.randint(2900, 3200)
    return rng.choice(
        (
            f"timeout after {ms} ms",
            f"timed out after {ms} ms",
            f"telematics gateway timeout after {ms} ms",
            f"request timed out ({ms} ms)",
        )
    )


def _roster(rng: random.Random, values: dict[str, str]) -> str:
    return (
        f"driver roster is locked by another dispatcher (lock id {rng.randint(1000, 9999)}); "
        "reload the roster before assigning"
    )


def _deprecated(rng: random.Random, values: dict[str, str]) -> str:
    return "print_bill_of_lading is deprecated since dispatch API v4; use generate_ebol instead"


def _manifest(rng: random.Random, values: dict[str, str]) -> str:
    major, minor = rng.randint(2, 5), rng.randint(0, 9)
    return rng.choice(
        (
            f"manifest checksum mismatch in /srv/edi/manifests/{values['load']}.xml",
            f"stale manifest cache on host edi-{rng.randint(1, 24):02d}."
            f"dc{rng.randint(1, 4)}.internal",
            f"manifest schema version conflict: expected v{major}.{minor}.{rng.randint(5, 9)}, "
            f"got v{major}.{minor}.{rng.randint(0, 4)}",
            f"EDI partner {values['carrier']} rejected manifest M{rng.randint(100000, 999999)}: "
            "cached copy out of date",
        )
    )


def _hold(rng: random.Random, values: dict[str, str]) -> str:
    return (
        f"customs hold on shipment {values['shipment']}: flagged for physical inspection by "
        f"{rng.choice(AUTHORITIES)}"
    )


ERROR_TEXT = {
    "telematics_timeout": _timeout,
    "roster_locked": _roster,
    "bol_deprecated": _deprecated,
    "manifest_stale": _manifest,
    "customs_hold": _hold,
}

SUCCESS_VERDICTS = (
    "ticket closed, customer confirmed",
    "done, no follow-up needed",
    "resolved and logged",
)
FAILURE_REASONS = (
    "customer escalated: the ticket was not resolved in time",
    "the plan fell through at the depot",
    "dispatch lead reopened the ticket",
)
