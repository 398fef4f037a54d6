"""``ChatModelReflector``: reflections written by any LangChain chat model.

Pass it to ``SelfLearningMemory.open(reflector=ChatModelReflector(model))``. The model gets
the episode (task, context, steps, outcome) and the learned patterns that bear on it, and
answers with a JSON object of the five reflection lists. If the call fails or the answer
cannot be read, the deterministic reflection is used; a list the model leaves out is taken
from the deterministic reflection too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from selfmem import DeterministicReflector, Episode, Reflection
from selfmem.records import AnyPattern

from ._text import message_text

__all__ = ["ChatModelReflector", "episode_prompt", "parse_reflection"]

logger = logging.getLogger(__name__)

_FIELDS = ("what_worked", "what_failed", "improvements", "insights", "recommendations")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)

SYSTEM_PROMPT = (
    "You review one finished task of an AI agent and write a short reflection. Answer with a "
    "JSON object only, with these keys, each a list of short sentences: " + ", ".join(_FIELDS)
    + ". Be concrete: name tools and errors. Recommendations are advice for the next similar "
    "task; keep any '[pattern <id>]' reference you use."
)  # fmt: skip


def episode_prompt(episode: Episode, patterns: Sequence[AnyPattern], max_steps: int = 30) -> str:
    """The episode, its steps and the relevant patterns as text for the model."""
    outcome = episode.outcome.summary() if episode.outcome else "open"
    lines = [
        f"Task: {episode.task_description}",
        f"Task type: {episode.task_type.value}; context: {episode.context.model_dump_json()}",
        f"Outcome: {outcome}",
        "Steps:",
    ]
    for step in episode.steps[:max_steps]:
        result = f"error: {step.error}" if not step.success else (step.observation or "")
        args = json.dumps(step.parameters, default=str)[:200]
        lines.append(f"- {step.tool}({args}) -> {result[:300]} [{step.latency_ms:.0f} ms]")
    if len(episode.steps) > max_steps:
        lines.append(f"- ... {len(episode.steps) - max_steps} more steps")
    if patterns:
        lines.append("Learned patterns:")
        lines.extend(f"- [pattern {p.id}] {p.describe()}" for p in patterns[:10])
    return "\n".join(lines)


def parse_reflection(text: str, fallback: Reflection, generated_by: str) -> Reflection:
    """Read the model's JSON answer; lists it leaves out come from ``fallback``.

    Raises ``ValueError`` when the answer is no JSON object.
    """
    cleaned = _FENCE.sub("", text.strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the model's answer holds no JSON object")
    data: Any = json.loads(cleaned[start : end + 1])
    if not isinstance(data, dict):
        raise ValueError("the model's answer is not a JSON object")
    fields: dict[str, list[str]] = {}
    for name in _FIELDS:
        value = data.get(name)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and value:
            fields[name] = [str(item) for item in value if str(item).strip()]
        else:
            fields[name] = list(getattr(fallback, name))
    return Reflection(**fields, generated_by=generated_by)


class ChatModelReflector:
    """A :class:`selfmem.learning.Reflector` that asks a LangChain chat model.

    ``model``: any chat model (``ChatOpenAI(...)``, ``ChatAnthropic(...)``, ...).
    ``max_steps``: steps shown to the model. Failures fall back to the deterministic
    reflection and are logged; the episode is never lost.
    """

    def __init__(self, model: BaseChatModel, *, max_steps: int = 30) -> None:
        self.model = model
        self.max_steps = max_steps
        self.generated_by = f"langchain:{getattr(model, '_llm_type', type(model).__name__)}"

    def reflect(self, episode: Episode, patterns: Sequence[AnyPattern]) -> Reflection:
        """Write the reflection of a completed episode."""
        fallback = DeterministicReflector().reflect(episode, patterns)
        messages = [
            SystemMessage(content=SYSTEM_PROMPT),
            HumanMessage(content=episode_prompt(episode, patterns, self.max_steps)),
        ]
        try:
            answer = self.model.invoke(messages)
            return parse_reflection(message_text(answer.content), fallback, self.generated_by)
        except Exception:  # any provider error: the deterministic reflection stands in
            logger.warning("chat model reflection failed for episode %s; using the "
                           "deterministic one", episode.id, exc_info=True)  # fmt: skip
            return fallback
