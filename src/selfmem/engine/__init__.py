"""The engine: what runs between the public face and the pure logic and storage below.

:mod:`.runtime` holds what a memory handle shares at run time (store, cache, buffers,
background threads); :mod:`.step_buffer` batches logged steps; :mod:`.learning` and
:mod:`.learning_queue` feed completed episodes to the pattern learner and write what it
learned; :mod:`.retrieval` and :mod:`.snapshot` keep the in-process retrieval index current
and persisted; :mod:`.item_search` filters and ranks items. This is the only layer that both
reads storage and calls the learning and ranking logic.
"""
