"""User profile features (demographics) that help with cold users."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from homerec.typing import UserId

__all__ = ["UserProfile"]


@dataclass(frozen=True, slots=True)
class UserProfile:
    """Known facts about a user, e.g. ``{"age": 31, "gender": "F", "occupation": "writer"}``.

    Categorical values are strings; numeric ones are floats or ints.
    """

    user: UserId
    features: Mapping[str, str | float] = field(default_factory=dict)
