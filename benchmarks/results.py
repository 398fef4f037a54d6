"""Measured numbers of the benchmarks with their targets, and the plain-text table of them.

Shared by ``bench_core``, ``bench_mcp`` and ``bench_langchain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Result:
    """One measured number, with its target when it has one."""

    key: str
    label: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""

    @property
    def status(self) -> str:
        if self.target is None:
            return "info"
        met = self.value >= self.target if self.higher_is_better else self.value <= self.target
        return "pass" if met else "miss"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def percentiles(samples_ns: Sequence[int], unit_ns: float) -> dict[str, float]:
    """p50 / p95 / p99 / p99.9 / max of samples in nanoseconds, scaled to ``unit_ns``."""
    values = np.asarray(samples_ns, dtype=np.float64) / unit_ns
    p50, p95, p99, p999 = (float(v) for v in np.percentile(values, [50, 95, 99, 99.9]))
    return {"p50": p50, "p95": p95, "p99": p99, "p99.9": p999, "max": float(values.max())}


def _format_value(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def render_table(results: list[Result]) -> str:
    rows = [("measurement", "value", "unit", "target", "status", "note")]
    for r in results:
        target = "" if r.target is None else f"{'>=' if r.higher_is_better else '<='} {r.target:g}"
        rows.append((r.label, _format_value(r.value), r.unit, target, r.status, r.note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(w) if i == 1 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
