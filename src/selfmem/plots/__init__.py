"""Plots of what a memory learned, for notebooks and reports: the learning curve (rolling
success rate and mean reward over episodes in completion order, overall and per task type
or any grouping), the reward distribution, and patterns discovered over time.

Each function takes a :class:`~selfmem.SelfLearningMemory` or the records it returned and
returns matplotlib axes (or a figure), drawn without pyplot:

>>> from selfmem.plots import learning_curve, success_rate             # doctest: +SKIP
>>> learning_curve(memory)                           # a Figure: shows in Jupyter
>>> ax = success_rate(baseline, label="no memory")   # two runs on one axes
>>> success_rate(memory, label="selfmem", ax=ax)

Needs the ``plots`` extra: ``pip install 'selfmem[plots]'``. ``import selfmem`` never
imports matplotlib.
"""

try:
    from .figures import (
        learning_curve,
        mean_reward,
        patterns_over_time,
        reward_distribution,
        success_rate,
    )
except ImportError as exc:  # pragma: no cover - only without the extra
    if not (exc.name or "").startswith("matplotlib"):
        raise
    raise ImportError(
        f"selfmem.plots needs the 'plots' extra ({exc.name} is missing): "
        "pip install 'selfmem[plots]'"
    ) from exc

__all__ = [
    "learning_curve",
    "mean_reward",
    "patterns_over_time",
    "reward_distribution",
    "success_rate",
]
