"""What the benchmarks say about the machine they ran on, and the package versions."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# What an embedded store runs on: the versions the core, MCP and LangChain reports name.
STORE_PACKAGES = ("selfmem", "libsql", "lmdb", "pydantic")


def versions(packages: Iterable[str]) -> dict[str, str]:
    """The installed version of each distribution ("not installed" when it is missing)."""
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def summary(packages: Iterable[str]) -> dict[str, Any]:
    """CPU count, Python, platform and the versions of ``packages``, in one flat mapping."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions(packages),
    }


def description(packages: Iterable[str]) -> dict[str, Any]:
    """The full picture: CPU model and memory, load, versions, checkout, thread settings."""
    cpu, memory_gb = _cpu_and_memory()
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gb": round(memory_gb, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average": load_average(), "versions": versions(packages), "git": checkout(),
            "thread_env": {name: os.environ.get(name) for name in THREAD_VARIABLES}}  # fmt: skip


def _cpu_and_memory() -> tuple[str, float]:
    """The CPU model and the memory in GB, from /proc ("unknown" and 0 elsewhere)."""
    cpu = "unknown"
    memory_gb = 0.0
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = int(line.split()[1]) / 2**20
    return cpu, memory_gb


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else []


def checkout() -> str:
    """The commit of the checkout, and whether src/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted src/ changes" if git("status", "--porcelain", "src") else "")
