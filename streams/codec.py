"""msgpack encoding of everything that crosses the broker, in one place.

Decoding never raises anything but :class:`homerec.errors.InvalidEvent` (or
its subclass ``InvalidItem``) with a bounded ``reason`` code, so the worker can
route every bad message to the dead-letter topic.

>>> from homerec import Event
>>> key, value = encode_event(Event("u1", "i2", "click", 1_700_000_000_000))
>>> decode_event(key, value)
Event(user='u1', item='i2', type='click', ts=1700000000000, value=None, id=None, context=None)
>>> decode_event(b"u1", b"\\xc1")
Traceback (most recent call last):
...
homerec.errors.InvalidEvent: not_msgpack: value is not valid msgpack (FormatError)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import msgpack

from homerec.errors import HomerecError, InvalidEvent, InvalidItem
from homerec.events import Event
from homerec.homepage import Homepage
from homerec.items import Item
from homerec.limits import Limits
from homerec.profiles import UserProfile
from homerec.sharing import InvalidDelta, ItemDelta

__all__ = [
    "DeadLetter",
    "ItemUpdate",
    "decode_dead_letter",
    "decode_event",
    "decode_homepage",
    "decode_item",
    "decode_item_update",
    "decode_profile",
    "encode_dead_letter",
    "encode_event",
    "encode_homepage",
    "encode_item",
    "encode_item_update",
    "encode_profile",
    "packb",
    "unpackb",
]

_DEFAULT_LIMITS = Limits()


def packb(obj: Any) -> bytes:
    """msgpack-encode plain values (maps, lists, str, bytes, numbers)."""
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


def unpackb(data: bytes, *, max_bytes: int = 64 * 1024 * 1024) -> Any:
    """msgpack-decode one object; raise ``InvalidEvent('not_msgpack')`` on any problem."""
    try:
        if len(data) > max_bytes:
            raise InvalidEvent("oversize", f"message is {len(data)} bytes (max {max_bytes})")
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except msgpack.ExtraData:
        detail = "ExtraData"
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200].rstrip(": ")
    if _looks_like_json(data):
        # JSON's '{' and '[' are valid one-byte msgpack integers, so msgpack's own error
        # ("extra data") says nothing useful to someone who sent JSON
        raise InvalidEvent(
            "not_msgpack",
            "value looks like JSON, but homerec expects a msgpack map "
            f"(msgpack.packb(event, use_bin_type=True); {detail})",
        ) from None
    raise InvalidEvent("not_msgpack", f"value is not valid msgpack ({detail})") from None


def _looks_like_json(data: bytes) -> bool:
    """Whether ``data`` starts like a JSON object or array (after whitespace).

    >>> _looks_like_json(b' {"user": "u1"}'), _looks_like_json(b"\\x81\\xa1a\\x01")
    (True, False)
    """
    head = data[:64].lstrip(b" \t\r\n")
    return head[:1] in (b"{", b"[")


def _check_size(key: bytes | None, value: bytes | None, limits: Limits) -> bytes:
    if value is None:
        raise InvalidEvent("empty", "message has no value (tombstone)")
    size = len(value) + (len(key) if key else 0)
    if size > limits.max_message_bytes:
        raise InvalidEvent("oversize", f"message is {size} bytes (max {limits.max_message_bytes})")
    return value


def encode_event(event: Event) -> tuple[bytes, bytes]:
    """``(key, value)`` for the events topic: key = user id."""
    return event.user.encode("utf-8"), packb(event.to_dict())


def decode_event(key: bytes | None, value: bytes | None, limits: Limits | None = None) -> Event:
    """Decode and validate one events-topic message.

    The key must be the event's user id: the worker's state is partitioned by
    key, so an event under another key would update the wrong worker's state.
    """
    lim = limits or _DEFAULT_LIMITS
    raw = unpackb(_check_size(key, value, lim), max_bytes=lim.max_message_bytes)
    event = Event.from_dict(raw, lim)
    if key is None or key != event.user.encode("utf-8"):
        shown = "none" if key is None else repr(key[:60])
        raise InvalidEvent("key_mismatch", f"key {shown} is not the event's user {event.user!r}")
    return event


def encode_item(item: Item) -> tuple[bytes, bytes]:
    """``(key, value)`` for the items topic: key = item id."""
    return item.item.encode("utf-8"), packb(item.to_dict())


def decode_item(key: bytes | None, value: bytes | None, limits: Limits | None = None) -> Item:
    """Decode and validate one items-topic message."""
    lim = limits or _DEFAULT_LIMITS
    try:
        raw = unpackb(_check_size(key, value, lim), max_bytes=lim.max_message_bytes)
    except InvalidEvent as exc:
        raise InvalidItem(exc.reason, exc.detail) from None
    item = Item.from_dict(raw, lim)
    if key is not None and key != item.item.encode("utf-8"):
        raise InvalidItem("key_mismatch", f"key {key[:60]!r} is not the item id {item.item!r}")
    return item


def encode_profile(profile: UserProfile) -> tuple[bytes, bytes]:
    """``(key, value)`` for the users topic: key = user id (a tombstone, value ``None``,
    asks to forget the user)."""
    return profile.user.encode("utf-8"), packb(profile.to_dict())


def decode_profile(
    key: bytes | None, value: bytes | None, limits: Limits | None = None
) -> UserProfile:
    """Decode and validate one users-topic message (not a tombstone: the caller handles
    those). The key must be the profile's user id, as for events."""
    lim = limits or _DEFAULT_LIMITS
    raw = unpackb(_check_size(key, value, lim), max_bytes=lim.max_message_bytes)
    profile = UserProfile.from_dict(raw, lim)
    if key is None or key != profile.user.encode("utf-8"):
        shown = "none" if key is None else repr(key[:60])
        raise InvalidEvent("key_mismatch", f"key {shown} is not the profile's user")
    return profile


def encode_homepage(page: Homepage) -> tuple[bytes, bytes]:
    """``(key, value)`` for the recommendations topic: key = user id."""
    return page.user.encode("utf-8"), packb(page.to_dict())


def decode_homepage(value: bytes) -> Homepage:
    """Decode one recommendations-topic value (raises ``HomerecError`` if malformed)."""
    try:
        raw = unpackb(value)
    except InvalidEvent as exc:
        raise HomerecError(f"recommendation record: {exc}") from None
    if not isinstance(raw, dict):
        raise HomerecError("recommendation record is not a map")
    return Homepage.from_dict(raw)


@dataclass(frozen=True, slots=True)
class ItemUpdate:
    """One record of the item-updates topic: a member's delta and the events it covers.

    ``events`` maps each events partition to the ``(first, last)`` offsets of the batch
    the delta was learned from: a member that restores from a checkpoint skips the
    deltas of the events it replays itself (:mod:`streams.worker.sharing`).
    """

    delta: ItemDelta
    events: dict[int, tuple[int, int]]


def encode_item_update(update: ItemUpdate) -> tuple[bytes, bytes]:
    """``(key, value)`` for the item-updates topic: key = the member's name."""
    value = {
        "delta": update.delta.to_dict(),
        "events": {int(p): [int(a), int(b)] for p, (a, b) in update.events.items()},
    }
    return update.delta.source.encode("utf-8"), packb(value)


def decode_item_update(value: bytes | None) -> ItemUpdate:
    """Inverse of :func:`encode_item_update`; ``InvalidEvent('invalid_item_update')`` if
    malformed (the worker sends it to the dead-letter topic and goes on)."""
    if value is None:
        raise InvalidEvent("invalid_item_update", "empty value")
    raw = unpackb(value)
    try:
        if not isinstance(raw, dict):
            raise InvalidDelta("not a map")
        events = {int(p): (int(r[0]), int(r[1])) for p, r in dict(raw["events"]).items()}
        return ItemUpdate(ItemDelta.from_dict(raw["delta"]), events)
    except (InvalidDelta, KeyError, TypeError, ValueError, IndexError) as exc:
        raise InvalidEvent("invalid_item_update", str(exc)[:200]) from None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message, its origin and why it was rejected."""

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    ts: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "detail": self.detail,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "ts": self.ts,
        }


def encode_dead_letter(
    error: InvalidEvent,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """``(key, value, headers)`` for the DLQ: the original key and bytes, kept verbatim."""
    record = DeadLetter(
        reason=error.reason,
        detail=error.detail,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        ts=int(time.time() * 1000),
    )
    headers = [
        ("homerec.reason", error.reason.encode()),
        ("homerec.source", f"{topic}/{partition}/{offset}".encode()),
    ]
    return key, packb(record.to_dict()), headers


def decode_dead_letter(value: bytes) -> DeadLetter:
    """Inverse of :func:`encode_dead_letter` (for tools and tests)."""
    raw = unpackb(value)
    if not isinstance(raw, dict):
        raise HomerecError("dead letter is not a map")
    return DeadLetter(**raw)
