"""The hybrid's per-user state: embeddings, recent histories, profile-group slots, ratings.

Everything here is indexed by user row and belongs to one user; the item side
(:mod:`~homerec.models.hybrid.item_tables`) is kept apart so that it can be shared.

>>> users = UserTables.empty(n_factors=2)
>>> users.grow(3)
>>> users.push_history(0, 7, history_length=4); users.push_history(0, 9, history_length=4)
>>> users.push_history(0, 7, history_length=4)  # seen again: moves to the front
>>> users.history(0, 4).tolist()
[7, 9]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.models.storage import (
    append_row,
    as_rows,
    contains_row,
    grow,
    pack_lists,
    unpack_lists,
)
from homerec.typing import FloatArray, IndexArray, IntArray

__all__ = ["GROUP_SLOTS", "Histories", "UserTables"]

GROUP_SLOTS = 8  # profile groups kept per user
_NO_ROWS = np.zeros(0, np.int32)


@dataclass(frozen=True, slots=True)
class Histories:
    """The recent histories of a block's users, end to end (each newest first)."""

    rows: IndexArray  # the block row of each history
    starts: IndexArray  # history j is items[starts[j] : starts[j + 1]]
    items: IntArray
    weights: FloatArray  # recency weights (history_decay)
    recent: FloatArray  # short-memory weights (recent_decay)

    def __len__(self) -> int:
        return len(self.rows)

    def each(self) -> Iterator[tuple[int, IntArray, FloatArray]]:
        """``(block row, items, weights)`` per history (views)."""
        bounds = self.starts.tolist()
        for j, r in enumerate(self.rows.tolist()):
            a, b = bounds[j], bounds[j + 1]
            yield r, self.items[a:b], self.weights[a:b]


@dataclass(slots=True)
class UserTables:
    """Per-user rows (capacity may exceed the users known; rows past them are unused).

    ``P``: embeddings ``(rows, n_factors)``; ``hist``: each user's recent items, oldest
    first, as int32 rows in a ``bytearray`` (unique; trimmed to ``history_length`` now
    and then); ``groups``: up to :data:`GROUP_SLOTS` profile-group ids per user (``-1``
    empty); ``ratings``: ``(sum, count)`` of the user's ratings (float32: 8 MiB less per
    1M users).
    """

    P: FloatArray
    hist: list[bytearray]
    groups: npt.NDArray[np.int16]
    ratings: FloatArray

    @classmethod
    def empty(cls, n_factors: int) -> UserTables:
        return cls(
            P=np.zeros((0, n_factors), np.float32),
            hist=[],
            groups=np.full((0, GROUP_SLOTS), -1, np.int16),
            ratings=np.zeros((0, 2), np.float32),
        )

    def grow(self, capacity: int) -> None:
        """Make room for user rows ``0..capacity-1``."""
        if capacity > self.P.shape[0]:
            self.P = grow(self.P, capacity)
            new = self.P.shape[0]
            self.groups = grow(self.groups, new, fill=-1)
            self.ratings = grow(self.ratings, new)
        while len(self.hist) < capacity:
            self.hist.append(bytearray())

    def remove(self, rows: IntArray) -> None:
        """Remove user ``rows`` (sorted): embeddings, histories, groups and ratings; the
        rows after them move up (the capacity shrinks by as many)."""
        self.P = np.delete(self.P, rows, axis=0)
        self.groups = np.delete(self.groups, rows, axis=0)
        self.ratings = np.delete(self.ratings, rows, axis=0)
        gone = set(rows.tolist())
        self.hist = [h for u, h in enumerate(self.hist) if u not in gone]

    # -- histories ----------------------------------------------------------
    def history(self, u: int, history_length: int) -> IntArray:
        """The recent history rows of user row ``u`` (unique, newest first, at most
        ``history_length``); none for an unknown user (``u < 0``)."""
        if u < 0 or not self.hist[u]:
            return _NO_ROWS
        h: IntArray = as_rows(self.hist[u])[::-1][:history_length]
        return h

    def push_history(self, u: int, i: int, history_length: int) -> None:
        """Item row ``i`` becomes the newest of ``u``'s history (moved there if present)."""
        buf = self.hist[u]
        if contains_row(buf, i):
            rows = as_rows(buf)
            buf = bytearray(rows[rows != i].astype("<i4").tobytes())
        append_row(buf, i)
        if len(buf) > 8 * history_length:
            buf = buf[-4 * history_length :]
        self.hist[u] = buf

    def block_histories(
        self, rows: IntArray, long_pows: FloatArray, recent_pows: FloatArray
    ) -> Histories:
        """:meth:`history` of every known user in ``rows`` (``len(long_pows)`` long), end
        to end with their recency weights: one join of their history buffers and index
        arithmetic, no numpy call per user."""
        L = len(long_pows)
        known = [(r, u) for r, u in enumerate(rows.tolist()) if u >= 0 and self.hist[u]]
        bufs = [self.hist[u] for _, u in known]
        lengths = np.fromiter((len(b) >> 2 for b in bufs), np.int64, len(bufs))
        keep = np.minimum(lengths, L)
        starts = np.zeros(len(bufs) + 1, np.int64)
        np.cumsum(keep, out=starts[1:])
        # position within its history (0 = newest) and where it sits in the joined buffers
        age = np.arange(starts[-1]) - np.repeat(starts[:-1], keep)
        newest = np.cumsum(lengths) - 1
        flat = np.frombuffer(b"".join(bufs), "<i4")
        return Histories(
            rows=np.fromiter((r for r, _ in known), np.int64, len(known)),
            starts=starts,
            items=flat[np.repeat(newest, keep) - age].astype(np.int32),
            weights=long_pows[age],
            recent=recent_pows[age],
        )

    # -- ratings ------------------------------------------------------------
    def add_rating(self, u: int, value: float) -> None:
        self.ratings[u, 0] += value
        self.ratings[u, 1] += 1.0

    # -- state --------------------------------------------------------------
    def state(self, n_users: int) -> dict[str, Any]:
        """The first ``n_users`` rows (copies), under the keys of the model's ``state_dict``."""
        h_off, h_dat = pack_lists(self.hist[:n_users])
        return {
            "P": self.P[:n_users].copy(),
            "hist_offsets": h_off,
            "hist": h_dat,
            "groups": self.groups[:n_users].copy(),
            "rat_u": self.ratings[:n_users].copy(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], n_users: int, n_factors: int) -> UserTables:
        """Inverse of :meth:`state`."""
        return cls(
            P=np.array(state["P"], np.float32).reshape(n_users, n_factors),
            hist=unpack_lists(state["hist_offsets"], state["hist"]),
            groups=np.array(state["groups"], np.int16).reshape(n_users, GROUP_SLOTS),
            ratings=np.array(state["rat_u"], np.float32).reshape(n_users, 2),
        )

    def record(self, u: int, item_ids: Sequence[str], group_ids: Sequence[str]) -> dict[str, Any]:
        """User row ``u`` as a changelog record: items and groups by id, never by row."""
        return {
            "embedding": self.P[u].copy(),
            "history": [item_ids[i] for i in as_rows(self.hist[u]).tolist()],
            "groups": [group_ids[g] for g in self.groups[u].tolist() if g >= 0],
            "ratings": self.ratings[u].tolist(),
        }

    def load_record(
        self, u: int, state: Mapping[str, Any], history: Sequence[int], groups: Sequence[int]
    ) -> None:
        """Install :meth:`record` at row ``u``, its items and groups turned into the rows
        ``history`` and ``groups`` (``-1``: a group without a row) by the caller."""
        self.P[u] = np.asarray(state["embedding"], np.float32)
        buf = bytearray()
        for i in history:
            append_row(buf, i)
        self.hist[u] = buf
        slots = np.full(GROUP_SLOTS, -1, np.int16)
        slots[: len(groups)] = groups[:GROUP_SLOTS]
        self.groups[u] = slots
        self.ratings[u] = state.get("ratings", (0.0, 0.0))
