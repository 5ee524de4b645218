"""Validation limits for incoming events and catalog records."""

from __future__ import annotations

from dataclasses import dataclass

from homerec.errors import ConfigError

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds that every event must respect; violations go to the dead-letter topic.

    >>> Limits().max_id_length
    256
    >>> Limits(rating_min=5, rating_max=1)
    Traceback (most recent call last):
    ...
    homerec.errors.ConfigError: rating_min (5) must be below rating_max (1)
    """

    #: Longest user or item id, in UTF-8 bytes.
    max_id_length: int = 256
    #: Largest encoded message (key + value), in bytes.
    max_message_bytes: int = 64 * 1024
    #: Inclusive range of the ``value`` of a ``rating`` event.
    rating_min: float = 1.0
    rating_max: float = 5.0
    #: Largest absolute ``value`` accepted on other event types.
    max_abs_value: float = 1e6
    #: Timestamps must lie in [ts_min, ts_max] epoch milliseconds (1990 .. 2100).
    ts_min: int = 631_152_000_000
    ts_max: int = 4_102_444_800_000
    #: Most entries in an event's ``context`` map and tags of a catalog item.
    max_context_entries: int = 64
    max_tags: int = 64
    max_tag_length: int = 128
    max_title_length: int = 1024

    def __post_init__(self) -> None:
        if self.rating_min >= self.rating_max:
            raise ConfigError(
                f"rating_min ({self.rating_min:g}) must be below rating_max ({self.rating_max:g})"
            )
        for name in ("max_id_length", "max_message_bytes", "max_context_entries", "max_tags"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.ts_min >= self.ts_max:
            raise ConfigError("ts_min must be below ts_max")
