"""The ``selfmem`` command line; ``main`` is the console script's entry point.

See ``docs/cli.md``, or ``selfmem --help``.
"""

from .app import main

__all__ = ["main"]
