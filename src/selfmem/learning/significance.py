"""Significance tests for comparative patterns, and control of the false discovery rate.

A learning pass compares many pairs of groups (every choice after every tool in every task
family, every tool under every context feature). Tested one by one at a fixed level, some of
those comparisons look significant by chance, and more of them as episodes accumulate. Each
comparison therefore yields a p-value, and only those that survive Benjamini-Hochberg over
all comparisons of the pass are served: the expected share of false findings among the served
ones stays below ``q`` however many comparisons are made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = [
    "benjamini_hochberg",
    "bh_threshold",
    "difference_p",
    "failure_tail",
    "fisher_exact_p",
    "interaction_p",
    "smallest_difference_p",
]

#: Below this many runs in all, Fisher's exact test; above, the normal approximation.
_EXACT_LIMIT = 120


def _normal_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact_p(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided Fisher exact test of ``s1/n1`` against ``s2/n2``.

    Sums the probabilities of every table with the same margins that is no more likely
    than the one observed.
    """
    successes, total = s1 + s2, n1 + n2
    if n1 <= 0 or n2 <= 0 or successes in (0, total):
        return 1.0
    denominator = _log_choose(total, successes)

    def log_p(k: int) -> float:
        return _log_choose(n1, k) + _log_choose(n2, successes - k) - denominator

    observed = log_p(s1)
    low, high = max(0, successes - n2), min(n1, successes)
    p = sum(math.exp(log_p(k)) for k in range(low, high + 1) if log_p(k) <= observed + 1e-9)
    return min(1.0, p)


def difference_p(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p-value of a difference between two success rates."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    if n1 + n2 <= _EXACT_LIMIT:
        return fisher_exact_p(s1, n1, s2, n2)
    pooled = (s1 + s2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 1.0
    return _normal_two_sided((s1 / n1 - s2 / n2) / math.sqrt(variance))


def smallest_difference_p(s1: int, n1: int, s2: int, n2: int) -> float:
    """The smallest p-value :func:`difference_p` could give with these group sizes and this
    many successes in all, however they fell: the most lopsided table's.

    A comparison that could not be significant whatever the data (say, every run succeeded)
    is not counted among the tests of the false-discovery control (Tarone's idea, as used
    for discrete tests by Gilbert, 2005): it could never be a discovery, and counting it
    would only make the others harder to find.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    if n1 + n2 > _EXACT_LIMIT:
        return 0.0 if 0 < s1 + s2 < n1 + n2 else 1.0
    successes = s1 + s2
    low, high = max(0, successes - n2), min(n1, successes)
    return min(
        fisher_exact_p(low, n1, successes - low, n2),
        fisher_exact_p(high, n1, successes - high, n2),
    )


def failure_tail(failures: int, runs: int, rate: float) -> float:
    """Probability of at least ``failures`` failures in ``runs`` runs that each fail with
    probability ``rate`` (the binomial tail)."""
    return sum(
        math.comb(runs, k) * rate**k * (1 - rate) ** (runs - k) for k in range(failures, runs + 1)
    )


def interaction_p(cells: tuple[tuple[int, int], ...]) -> float:
    """p-value that a difference inside a group differs from the same difference outside it.

    ``cells`` are ``(successes, n)`` for (group, with), (group, without), (rest, with),
    (rest, without). Wald test of ``(p1 - p2) - (p3 - p4)``, with each rate shrunk towards
    one half by one pseudo-run so that empty or perfect cells keep a variance.
    """
    rates = [((s + 0.5) / (n + 1), n + 1) for s, n in cells]
    (p1, _), (p2, _), (p3, _), (p4, _) = rates
    variance = sum(p * (1 - p) / m for p, m in rates)
    return _normal_two_sided(((p1 - p2) - (p3 - p4)) / math.sqrt(variance))


def benjamini_hochberg(p_values: Mapping[str, float], q: float) -> set[str]:
    """The keys whose p-values are discoveries at false discovery rate ``q`` (Benjamini-
    Hochberg's step-up: every p-value up to the largest one, of rank k among m, that is at
    most ``q * k / m``)."""
    threshold = bh_threshold(p_values.values(), q)
    if threshold is None:
        return set()
    return {key for key, p in p_values.items() if p <= threshold}


def bh_threshold(p_values: Iterable[float], q: float) -> float | None:
    """The largest p-value that is a discovery at false discovery rate ``q`` (every p-value
    at or below it is one, :func:`benjamini_hochberg`), or None when there is none. Sorted
    with numpy (imported here: ``import selfmem`` stays light): a learning pass ranks the
    p-values of every comparison of the namespace."""
    import numpy as np

    values = np.fromiter(p_values, dtype=np.float64)
    m = len(values)
    if m == 0:
        return None
    values.sort()
    ok = np.flatnonzero(values <= q * np.arange(1, m + 1, dtype=np.float64) / m)
    return float(values[ok[-1]]) if len(ok) else None
