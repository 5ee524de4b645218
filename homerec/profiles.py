"""User profiles: the typed form of one message of the users topic, and the demographic groups.

A profile carries the documented fields ``age``, ``gender``, ``location`` and
``occupation`` (all optional) and a bounded ``attrs`` map of further
categorical features. :class:`ProfileSchema` decides which of them form the
model's demographic groups, and buckets ages; ``homerec eval`` and the worker
both hand the model ``schema.apply(profile)``, so the same groups come out of
the same profile either way.

>>> p = UserProfile.from_dict({"user": "u1", "age": 31, "gender": "F",
...                            "attrs": {"plan": "pro"}, "ts": 1700000000000})
>>> p.features
{'age': 31.0, 'gender': 'F', 'plan': 'pro'}
>>> ProfileSchema().apply(p).features
{'age': '30', 'gender': 'F', 'plan': 'pro'}
>>> ProfileSchema(fields=("gender",), attrs=False).apply(p).features
{'gender': 'F'}
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homerec.errors import ConfigError, InvalidEvent
from homerec.events import check_id, check_ts
from homerec.limits import Limits
from homerec.typing import UserId

__all__ = ["MAX_ATTRS", "PROFILE_FIELDS", "ProfileSchema", "UserProfile"]

#: The documented profile fields (``age`` a number, the others strings).
PROFILE_FIELDS: tuple[str, ...] = ("age", "gender", "location", "occupation")
#: Most entries of a profile's ``attrs`` map.
MAX_ATTRS = 16
_KNOWN = frozenset((*PROFILE_FIELDS, "user", "attrs", "ts"))
_MAX_AGE = 150.0


@dataclass(frozen=True, slots=True)
class UserProfile:
    """Known facts about a user, e.g. ``{"age": 31, "gender": "F", "occupation": "writer"}``.

    ``features`` holds the documented fields that are present and the ``attrs``
    entries, in one map: categorical values are strings, ``age`` a number. ``ts``
    is the epoch ms of this version of the profile (0: unknown).
    """

    user: UserId
    features: Mapping[str, str | float] = field(default_factory=dict)
    ts: int = 0

    @classmethod
    def from_dict(cls, raw: object, limits: Limits | None = None) -> UserProfile:
        """Validate a decoded users-topic value; raise :class:`InvalidEvent` with a reason."""
        lim = limits or Limits()
        if not isinstance(raw, Mapping):
            raise InvalidEvent("not_a_map", f"profile must be a map, got {type(raw).__name__}")
        if "user" not in raw:
            raise InvalidEvent("missing_field", "'user' is required")
        unknown = [k for k in raw if k not in _KNOWN]
        if unknown:
            raise InvalidEvent("unknown_field", f"unknown field(s) {sorted(map(str, unknown))}")
        user = check_id(raw["user"], "user", lim)
        features: dict[str, str | float] = {}
        if "age" in raw:
            age = raw["age"]
            if isinstance(age, bool) or not isinstance(age, int | float):
                raise InvalidEvent(
                    "wrong_type", f"'age' must be a number, got {type(age).__name__}"
                )
            if not math.isfinite(age):
                raise InvalidEvent("not_finite", "'age' must be finite")
            if not 0 <= age <= _MAX_AGE:
                raise InvalidEvent("out_of_range", f"'age' {age:g} outside [0, {_MAX_AGE:g}]")
            features["age"] = float(age)
        for name in PROFILE_FIELDS[1:]:
            if name in raw:
                features[name] = _category(raw[name], repr(name), lim)
        attrs = raw.get("attrs", {})
        if not isinstance(attrs, Mapping):
            raise InvalidEvent("wrong_type", "'attrs' must be a map")
        if len(attrs) > MAX_ATTRS:
            raise InvalidEvent("oversize", f"'attrs' has {len(attrs)} entries (max {MAX_ATTRS})")
        for key, value in attrs.items():
            if not isinstance(key, str) or not key or len(key) > lim.max_tag_length:
                raise InvalidEvent("bad_value", "'attrs' keys must be non-empty short strings")
            if key in _KNOWN:
                raise InvalidEvent("bad_value", f"'attrs' must not repeat the field {key!r}")
            features[key] = _category(value, f"attrs[{key!r}]", lim)
        ts = check_ts(raw["ts"], lim) if "ts" in raw else 0
        return cls(user, features, ts)

    def to_dict(self) -> dict[str, Any]:
        """The wire form; inverse of :meth:`from_dict` (features beyond the documented
        fields go under ``attrs``)."""
        out: dict[str, Any] = {"user": self.user}
        attrs: dict[str, Any] = {}
        for key, value in self.features.items():
            if key in PROFILE_FIELDS:
                out[key] = value
            else:
                attrs[key] = value
        if attrs:
            out["attrs"] = attrs
        if self.ts:
            out["ts"] = self.ts
        return out


def _category(value: object, name: str, lim: Limits) -> str:
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    if not value or len(value) > lim.max_tag_length:
        raise InvalidEvent("bad_value", f"{name} must be 1-{lim.max_tag_length} characters")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileSchema:
    """Which profile features form the model's demographic groups, and how ages are bucketed.

    ``fields``: the documented fields that form groups, in slot order (a user keeps at
    most 8 groups: the first ones win). ``attrs``: every ``attrs`` entry forms a group
    too (after the fields, by name). ``age_edges``: bucket boundaries; an age falls in
    the bucket named by the highest edge at or below it (``0`` below the first edge).

    >>> s = ProfileSchema(age_edges=(18, 25, 35, 45, 55))
    >>> [s.age_bucket(a) for a in (12, 18, 30, 70)]
    ['0', '18', '25', '55']
    >>> ProfileSchema.parse("gender,age", age_edges="18,30")
    ProfileSchema(fields=('gender', 'age'), attrs=True, age_edges=(18, 30))
    """

    fields: tuple[str, ...] = ("age", "gender", "occupation", "location")
    attrs: bool = True
    age_edges: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90)

    def __post_init__(self) -> None:
        bad = [f for f in self.fields if f not in PROFILE_FIELDS]
        if bad:
            raise ConfigError(f"unknown profile field(s) {bad}; known: {list(PROFILE_FIELDS)}")
        if len(set(self.fields)) != len(self.fields):
            raise ConfigError("profile fields must not repeat")
        edges = list(self.age_edges)
        if edges != sorted(set(edges)) or any(e <= 0 for e in edges):
            raise ConfigError("age edges must be positive and increasing")

    @classmethod
    def parse(cls, fields: str, *, attrs: bool = True, age_edges: str = "") -> ProfileSchema:
        """From command-line text: ``"age,gender"`` and ``"18,25,35"``."""
        names = tuple(f.strip() for f in fields.split(",") if f.strip())
        try:
            edges = tuple(int(e) for e in age_edges.split(",") if e.strip())
        except ValueError:
            raise ConfigError(f"age edges must be integers, got {age_edges!r}") from None
        return cls(fields=names, attrs=attrs, age_edges=edges or cls().age_edges)

    def age_bucket(self, age: float) -> str:
        b = bisect.bisect_right(self.age_edges, age)
        return str(self.age_edges[b - 1] if b else 0)

    def groups(self, profile: UserProfile) -> dict[str, str]:
        """The profile's group features, in slot order, as categorical strings."""
        out: dict[str, str] = {}
        feats = profile.features
        for name in self.fields:
            value = feats.get(name)
            if value is None:
                continue
            if name == "age" and isinstance(value, int | float) and not isinstance(value, bool):
                out[name] = self.age_bucket(float(value))
            else:
                out[name] = str(value)
        if self.attrs:
            for name in sorted(k for k in feats if k not in PROFILE_FIELDS):
                out[name] = str(feats[name])
        return out

    def apply(self, profile: UserProfile) -> UserProfile:
        """``profile`` as the model sees it: its :meth:`groups` only."""
        return UserProfile(profile.user, self.groups(profile), profile.ts)
