"""Learning from completed episodes: reward scoring and reflection (pure functions)."""

from .reflection import reflect
from .reward import RewardWeights, compute_reward

__all__ = ["RewardWeights", "compute_reward", "reflect"]
