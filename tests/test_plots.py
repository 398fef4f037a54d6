"""The plotting helper (selfmem.plots) over a real store: what each figure shows (line data,
labels, counts), and that matplotlib is an optional extra nothing else imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="needs selfmem[plots]")

import matplotlib
from matplotlib.axes import Axes

from selfmem import (
    InvalidInputError,
    SelfLearningMemory,
    TaskContext,
    TaskOutcome,
    TaskType,
)
from selfmem.plots import (
    learning_curve,
    mean_reward,
    patterns_over_time,
    reward_distribution,
    success_rate,
)

matplotlib.use("Agg")

#: (task type, succeeded) in the order the episodes are completed.
RUNS = [(TaskType.DEBUGGING, ok) for ok in (False, False, True, True, True, True)] + [
    (TaskType.TESTING, ok) for ok in (True, False, True, False)
]


def _record(memory: SelfLearningMemory, runs: list[tuple[TaskType, bool]]) -> None:
    for i, (task_type, ok) in enumerate(runs):
        tool = "run_tests" if task_type is TaskType.TESTING else "read_logs"
        eid = memory.start_episode(f"{task_type.value} task {i}", TaskContext(domain="web"),
                                   task_type)  # fmt: skip
        memory.log_step(eid, tool=tool, observation="looked")
        memory.log_step(eid, tool="edit_file", observation="saved" if ok else None,
                        error=None if ok else "permission denied")  # fmt: skip
        if not ok:  # retried, in vain: the memory learns the error has no known recovery
            memory.log_step(eid, tool="edit_file", error="permission denied")
        outcome = TaskOutcome.success("done") if ok else TaskOutcome.failure("gave up")
        memory.complete_episode(eid, outcome)


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[SelfLearningMemory]:
    with SelfLearningMemory.open(tmp_path / "m", flush_interval_s=None,
                                 learn_inline=True) as memory:  # fmt: skip
        _record(memory, RUNS)
        yield memory


def _lines(ax: Axes) -> dict[str, tuple[list[Any], list[float]]]:
    return {str(line.get_label()): (list(line.get_xdata()),
                                    [float(y) for y in line.get_ydata()])
            for line in ax.get_lines()}  # fmt: skip


def test_the_learning_curve_shows_rolling_success_and_reward_per_task_type(
    memory: SelfLearningMemory, tmp_path: Path
) -> None:
    figure = learning_curve(memory, window=2)
    top, bottom = figure.axes
    lines = _lines(top)
    assert set(lines) == {"all", "debugging", "testing"}
    xs, ys = lines["all"]
    assert xs == list(range(1, 11))  # every completed episode, in completion order
    # the mean of the last two outcomes at each point (of the first one, at the first)
    assert ys == [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert lines["debugging"] == ([1, 2, 3, 4, 5, 6], [0.0, 0.0, 0.5, 1.0, 1.0, 1.0])
    assert lines["testing"] == ([7, 8, 9, 10], [1.0, 0.5, 0.5, 0.5])
    assert top.get_ylabel() == "success rate (last 2)"
    assert bottom.get_xlabel() == "episode (completion order)"
    assert bottom.get_ylabel() == "mean reward (last 2)"
    rewards = [e.reward.total for e in reversed(memory.list_episodes()) if e.reward]
    assert _lines(bottom)["all"][1][0] == pytest.approx(rewards[0])
    assert _lines(bottom)["all"][1][1] == pytest.approx((rewards[0] + rewards[1]) / 2)
    assert "10 episodes" in figure.get_suptitle()
    figure.savefig(tmp_path / "curve.png")  # it renders (Agg)
    assert (tmp_path / "curve.png").stat().st_size > 10_000


def test_two_runs_on_one_axes_are_told_apart_by_label(tmp_path: Path) -> None:
    with SelfLearningMemory() as baseline, SelfLearningMemory() as improved:
        _record(baseline, [(TaskType.DEBUGGING, i % 2 == 0) for i in range(8)])
        _record(improved, [(TaskType.DEBUGGING, i > 1) for i in range(8)])
        ax = success_rate(baseline, window=4, label="no memory")
        success_rate(improved, window=4, label="selfmem", ax=ax)
        grouped = _lines(success_rate(improved, window=4, by="domain", label="selfmem"))
    lines = _lines(ax)
    assert set(lines) == {"no memory", "selfmem"}
    assert lines["no memory"][1][-1] == 0.5 and lines["selfmem"][1][-1] == 1.0
    assert set(grouped) == {"selfmem", "selfmem: web"}
    ax.figure.savefig(tmp_path / "two.png")


def test_open_and_abandoned_episodes_are_not_on_the_curve(memory: SelfLearningMemory) -> None:
    memory.start_episode("still running")
    gone = memory.start_episode("stopped early")
    memory.abandon_episode(gone)
    xs, _ = _lines(mean_reward(memory))["all"]
    assert len(xs) == len(RUNS)


def test_the_reward_distribution_counts_every_episode(memory: SelfLearningMemory) -> None:
    ax = reward_distribution(memory, bins=5)
    assert sum(patch.get_height() for patch in ax.patches) == len(RUNS)
    rewards = [e.reward.total for e in memory.list_episodes() if e.reward]
    mean = next(line for line in ax.get_lines() if str(line.get_label()).startswith("mean"))
    assert float(mean.get_xdata()[0]) == pytest.approx(sum(rewards) / len(rewards))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("reward", "episodes")
    stacked = reward_distribution(memory, bins=5, by="task_type")
    assert {t.get_text() for t in stacked.get_legend().get_texts()} >= {"debugging", "testing"}


def test_patterns_over_time_counts_what_was_learned(memory: SelfLearningMemory) -> None:
    learned = memory.list_patterns(include_unserved=True, limit=1000)
    served = memory.list_patterns(limit=1000)
    assert learned  # the debugging runs taught something
    ax = patterns_over_time(memory)
    assert ax.get_xlabel() == "episodes completed"
    lines = _lines(ax)
    assert lines["all patterns"][1][-1] == len(learned)
    # each pattern is placed at how many episodes had completed when it was first seen
    xs, ys = lines["all patterns"]
    assert xs == sorted(xs) and xs[0] >= 1 and xs[-1] == len(RUNS)  # runs on to the latest
    assert ys == sorted(ys) and ys[-1] == len(learned)
    assert served and lines["served now"][1][-1] == len(served)
    kinds = {p.kind.value for p in learned}
    assert kinds <= set(lines)
    assert sum(lines[k][1][-1] for k in kinds) == len(learned)
    by_time = patterns_over_time(learned, by_kind=False)
    assert by_time.get_xlabel() == "first seen"
    from_records = _lines(by_time)
    assert set(from_records) == {"all patterns"}
    assert from_records["all patterns"][0] == sorted(p.first_seen for p in learned)
    with pytest.raises(InvalidInputError, match="needs a memory"):
        patterns_over_time(learned, x="episodes")


def test_bad_arguments_name_the_field(memory: SelfLearningMemory) -> None:
    with pytest.raises(InvalidInputError, match="grouping"):
        success_rate(memory, by="colour")
    with pytest.raises(InvalidInputError, match="window"):
        mean_reward(memory, window=0)
    with pytest.raises(InvalidInputError, match="bins"):
        reward_distribution(memory, bins=0)


def test_import_selfmem_does_not_import_matplotlib() -> None:
    probe = "import sys, selfmem; print(any(m.startswith('matplotlib') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "False"


def test_without_matplotlib_the_error_names_the_extra() -> None:
    probe = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "try:\n    import selfmem.plots\nexcept ImportError as exc:\n    print(exc)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert "pip install 'selfmem[plots]'" in out.stdout
