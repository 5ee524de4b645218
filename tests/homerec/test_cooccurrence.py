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
