from __future__ import annotations

import numpy as np

from homerec.ranker import OnlineRanker


def test_learns_which_feature_marks_the_positive() -> None:
    rng = np.random.default_rng(0)
    r = OnlineRanker(3, lr=0.05)
    for _ in range(300):
        x = rng.normal(size=(5, 3))
        x[0, 1] += 2.0  # the positive has a high feature 1
        r.learn_softmax(x)
    assert r.w[1] > abs(r.w[0]) and r.w[1] > abs(r.w[2])


def test_state_round_trip_continues_identically() -> None:
    a = OnlineRanker(2, lr=0.1)
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    a.learn_softmax(x)
    b = OnlineRanker.from_state(a.state())
    a.learn_softmax(x)
    b.learn_softmax(x)
    assert np.array_equal(a.w, b.w)
