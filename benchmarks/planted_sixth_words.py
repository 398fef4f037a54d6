"""Vocabularies of the sixth world: six task templates per family, written so that one
family's templates share few words, and the slot values they are filled with."""

from __future__ import annotations

import random

SLOTS: dict[str, tuple[str, ...]] = {
    "build": tuple(
        f"{major}.{minor}.{patch}"
        for major in (1, 2, 3)
        for minor in (0, 4, 7, 12)
        for patch in (0, 3, 18)
    ),
    "cl": tuple(str(n) for n in range(48210, 48290, 7)),
    "pc_store": ("Steam", "Epic Games Store", "GOG", "Microsoft Store"),
    "console": ("PlayStation 5", "Xbox Series X", "Nintendo Switch", "PS4", "Xbox One"),
    "region": ("EU-West", "NA-East", "APAC-Tokyo", "SA-Sao-Paulo", "ME-Bahrain", "OCE-Sydney"),
    "player": tuple(
        f"P-{n:07d}"
        for n in (1048576, 2203311, 3117004, 4099123, 5550127, 6021984, 7300016, 8812345, 9034567)
    ),
    "ticket": tuple(f"#{n}" for n in range(73100, 73180, 9)),
    "event": (
        "Lunar Festival",
        "Halloween Hunt",
        "Summer Splash",
        "Frostfall",
        "Anniversary Week",
        "Double XP Weekend",
    ),
    "locale": ("ja-JP", "de-DE", "pt-BR", "ko-KR", "fr-FR", "zh-CN", "es-MX"),
    "module": ("renderer", "netcode", "audio", "physics", "ui", "animation", "save-system"),
    "branch": ("release/s7", "release/s8", "hotfix/crash-loop", "hotfix/shop-prices", "main"),
    "target": ("Win64", "Linux server", "editor", "dedicated server", "client shipping"),
}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "pc_storefront_release": (
        "Ship build {build} to {pc_store}",
        "Publish the {pc_store} depot for version {build}",
        "Push out patch {build} on {pc_store} for desktop players",
        "Roll out {build} through the {pc_store} storefront",
        "Make release candidate {build} live for PC customers on {pc_store}",
        "Deliver the Windows package of {build} via {pc_store}",
    ),
    "console_portal_release": (
        "Submit package {build} to the {console} partner portal",
        "Hand over {build} for {console} distribution",
        "Get the {console} title update {build} onto the platform network",
        "Send {console} binaries of {build} through first-party ingestion",
        "Put {build} up for {console} owners",
        "Deposit the {console} image for revision {build}",
    ),
    "engine_compile": (
        "Compile the {target} engine at changelist {cl}",
        "Produce fresh {target} binaries from CL {cl}",
        "Rebuild {module} and the rest of the {target} tree",
        "Run a full engine build for {target}",
        "Make a nightly of the {module} code at {cl}",
        "Kick off CI compilation: {target}, revision {cl}",
    ),
    "live_hotfix": (
        "Hotfix the {module} crash on live servers in {region}",
        "Emergency patch for {module} regression seen in {region}",
        "Apply an urgent correction to {module} from {branch}",
        "Quick-fix the live {module} bug before peak hours in {region}",
        "Patch production: {module} issue reported by players",
        "Deploy a point fix for {module} off {branch}",
    ),
    "store_certification": (
        "Get {build} certified for the {console} store",
        "Prepare the certification submission of {build}",
        "Pass platform QA review with version {build} on {console}",
        "Send {build} for compliance approval and update the store listing",
        "Request {console} lot check for {build}",
        "Clear console TRC sign-off on {build}",
    ),
    "live_event_rollout": (
        "Launch the {event} event in {region}",
        "Start {event} for players worldwide",
        "Enable seasonal content: {event}",
        "Switch on {event} rewards across {region}",
        "Activate the {event} limited-time mode",
        "Begin {event} festivities on live shards",
    ),
    "player_account_support": (
        "Restore missing items for player {player}",
        "Ticket {ticket}: refund gems to account {player}",
        "Compensate {player} after the outage",
        "Investigate a lost purchase reported in {ticket}",
        "Help user {player} recover progression",
        "Resolve support case {ticket} about vanished skins",
    ),
    "crash_report_triage": (
        "Triage overnight crashes in {module}",
        "Sort incoming crash reports from build {build}",
        "Find the top {module} crashers",
        "Group minidumps collected since {build} and open bugs",
        "Investigate spikes in the {module} fault rate",
        "Bucket client faults from {region} testers",
    ),
    "localization_pass": (
        "Translate new UI text into {locale}",
        "Localize the patch notes for {locale} players",
        "Update the {locale} language pack",
        "Bring strings of {build} to {locale}",
        "Run the {locale} translation round",
        "Refresh {locale} subtitles and menus",
    ),
    "server_fleet_scaling": (
        "Scale game servers in {region} for the weekend",
        "Add capacity ahead of the {event} peak",
        "Resize the dedicated fleet in {region}",
        "Provision more match hosts for {region}",
        "Grow instance count before {event} starts",
        "Adjust server headroom in {region} to demand",
    ),
}

FRAMEWORK_VERSIONS = ("5.3", "5.4", "2022.3", "6000.0", "4.2")


def fill(template: str, rng: random.Random) -> tuple[str, dict[str, str]]:
    """The template with each slot drawn from its vocabulary, and the values drawn."""
    values: dict[str, str] = {}
    for name, options in SLOTS.items():
        if "{" + name + "}" in template:
            values[name] = rng.choice(options)
    return template.format(**values), values
