"""``SelfMemChatMessageHistory``: a conversation kept in selfmem's store across restarts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from selfmem import InvalidInputError, SelfLearningMemory
from selfmem.memory.options import check_memory

__all__ = ["SelfMemChatMessageHistory"]

_PAGE = 1_000
_KEY_DIGITS = 12


class SelfMemChatMessageHistory(BaseChatMessageHistory):
    """The messages of one session, stored as items of ``memory``.

    Each message is one item under the namespace ``(prefix, session_id)`` with a zero-padded
    sequence number as its key, so the session reads back in order and survives restarts
    (the memory's libSQL file, or its server). ``clear()`` deletes the session's items.
    Messages are not indexed for search.
    """

    def __init__(
        self, memory: SelfLearningMemory, session_id: str, *, prefix: str = "chat_history"
    ) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise InvalidInputError("session_id must be a non-empty string", field="session_id")
        if not isinstance(prefix, str) or not prefix:
            raise InvalidInputError("prefix must be a non-empty string", field="prefix")
        self.memory = check_memory(memory)
        self.session_id = session_id
        self.namespace: tuple[str, ...] = (prefix, session_id)
        self._next: int | None = None
        self._lock = threading.Lock()

    def _items(self) -> list[Any]:
        items: list[Any] = []
        while True:
            page = self.memory.search_items(self.namespace, limit=_PAGE, offset=len(items))
            items.extend(page)
            if len(page) < _PAGE:
                return items

    async def _aitems(self) -> list[Any]:
        items: list[Any] = []
        while True:
            page = await self.memory.asearch_items(self.namespace, limit=_PAGE, offset=len(items))
            items.extend(page)
            if len(page) < _PAGE:
                return items

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's messages, oldest first."""
        return messages_from_dict([item.value for item in self._items()])

    async def aget_messages(self) -> list[BaseMessage]:
        """Async twin of :attr:`messages`."""
        return messages_from_dict([item.value for item in await self._aitems()])

    def _first_free(self, items: Sequence[Any]) -> int:
        return int(items[-1].key) + 1 if items else 0

    def _key(self, sequence: int) -> str:
        return str(sequence).zfill(_KEY_DIGITS)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages to the session.

        The next sequence number is remembered between calls; a key another writer took
        in the meantime is skipped, never overwritten.
        """
        with self._lock:
            if self._next is None:
                self._next = self._first_free(self._items())
            for message in messages:
                while self.memory.get_item(self.namespace, self._key(self._next)) is not None:
                    self._next += 1
                key = self._key(self._next)
                self.memory.put_item(self.namespace, key, message_to_dict(message), index=False)
                self._next += 1

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async twin of :meth:`add_messages`."""
        await asyncio.to_thread(self.add_messages, messages)

    def clear(self) -> None:
        """Delete every message of the session."""
        with self._lock:
            self.memory.delete_items(self.namespace)
            self._next = None

    async def aclear(self) -> None:
        """Async twin of :meth:`clear`."""
        await asyncio.to_thread(self.clear)
