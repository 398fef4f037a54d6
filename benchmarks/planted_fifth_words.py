"""Words of the fifth world: task templates per family (English, and German for two),
slot values, tool observations, error messages and outcome texts.

A slot ``{name}`` in a template is filled by ``SLOTS[name](rng)``. Nothing here decides an
outcome.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# ---------------------------------------------------------------------------------------
# Task templates
# ---------------------------------------------------------------------------------------

ENGLISH: dict[str, tuple[str, ...]] = {
    "lab_import": (
        "Import the {analyzer} lab results feed for {ward} into {system} ({ticket})",
        "{ticket}: lab results from {analyzer} on {date} are not showing in {system} for "
        "{ward}; import the feed",
        "Load missing lab results for patient {mrn} ({ward}) from the {analyzer} feed into "
        "{system}",
        "Lab feed import for {ward}: pull the {date} results from {analyzer} and post them "
        "to {system}",
        "Please import today's {analyzer} lab results into the chart for {ward}, ticket {ticket}",
    ),
    "lab_reconcile": (
        "Reconcile the {analyzer} lab results feed for {ward} against {system} ({ticket})",
        "{ticket}: lab results from {analyzer} on {date} differ between the feed and {system} "
        "for {ward}; reconcile them",
        "Compare lab results for patient {mrn} ({ward}) in the {analyzer} feed with {system} "
        "and fix the mismatches",
        "Lab feed reconciliation for {ward}: check the {date} results from {analyzer} against "
        "{system}",
    ),
    "hl7_fix": (
        "HL7 interface {iface} is stuck, messages queueing for {ward} ({ticket})",
        "{ticket}: interface {iface} stopped sending HL7 messages to {system} since {time}",
        "Fix the stalled HL7 interface {iface} between {system} and {ward} registration",
        "Interface {iface} down: HL7 queue growing, {system} not receiving messages",
    ),
    "hl7_replay": (
        "Replay the HL7 backlog on interface {iface} for {ward} after the outage ({ticket})",
        "{ticket}: interface {iface} is back up, resend the queued HL7 messages to {system} "
        "since {time}",
        "Replay missed HL7 messages from interface {iface} to {system} for {date}",
        "Interface {iface} backlog: HL7 messages from {date} never reached {system}, replay them",
    ),
    "ehr_access": (
        "Grant {user} {role} access in {system} for {ward} ({ticket})",
        "{ticket}: new {role} {user} starting on {ward} needs an EHR login",
        "Access request: add {user} to the {role} security class in {system}",
        "Please give {user} EHR access as {role} on {ward} from {date}",
    ),
    "badge_provision": (
        "Provision a door badge for {user} ({role}) with access to {ward} ({ticket})",
        "{ticket}: new {role} {user} starting on {ward} needs badge access",
        "Access request: encode a badge for {user} for the {ward} doors",
        "Please give {user} badge access as {role} on {ward} from {date}",
    ),
    "pacs_reroute": (
        "Reroute study {accession} from {modality} to the reading workstation for {ward} "
        "({ticket})",
        "{ticket}: images for accession {accession} did not arrive in PACS from {modality}",
        "Radiology study {accession} ({modality}, {date}) is missing on the {ward} viewer; "
        "route it",
        "Send the {modality} images of patient {mrn} to the right PACS node",
    ),
    "bed_board_sync": (
        "Bed board for {ward} out of sync with ADT ({ticket})",
        "{ticket}: bed status on {ward} wrong since {time}, resync the board",
        "Update the {ward} bed board: discharges from {date} are missing",
        "Please reconcile the bed status on {ward} with {system}",
    ),
    "formulary_update": (
        "Add {drug} to the formulary in {system} effective {date} ({ticket})",
        "{ticket}: pharmacy wants the {drug} dose range updated in {system}",
        "Update the formulary entry for {drug}: new strength, go-live {date}",
        "Pharmacy change request: retire the old {drug} entry and add the new one in {system}",
    ),
    "dicom_export": (
        "Anonymize and export study {accession} for research project {project} ({ticket})",
        "{ticket}: de-identify the {modality} DICOM data for {project}",
        "Please provide the images from {date} for study {project} without patient data",
        "Export the {modality} series to {project}, strip PHI",
    ),
    "audit_extract": (
        "Pull the access audit log for patient {mrn} since {date} ({ticket})",
        "{ticket}: the privacy office needs everyone who opened chart {mrn} since {date}",
        "Extract the {system} audit trail for user {user} on {ward}",
        "Compliance request: export audit records for {mrn}, redact staff phone numbers",
    ),
    "firmware_rollout": (
        "Roll out firmware {fw} to the {device} pumps on {ward} ({ticket})",
        "{ticket}: biomed asks to update the {device} units to {fw}",
        "Deploy firmware {fw} to the {device} fleet in {ward} tonight",
        "Upgrade the {device} devices on {ward} to firmware {fw} from {date}",
    ),
}

GERMAN: dict[str, tuple[str, ...]] = {
    "bed_board_sync": (
        "Bettenbelegung für {ward} stimmt nicht mit dem ADT-System überein ({ticket})",
        "{ticket}: Bettentafel {ward} zeigt seit {time} falsche Belegung, bitte synchronisieren",
        "Stationsübersicht {ward} aktualisieren: Entlassungen vom {date} fehlen",
        "Bitte den Bettenstatus auf {ward} mit {system} abgleichen",
        "Belegungsanzeige der Station {ward} veraltet, Abgleich mit ADT nötig ({ticket})",
    ),
    "dicom_export": (
        "Studie {accession} für das Forschungsprojekt {project} anonymisieren und exportieren "
        "({ticket})",
        "{ticket}: DICOM-Daten vom {modality} für {project} pseudonymisieren",
        "Bitte die Bilder vom {date} für Studie {project} ohne Patientendaten bereitstellen",
        "Export der {modality}-Aufnahmen zu {project}, Patientendaten entfernen",
    ),
}

# ---------------------------------------------------------------------------------------
# Slot values
# ---------------------------------------------------------------------------------------

WARDS = (
    "Ward 4B Cardiology", "ICU East", "Station 7 Onkologie", "NICU", "Ward 2A Surgery",
    "Emergency Department", "Station 3 Innere", "Maternity West", "Ward 6C Neurology",
    "Dialysis Unit", "PACU", "Ward 5 Orthopedics",
)  # fmt: skip
SYSTEMS = ("Epic", "Cerner Millennium", "MEDITECH Expanse", "Epic Beaker", "ORBIS", "i.s.h.med")
ANALYZERS = ("Cobas 8000", "Sysmex XN-1000", "Abbott Alinity", "Beckman DxH 900", "Atellica")
INTERFACES = ("ADT_OUT_04", "ORU_LAB_IN", "SIU_RAD_02", "MDM_TRANSCRIPT", "RDE_PHARM", "ORM_OUT")
ROLES = ("RN", "resident", "pharmacist", "unit clerk", "respiratory therapist", "locum")
FIRST = ("Anna", "Lukas", "Priya", "Tom", "Mei", "Jonas", "Fatima", "Carlos", "Sofia", "Ben")
LAST = ("Keller", "Okafor", "Nguyen", "Schmidt", "Patel", "Rossi", "Brown", "Yilmaz", "Lee")
MODALITIES = ("CT", "MRI", "ultrasound", "mammography", "X-ray", "PET-CT")
DRUGS = (
    "apixaban 2.5 mg", "vancomycin IV", "insulin glargine", "ondansetron ODT",
    "enoxaparin 40 mg", "metoprolol tartrate", "piperacillin-tazobactam",
)  # fmt: skip
PROJECTS = ("ONC-2231", "CARDIO-REG", "NEURO-AI-7", "LUNG-SCREEN", "PED-FRACT-3")
DEVICES = ("Alaris 8015", "Sigma Spectrum", "IntelliVue MX450", "Medfusion 4000", "B. Braun Space")


def _ticket(rng: random.Random) -> str:
    return f"{rng.choice(('INC', 'RITM', 'CHG'))}{rng.randrange(10**6, 10**7)}"


def _date(rng: random.Random) -> str:
    return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}"


SLOTS: dict[str, Callable[[random.Random], str]] = {
    "ticket": _ticket,
    "date": _date,
    "time": _time,
    "ward": lambda rng: rng.choice(WARDS),
    "system": lambda rng: rng.choice(SYSTEMS),
    "analyzer": lambda rng: rng.choice(ANALYZERS),
    "iface": lambda rng: rng.choice(INTERFACES),
    "role": lambda rng: rng.choice(ROLES),
    "user": lambda rng: f"{rng.choice(FIRST)} {rng.choice(LAST)}",
    "mrn": lambda rng: f"MRN{rng.randrange(10**7, 10**8)}",
    "accession": lambda rng: f"ACC{rng.randrange(10**8, 10**9)}",
    "modality": lambda rng: rng.choice(MODALITIES),
    "drug": lambda rng: rng.choice(DRUGS),
    "project": lambda rng: rng.choice(PROJECTS),
    "device": lambda rng: rng.choice(DEVICES),
    "fw": lambda rng: f"v{rng.randint(9, 14)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}",
}


def fill(template: str, rng: random.Random) -> tuple[str, dict[str, str]]:
    """The template with every slot drawn, and the drawn values (in template order)."""
    values: dict[str, str] = {}
    for name in SLOTS:
        if "{" + name + "}" in template:
            values[name] = SLOTS[name](rng)
    return template.format(**values), values


# ---------------------------------------------------------------------------------------
# Observations and errors
# ---------------------------------------------------------------------------------------

OBSERVATIONS: dict[str, str] = {
    "fetch_ticket": "ticket {ref} loaded: priority P{n}, assigned to clinical apps queue",
    "pull_lab_feed": "pulled {n}42 result messages from the lab feed",
    "map_loinc_codes": "mapped {n}7 local test codes to LOINC via the master table",
    "guess_lab_codes": "assigned codes to {n}7 tests by name similarity",
    "diff_result_sets": "{n} result(s) differ between feed and chart",
    "validate_hl7": "HL7 v2.5.1 validation passed ({n} warnings)",
    "push_to_ehr": "posted results to the EHR, {n}0 observations accepted",
    "close_ticket": "ticket {ref} resolved and closed",
    "check_ad_group": "user found in {n} AD groups",
    "grant_ehr_role": "role granted, effective at next login",
    "notify_requester": "requester notified by email",
    "check_interface_queue": "queue depth {n}31, oldest message {n}2 min",
    "restart_interface": "interface thread restarted, status UP",
    "clear_queue_manually": "removed {n} stuck messages from the queue",
    "bounce_listener_port": "listener port closed and reopened",
    "tail_engine_log": "last 200 log lines read, no new errors",
    "replay_backlog": "replayed {n}80 messages from the backlog",
    "verify_ack": "ACK received for {n}80 messages",
    "query_pacs_study": "study found: {n} series on the archive",
    "query_vna_index": "study found in the VNA index: {n} series",
    "route_study": "C-MOVE to the reading node completed",
    "verify_study_count": "image count matches the modality ({n}12 images)",
    "snapshot_config": "configuration snapshot saved",
    "push_firmware": "firmware pushed to {n}4 devices",
    "verify_device_checkin": "{n}4 devices checked in on the new version",
    "refresh_service_token": "service token refreshed, valid for 8 h",
    "write_incident_note": "incident note written to the ticket",
}
DEFAULT_OBSERVATION = "{tool} completed"

ERROR_MESSAGES: dict[str, str] = {
    "pull_lab_feed": "ConnectionResetError: [Errno 104] Connection reset by peer (lab feed)",
    "push_to_ehr": "HTTP 401 Unauthorized: EHR service token expired",
    "query_pacs_study": "C-FIND failed: association rejected by archive node PACS-ARCH-02",
    "grant_ehr_role": "KeyError: security class template 'EHR_CLIN_STD' not found",
}

# The varied error: one class for a human (the interface engine answers 503).
VARIED_TEMPLATES = (
    "Interface engine unavailable: HTTP 503 from {host} (request id {hex}) after {dur}s",
    "503 Service Unavailable - engine {ver} not answering, see /var/log/cloverleaf/{date}/"
    "engine.log",
    "engine unavailable (status 503) req={hex} elapsed={dur}s version={ver}",
    "Service Unavailable: cloverleaf {ver} at {host}; log /opt/qdx/{date}/sites/{hex}.err",
    "GET https://{host}/api/v2/queues -> 503 Service Unavailable ({dur}s, trace {hex})",
)
ENGINE_HOSTS = ("clv-prod-01", "clv-prod-02", "hl7-engine.int", "10.20.4.17:8443")
ENGINE_VERSIONS = ("3.11.4", "12.1", "6.2.0", "19.1.3", "2023.4")


def varied_error(rng: random.Random) -> str:
    template = rng.choice(VARIED_TEMPLATES)
    return template.format(
        host=rng.choice(ENGINE_HOSTS),
        hex=f"{rng.getrandbits(48):012x}",
        dur=rng.randint(3, 95),
        ver=rng.choice(ENGINE_VERSIONS),
        date=f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    )


def observation(tool: str, ref: str, rng: random.Random) -> str:
    template = OBSERVATIONS.get(tool, DEFAULT_OBSERVATION)
    return template.format(tool=tool, ref=ref, n=rng.randint(1, 9))


SUCCESS_VERDICTS = (
    "requester confirmed the fix",
    "done, verified with the ward",
    "resolved; monitoring shows normal traffic",
    "completed and documented in the ticket",
)
FAILURE_REASONS = (
    "requester reports the problem persists",
    "verification failed after the change",
    "ward still sees wrong data",
    "change rolled back by the on-call lead",
)
