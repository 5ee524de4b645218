"""The learned tables on their own: growth, histories, records and state round trips."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from homerec.events import Event
from homerec.models.hybrid.demographics import Demographics
from homerec.models.hybrid.item_tables import ItemTables
from homerec.models.hybrid.tables import HybridTables, SharedTables
from homerec.models.hybrid.user_tables import GROUP_SLOTS, UserTables
from homerec.profiles import UserProfile
from homerec.ranker import OnlineRanker
from homerec.state_io import packb, unpackb
from tests.homerec.models.hybrid.fixtures import T0, Trained


def _equal(a: Any, b: Any) -> bool:
    """Deep equality of state values (arrays by value and dtype)."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _items(**kw: Any) -> ItemTables:
    args: dict[str, Any] = {"n_factors": 3, "tag_dims": 4, "cooc_capacity": 2,
                            "pop_half_lives": (10.0, 100.0), "max_groups": 4}  # fmt: skip
    return ItemTables.empty(**(args | kw))


def test_user_tables_grow_and_keep_rows() -> None:
    users = UserTables.empty(3)
    users.grow(2)
    users.P[1] = 1.0
    users.groups[1, 0] = 2
    users.grow(40)
    assert users.P.shape == (40, 3) and len(users.hist) == 40
    assert users.P[1].tolist() == [1.0, 1.0, 1.0] and users.groups[1, 0] == 2
    assert (users.groups[2:] == -1).all() and users.groups.shape[1] == GROUP_SLOTS


def test_history_is_unique_newest_first_and_bounded() -> None:
    users = UserTables.empty(2)
    users.grow(1)
    for i in [1, 2, 3, 2, 4, 5, 6, 7, 8, 9, 10]:
        users.push_history(0, i, history_length=3)
    assert users.history(0, 3).tolist() == [10, 9, 8]
    assert len(users.hist[0]) <= 4 * 2 * 3  # trimmed to 3 rows past twice that
    assert users.history(-1, 3).tolist() == []


def test_block_histories_are_each_users_history(trained: Trained) -> None:
    m = trained()
    m.learn_many([Event("u0", f"i{j}", "click", T0 + j) for j in range(40)])  # > history_length
    m.update_user(UserProfile("quiet", {"cluster": "1"}))  # known, no history
    rows = np.array([3, -1, 0, m._users.get("quiet"), 5], np.int32)
    users, L = m.tables.users, m.history_length
    long_pows = (m.history_decay ** np.arange(L)).astype(np.float32)
    recent_pows = (m.recent_decay ** np.arange(L)).astype(np.float32)
    hist = users.block_histories(rows, long_pows, recent_pows)
    got = {r: (h.tolist(), w.tolist()) for r, h, w in hist.each()}
    want = {}
    for r, u in enumerate(rows.tolist()):
        h = users.history(u, L)
        if len(h):
            want[r] = (h.tolist(), long_pows[: len(h)].tolist())
    assert got == want
    assert len(got[2][0]) == L
    assert (
        hist.recent.tolist()
        == np.concatenate([recent_pows[: len(h)] for h, _ in want.values()]).tolist()
    )


def test_user_record_names_items_and_groups_by_id() -> None:
    users = UserTables.empty(2)
    users.grow(1)
    users.push_history(0, 1, history_length=5)
    users.push_history(0, 0, history_length=5)
    users.groups[0, :2] = [1, 0]
    users.add_rating(0, 4.0)
    rec = users.record(0, ["a", "b"], ["g0", "g1"])
    assert rec["history"] == ["b", "a"] and rec["groups"] == ["g1", "g0"]
    assert rec["ratings"] == [4.0, 1.0]
    other = UserTables.empty(2)
    other.grow(3)
    other.load_record(2, unpackb(packb(rec)), history=[5, 6], groups=[3, -1])
    assert other.history(2, 5).tolist() == [6, 5]
    assert other.groups[2, :3].tolist() == [3, -1, -1]
    assert np.array_equal(other.P[2], users.P[0])


def test_item_tables_grow_every_per_item_table() -> None:
    items = _items()
    items.grow(3)
    changes = items.tag_changes
    items.grow(20)
    n = items.Q.shape[0]
    assert n >= 20 and items.tag_changes == changes + 1
    assert len(items.b) == len(items.T) == len(items.ratings) == n
    assert items.demo.logD.shape[1] == len(items.demo.logD_item) == n
    assert items.cooc.ids.shape[0] >= n and len(items.pop.values(n)) == n


def test_tag_vectors_are_unit_and_count_changes() -> None:
    items = _items()
    items.grow(2)
    before = items.tag_changes
    items.set_tags(0, (1, 1, 2))
    assert np.linalg.norm(items.T[0]) == pytest.approx(1.0)
    assert items.T[0, 1] == pytest.approx(2 * items.T[0, 2])
    items.set_tags(1, ())
    assert not items.T[1].any() and items.tag_changes == before + 2


def test_demographic_groups_stop_at_their_room() -> None:
    demo = Demographics.empty(max_groups=2)
    demo.grow_items(3)
    assert demo.slots({"a": "1", "b": "2", "c": "3"}) == [0, 1]
    assert demo.rows_of(["b=2", "c=3"]) == [1, -1]
    demo.add_positive(np.array([1, -1], np.int16), 2)
    assert demo.D_tot.tolist() == [0.0, 1.0] and demo.total() == 1.0
    assert demo.logD[1, 2] == pytest.approx(np.log(2.0))
    assert demo.logD_item[2] == pytest.approx(np.log(2.0))


def test_shared_ring_keeps_the_newest_items() -> None:
    shared = SharedTables.empty(OnlineRanker(3), sample_buffer=3)
    assert shared.recent_items() == 0
    for i in range(5):
        shared.remember(i)
    assert sorted(shared.buffer.tolist()) == [2, 3, 4] and shared.recent_items() == 3


def test_tables_state_round_trips_through_msgpack(trained: Trained) -> None:
    m = trained()
    nu, ni = m.n_users, m.n_items
    state = m.tables.state(nu, ni)
    kw = {"n_factors": m.n_factors, "tag_dims": m.tag_dims, "max_groups": m.profile_groups}
    back = HybridTables.from_state(unpackb(packb(state)), nu, ni, **kw)
    assert _equal(back.state(nu, ni), state)
    assert back.users is not m.tables.users and back.items is not m.tables.items


def test_each_side_writes_its_own_keys(trained: Trained) -> None:
    m = trained()
    t = m.tables
    users, items, shared = t.users.state(3), t.items.state(5), t.shared.state()
    assert set(users) == {"P", "hist_offsets", "hist", "groups", "rat_u"}
    assert set(items) == {"Q", "b", "T", "group_ids", "logD", "D_tot", "logD_item", "cooc",
                          "pop", "pop_slow", "rat_i"}  # fmt: skip
    assert set(shared) == {"buffer", "buf_n", "n_positive", "rat_g", "ranker", "cold_gain",
                           "cold_cases"}  # fmt: skip
    # the item side alone restores the item side (what a shared item store would hold)
    back = ItemTables.from_state(items, 5, n_factors=m.n_factors, tag_dims=m.tag_dims,
                                 max_groups=m.profile_groups)  # fmt: skip
    assert _equal(back.state(5), items)
