"""Items: JSON documents stored beside the episodes, addressed by a path of labels and a key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Item"]


class Item(BaseModel):
    """A stored document: its path of labels, key, JSON value and times.

    ``score`` is set on results of a query search (higher is more relevant).
    """

    model_config = ConfigDict(frozen=True)

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    score: float | None = None
