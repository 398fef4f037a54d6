"""Small statistics used to decide which patterns are trustworthy."""

from __future__ import annotations

import math

__all__ = ["decay_factor", "two_proportion_z", "wilson_lower_bound"]


def wilson_lower_bound(successes: float, total: float, z: float = 1.96) -> float:
    """Lower bound of the Wilson score interval: a success rate that small samples can't inflate.

    3 of 3 gives 0.44; 30 of 30 gives 0.89; 0 of anything gives 0.
    """
    if total <= 0:
        return 0.0
    p = successes / total
    denominator = 1 + z * z / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, (centre - margin) / denominator)


def two_proportion_z(s1: float, n1: float, s2: float, n2: float) -> float:
    """z statistic of the difference between two success rates (0 when undefined)."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    pooled = (s1 + s2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 0.0
    return (s1 / n1 - s2 / n2) / math.sqrt(variance)


def decay_factor(age_days: float, half_life_days: float) -> float:
    """``0.5 ** (age / half_life)``: 1.0 for fresh evidence, 0.5 after one half-life."""
    if half_life_days <= 0 or age_days <= 0:
        return 1.0
    return float(0.5 ** (age_days / half_life_days))
