"""A published homepage: the top-K list of one user, as written to the recommendations topic."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from homerec.errors import HomerecError
from homerec.typing import Scored, UserId

__all__ = ["Homepage"]


@dataclass(frozen=True, slots=True)
class Homepage:
    """The refreshed list for one user.

    ``ts`` is the publish time (epoch ms); ``event_ts`` the ``ts`` of the newest
    event applied for this user; ``events`` how many events of this user the
    model state has applied so far.

    >>> h = Homepage("u1", (("i3", 0.9), ("i7", 0.5)), ts=2, event_ts=1, events=4)
    >>> Homepage.from_dict(h.to_dict()) == h
    True
    >>> h.to_dict()["items"][0]
    {'item': 'i3', 'score': 0.9}
    """

    user: UserId
    items: tuple[Scored, ...]
    ts: int
    event_ts: int
    events: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "items": [
                {"item": item, "score": score if math.isfinite(score) else 0.0}
                for item, score in self.items
            ],
            "ts": self.ts,
            "event_ts": self.event_ts,
            "events": self.events,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Homepage:
        try:
            items: Sequence[Mapping[str, Any]] = raw["items"]
            return cls(
                user=str(raw["user"]),
                items=tuple((str(e["item"]), float(e["score"])) for e in items),
                ts=int(raw["ts"]),
                event_ts=int(raw["event_ts"]),
                events=int(raw["events"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HomerecError(f"not a homepage record: {exc!r}") from None
