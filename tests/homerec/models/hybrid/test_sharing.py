"""Members that exchange item deltas learn the item side one model learns from all users.

Exact (up to float32 rounding, ``rtol 1e-5``) for event counts, popularity, co-occurrence,
demographic counts and ratings when deltas are exchanged after every event; embedding
and bias steps arrive rounded to float16 (``rtol 1e-3`` of each step).
"""

from __future__ import annotations

import numpy as np
import pytest

from homerec.errors import StateError
from homerec.evaluation.sharded import ShardedModel
from homerec.events import Event
from homerec.items import Item
from homerec.models.hybrid import Hybrid
from homerec.profiles import UserProfile

T0 = 1_700_000_000_000
PARAMS = {"n_factors": 4, "tag_dims": 8, "cooc_capacity": 64, "pop_half_life": 50.0}


def _stream(n: int = 300) -> list[Event]:
    rng = np.random.default_rng(3)
    return [
        Event(
            f"u{rng.integers(12)}",
            f"i{rng.integers(20)}",
            "rating",
            T0 + k,
            float(rng.integers(1, 6)),
        )  # fmt: skip
        for k in range(n)
    ]


def _profiles() -> list[UserProfile]:
    return [UserProfile(f"u{n}", {"age": 20 + 5 * n, "gender": "FM"[n % 2]}) for n in range(12)]


def _item_side(model: Hybrid) -> dict[str, dict[str, object]]:
    """Per item id: the additive item-side state (independent of row numbering)."""
    t = model.tables.items
    n = model.n_items
    ids = list(model._items.ids)
    pop, slow = t.pop.values(n), t.pop_slow.values(n)
    groups = list(t.demo.ids.ids)
    D = np.expm1(t.demo.logD[: len(groups), :n].astype(np.float64))
    out: dict[str, dict[str, object]] = {}
    for r, item in enumerate(ids):
        out[item] = {
            "count": float(model._item_count[r]),
            "pop": float(pop[r]),
            "pop_slow": float(slow[r]),
            "ratings": tuple(t.ratings[r].tolist()),
            "cooc": {ids[d]: c for d, c in t.cooc.row(r).items()},
            "demo": {g: round(float(D[k, r])) for k, g in enumerate(groups) if D[k, r] > 0.5},
        }
    return out


def _assert_same(a: dict[str, dict[str, object]], b: dict[str, dict[str, object]]) -> None:
    assert a.keys() == b.keys()
    for item in a:
        x, y = a[item], b[item]
        for key in ("count", "pop", "pop_slow"):
            assert x[key] == pytest.approx(y[key], rel=1e-5, abs=1e-9), (item, key)
        assert x["ratings"] == pytest.approx(y["ratings"], rel=1e-9)
        assert x["demo"] == y["demo"], item
        cx, cy = x["cooc"], y["cooc"]
        assert isinstance(cx, dict) and isinstance(cy, dict)
        assert cx.keys() == cy.keys(), item
        for d in cx:
            assert cx[d] == pytest.approx(cy[d], rel=1e-5), (item, d)


def test_two_members_learn_the_item_side_of_one_model() -> None:
    events = _stream()
    one = Hybrid(**PARAMS)  # type: ignore[arg-type]
    for p in _profiles():
        one.update_user(p)
    one.learn_many(events)
    group = ShardedModel(lambda: Hybrid(**PARAMS), 2, exchange_lag=1)  # type: ignore[arg-type]
    for p in _profiles():
        group.update_user(p)
    group.learn_many(events)
    owners = {group.members.index(group.member_of(e.user)) for e in events}
    assert owners == {0, 1}  # both members own users
    want = _item_side(one)
    for member in group.members:
        assert isinstance(member, Hybrid)
        _assert_same(_item_side(member), want)
        assert member.tables.shared.ratings == pytest.approx(one.tables.shared.ratings)
        assert member.tables.shared.buf_n == one.tables.shared.buf_n


def test_a_batch_steps_reach_the_other_member() -> None:
    a, b = Hybrid(**PARAMS, seed=1), Hybrid(**PARAMS, seed=2)  # type: ignore[arg-type]
    events = _stream(60)
    known = [Event("u0", f"i{k}", "rating", T0, 5.0) for k in range(20)]
    for m in (a, b):
        m.learn_many(known)  # both know every item
        m.share_items(f"m{m.seed}")
    q0, b0, w0 = a.tables.items.Q.copy(), a.tables.items.b.copy(), a.tables.shared.ranker.w.copy()
    a.learn_many(events)
    n = a.n_items
    step_q = a.tables.items.Q[:n] - q0[:n]
    step_b = a.tables.items.b[:n] - b0[:n]
    step_w = a.tables.shared.ranker.w - w0
    delta = a.take_item_delta()
    b.take_item_delta()
    rows_b = [b._items.get(i) for i in a._items.ids]
    before_q, before_b = b.tables.items.Q.copy(), b.tables.items.b.copy()
    before_w = b.tables.shared.ranker.w.copy()
    assert b.apply_item_deltas([delta]) == 1
    got_q = b.tables.items.Q[rows_b] - before_q[rows_b]
    np.testing.assert_allclose(got_q, step_q, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(b.tables.items.b[rows_b] - before_b[rows_b], step_b, rtol=1e-6)
    np.testing.assert_allclose(b.tables.shared.ranker.w - before_w, step_w, rtol=1e-6)


def test_own_and_repeated_deltas_are_not_applied_twice() -> None:
    a, b = Hybrid(**PARAMS), Hybrid(**PARAMS)  # type: ignore[arg-type]
    a.share_items("a")
    b.share_items("b")
    a.learn_many(_stream(40))
    delta = a.take_item_delta()
    state = a.tables.items.Q.copy()
    assert a.apply_item_deltas([delta]) == 0  # its own
    np.testing.assert_array_equal(a.tables.items.Q, state)
    assert b.apply_item_deltas([delta, delta]) == 1  # redelivered: once
    count = b._item_count.copy()
    assert b.apply_item_deltas([delta]) == 0
    np.testing.assert_array_equal(b._item_count, count)
    assert float(count.sum()) == 40.0
    # nothing of a's delta goes back out in b's next delta
    assert b.take_item_delta().events == 0


def test_apply_before_take_is_refused() -> None:
    a, b = Hybrid(**PARAMS), Hybrid(**PARAMS)  # type: ignore[arg-type]
    a.share_items("a")
    b.share_items("b")
    a.learn_many(_stream(10))
    b.learn_many(_stream(10))
    with pytest.raises(StateError, match="take_item_delta"):
        b.apply_item_deltas([a.take_item_delta()])


def test_sharing_must_start_first() -> None:
    with pytest.raises(StateError, match="share_items"):
        Hybrid().take_item_delta()


def test_the_ranker_second_moment_and_steps_reach_the_other_member() -> None:
    a, b = Hybrid(**PARAMS, seed=1), Hybrid(**PARAMS, seed=2)  # type: ignore[arg-type]
    known = [Event("u0", f"i{k}", "rating", T0, 5.0) for k in range(20)]
    for m in (a, b):
        m.learn_many(known)
        m.share_items(f"m{m.seed}")
    _, v_a0, t_a0 = a.tables.shared.ranker.moments()
    a.learn_many(_stream(60))
    _, v_a1, t_a1 = a.tables.shared.ranker.moments()
    m_b0, v_b0, t_b0 = b.tables.shared.ranker.moments()
    delta = a.take_item_delta()
    b.take_item_delta()
    assert delta.ranker_steps == t_a1 - t_a0 > 0
    assert b.apply_item_deltas([delta]) == 1
    m_b1, v_b1, t_b1 = b.tables.shared.ranker.moments()
    assert t_b1 == t_b0 + delta.ranker_steps
    beta = b.tables.shared.ranker.beta_2**delta.ranker_steps
    np.testing.assert_allclose(v_b1, v_b0 * beta + (v_a1 - v_a0 * beta), rtol=1e-5, atol=1e-12)
    np.testing.assert_array_equal(m_b1, m_b0)


def test_members_that_meet_items_in_different_orders_hold_the_same_embeddings() -> None:
    # as worker processes do: sharing starts before the catalog, which each member reads
    # in its own order (items partitions interleave differently), its generator has drawn
    # differently by then, sharing starts again after the restore (the catalog's rows are
    # then in the snapshot, never sent), and an item may reach a member through a delta
    a, b = Hybrid(**PARAMS), Hybrid(**PARAMS)  # type: ignore[arg-type]
    a.share_items("a")
    b.share_items("b")
    b.update_user(UserProfile("u99", {"age": 30}))
    catalog = [Item(f"i{k}") for k in range(15)]
    for item in catalog:
        a.update_item(item)
    for item in reversed(catalog[5:]):
        b.update_item(item)
    for m in (a, b):  # after the restore, a worker shares under a fresh name
        m.share_items(f"{m is a}.2")
    events = _stream(200)
    for part in (events[:100], events[100:]):
        a.learn_many([e for e in part if int(e.user[1:]) % 2 == 0])
        b.learn_many([e for e in part if int(e.user[1:]) % 2 == 1])
        da, db = a.take_item_delta(), b.take_item_delta()
        a.apply_item_deltas([db])
        b.apply_item_deltas([da])
    assert set(a._items.ids) == set(b._items.ids)
    rows_b = [b._items.get(i) for i in a._items.ids]
    # steps travel as float16, their rounding error with the next delta
    np.testing.assert_allclose(
        a.tables.items.Q[: a.n_items], b.tables.items.Q[rows_b], rtol=0, atol=1e-3
    )
    np.testing.assert_allclose(
        a.tables.items.b[: a.n_items], b.tables.items.b[rows_b], rtol=0, atol=1e-6
    )


def test_members_hold_one_cooccurrence_and_popularity_when_rows_overflow() -> None:
    # rows far smaller than the pairs (eviction) and a short half-life: both depend on the
    # order of the increments, which differs per member (own steps at once, the others'
    # with the exchange); every member applies them in the exchange's order, own included
    params = {**PARAMS, "cooc_capacity": 3, "pop_half_life": 7.0}
    group = ShardedModel(lambda: Hybrid(**params), 3, exchange_lag=25)  # type: ignore[arg-type]
    events = _stream(400)
    group.learn_many(events)
    group.exchange()
    sides = [_item_side(m) for m in group.members]  # type: ignore[arg-type]
    for side in sides[1:]:
        assert side.keys() == sides[0].keys()
        for item, x in sides[0].items():
            y = side[item]
            assert x["cooc"] == y["cooc"], item  # keys and float32 values
            assert x["pop"] == y["pop"] and x["pop_slow"] == y["pop_slow"], item


def test_a_checkpoint_delta_holds_what_the_exchange_wrote() -> None:
    # the replica puts co-occurrence rows back to the exchange's order when another
    # member's delta arrives: a checkpoint delta taken after that must carry those rows
    from homerec.models.deltas import apply_delta
    from homerec.state_io import packb, unpackb

    params = {**PARAMS, "cooc_capacity": 3, "pop_half_life": 7.0}
    group = ShardedModel(lambda: Hybrid(**params), 3, exchange_lag=25)  # type: ignore[arg-type]
    events = _stream(600)
    group.learn_many(events[:200])
    member = group.members[0]
    base = unpackb(packb(member.state_dict()))
    member.begin_deltas()
    for start in range(200, 600, 100):
        group.learn_many(events[start : start + 100])
        group.exchange()
        delta = member.state_delta()
        assert delta is not None
        base = apply_delta(base, unpackb(packb(delta)))
    full = member.state_dict()
    for key in ("cooc_ids", "cooc_counts"):
        if key in full:
            assert np.array_equal(np.asarray(full[key]), np.asarray(base[key])), key
    restored = Hybrid(**params)  # type: ignore[arg-type]
    restored.load_state_dict(base)
    assert _item_side(restored) == _item_side(member)  # type: ignore[arg-type]
