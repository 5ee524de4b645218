"""Which events hide an item from the user's page, and for how long.

Each event type (``impression`` aside: being shown never hides an item) hides its item
from that user's lists either **for good**, **not at all**, or **until N later events of
the user** (the user's events counted as the model counts them: impressions do not
count). The duration is measured in the user's own events, not in time: the model
needs no clock (it ranks for users whose events it has just learned, and ``homerec
eval`` ranks before learning), late or wrongly stamped events cannot end a hide early,
and each temporary hide costs 8 bytes (item row, expiry) only while it lasts.

Presets (``--hiding NAME``; ``once`` is the default everywhere):

=========  =======  =======  =======  =======  =======  ===============================
preset     view     click    share    rating   skip     fits
=========  =======  =======  =======  =======  =======  ===============================
once       forever  forever  forever  forever  forever  any item shown once per user
news       forever  forever  forever  forever  30       a read article never returns;
                                                        a skipped one may, later
video      200      200      0        0        30       re-watching after a while;
                                                        sharing or rating hides nothing
=========  =======  =======  =======  =======  =======  ===============================

A spec names a preset, then overrides: ``news,skip=50`` or ``view=forever,skip=0``
(types not named keep the preset's rule, ``once`` if no preset is named).

>>> HidingRules.parse("news").skip
30
>>> HidingRules.parse("video,share=forever").events("share") is None
True
>>> HidingRules().events("view") is None, HidingRules.parse("skip=0").events("skip")
(True, 0)
>>> HidingRules.parse("news").spec()
'view=forever,click=forever,share=forever,rating=forever,skip=30'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Final, Literal

from homerec.errors import ConfigError

__all__ = ["DEFAULT_PRESET", "HIDING_TYPES", "PRESETS", "Hide", "HidingRules"]

#: How long an event hides its item: ``"forever"``, or the user's later events (0: not hidden).
Hide = Literal["forever"] | int

#: The event types whose rule is configurable (an impression never hides its item).
HIDING_TYPES: Final = ("view", "click", "share", "rating", "skip")

#: The largest finite duration: expiries are stored as int32 event counts.
_MAX_EVENTS: Final = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class HidingRules:
    """How long an event of each type hides its item from the user (see the module)."""

    view: Hide = "forever"
    click: Hide = "forever"
    share: Hide = "forever"
    rating: Hide = "forever"
    skip: Hide = "forever"

    def __post_init__(self) -> None:
        for name in HIDING_TYPES:
            value = getattr(self, name)
            if value == "forever":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"hiding {name} must be 'forever' or a number of events")
            if not 0 <= value <= _MAX_EVENTS:
                raise ConfigError(f"hiding {name} must be in [0, {_MAX_EVENTS:,}], got {value}")

    def events(self, event_type: str) -> int | None:
        """Later events of the user for which an event of ``event_type`` hides its item:
        ``None`` for good, ``0`` not at all (impressions and unknown types: 0)."""
        if event_type not in HIDING_TYPES:
            return 0
        value: Hide = getattr(self, event_type)
        return None if value == "forever" else int(value)

    @property
    def temporary(self) -> bool:
        """Whether some type hides for a while only (the model then keeps expiries)."""
        return any(self.events(t) for t in HIDING_TYPES)

    def spec(self) -> str:
        """The full spec, every type named (``parse(rules.spec()) == rules``)."""
        return ",".join(f"{t}={getattr(self, t)}" for t in HIDING_TYPES)

    def as_dict(self) -> dict[str, Hide]:
        """The rules by type (plain values: the model's saved parameters)."""
        return {t: getattr(self, t) for t in HIDING_TYPES}

    @classmethod
    def parse(cls, spec: str) -> HidingRules:
        """Build from ``"PRESET,TYPE=forever|N,..."`` (see the module)."""
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        base = PRESETS[DEFAULT_PRESET]
        if parts and "=" not in parts[0]:
            name = parts.pop(0)
            if name not in PRESETS:
                raise ConfigError(
                    f"unknown hiding preset {name!r}; choose from {', '.join(PRESETS)}"
                )
            base = PRESETS[name]
        values: dict[str, Hide] = base.as_dict()
        for part in parts:
            name, sep, raw = (s.strip() for s in part.partition("="))
            if not sep or name not in HIDING_TYPES:
                raise ConfigError(
                    f"bad hiding rule {part!r}: use TYPE=forever|EVENTS with TYPE one of "
                    f"{', '.join(HIDING_TYPES)} (a preset name goes first)"
                )
            if raw == "forever":
                values[name] = "forever"
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                raise ConfigError(
                    f"bad hiding rule {part!r}: {raw!r} is neither 'forever' nor a whole number"
                ) from None
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> HidingRules:
        """Inverse of :meth:`as_dict` (a saved model's parameters)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})  # type: ignore[arg-type]


#: The preset every command uses unless told otherwise: each item hidden for good once the
#: user did anything with it (the prequential protocol's "minus the user's own").
DEFAULT_PRESET: Final = "once"

#: Named rule sets (``--hiding NAME``); see the module's table.
PRESETS: Mapping[str, HidingRules] = MappingProxyType(
    {
        "once": HidingRules(),
        "news": HidingRules(skip=30),
        "video": HidingRules(view=200, click=200, share=0, rating=0, skip=30),
    }
)
