from __future__ import annotations

import numpy as np

from homerec.cooccurrence import CooccurrenceTable


def test_counts_accumulate_and_score() -> None:
    t = CooccurrenceTable(capacity=4)
    t.ensure(5)
    for _ in range(3):
        t.add(np.array([0, 1]), 2, np.ones(2, np.float32))
    t.add_row(2, np.array([0, 1]), np.ones(2, np.float32))
    assert t.row(0) == {2: 3.0}
    assert t.row(2) == {0: 1.0, 1: 1.0}
    s = t.scores(np.array([0, 1]), np.array([1.0, 0.5], np.float32), 5)
    assert s.tolist() == [0.0, 0.0, 4.5, 0.0, 0.0]


def test_full_row_evicts_weakest() -> None:
    t = CooccurrenceTable(capacity=2)
    t.ensure(4)
    t.add_row(0, np.array([1, 2]), np.array([5.0, 1.0], np.float32))
    t.add_row(0, np.array([3]), np.array([2.0], np.float32))
    assert t.row(0) == {1: 5.0, 3: 2.0}


def test_state_round_trip() -> None:
    t = CooccurrenceTable(capacity=3)
    t.ensure(3)
    t.add(np.array([0]), 1, np.ones(1, np.float32))
    u = CooccurrenceTable.from_state(t.state(3))
    assert u.row(0) == t.row(0)


def test_sparse_sums_equal_the_dense_vectors() -> None:
    rng = np.random.default_rng(3)
    t = CooccurrenceTable(capacity=4)
    t.ensure(30)
    for _ in range(200):
        src = rng.choice(30, 3, replace=False)
        t.add(src, int(rng.integers(30)), rng.random(3).astype(np.float32))
    histories = [np.array([1, 5, 7]), np.array([2]), np.array([9, 1])]
    src = np.concatenate(histories)
    owner = np.repeat(np.arange(3), [len(h) for h in histories])
    weights = rng.random((2, len(src)))
    who, cols, sums = t.sums_sparse(src, owner, weights, 30)
    dense = np.zeros((3, 2, 30))
    dense[who, :, cols] = sums.T
    for u, h in enumerate(histories):
        at = owner == u
        expected = t.scores_multi(h, weights[:, at], 30)
        assert np.array_equal(dense[u].astype(np.float32), expected)
        assert (expected[:, np.setdiff1d(np.arange(30), cols[who == u])] == 0).all()


def _random_events(
    seed: int, n_items: int, n_events: int, most: int
) -> list[tuple[np.ndarray, int, np.ndarray]]:
    """Histories and items as Hybrid feeds the table: ``src`` unique, without ``dst``, at
    most ``most`` of them; the weights distinct so that no two slots tie (ties are broken
    differently, see add_pairs)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_events):
        dst = int(rng.integers(n_items))
        src = rng.choice(n_items, size=int(rng.integers(0, most + 1)), replace=False)
        src = src[src != dst].astype(np.int32)
        out.append((src, dst, rng.uniform(0.1, 2.0, len(src)).astype(np.float32)))
    return out


def test_add_pairs_is_add_then_add_row() -> None:
    # capacity 3 of 12 items: rows fill up and evict on most events
    ref, got = CooccurrenceTable(capacity=3), CooccurrenceTable(capacity=3)
    ref.ensure(12)
    got.ensure(12)
    evictions = 0
    for src, dst, w in _random_events(5, 12, 400, most=3):
        full = int((ref.ids[dst] >= 0).sum()) == 3
        ref.add(src, dst, w)
        ref.add_row(dst, src, w)
        got.add_pairs(src, dst, w)
        evictions += full and len(src) > 0
        for r in range(12):
            assert got.row(r) == ref.row(r)
    assert evictions > 50  # the eviction paths ran


def test_add_pairs_never_evicts_a_pair_it_updates() -> None:
    t = CooccurrenceTable(capacity=2)
    t.ensure(5)
    t.add_pairs(np.array([1, 2], np.int32), 0, np.array([1.0, 3.0], np.float32))
    # 1 is updated (1 → 1.5); 3 is new and takes the weakest slot not just updated: 2's
    t.add_pairs(np.array([1, 3], np.int32), 0, np.array([0.5, 0.25], np.float32))
    assert t.row(0) == {1: 1.5, 3: 0.25}
    assert t.row(3) == {0: 0.25}
    # more pairs than slots: the two just updated stay, the new one is dropped
    t.add_pairs(np.array([1, 3, 4], np.int32), 0, np.array([0.5, 0.5, 9.0], np.float32))
    assert t.row(0) == {1: 2.0, 3: 0.75}
    assert t.row(4) == {0: 9.0}
