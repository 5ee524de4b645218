"""What every event source produces: events in time order plus side information."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile

__all__ = ["Dataset"]


@dataclass(frozen=True, slots=True)
class Dataset:
    """A replayable stream: ``events`` sorted by ``ts`` (ties keep source order).

    ``items`` is the catalog known from the start (titles, tags); ``profiles``
    the user features known from the start. Either may be empty.
    """

    name: str
    events: Sequence[Event]
    items: Sequence[Item] = field(default_factory=tuple)
    profiles: Sequence[UserProfile] = field(default_factory=tuple)
