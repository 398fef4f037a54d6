"""The JSON of a completed episode, serialised once per completion.

``complete_episode`` writes each step as a row and the episode's header (every field but
the steps) as another, then keeps the whole episode in process memory as JSON. Serialised
separately, the steps would be encoded twice and the header twice. Inside
``with reuse_json():`` the first :func:`step_json` / :func:`header_json` of a record is kept
(for this thread, until the block ends) and :func:`episode_json` builds the whole episode's
JSON from those pieces: the same bytes as ``episode.model_dump_json()``, which it falls back
to if the pieces do not fit together.

Outside a block every function simply serialises. A record must not change inside a block
after its JSON was taken (the block covers one write and what follows it at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .episodes import Episode, ExecutionStep

__all__ = ["episode_json", "header_json", "reuse_json", "step_json"]

_local = threading.local()
_FIELDS = list(Episode.model_fields)
#: The fields serialised after ``steps`` (fields are serialised in their declared order).
_AFTER_STEPS = set(_FIELDS[_FIELDS.index("steps") + 1 :])


@contextmanager
def reuse_json() -> Iterator[None]:
    """Keep the JSON of records serialised in this block (nested blocks share the outer)."""
    if getattr(_local, "memo", None) is not None:
        yield
        return
    _local.memo = {}
    try:
        yield
    finally:
        _local.memo = None


def _kept(record: Any, kind: str, make: Callable[[], str]) -> str:
    memo: dict[tuple[int, str], tuple[Any, str]] | None = getattr(_local, "memo", None)
    if memo is None:
        return make()
    key = (id(record), kind)
    hit = memo.get(key)
    if hit is not None and hit[0] is record:  # the memo holds the record: ids stay unique
        return hit[1]
    text = make()
    memo[key] = (record, text)
    return text


def step_json(step: ExecutionStep) -> str:
    """``step.model_dump_json()``, kept inside :func:`reuse_json`."""
    return _kept(step, "step", step.model_dump_json)


def header_json(episode: Episode) -> str:
    """The episode without its steps (``model_dump_json(exclude={"steps"})``), kept inside
    :func:`reuse_json`."""
    return _kept(episode, "header", lambda: episode.model_dump_json(exclude={"steps"}))


def episode_json(episode: Episode) -> str:
    """``episode.model_dump_json()``, built from :func:`header_json` and :func:`step_json`
    inside :func:`reuse_json` (only the few fields after the steps are serialised again)."""
    if getattr(_local, "memo", None) is None:
        return episode.model_dump_json()
    header = header_json(episode)
    tail = episode.model_dump_json(include=_AFTER_STEPS)  # {"outcome":...,"metadata":...}
    suffix = "," + tail[1:]
    if not header.endswith(suffix) or len(header) <= len(suffix):
        return episode.model_dump_json()  # the fields changed: no splicing
    steps = ",".join(step_json(step) for step in episode.steps)
    return f'{header[: -len(suffix)]},"steps":[{steps}]{suffix}'
