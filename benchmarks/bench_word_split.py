"""How often the learner divides a family whose choice at one step does not follow the words.

    cd /work/main && PYTHONPATH= .venv/bin/python -m benchmarks.bench_word_split [--families 300]

Each family is one task, "book a supplier's invoice", written from four templates with
random invoice numbers, 20 supplier names and random order numbers. At its third step every
run picks one of two tools (``post_a`` or ``post_b``) at random, with a share of 0.3, 0.5 or
0.7, whatever its words; 30% of runs add a noise step and 20% fail. ``--runs`` runs per family
(by default as many as the learner looks at a young family for), one ``PatternLearner`` per
family. A division here is a false one: the rule
(:mod:`selfmem.learning.word_split`) divides a family only when a term of the tasks decides
the tool, and no term does. Prints how many families were divided.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

from selfmem import Episode, ExecutionStep, TaskContext, TaskOutcome, TaskType
from selfmem.learning import PatternLearner
from selfmem.learning.word_split import HELD_RUNS

TEMPLATES = (
    "Book the invoice {n} from {s} against order {o}",
    "Post supplier invoice {n} ({s}) for order {o}",
    "Please record the bill {n} sent by {s}",
    "{s} sent invoice {n}; match it with order {o} and book it",
)
SUPPLIERS = (
    "Orbis", "Nordlicht", "Alpenblick", "Hansa", "Kestrel", "Umbra", "Vega", "Lumen", "Corvid",
    "Tessel", "Brixton", "Halden", "Oakfield", "Marlow", "Quill", "Rivet", "Sable", "Tamber",
    "Ulric", "Wexley",
)  # fmt: skip
def divided(seed: int, runs: int = HELD_RUNS) -> bool:
    """Whether the learner divided the family of this seed."""
    rng = random.Random(seed)
    learner = PatternLearner("default")
    share = rng.choice((0.3, 0.5, 0.7))
    start = datetime.now(UTC) - timedelta(days=1)
    for i in range(runs):
        tools = ["fetch", "match", "post_a" if rng.random() < share else "post_b", "archive"]
        if rng.random() < 0.3:
            tools.insert(2, rng.choice(("ping", "look", "note")))
        text = rng.choice(TEMPLATES).format(
            n=rng.randint(1000, 9999), s=rng.choice(SUPPLIERS), o=rng.randint(10, 99)
        )
        end = start + timedelta(minutes=i)
        ok = rng.random() < 0.8
        learner.observe(
            Episode(
                task_description=text,
                context=TaskContext(domain="finance"),
                task_type=TaskType.DOCUMENTATION,
                steps=[ExecutionStep(tool=tool, observation="ok") for tool in tools],
                start_time=end - timedelta(seconds=30),
                end_time=end,
                outcome=TaskOutcome.success("booked") if ok else TaskOutcome.failure("no"),
            )
        )
    return any(family.apart for family in learner.families.families.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=300)
    parser.add_argument("--runs", type=int, default=HELD_RUNS, help="runs per family")
    args = parser.parse_args(argv)
    count = sum(divided(seed, args.runs) for seed in range(args.families))
    print(f"families divided although no term decides their choice: {count} of {args.families}")


if __name__ == "__main__":
    main()
