"""Resources (stats, an episode by id) and the prompt that teaches an agent the memory."""

from __future__ import annotations

import json
from dataclasses import asdict

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ..errors import NotFoundError, SelfMemError
from ..memory import SelfLearningMemory

__all__ = ["INSTRUCTIONS", "register_guide", "usage_prompt"]

INSTRUCTIONS = (
    "selfmem is an episodic memory that learns from your past tasks. Before a task call "
    "retrieve_context; when you start it call start_episode; after each tool call call "
    "log_step; at the end call complete_episode with the outcome."
)

_STEPS = """\
You have a self-learning episodic memory (selfmem). Use it on every task:

1. Before you start, call `retrieve_context` with the task description (and a `context`
   such as {{"domain": "web", "language": "python"}}). Read its text: what worked before,
   what to avoid, a suggested tool sequence and learned rules. Prefer what worked.
2. Call `start_episode` with the same description and context. Keep the `episode_id`.
3. After each tool call, call `log_step` with the episode_id, the tool name, its
   parameters, and its result as `observation` (or the `error` if it failed). When a call
   fails, `find_recovery` with the tool and the error says what recovered from it before.
4. When you are done, call `complete_episode` with status `success`,
   `partial_success` or `failure` (a failure needs a `reason`); `abandoned` if the task
   was stopped before it finished (it is kept, but not learned from).
5. If you followed retrieved patterns or rules, call `record_feedback` with the episode_id
   and the `pattern_ids` from retrieve_context, so memory learns whether they helped.

Never put secrets in descriptions; selfmem redacts the ones it recognizes.{task}"""

_READ_ONLY = """\
You have read access to a self-learning episodic memory (selfmem). Before a task, call
`retrieve_context` with the task description and read what worked before, what to avoid
and the suggested tool sequence; when a tool call fails, `find_recovery` says what recovered
from that error before; `recommend_patterns` and `search_patterns` show what it learned,
`list_episodes` and `get_episode` the past tasks themselves.{task}"""


def usage_prompt(task: str = "", *, read_only: bool = False) -> str:
    """How an agent uses the memory: start, log, complete, retrieve."""
    suffix = f"\n\nYour task: {task.strip()}" if task.strip() else ""
    return (_READ_ONLY if read_only else _STEPS).format(task=suffix)


def register_guide(server: MCPServer, memory: SelfLearningMemory, *, read_only: bool) -> None:
    """Add the ``selfmem://stats`` and ``selfmem://episodes/{id}`` resources and the
    ``use_memory`` prompt."""

    @server.resource(
        "selfmem://stats",
        name="stats",
        description="Episode, pattern and heuristic counts of this memory.",
        mime_type="application/json",
    )
    def stats() -> str:
        try:
            return json.dumps(asdict(memory.stats()))
        except SelfMemError as exc:
            raise ResourceError(f"{type(exc).__name__}: {exc}") from exc

    @server.resource(
        "selfmem://episodes/{episode_id}",
        name="episode",
        description="One episode as JSON: task, context, steps, outcome, reward, reflection.",
        mime_type="application/json",
    )
    def episode(episode_id: str) -> str:
        try:
            return memory.get_episode(episode_id).model_dump_json()
        except NotFoundError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except SelfMemError as exc:
            raise ResourceError(f"{type(exc).__name__}: {exc}") from exc

    @server.prompt(
        name="use_memory",
        title="Use selfmem",
        description="How to use the memory on a task: retrieve, start, log, complete.",
    )
    def use_memory(task: str = "") -> str:
        return usage_prompt(task, read_only=read_only)
