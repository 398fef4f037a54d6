"""The LangChain demo: a ``create_agent`` agent learns from its own runs.

    python -m langchain_selfmem.demo [--path DIR]

A scripted chat model (no LLM, no network) drives a real agent with real tools. The
callback handler records every run as an episode, the middleware injects what was learned
into the prompt of the next task. The memory lives in a temporary directory unless
``--path`` names one.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool

from selfmem import SelfLearningMemory, TaskContext

from .callbacks import SelfMemCallbackHandler
from .middleware import SelfMemMiddleware
from .scripted_model import ScriptedChatModel, Turn

__all__ = ["main", "run_demo"]

DATASETS = {
    "sales": ("amount", "region,amount\nnorth,120\n\nsouth,80\nwest,45\n"),
    "visits": ("count", "page,count\nhome,310\nabout,42\n\npricing,97\n"),
    "signups": ("users", "week,users\n1,14\n2,22\n\n3,19\n"),
    "revenue": ("eur", "month,eur\njan,1200\nfeb,1350\n"),
    "refunds": ("eur", "month,eur\njan,40\nfeb,15\n"),
}
TASKS = (
    "Summarize the sales dataset",
    "Summarize the visits dataset",
    "Summarize the churn dataset",  # not there: the run fails
    "Summarize the signups dataset",
    "Summarize the revenue dataset",
)
NEW_TASK = "Summarize the refunds dataset"
CONTEXT = TaskContext(domain="analytics", language="python", tags=["csv"])
SYSTEM_PROMPT = "You are a data analyst. Use the tools to answer."


def make_tools() -> list[BaseTool]:
    """Real tools over an in-memory set of CSV files."""
    loaded: dict[str, str] = {}

    @tool
    def fetch_dataset(name: str) -> str:
        """Load a CSV dataset by name."""
        if name not in DATASETS:
            raise LookupError(f"no dataset named {name!r}")
        loaded[name] = DATASETS[name][1]
        return f"loaded {name}: {len(loaded[name].splitlines()) - 1} rows"

    @tool
    def clean_rows(name: str) -> str:
        """Drop blank rows from a loaded dataset."""
        rows = [line for line in loaded[name].splitlines() if line.strip()]
        dropped = len(loaded[name].splitlines()) - len(rows)
        loaded[name] = "\n".join(rows)
        return f"dropped {dropped} blank rows"

    @tool
    def summarize_column(name: str, column: str) -> str:
        """Sum and average a numeric column of a loaded dataset."""
        header, *rows = loaded[name].splitlines()
        index = header.split(",").index(column)
        values = [float(row.split(",")[index]) for row in rows]
        return f"{column}: total {sum(values):g}, mean {sum(values) / len(values):.1f}"

    return [fetch_dataset, clean_rows, summarize_column]


def plan(task: str) -> list[Turn]:
    """What the scripted model does for a task: fetch, clean, summarize."""
    found = re.search(r"the (\w+) dataset", task)
    name = found.group(1) if found else "unknown"
    column = DATASETS.get(name, ("value", ""))[0]
    return [
        ("fetch_dataset", {"name": name}),
        ("clean_rows", {"name": name}),
        ("summarize_column", {"name": name, "column": column}),
    ]


def run_demo(memory: SelfLearningMemory, echo: Callable[[str], None] = print) -> None:
    """Run the tasks, then show what memory learned and what the next prompt gets."""
    model = ScriptedChatModel(planner=plan, final_answer="{result}")
    handler = SelfMemCallbackHandler(memory, context=CONTEXT, task_type="analysis")
    agent = create_agent(model, make_tools(), system_prompt=SYSTEM_PROMPT,
                         middleware=[SelfMemMiddleware(memory, max_tokens=300)])  # fmt: skip
    config: RunnableConfig = {"callbacks": [handler]}
    echo(f"Running {len(TASKS)} tasks with a LangChain agent (memory: {memory.namespace!r})\n")
    for task in TASKS:
        try:
            answer = agent.invoke({"messages": [HumanMessage(task)]}, config)["messages"][-1].text
        except LookupError as exc:
            answer = f"failed: {exc}"
        echo(f"  {task:<32} -> {answer}")
    handler.flush()

    echo("\nRecorded episodes:")
    for episode in reversed(memory.list_episodes(limit=len(TASKS))):
        assert episode.outcome is not None and episode.reward is not None
        tools = " -> ".join(step.tool + ("!" if not step.success else "") for step in episode.steps)
        status = episode.outcome.status.value
        echo(f"  {status:<8} reward {episode.reward.total:.2f}  {tools}")

    echo("\nLearned patterns:")
    for pattern in memory.list_patterns(limit=5):
        echo(f"  [{pattern.kind.value}] {pattern.describe()}")
    echo("Learned heuristics:")
    for heuristic in memory.list_heuristics(limit=5):
        echo(f"  - {heuristic.explain()}")

    echo(f"\nNew task: {NEW_TASK!r}")
    answer = agent.invoke({"messages": [HumanMessage(NEW_TASK)]}, config)["messages"][-1].text
    handler.flush()
    system = model.prompts[-1][0]
    prompt = system.text if isinstance(system, SystemMessage) else ""
    echo("System prompt the model received:\n")
    echo("\n".join(f"  | {line}" for line in prompt.splitlines()))
    echo(f"\nAnswer: {answer}")
    echo("\nFeedback on what was shown:")
    for pattern in memory.list_patterns(limit=3):
        echo(f"  {' -> '.join(getattr(pattern, 'tools', [])) or pattern.kind.value}: shown to "
             f"{pattern.feedback_uses} runs, {pattern.feedback_successes} succeeded; "
             f"confidence {pattern.confidence:.2f}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m langchain_selfmem.demo``."""
    parser = argparse.ArgumentParser(
        prog="python -m langchain_selfmem.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--path", type=Path, help="memory directory (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="selfmem-langchain-") as scratch:
        path = args.path or Path(scratch) / "memory"
        with SelfLearningMemory.open(path, learn_inline=True) as memory:
            run_demo(memory)
        print(f"\nMemory kept in {path}" if args.path else "\n(temporary memory removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
