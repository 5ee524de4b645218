from __future__ import annotations

import numpy as np
import pytest

from homerec.checks import planted_stream
from homerec.errors import ConfigError
from homerec.events import Event
from homerec.items import Item
from homerec.models import hybrid as hybrid_module
from homerec.models.hybrid import PLANES, Hybrid
from homerec.models.storage import as_rows
from homerec.profiles import UserProfile

T0 = 1_700_000_000_000


def _trained(n_items: int = 60, n_events: int = 800, **kw: object) -> Hybrid:
    events, items, profiles = planted_stream(n_items=n_items, n_events=n_events)
    m = Hybrid(n_factors=8, **kw)  # type: ignore[arg-type]
    for it in items:
        m.update_item(it)
    for p in profiles:
        m.update_user(p)
    m.learn_many(events)
    return m


def test_block_scores_equal_single_user_scores() -> None:
    m = _trained()
    rows = np.array([0, 3, 5, -1], np.int32)
    block = m._score(rows)
    for r, u in enumerate(rows.tolist()):
        assert np.allclose(block[r], m._score(np.array([u], np.int32))[0], atol=1e-5)


@pytest.mark.parametrize("fused_from", [1, 10**9], ids=["one-product", "three-products"])
def test_fused_block_scores_equal_the_plane_tensor_scores(
    fused_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # _score_block regroups _combine(*_planes(rows)); cold, warm and unknown users, and
    # histories up to history_length (the compiled co-occurrence terms)
    monkeypatch.setattr(hybrid_module, "_FUSED_MIN_ROWS", fused_from)
    m = _trained()
    m.learn_many([Event("u0", f"i{j}", "click", T0 + j) for j in range(40)])
    m.update_user(UserProfile("new", {"cluster": "1", "age": 31}))  # two profile groups
    m.learn_many([Event("new", "i3", "click", T0)])
    rows = np.array([0, 3, 5, -1, m._users.get("new")], np.int32)
    X, P = m._planes(rows)
    assert np.allclose(m._score_block(rows), m._combine(X, P), atol=1e-4)
    assert not m._cooc_acc.any()  # the kernel's scratch is handed back zeroed


def test_features_reproduce_the_score() -> None:
    m = _trained()
    cols = np.array([0, 1, 2, 7], np.int32)
    x = m.features(2, cols)
    assert x.shape == (4, len(PLANES) + m.n_factors + m.tag_dims)
    expected = m._score(np.array([2], np.int32))[0, cols]
    assert np.allclose(m._ranker.scores(x), expected, atol=1e-4)


def test_cold_user_with_profile_gets_own_cluster() -> None:
    m = _trained()
    m.update_user(UserProfile("newbie", {"cluster": "1"}))
    page = [int(i[1:]) % 2 for i, _ in m.recommend("newbie", 10)]
    assert sum(page) >= 6  # demographic lift points to odd items


def test_new_catalog_item_is_shown_in_catalog_mode() -> None:
    m = _trained(candidates="catalog")
    m.update_item(Item("brand-new", "fresh", ("cluster1",)))
    seen = _trained(candidates="seen")
    seen.update_item(Item("brand-new", "fresh", ("cluster1",)))
    assert "brand-new" not in [i for i, _ in seen.recommend("u1", 60)]
    assert "brand-new" in [i for i, _ in m.recommend("u1", 60)]


def test_tag_cap_applies() -> None:
    m = _trained(max_tag_share=0.5)
    page = m.recommend("u1", 6)
    tags = [int(i[1:]) % 2 for i, _ in page]
    assert len(page) == 6 and tags.count(0) <= 3 and tags.count(1) <= 3


def test_user_state_is_msgpackable_and_complete() -> None:
    from homerec.state_io import packb, unpackb

    m = _trained()
    st = unpackb(packb(m.user_state("u4")))
    assert set(st) >= {"events", "items", "embedding", "history", "groups"}
    assert st["events"] == m.n_events("u4")
    assert m.item_state_many(["i1", "nope"])[1] is None


def test_negative_feedback_lowers_the_item() -> None:
    m = Hybrid(n_factors=4, seed=3)
    m.learn_many([Event("u", "a", "click", T0), Event("v", "b", "click", T0)])
    before = float(m._P[0] @ m._Q[1] + m._b[1])
    m.learn_many([Event("u", "b", "rating", T0, 1.0)])
    after = float(m._P[0] @ m._Q[1] + m._b[1])
    assert after < before


@pytest.mark.parametrize("bad", [{"candidates": "all"}, {"max_tag_share": 0.0}])
def test_bad_params(bad: dict[str, object]) -> None:
    from homerec.errors import ConfigError

    with pytest.raises(ConfigError):
        Hybrid(**bad)  # type: ignore[arg-type]


def test_item_state_round_trip_moves_embedding() -> None:
    from homerec.state_io import packb, unpackb

    m = _trained()
    (state,) = m.item_state_many(["i3"])
    assert state is not None
    fresh = Hybrid(n_factors=8)
    fresh.load_item_state("i3", unpackb(packb(state)))
    (back,) = fresh.item_state_many(["i3"])
    assert back is not None and np.array_equal(back["embedding"], state["embedding"])
    assert back["tags"] == state["tags"] and back["count"] == state["count"]


def test_worker_params_build_a_catalog_model() -> None:
    from homerec.models import WORKER_PARAMS, make_model

    m = make_model("hybrid", n_factors=4, **WORKER_PARAMS)
    assert m.get_params()["candidates"] == "catalog"
    m.update_item(Item("only-in-catalog", "t", ("x",)))
    assert [i for i, _ in m.recommend("anyone", 3)] == ["only-in-catalog"]
    m.update_item(Item("only-in-catalog", "t", ("x",), active=False))
    assert m.recommend("anyone", 3) == []


def _softmax_grad(m: Hybrid, u: int, cols: np.ndarray) -> np.ndarray:
    """The ranker's gradient from the reference features: ``Σ_j p_j x_j - x_0``."""
    x = m.features(u, cols).astype(np.float64)
    s = m._ranker.scores(x)
    p = np.exp(s - s.max())
    p /= p.sum()
    p[0] -= 1.0
    grad: np.ndarray = p @ x
    return grad


@pytest.mark.parametrize("u", [0, 3, 7])
def test_ranker_grad_at_columns_is_the_softmax_gradient_of_the_features(u: int) -> None:
    # the compiled step computes the features at its columns only: the same numbers
    m = _trained()
    m.update_user(UserProfile("grouped", {"cluster": "1", "age": 31}))
    m.learn_many([Event("grouped", "i3", "click", T0), Event("grouped", "i8", "click", T0)])
    for row in (u, m._users.get("grouped")):
        cols = np.array([7, 0, 17, 5, 42, 5, 59], np.int64)  # repeats count twice
        want = _softmax_grad(m, row, cols)
        assert np.abs(want).max() > 1e-3
        assert np.allclose(m._ranker_grad(row, cols), want, rtol=1e-4, atol=1e-5)
        assert not m._slot.any()  # the scratch is handed back zeroed


def test_exact_ranker_columns_are_every_candidate_but_the_users_items() -> None:
    m = _trained()
    u, pos = 3, 7
    cols = m._ranker_columns(u, pos)
    valid = m.candidate_mask()
    valid[as_rows(m._user_items[u])] = False
    valid[pos] = False
    assert cols[0] == pos
    assert sorted(cols[1:].tolist()) == np.flatnonzero(valid).tolist()


def test_sampled_ranker_step_learns_like_the_full_one() -> None:
    events, items, _ = planted_stream(n_items=60, n_events=1200)

    def hit_rate(**kw: object) -> float:
        m = Hybrid(n_factors=8, **kw)  # type: ignore[arg-type]
        for it in items:
            m.update_item(it)
        m.learn_many(events[:900])
        hits = [e.item in {i for i, _ in m.recommend(e.user, 10)} for e in events[900:]]
        assert m._ranker._opt.n_iterations > 0
        return sum(hits) / len(hits)

    full, sampled = hit_rate(), hit_rate(ranker_sample=8)  # 60 items: sampled for real
    assert full > 0.2
    assert sampled > 0.8 * full
    with pytest.raises(ConfigError):
        Hybrid(ranker_sample=0)


def test_ranker_every_skips_steps_and_validates() -> None:
    from homerec.errors import ConfigError

    m = _trained(ranker_every=1000)
    assert m._ranker._opt.n_iterations == 0
    with pytest.raises(ConfigError):
        Hybrid(ranker_every=0)


def test_rating_guess_follows_user_and_item_means() -> None:
    m = Hybrid(n_factors=4)
    assert m.predict_one("a", "x") == 3.0
    for n in range(20):
        m.learn_many([Event("a", f"x{n}", "rating", T0 + n, 5.0),
                      Event("b", f"x{n}", "rating", T0 + n, 1.0)])
    high, low = m.predict_one("a", "x1"), m.predict_one("b", "x1")
    assert high is not None and low is not None and high > 4.0 > 2.0 > low


@pytest.mark.parametrize("sparse_ratio", [0, 10**9], ids=["sparse-cooc", "dense-cooc"])
@pytest.mark.parametrize("fused_from", [1, 10**9], ids=["one-product", "three-products"])
def test_block_scores_stay_equal_to_the_plane_tensor_as_the_model_moves(
    fused_from: int, sparse_ratio: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the item side of the block products is updated in place between versions: after
    # more events, a catalog change and a restore it must still give the same scores,
    # on both paths (one product over a copied item matrix, or three over the tables)
    # and with co-occurrence summed sparsely (short histories) or densely (long ones)
    monkeypatch.setattr(hybrid_module, "_FUSED_MIN_ROWS", fused_from)
    monkeypatch.setattr(hybrid_module, "_SPARSE_RATIO", sparse_ratio)
    events, items, profiles = planted_stream(n_items=60, n_events=1200)
    m = Hybrid(n_factors=8)
    for it in items:
        m.update_item(it)
    for p in profiles:
        m.update_user(p)
    rows = np.array([0, 3, 5, 9, -1], np.int32)

    def same() -> None:
        X, P = m._planes(rows)
        assert np.allclose(m._score_block(rows), m._combine(X, P), atol=1e-4)

    for start in range(0, 900, 300):
        m.learn_many(events[start : start + 300])
        same()
    m.update_item(Item(items[0].item, "t", ("brand-new-tag", "other")))
    same()
    m.update_item(Item("added-later", "t", ("x",)))
    same()
    back = Hybrid(n_factors=8)
    back.load_state_dict(m.state_dict())
    m = back
    m.learn_many(events[900:])
    same()


def _ann_model(n_items: int, n_events: int, **kw: object) -> tuple[Hybrid, list[str]]:
    """A hybrid as the worker builds it (WORKER_PARAMS), and its users plus an unknown one."""
    from homerec.models import WORKER_PARAMS

    m = _trained(n_items, n_events, **WORKER_PARAMS, **kw)
    return m, [f"u{u}" for u in range(40)] + ["nobody"]


def _exact_lists(m: Hybrid, users: list[str], k: int) -> list[list[tuple[str, float]]]:
    ann, m._ann = m._ann, None
    try:
        return m.recommend_many(users, k)
    finally:
        m._ann = ann


@pytest.mark.parametrize("sparse_ratio", [0, 10**9], ids=["sparse-cooc", "dense-cooc"])
def test_ann_candidates_covering_the_catalog_give_the_exact_lists(
    sparse_ratio: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every item a candidate: the candidate path must score exactly as the full re-rank
    # (dense part from the gathered item rows, co-occurrence at the candidates, masks, cap)
    monkeypatch.setattr(hybrid_module, "_SPARSE_RATIO", sparse_ratio)
    m, users = _ann_model(60, 800, ann_candidates=60)
    assert m._ann is not None
    assert m.recommend_many(users, 5) == _exact_lists(m, users, 5)  # exact until built
    m._ann.wait()
    assert m._ann.ready
    got, want = m.recommend_many(users, 5), _exact_lists(m, users, 5)
    assert [[i for i, _ in x] for x in got] == [[i for i, _ in x] for x in want]
    for a, b in zip(got, want, strict=True):
        assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-4)


def test_ann_candidates_recall_the_exact_lists() -> None:
    m, users = _ann_model(400, 3000, ann_candidates=40)
    assert m._ann is not None
    m.recommend_many(users, 10)
    m._ann.wait()
    got, want = m.recommend_many(users, 10), _exact_lists(m, users, 10)
    hits = sum(len({i for i, _ in a} & {i for i, _ in b}) for a, b in zip(got, want, strict=True))
    assert hits / sum(len(b) for b in want) >= 0.9


def test_ann_index_is_rebuilt_in_the_background_as_the_model_learns() -> None:
    m, users = _ann_model(60, 400, ann_candidates=20, ann_rebuild_every=100)
    assert m._ann is not None
    m.recommend_many(users, 5)
    m._ann.wait()
    assert m._ann.builds == 1
    events, _, _ = planted_stream(n_items=60, n_events=150, seed=3)
    m.learn_many(events[:50])
    m.recommend_many(users, 5)  # 50 versions later: the index is kept
    m._ann.wait()
    assert m._ann.builds == 1
    m.learn_many(events[50:])
    m.recommend_many(users, 5)  # 150: rebuilt
    m._ann.wait()
    assert m._ann.builds == 2


def test_ann_candidates_must_not_be_negative() -> None:
    with pytest.raises(ConfigError):
        Hybrid(ann_candidates=-1)


def test_ann_index_takes_new_catalog_items_at_once() -> None:
    m, users = _ann_model(60, 400, ann_candidates=60, ann_rebuild_every=10**6)
    assert m._ann is not None
    m.recommend_many(users, 5)
    m._ann.wait()
    assert m._ann.rows == 60
    for j in range(5):  # known tags: the product keeps its width
        m.update_item(Item(f"new{j}", tags=(f"cluster{j % 2}",)))
    got = m.recommend_many(users, 5)
    assert m._ann.rows == 65 and m._ann.builds == 1  # inserted, not rebuilt
    want = _exact_lists(m, users, 5)
    assert [[i for i, _ in x] for x in got] == [[i for i, _ in x] for x in want]
    m.update_item(Item("other", tags=("a-new-tag",)))  # one more tag column
    assert m.recommend_many(users, 5) == _exact_lists(m, users, 5)  # exact meanwhile
    m.recommend_many(users, 5)  # the rebuild starts at once, not after 10**6 events
    m._ann.wait()
    assert m._ann.builds == 2 and m._ann.rows == 66


def test_block_histories_are_each_users_history() -> None:
    m = _trained()
    m.learn_many([Event("u0", f"i{j}", "click", T0 + j) for j in range(40)])  # > history_length
    m.update_user(UserProfile("quiet", {"cluster": "1"}))  # known, no history
    rows = np.array([3, -1, 0, m._users.get("quiet"), 5], np.int32)
    got = {r: (h.tolist(), w.tolist()) for r, h, w in m._block_histories(rows).each()}
    want = {}
    for r, u in enumerate(rows.tolist()):
        if u >= 0 and len(m._history(u)[0]):
            h, w = m._history(u)
            want[r] = (h.tolist(), w.tolist())
    assert got == want
    assert len(got[2][0]) == m.history_length
