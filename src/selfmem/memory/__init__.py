"""The face: :class:`SelfLearningMemory`, assembled from one mixin per concern.

:mod:`.self_learning_memory` (lifecycle, listing, deletion, stats), :mod:`.learning`
(patterns, heuristics, feedback, relearning), :mod:`.retrieval` (context retrieval and
pattern recommendation), :mod:`.items` (JSON documents) and :mod:`.handle` (what they share).
Front ends (CLI, MCP, integrations) import this package, :mod:`selfmem` and
:mod:`selfmem.records` only; ``prepare_imported`` (the checks of ``selfmem import``) and the
backup functions are re-exported here for them. :mod:`.options` holds the public checks
the integrations run on their options when a handler, recorder, retriever or block is built.
"""

from ..security.imported import prepare_imported
from ..storage.backup import BackupInfo, backup_store, inspect_backup, restore_store
from .self_learning_memory import MemoryStats, SelfLearningMemory

__all__ = [
    "BackupInfo",
    "MemoryStats",
    "SelfLearningMemory",
    "backup_store",
    "inspect_backup",
    "prepare_imported",
    "restore_store",
]
