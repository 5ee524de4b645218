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


def test_merged_second_moment_is_what_one_optimizer_would_hold() -> None:
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(6, 3))
    one, a, b = OnlineRanker(3, lr=0.1), OnlineRanker(3, lr=0.1), OnlineRanker(3, lr=0.1)
    for g in grads:
        one.step(g)
    for g in grads[:4]:
        a.step(g)
    _, v0, t0 = b.moments()
    for g in grads[4:]:
        b.step(g)
    _, v1, t1 = b.moments()
    a.merge_moments(v1 - v0 * b.beta_2 ** (t1 - t0), t1 - t0)  # b's two steps, after a's four
    m_a, v_a, steps = a.moments()
    np.testing.assert_allclose(v_a, one.moments()[1], rtol=1e-12)
    assert steps == one.steps == 6
    # the first moment stays a's own: b's steps reached a through its weights, not momentum
    lone = OnlineRanker(3, lr=0.1)
    for g in grads[:4]:
        lone.step(g)
    np.testing.assert_array_equal(m_a, lone.moments()[0])


def test_merging_no_steps_changes_nothing() -> None:
    r = OnlineRanker(2)
    r.merge_moments(np.ones(2), 0)
    m, v, steps = r.moments()
    assert steps == 0 and not m.any() and not v.any()


def test_inserted_features_start_at_zero_and_keep_the_others() -> None:
    r = OnlineRanker(2, lr=0.1)
    r.learn_softmax(np.array([[1.0, 0.0], [0.0, 1.0]]))
    w, (m, v, _) = r.w.copy(), r.moments()
    r.insert_features(1)
    assert r.n_features == 3 and r.w.tolist() == [w[0], 0.0, w[1]]
    m3, v3, _ = r.moments()
    assert m3.tolist() == [m[0], 0.0, m[1]] and v3.tolist() == [v[0], 0.0, v[1]]
    r.learn_softmax(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))  # steps with 3 features
    assert r.w[1] > 0
