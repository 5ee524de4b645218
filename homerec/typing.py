"""Type aliases shared by the whole code base."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "EVENT_TYPES", "AnyIntArray", "EventType", "FloatArray", "IndexArray", "IntArray", "ItemId",
    "Scored", "Shown", "UserId",
]  # fmt: skip

UserId: TypeAlias = str
ItemId: TypeAlias = str

EventType: TypeAlias = Literal["view", "click", "share", "rating", "skip", "impression"]
EVENT_TYPES: tuple[EventType, ...] = ("view", "click", "share", "rating", "skip", "impression")

#: One entry of a ranked list: the item and its score (higher is better).
Scored: TypeAlias = tuple[ItemId, float]
#: One entry of a published page: item, score, whether the slot was explored and the
#: probability with which the policy put the item there (``1.0``: the model's own best).
Shown: TypeAlias = tuple[ItemId, float, bool, float]

#: The model tables' floats (embeddings, scores): float32 keeps a million users in memory.
FloatArray: TypeAlias = npt.NDArray[np.float32]
#: Row numbers into the model's tables (users, items, tags): int32.
IntArray: TypeAlias = npt.NDArray[np.int32]
#: Positions and offsets that may pass 2**31 (numpy's default integer).
IndexArray: TypeAlias = npt.NDArray[np.int64]
#: Integer arrays whose width the caller chooses.
AnyIntArray: TypeAlias = npt.NDArray[Any]
