"""User events: the typed form of one message of the events topic, and its validation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homerec.errors import InvalidEvent
from homerec.limits import Limits
from homerec.typing import EVENT_TYPES, EventType, ItemId, UserId

__all__ = ["Event", "check_id", "check_ts"]

_REQUIRED = ("user", "item", "type", "ts")
_KNOWN = frozenset((*_REQUIRED, "value", "id", "context"))


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a user did with an item.

    >>> e = Event.from_dict({"user": "u1", "item": "i9", "type": "rating", "ts": 1700000000000,
    ...                      "value": 4.0})
    >>> e.user, e.item, e.type, e.value
    ('u1', 'i9', 'rating', 4.0)
    >>> Event.from_dict({"user": "u1", "item": "i9", "type": "like", "ts": 1700000000000})
    Traceback (most recent call last):
    ...
    homerec.errors.InvalidEvent: unknown_type: 'type' must be one of view, click, share, rating, skip, impression; got 'like'

    An ``impression`` says the front end showed the item, ``value`` its position on the
    page (0-based, required):

    >>> Event.from_dict({"user": "u1", "item": "i9", "type": "impression", "ts": 1700000000000,
    ...                  "value": 2}).value
    2.0
    """

    user: UserId
    item: ItemId
    type: EventType
    ts: int
    value: float | None = None
    id: str | None = None
    context: Mapping[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, raw: object, limits: Limits | None = None) -> Event:
        """Validate a decoded message value; raise :class:`InvalidEvent` with a reason code."""
        lim = limits or Limits()
        if not isinstance(raw, Mapping):
            raise InvalidEvent("not_a_map", f"event must be a map, got {type(raw).__name__}")
        for name in _REQUIRED:
            if name not in raw:
                raise InvalidEvent("missing_field", f"{name!r} is required")
        unknown = [k for k in raw if k not in _KNOWN]
        if unknown:
            raise InvalidEvent("unknown_field", f"unknown field(s) {sorted(map(str, unknown))}")
        user = check_id(raw["user"], "user", lim)
        item = check_id(raw["item"], "item", lim)
        etype = raw["type"]
        if not isinstance(etype, str):
            raise InvalidEvent("wrong_type", f"'type' must be a string, got {type(etype).__name__}")
        if etype not in EVENT_TYPES:
            raise InvalidEvent(
                "unknown_type",
                f"'type' must be one of {', '.join(EVENT_TYPES)}; got {etype[:40]!r}",
            )
        ts = check_ts(raw["ts"], lim)
        value = _check_value(raw.get("value"), etype, lim)
        eid = raw.get("id")
        if eid is not None:
            eid = check_id(eid, "id", lim)
        context = raw.get("context")
        if context is not None:
            if not isinstance(context, Mapping):
                raise InvalidEvent("wrong_type", "'context' must be a map")
            if len(context) > lim.max_context_entries:
                raise InvalidEvent(
                    "oversize",
                    f"'context' has {len(context)} entries (max {lim.max_context_entries})",
                )
        return cls(user, item, etype, ts, value, eid, context)

    def to_dict(self) -> dict[str, Any]:
        """The wire form (a plain map); inverse of :meth:`from_dict`."""
        out: dict[str, Any] = {
            "user": self.user,
            "item": self.item,
            "type": self.type,
            "ts": self.ts,
        }
        if self.value is not None:
            out["value"] = self.value
        if self.id is not None:
            out["id"] = self.id
        if self.context is not None:
            out["context"] = dict(self.context)
        return out


def check_id(value: object, name: str, limits: Limits) -> str:
    """Validate a user, item or event id: a non-empty string within the length limit."""
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name!r} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidEvent("bad_value", f"{name!r} must not be empty")
    n = len(value.encode("utf-8", "surrogatepass"))
    if n > limits.max_id_length:
        raise InvalidEvent("oversize", f"{name!r} is {n} bytes (max {limits.max_id_length})")
    return value


def check_ts(value: object, limits: Limits) -> int:
    """Validate an epoch-millisecond timestamp."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(
            "wrong_type", f"'ts' must be an integer (epoch ms), got {type(value).__name__}"
        )
    if not limits.ts_min <= value <= limits.ts_max:
        raise InvalidEvent(
            "out_of_range", f"'ts' {value} outside [{limits.ts_min}, {limits.ts_max}] epoch ms"
        )
    return value


def _check_value(value: object, etype: EventType, limits: Limits) -> float | None:
    if value is None:
        if etype == "rating":
            raise InvalidEvent("missing_field", "'value' is required for a rating")
        if etype == "impression":
            raise InvalidEvent(
                "missing_field", "'value' (the position) is required for an impression"
            )
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("wrong_type", f"'value' must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise InvalidEvent("not_finite", f"'value' must be finite, got {v}")
    if etype == "rating":
        if not limits.rating_min <= v <= limits.rating_max:
            raise InvalidEvent(
                "out_of_range",
                f"rating {v:g} outside [{limits.rating_min:g}, {limits.rating_max:g}]",
            )
    elif etype == "impression":
        if v < 0 or v != int(v) or v > limits.max_abs_value:
            raise InvalidEvent(
                "out_of_range", f"an impression's position must be a whole number >= 0, got {v:g}"
            )
    elif abs(v) > limits.max_abs_value:
        raise InvalidEvent("out_of_range", f"'value' {v:g} exceeds {limits.max_abs_value:g}")
    return v
