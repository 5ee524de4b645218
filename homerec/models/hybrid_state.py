"""Save and restore the learned state of :class:`~homerec.models.hybrid.Hybrid`.

Whole-model state (``state_dict``) uses numpy arrays trimmed to the used rows;
per-user and per-item records (for the compacted changelog) name items and
profile groups by id, never by row, so they move between workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from homerec.cooccurrence import CooccurrenceTable
from homerec.decay import DecayedCounts
from homerec.models.storage import IdIndex, append_row, as_rows, pack_lists, unpack_lists
from homerec.ranker import OnlineRanker

if TYPE_CHECKING:
    from homerec.models.hybrid import Hybrid

__all__ = [
    "extra_item_state",
    "extra_state",
    "extra_user_state",
    "load_extra_item_state",
    "load_extra_state",
    "load_extra_user_state",
]

_GROUP_SLOTS = 8  # as in homerec.models.hybrid


def extra_state(m: Hybrid, n_users: int, n_items: int) -> dict[str, Any]:
    h_off, h_dat = pack_lists(m._hist[:n_users])
    return {
        "P": m._P[:n_users].copy(),
        "Q": m._Q[:n_items].copy(),
        "b": m._b[:n_items].copy(),
        "T": m._T[:n_items].copy(),
        "hist_offsets": h_off,
        "hist": h_dat,
        "groups": m._groups[:n_users].copy(),
        "group_ids": list(m._group_ids.ids),
        "logD": m._logD[:, :n_items].copy(),
        "D_tot": m._D_tot.copy(),
        "logD_item": m._logD_item[:n_items].copy(),
        "cooc": m._cooc.state(n_items),
        "pop": m._pop.state(n_items),
        "pop_slow": m._pop_slow.state(n_items),
        "buffer": m._buffer.copy(),
        "buf_n": m._buf_n,
        "n_positive": m._n_positive,
        "rat_u": m._rat_u[:n_users].copy(),
        "rat_i": m._rat_i[:n_items].copy(),
        "rat_g": m._rat_g.copy(),
        "ranker": m._ranker.state(),
    }


def load_extra_state(m: Hybrid, state: Mapping[str, Any], n_users: int, n_items: int) -> None:
    d = m.n_factors
    m._P = np.array(state["P"], np.float32).reshape(n_users, d)
    m._Q = np.array(state["Q"], np.float32).reshape(n_items, d)
    m._b = np.array(state["b"], np.float32)
    m._T = np.array(state["T"], np.float32).reshape(n_items, m.tag_dims)
    m._tag_changes += 1
    m._hist = unpack_lists(state["hist_offsets"], state["hist"])
    m._groups = np.array(state["groups"], np.int16).reshape(n_users, _GROUP_SLOTS)
    m._group_ids = IdIndex(state["group_ids"])
    logd = np.array(state["logD"], np.float32)
    if n_items:
        m._logD = logd.reshape(-1, n_items)
    else:  # no item columns: keep one (empty) row per known group
        m._logD = np.zeros((len(m._group_ids), 0), np.float32)
    if m._logD.shape[0] < len(m._group_ids):
        raise ValueError("fewer demographic rows than profile groups")
    m._D_tot = np.array(state["D_tot"], np.float64)
    m._logD_item = np.array(state["logD_item"], np.float32)
    m._cooc = CooccurrenceTable.from_state(dict(state["cooc"]))
    m._pop = DecayedCounts.from_state(dict(state["pop"]))
    m._pop_slow = DecayedCounts.from_state(dict(state["pop_slow"]))
    m._buffer = np.array(state["buffer"], np.int32)
    m._buf_n = int(state["buf_n"])
    m._n_positive = int(state["n_positive"])
    m._rat_u = np.array(state["rat_u"], np.float32).reshape(n_users, 2)
    m._rat_i = np.array(state["rat_i"], np.float64).reshape(n_items, 2)
    m._rat_g = np.array(state["rat_g"], np.float64)
    m._ranker = OnlineRanker.from_state(dict(state["ranker"]))


def extra_user_state(m: Hybrid, u: int) -> dict[str, Any]:
    ids = m._items.ids
    gids = m._group_ids.ids
    return {
        "embedding": m._P[u].copy(),
        "history": [ids[i] for i in as_rows(m._hist[u]).tolist()],
        "groups": [gids[g] for g in m._groups[u].tolist() if g >= 0],
        "ratings": m._rat_u[u].tolist(),
    }


def load_extra_user_state(m: Hybrid, u: int, state: Mapping[str, Any]) -> None:
    m._P[u] = np.asarray(state["embedding"], np.float32)
    buf = bytearray()
    for item in state["history"]:
        append_row(buf, m._item_row(item))
    m._hist[u] = buf
    slots = np.full(_GROUP_SLOTS, -1, np.int16)
    for n, label in enumerate(state["groups"][:_GROUP_SLOTS]):
        known = m._group_ids.get(label)
        if known is None and len(m._group_ids) < m.profile_groups:
            known = m._add_group(label)
        slots[n] = -1 if known is None else known
    m._groups[u] = slots
    m._rat_u[u] = state.get("ratings", (0.0, 0.0))


def extra_item_state(m: Hybrid, i: int) -> dict[str, Any]:
    return {"embedding": m._Q[i].copy(), "bias": float(m._b[i]),
            "ratings": m._rat_i[i].tolist()}


def load_extra_item_state(m: Hybrid, i: int, state: Mapping[str, Any]) -> None:
    m._Q[i] = np.asarray(state["embedding"], np.float32)
    m._b[i] = float(state["bias"])
    m._rat_i[i] = state.get("ratings", (0.0, 0.0))
