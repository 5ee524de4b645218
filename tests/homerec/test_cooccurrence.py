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
