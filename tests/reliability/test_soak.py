"""A short SIGKILL soak: writer processes killed at random moments, over and over, against
one embedded directory and against a real sqld; afterwards the database is intact and
every episode a writer was told was completed is stored exactly once, with all its steps.

The harness is ``benchmarks/bench_soak.py`` (``python -m benchmarks.bench_soak`` runs a
longer one and prints the numbers); each test here takes 10-30 s.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_soak import SoakResult, soak

KILLS = 8
WRITERS = 3
STEPS = 3


def _check(result: SoakResult) -> None:
    assert result.integrity == "ok"
    assert result.failed_calls == 0  # no call failed: every kill was ridden out
    assert result.acknowledged >= KILLS  # each killed writer had written before it died
    assert result.lost == 0 and result.duplicated == 0, result
    assert result.steps_checked == result.acknowledged * STEPS
    # a kill leaves at most one episode behind: started and never completed, or completed
    # just before the writer could note it
    assert result.open + result.unacknowledged <= KILLS, result
    assert result.stored == result.acknowledged + result.open + result.unacknowledged


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_writers_killed_at_random_lose_nothing(mode: str) -> None:
    _check(soak(mode, kills=KILLS, writers=WRITERS, steps=STEPS, seed=7))
