"""How much each kind of event tells about a user's taste.

The model learns from implicit feedback: each event becomes a signed weight.
Positive weight = the user liked the item; negative = the user did not. The
table is configurable (``--feedback click=1,share=2``); ratings map linearly
from ``[rating_min, rating_max]`` onto ``[-1, +1]`` around ``rating_neutral``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from homerec.errors import ConfigError
from homerec.events import Event
from homerec.typing import EVENT_TYPES, EventType

__all__ = ["FeedbackWeights"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackWeights:
    """Signed feedback weight per event type.

    ========  ======  ==============================================
    type      weight  meaning
    ========  ======  ==============================================
    view       0.25   saw the item's page: weak positive
    click      1.0    opened it from a list: positive
    share      2.0    shared it: strong positive
    rating    scaled  ``(value - neutral) / half_range``: 5 → +1, 1 → -1
    skip      -0.5    scrolled past / dismissed: negative
    impr.     -0.1    shown, not (yet) clicked: a weak negative, scaled
                      by how likely its position was looked at
    ========  ======  ==============================================

    An ``impression`` (``value``: the position) is learned from as shown-and-not-clicked:
    its weight times the examination prior of the position
    (:func:`homerec.exploration.examination`); it also counts the item's exposure, and
    never hides the item from the user nor warms it up.

    >>> fw = FeedbackWeights()
    >>> fw.weight(Event("u", "i", "rating", 1_700_000_000_000, 5.0))
    1.0
    >>> fw.weight(Event("u", "i", "rating", 1_700_000_000_000, 3.0))
    0.0
    >>> fw.weight(Event("u", "i", "skip", 1_700_000_000_000))
    -0.5
    >>> fw.is_positive(Event("u", "i", "rating", 1_700_000_000_000, 4.0))
    True
    """

    view: float = 0.25
    click: float = 1.0
    share: float = 2.0
    skip: float = -0.5
    impression: float = -0.1
    #: Multiplier of a rating's scaled value.
    rating: float = 1.0
    rating_min: float = 1.0
    rating_max: float = 5.0
    #: A rating at this value carries no preference; above is positive.
    rating_neutral: float = 3.0
    #: Ratings at or above this count as positives (hits in evaluation).
    rating_positive: float = 4.0

    def __post_init__(self) -> None:
        for name in (*EVENT_TYPES, "rating_min", "rating_max", "rating_neutral"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"feedback weight {name} must be finite")
        if not self.rating_min < self.rating_neutral < self.rating_max:
            raise ConfigError("need rating_min < rating_neutral < rating_max")

    def weight(self, event: Event) -> float:
        """The signed feedback weight of ``event``."""
        if event.type == "rating":
            value = self.rating_neutral if event.value is None else event.value
            half = (
                self.rating_max - self.rating_neutral
                if value >= self.rating_neutral
                else self.rating_neutral - self.rating_min
            )
            return self.rating * (value - self.rating_neutral) / half
        w: float = getattr(self, event.type)
        if event.type == "impression":
            position = max(0.0, event.value or 0.0)
            return w / math.log2(2.0 + position)  # homerec.exploration.examination
        return w

    def is_positive(self, event: Event) -> bool:
        """Whether the event says the user liked the item (a test case in evaluation)."""
        if event.type == "rating":
            return event.value is not None and event.value >= self.rating_positive
        return self.weight(event) > 0 and event.type not in ("view", "impression")

    @classmethod
    def parse(cls, spec: str) -> FeedbackWeights:
        """Build from ``"click=1,share=2,skip=-0.5"``; unnamed types keep their defaults.

        >>> FeedbackWeights.parse("share=3, skip=-1").share
        3.0
        """
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, num = part.partition("=")
            name = name.strip()
            if not sep or name not in cls.__dataclass_fields__:
                raise ConfigError(f"bad feedback weight {part!r}: use TYPE=NUMBER")
            try:
                values[name] = float(num)
            except ValueError:
                raise ConfigError(
                    f"bad feedback weight {part!r}: {num!r} is not a number"
                ) from None
        return cls(**values)

    def as_dict(self) -> Mapping[EventType | str, float]:
        """All weights by name (for docs and the state file)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
