"""Public multi-step tool-use traces with ground-truth calls, for bench_traces.

The traces ship inside the PyPI package ``nestful-wrapper`` (0.1.7, Apache-2.0; IBM's
NESTFUL), which installs its data as the top-level package ``data_v1``:

- ``complexfuncbench``: ComplexFuncBench (Zhipu AI / Tsinghua KEG, Apache-2.0), 1,000 travel
  booking tasks over 38 Booking.com-style APIs, each a natural-language request and the
  ordered ground-truth calls (2 to 11, mean 5.1) with their arguments. The file keeps the
  benchmark's order, and its five subsets are consecutive ranges of it (car rental 150,
  cross-domain 400, hotels 150, attractions 150, flights 150); :func:`load_complexfuncbench`
  checks that the single-domain ranges call only their own APIs.
- ``nestful``: NESTFUL v1, 300 nested API sequences (executable RapidAPI calls 85, Glaive 169,
  SGD 46), 2 to 7 calls each after the final ``var_result`` pseudo call is dropped.

Each task becomes a :class:`TraceTask`: its text, a domain taken from its subset (the
context), and the ordered tool names and arguments of its ground-truth calls. Nothing is
downloaded at run time; ``--data-dir`` (or ``SELFMEM_TRACES_DIR``) may point at an unpacked
copy of the package's ``data_v1`` folder instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "nestful-wrapper"
PACKAGE_VERSION = "0.1.7"
DATA_PACKAGE = "data_v1"

DATASETS = ("complexfuncbench", "nestful", "all")

# ComplexFuncBench's subsets, in the order of the file: (domain, first index, end index).
_CFB_SUBSETS = (
    ("car-rental", 0, 150),
    ("cross", 150, 550),
    ("hotels", 550, 700),
    ("attraction", 700, 850),
    ("flights", 850, 1000),
)
# The APIs a single-domain subset may call (checked, so that a reordered file fails loudly).
_CFB_DOMAIN_TOOLS = {
    "car-rental": {
        "Search_Car_Location",
        "Search_Car_Rentals",
        "Vehicle_Details",
        "Vehicle_Supplier_Details",
        "Vehicle_Supplier_Ratings",
        "Vehicle_Supplier_Review",
        "Get_Packages",
        "Booking_Summary",
    },
    "attraction": {
        "Search_Attraction_Location",
        "Search_Attractions",
        "Get_Attraction_Details",
        "Get_Availability",
        "Get_Availability_Calendar",
        "Get_Popular_Attraction_Near_By",
        "Get_Nearby_Cities",
    },
    "flights": {
        "Search_Flight_Location",
        "Search_Flights",
        "Search_Flights_Multi_Stops",
        "Get_Flight_Details",
        "Get_Min_Price",
        "Get_Min_Price_Multi_Stops",
        "Get_Seat_Map",
    },
}

_NESTFUL_FILES = (
    ("nestful-executable", "executable/executable-data.json"),
    ("nestful-glaive", "non-executable/non-executable-glaive-data.json"),
    ("nestful-sgd", "non-executable/non-executable-sgd-data.json"),
)


@dataclass(frozen=True)
class TraceTask:
    """One task: its request, its subset's domain and its ground-truth calls in order."""

    task_id: str
    text: str
    domain: str
    tools: tuple[str, ...]
    args: tuple[dict[str, Any], ...] = field(repr=False)

    @property
    def tool_set(self) -> frozenset[str]:
        return frozenset(self.tools)


class TracesUnavailableError(RuntimeError):
    """The package with the traces is not installed and no data folder was given."""


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The ``data_v1`` folder: the argument, ``SELFMEM_TRACES_DIR``, or the installed package."""
    chosen = explicit or os.environ.get("SELFMEM_TRACES_DIR")
    if chosen:
        path = Path(chosen)
        if not (path / "complexfuncbench").is_dir():
            raise TracesUnavailableError(f"{path} has no complexfuncbench/ folder")
        return path
    spec = importlib.util.find_spec(DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TracesUnavailableError(
            f"the traces ship in the PyPI package {PACKAGE}: "
            f"pip install '{PACKAGE}=={PACKAGE_VERSION}'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _calls(output: Iterable[dict[str, Any]]) -> tuple[tuple[str, ...], tuple[dict[str, Any], ...]]:
    steps = [s for s in output if s.get("name") and s["name"] != "var_result"]
    return (
        tuple(str(s["name"]) for s in steps),
        tuple(dict(s.get("arguments") or {}) for s in steps),
    )


def load_complexfuncbench(root: Path) -> list[TraceTask]:
    with open(root / "complexfuncbench" / "complexfuncbench-data.json", encoding="utf-8") as fh:
        raw = json.load(fh)
    if len(raw) != _CFB_SUBSETS[-1][2]:
        raise ValueError(f"ComplexFuncBench: expected 1000 tasks, found {len(raw)}")
    tasks: list[TraceTask] = []
    for domain, lo, hi in _CFB_SUBSETS:
        allowed = _CFB_DOMAIN_TOOLS.get(domain)
        for i in range(lo, hi):
            tools, args = _calls(raw[i]["output"])
            if allowed is not None and not set(tools) <= allowed:
                raise ValueError(f"ComplexFuncBench task {i} is not a {domain} task: {tools}")
            text = " ".join(str(raw[i]["input"]).split())
            tasks.append(TraceTask(f"cfb-{domain}-{i - lo}", text, domain, tools, args))
    return tasks


def load_nestful(root: Path) -> list[TraceTask]:
    tasks: list[TraceTask] = []
    for domain, rel in _NESTFUL_FILES:
        with open(root / rel, encoding="utf-8") as fh:
            raw = json.load(fh)
        for i, row in enumerate(raw):
            tools, args = _calls(row["output"])
            if tools:
                text = " ".join(str(row["input"]).split())
                tasks.append(TraceTask(f"{domain}-{i}", text, domain, tools, args))
    return tasks


def load_tasks(
    dataset: str = "complexfuncbench", root: str | os.PathLike[str] | None = None
) -> list[TraceTask]:
    """The tasks of ``dataset`` (``complexfuncbench``, ``nestful`` or ``all``), in file order."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, not {dataset!r}")
    base = data_dir(root)
    tasks: list[TraceTask] = []
    if dataset in ("complexfuncbench", "all"):
        tasks += load_complexfuncbench(base)
    if dataset in ("nestful", "all"):
        tasks += load_nestful(base)
    return tasks


def describe(tasks: list[TraceTask]) -> dict[str, Any]:
    """Counts for the report: tasks per domain, steps per task, distinct tools and sequences."""
    steps = sorted(len(t.tools) for t in tasks)
    per_domain: dict[str, int] = {}
    for t in tasks:
        per_domain[t.domain] = per_domain.get(t.domain, 0) + 1
    return {
        "tasks": len(tasks),
        "domains": per_domain,
        "steps_min": steps[0] if steps else 0,
        "steps_median": steps[len(steps) // 2] if steps else 0,
        "steps_mean": round(sum(steps) / len(steps), 2) if steps else 0.0,
        "steps_max": steps[-1] if steps else 0,
        "distinct_tools": len({tool for t in tasks for tool in t.tools}),
        "distinct_sequences": len({t.tools for t in tasks}),
    }
