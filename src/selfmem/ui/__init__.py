"""A local web dashboard over a memory: episodes, one episode's timeline, patterns and
heuristics with their evidence, learning over time, what retrieval returns for a task, and
health. Server-rendered HTML (Starlette and Jinja2, everything escaped), assets inside the
package, read-only unless told otherwise.

>>> from selfmem import SelfLearningMemory
>>> from selfmem.ui import build_app, serve
>>> with SelfLearningMemory.open("./.selfmem") as memory:      # doctest: +SKIP
...     serve(memory, port=8766)          # or mount build_app(memory) in another ASGI app

Needs the ``ui`` extra: ``pip install 'selfmem[ui]'``.
"""

try:
    from .app import LOOPBACK, build_app, serve
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError(
        f"the selfmem dashboard needs the 'ui' extra ({exc.name} is missing): "
        "pip install 'selfmem[ui]'"
    ) from exc

__all__ = ["LOOPBACK", "build_app", "serve"]
