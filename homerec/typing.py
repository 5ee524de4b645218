"""Type aliases shared by the whole code base."""

from __future__ import annotations

from typing import Literal, TypeAlias

__all__ = ["EventType", "ItemId", "Scored", "UserId", "EVENT_TYPES"]

UserId: TypeAlias = str
ItemId: TypeAlias = str

EventType: TypeAlias = Literal["view", "click", "share", "rating", "skip"]
EVENT_TYPES: tuple[EventType, ...] = ("view", "click", "share", "rating", "skip")

#: One entry of a ranked list: the item and its score (higher is better).
Scored: TypeAlias = tuple[ItemId, float]
