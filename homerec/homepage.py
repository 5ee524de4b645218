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
    model state has applied so far. Per item, ``explore`` says whether an
    exploration slot put it there and ``p`` with what probability (the propensity,
    ``1.0`` for the model's own best: see :mod:`homerec.exploration`); both default to
    "not explored".

    >>> h = Homepage("u1", (("i3", 0.9), ("i7", 0.5)), ts=2, event_ts=1, events=4,
    ...              explore=(False, True), p=(1.0, 0.25))
    >>> Homepage.from_dict(h.to_dict()) == h
    True
    >>> h.to_dict()["items"][1]
    {'item': 'i7', 'score': 0.5, 'explore': True, 'p': 0.25}
    >>> Homepage("u1", (("i3", 0.9),), ts=2, event_ts=1, events=4).p
    (1.0,)
    """

    user: UserId
    items: tuple[Scored, ...]
    ts: int
    event_ts: int
    events: int
    explore: tuple[bool, ...] = ()
    p: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.items)
        if not self.explore:
            object.__setattr__(self, "explore", (False,) * n)
        if not self.p:
            object.__setattr__(self, "p", (1.0,) * n)
        if len(self.explore) != n or len(self.p) != n:
            raise HomerecError("a homepage needs one explore flag and one p per item")

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "items": [
                {
                    "item": item,
                    "score": score if math.isfinite(score) else 0.0,
                    "explore": explored,
                    "p": p,
                }
                for (item, score), explored, p in zip(self.items, self.explore, self.p, strict=True)
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
                explore=tuple(bool(e.get("explore", False)) for e in items),
                p=tuple(float(e.get("p", 1.0)) for e in items),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise HomerecError(f"not a homepage record: {exc!r}") from None
