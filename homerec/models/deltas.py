"""State deltas: what changed on the user side since a full ``state_dict``, and their merge.

A whole-model state at 1M users is hundreds of megabytes, most of it per-user
rows, and between two checkpoints only the users who had events change. A
**delta** (:meth:`IndexedRecommender.state_delta
<homerec.models.indexed.IndexedRecommender.state_delta>`) carries the rows of the
users changed since the last full state or delta (by user id, with every
user-keyed table of the model), the ids of the users forgotten meanwhile, and
everything that is not per user (items, item tables, ranker, random generators)
whole: that part is bounded by the catalog, not by the users, except the tables a
model declares sparse (``sparse_keys``: the hybrid's co-occurrence table, ``capacity``
slots per item, by far the largest item table), given as their changed rows only.

:func:`apply_delta` merges a delta into a full state (both as ``state_dict``
returns them, or as decoded from msgpack) and returns the full state the model
had when the delta was taken: forgotten users removed (the rows after them move
up, as :meth:`forget_users` does), changed users overwritten, new users appended
in row order. It needs no model: the delta names its user-keyed tables
(``row_keys``: arrays with one row per user; ``list_keys``: ``(offsets, data)``
pairs of packed per-user lists), so restore and compaction run it anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from homerec.errors import StateError

__all__ = ["DELTA_KEY", "HIDDEN_KEYS", "apply_delta", "is_delta"]

#: marks a delta (a full state never has this key)
DELTA_KEY: Final = "delta"
#: the hides-for-a-while triple (user row, item row, until), by user row
HIDDEN_KEYS: Final = ("hidden_users", "hidden_items", "hidden_until")
_META: Final = (DELTA_KEY, "gone", "user_ids", "n_users", "row_keys", "list_keys", "sparse_keys")


def is_delta(state: Mapping[str, Any]) -> bool:
    return bool(state.get(DELTA_KEY))


def _gather(
    offsets: npt.NDArray[Any], data: npt.NDArray[Any], rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per-row lengths and start positions of packed lists ``rows``."""
    off = np.asarray(offsets, np.int64)
    return off[rows + 1] - off[rows], off[rows]


def _packed(lengths: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], src: Any) -> Any:
    """Pack the segments ``src[starts[r] : starts[r] + lengths[r]]`` end to end."""
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    at = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    data = np.asarray(src)[at].astype(np.int32)
    return (offsets.astype(np.int32) if offsets[-1] < 2**31 else offsets), data


def apply_delta(base: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """The full state ``base`` + ``delta`` (see the module docstring); ``base`` is not changed.

    >>> from homerec.models import make_model
    >>> from homerec.events import Event
    >>> m = make_model("hybrid", n_factors=4, tag_dims=4)
    >>> m.learn_many([Event("u1", "a", "click", 1), Event("u2", "b", "click", 2)])
    >>> base = m.state_dict(); m.begin_deltas()
    >>> m.learn_many([Event("u3", "a", "click", 3)]); _ = m.forget_users(["u1"])
    >>> merged = apply_delta(base, m.state_delta())
    >>> merged["users"], merged["P"].shape
    (['u2', 'u3'], (2, 4))
    """
    if not is_delta(delta):
        raise StateError("not a state delta")
    if base.get("model") != delta.get("model"):
        raise StateError(f"delta of {delta.get('model')!r} for a {base.get('model')!r} state")
    ids = list(base["users"])
    n_base = len(ids)
    gone = set(delta["gone"])
    kept = np.arange(n_base, dtype=np.int64)
    if gone:
        mask = np.fromiter((u not in gone for u in ids), bool, n_base)
        kept = np.flatnonzero(mask)
        ids = [ids[r] for r in kept.tolist()]
    row_of = {u: r for r, u in enumerate(ids)}
    target: list[int] = []
    for user in delta["user_ids"]:
        r = row_of.get(user)
        if r is None:  # new since the base: appended, in the order of the delta (row order)
            r = len(ids)
            ids.append(user)
            row_of[user] = r
        target.append(r)
    n = len(ids)
    if n != int(delta["n_users"]):
        raise StateError(f"delta for {delta['n_users']} users merged into {n}")
    rows = np.asarray(target, np.int64)
    out: dict[str, Any] = {
        k: v for k, v in delta.items() if k not in _META and k not in HIDDEN_KEYS
    }
    out["users"] = ids
    for key in delta["row_keys"]:
        old = np.asarray(base[key])[kept]
        new = np.empty((n, *old.shape[1:]), old.dtype)
        new[: len(old)] = old
        new[rows] = np.asarray(delta[key]).reshape((len(rows), *old.shape[1:]))
        out[key] = new
    for off_key, dat_key in delta["list_keys"]:
        b_len, b_start = _gather(base[off_key], base[dat_key], kept)
        d_all = np.arange(len(rows), dtype=np.int64)
        d_len, d_start = _gather(delta[off_key], delta[dat_key], d_all)
        lengths = np.zeros(n, np.int64)
        starts = np.zeros(n, np.int64)
        lengths[: len(kept)], starts[: len(kept)] = b_len, b_start
        shift = len(np.asarray(base[dat_key]))
        lengths[rows], starts[rows] = d_len, d_start + shift
        src = np.concatenate(
            [np.asarray(base[dat_key], np.int32), np.asarray(delta[dat_key], np.int32)]
        )
        out[off_key], out[dat_key] = _packed(lengths, starts, src)
    out.update(_merge_hidden(base, delta, kept, rows, n_base))
    for key, fills in (delta.get("sparse_keys") or {}).items():
        out[key] = _merge_sparse(base[key], delta[key], fills)
    return out


def _merge_sparse(
    base: Mapping[str, Any], delta: Mapping[str, Any], fills: Mapping[str, float]
) -> dict[str, Any]:
    """A table given as changed rows (``n`` rows in all, ``rows`` given) into its base."""
    n = int(delta["n"])
    rows = np.asarray(delta["rows"], np.int64)
    out = {k: v for k, v in delta.items() if k not in ("n", "rows")}
    for name, fill in fills.items():
        old = np.asarray(base[name])
        new = np.full((n, *old.shape[1:]), fill, old.dtype)
        new[: min(n, len(old))] = old[:n]
        new[rows] = np.asarray(delta[name]).reshape((len(rows), *old.shape[1:]))
        out[name] = new
    return out


def _merge_hidden(
    base: Mapping[str, Any],
    delta: Mapping[str, Any],
    kept: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    n_base: int,
) -> dict[str, Any]:
    """The hides for a while: the base's of kept, unchanged users (rows moved up), then the
    delta's (its ``hidden_users`` index the delta's users), sorted by user row."""
    users = np.asarray(base.get("hidden_users", ()), np.int64)
    items = np.asarray(base.get("hidden_items", ()), np.int32)
    until = np.asarray(base.get("hidden_until", ()), np.int32)
    new_row = np.full(n_base, -1, np.int64)
    new_row[kept] = np.arange(len(kept))
    users = new_row[users] if len(users) else users
    stays = users >= 0
    if len(rows):
        stays &= ~np.isin(users, rows)
    d_users = np.asarray(delta.get("hidden_users", ()), np.int64)
    all_users = np.concatenate([users[stays], rows[d_users] if len(d_users) else d_users])
    all_items = np.concatenate([items[stays], np.asarray(delta.get("hidden_items", ()), np.int32)])
    all_until = np.concatenate([until[stays], np.asarray(delta.get("hidden_until", ()), np.int32)])
    order = np.argsort(all_users, kind="stable")
    return {
        "hidden_users": all_users[order].astype(np.int32),
        "hidden_items": all_items[order].astype(np.int32),
        "hidden_until": all_until[order].astype(np.int32),
    }
