"""Shared item side: what one member's learning changed, as one msgpack-able record.

Each member of a consumer group owns its users' state and keeps a replica of the
item side. After a batch it takes an :class:`ItemDelta` — the changes its *own*
learning made since its last take — and every other member applies it (in Kafka:
one record per batch on the item-updates topic; in ``homerec eval --workers N``: a
list). Everything in a delta is additive, so deltas from different members commute:

- ``counts``: events per item (an item with a count is "seen", a candidate);
- ``q``, ``b``: the summed embedding and bias steps of the rows the batch touched
  (``q`` in float16; the sender keeps the rounding error and sends it with its next
  delta, so nothing is lost over time). Steps only: a shared model starts an item at
  a vector drawn from its id, the same in every member whichever way it meets the item;
- ``pop``, ``pop_slow``: decayed-popularity increments, valued at the end of the
  batch; ``events`` ticks the receiver's popularity clocks first, so every replica's
  clock counts the events of all members (a shared event clock). Popularity and
  ``cooc`` depend on the order they are applied in: every replica applies them in the
  order of the deltas (the topic's), the sender's own included when it comes back
  (:class:`~homerec.models.hybrid.sharing.ItemReplica`);
- ``cooc``: co-occurrence increments ``(src, dst, weight)``;
- ``demo``: positives per (profile group label, item);
- ``ranker``: the ranker's weight change; ``ranker_v``, ``ranker_steps``: what the
  member's own Adam steps added to its second moment, and how many there were.
  Receivers fold them into theirs (:meth:`~homerec.ranker.OnlineRanker.merge_moments`),
  so every replica's Adam scales its steps by the group's gradients and step count
  rather than by its own share of them; the first moment stays per member (its steps
  reach the others through ``ranker``). Of the item side, the ranker replicated by
  deltas is what loses most against one model; empty in older writers' records;
- ``ratings``, ``rating_sum``: per-item and overall rating sums and counts;
- ``recent``: the items of the batch's events, for popularity-sampled negatives.

Rows are never sent: every index points into ``items`` (item *ids*), because
replicas number their rows in the order they meet items. ``source`` and ``seq``
identify the delta: a member skips any it has applied already, and of its own
applies only the order-dependent parts, in their place in the order.

>>> import numpy as np
>>> d = ItemDelta.empty("m0", 1, n_factors=2)
>>> ItemDelta.from_dict(d.to_dict()).source, d.is_empty()
('m0', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from homerec.errors import HomerecError

__all__ = ["FORMAT_VERSION", "InvalidDelta", "ItemDelta", "ItemShared"]

#: ``to_dict()["v"]``: bumped when the record's layout or meaning changes. 2: an item
#: new to the sender no longer carries its initial vector in ``q`` (every member draws
#: the same one from the item's id), so a version-1 record would add it twice.
FORMAT_VERSION = 2

_Idx = npt.NDArray[np.int64]
_F16 = npt.NDArray[np.float16]
_F32 = npt.NDArray[np.float32]
_F64 = npt.NDArray[np.float64]
_I32 = npt.NDArray[np.int32]

#: array fields and their wire dtype ("idx": uint16 or uint32 by the number of items)
_ARRAYS: dict[str, str] = {
    "counts": "<f4",
    "q_idx": "idx",
    "q": "<f2",
    "b": "<f4",
    "pop_idx": "idx",
    "pop": "<f4",
    "pop_slow": "<f4",
    "cooc_src": "idx",
    "cooc_dst": "idx",
    "cooc_w": "<f4",
    "demo_g": "idx",
    "demo_i": "idx",
    "demo_n": "<i4",
    "ranker": "<f4",
    "ranker_v": "<f4",
    "rating_idx": "idx",
    "ratings": "<f8",
    "rating_sum": "<f8",
    "recent": "idx",
}


class InvalidDelta(HomerecError, ValueError):
    """An item-update record is malformed (wrong version, lengths or indices)."""


@dataclass(frozen=True, slots=True, eq=False)
class ItemDelta:
    """One member's item-side changes over one batch (see the module docstring).

    Index arrays (``*_idx``, ``cooc_src``, ``cooc_dst``, ``demo_i``, ``recent``)
    point into ``items``; ``demo_g`` into ``groups``. ``q`` is ``(len(q_idx),
    n_factors)``; ``ratings`` is ``(len(rating_idx), 2)`` (sum, count).
    """

    source: str
    seq: int
    events: int
    items: tuple[str, ...]
    counts: _F32
    q_idx: _Idx
    q: _F16
    b: _F32
    pop_idx: _Idx
    pop: _F32
    pop_slow: _F32
    cooc_src: _Idx
    cooc_dst: _Idx
    cooc_w: _F32
    groups: tuple[str, ...]
    demo_g: _Idx
    demo_i: _Idx
    demo_n: _I32
    ranker: _F32
    rating_idx: _Idx
    ratings: _F64
    rating_sum: _F64
    recent: _Idx
    ranker_v: _F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    ranker_steps: int = 0

    @classmethod
    def empty(cls, source: str, seq: int, *, n_factors: int) -> ItemDelta:
        """A delta that changes nothing."""
        no = np.zeros(0, np.int64)
        return cls(
            source, seq, 0, (), np.zeros(0, np.float32), no, np.zeros((0, n_factors), np.float16),
            np.zeros(0, np.float32), no, np.zeros(0, np.float32), np.zeros(0, np.float32),
            no, no, np.zeros(0, np.float32), (), no, no, np.zeros(0, np.int32),
            np.zeros(0, np.float32), no, np.zeros((0, 2)), np.zeros(2), no,
        )  # fmt: skip

    def is_empty(self) -> bool:
        """No events and no ranker change: applying it changes nothing."""
        return self.events == 0 and not bool(np.any(self.ranker))

    def to_dict(self) -> dict[str, Any]:
        """Plain values for msgpack: strings, ints and little-endian array bytes."""
        idx = "<u2" if len(self.items) <= 0xFFFF and len(self.groups) <= 0xFFFF else "<u4"
        out: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "source": self.source,
            "seq": self.seq,
            "events": self.events,
            "items": list(self.items),
            "groups": list(self.groups),
            "idx": idx,
            "n_factors": int(self.q.shape[1]),
            "ranker_steps": self.ranker_steps,
        }
        for name, dtype in _ARRAYS.items():
            value = np.asarray(getattr(self, name))
            out[name] = np.ascontiguousarray(value, idx if dtype == "idx" else dtype).tobytes()
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ItemDelta:
        """Inverse of :meth:`to_dict`; raises :class:`InvalidDelta` on a malformed record."""
        try:
            if raw["v"] != FORMAT_VERSION:
                raise InvalidDelta(f"item delta format {raw['v']!r}, expected {FORMAT_VERSION}")
            idx = str(raw["idx"])
            if idx not in ("<u2", "<u4"):
                raise InvalidDelta(f"bad index width {idx!r}")
            arrays: dict[str, Any] = {}
            for name, dtype in _ARRAYS.items():
                optional = name == "ranker_v"  # not in older writers' records
                buf = raw.get(name, b"") if optional else raw[name]
                arr = np.frombuffer(buf, idx if dtype == "idx" else dtype)
                arrays[name] = arr.astype(np.int64) if dtype == "idx" else arr.copy()
            d = int(raw["n_factors"])
            arrays["q"] = arrays["q"].reshape(-1, d)
            arrays["ratings"] = arrays["ratings"].reshape(-1, 2)
            delta = cls(
                source=str(raw["source"]),
                seq=int(raw["seq"]),
                events=int(raw["events"]),
                items=tuple(str(i) for i in raw["items"]),
                groups=tuple(str(g) for g in raw["groups"]),
                ranker_steps=int(raw.get("ranker_steps", 0)),
                **arrays,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidDelta):
                raise
            raise InvalidDelta(f"malformed item delta: {exc}") from exc
        delta.check()
        return delta

    def check(self) -> None:
        """Lengths agree and every index is in range (:class:`InvalidDelta` if not)."""
        n, g = len(self.items), len(self.groups)
        pairs = (
            ("counts", "items"), ("q", "q_idx"), ("b", "q_idx"), ("pop", "pop_idx"),
            ("pop_slow", "pop_idx"), ("cooc_dst", "cooc_src"), ("cooc_w", "cooc_src"),
            ("demo_i", "demo_g"), ("demo_n", "demo_g"), ("ratings", "rating_idx"),
        )  # fmt: skip
        for a, b in pairs:
            want = n if b == "items" else len(getattr(self, b))
            if len(getattr(self, a)) != want:
                raise InvalidDelta(f"{a} has {len(getattr(self, a))} entries, expected {want}")
        for f in fields(self):
            if _ARRAYS.get(f.name) == "idx":
                arr = getattr(self, f.name)
                bound = g if f.name == "demo_g" else n
                if len(arr) and (int(arr.min()) < 0 or int(arr.max()) >= bound):
                    raise InvalidDelta(f"{f.name} points outside its {bound} entries")
        if len(self.ranker_v) not in (0, len(self.ranker)) or self.ranker_steps < 0:
            raise InvalidDelta("bad ranker moments or steps")
        if len(self.rating_sum) != 2 or self.events < 0:
            raise InvalidDelta("bad rating_sum or events")


@runtime_checkable
class ItemShared(Protocol):
    """A model whose item side is replicated across members that split the users.

    Call :meth:`share_items` once (after the catalog and profiles, before the first
    event it should share), then after each batch :meth:`take_item_delta` and publish
    it; apply the other members' deltas with :meth:`apply_item_deltas` *after* taking
    your own (so that the next take holds only this member's learning).
    """

    def share_items(self, member: str) -> None:
        """Start tracking this member's item-side changes under the name ``member``."""
        ...

    def take_item_delta(self) -> ItemDelta:
        """What this member's own learning changed since the last take."""
        ...

    def apply_item_deltas(self, deltas: Sequence[ItemDelta]) -> int:
        """Add other members' deltas (ones applied already are skipped; of own ones,
        given in their place in the topic's order, only what depends on that order is
        applied); returns how many of the others' were applied."""
        ...
