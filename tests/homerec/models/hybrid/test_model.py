"""The hybrid as a whole: recommendations, business rules, feedback, state records."""

from __future__ import annotations

import numpy as np
import pytest

from homerec.errors import ConfigError
from homerec.events import Event
from homerec.items import Item
from homerec.models.hybrid import PLANES, Hybrid, Plane
from homerec.profiles import UserProfile
from homerec.state_io import packb, unpackb
from tests.homerec.models.hybrid.fixtures import T0, Trained


def test_features_reproduce_the_score(trained: Trained) -> None:
    m = trained()
    cols = np.array([0, 1, 2, 7], np.int32)
    x = m.features(2, cols)
    assert x.shape == (4, len(PLANES) + m.n_factors + m.tag_dims)
    expected = m._score(np.array([2], np.int32))[0, cols]
    assert np.allclose(m.tables.shared.ranker.scores(x), expected, atol=1e-4)


def test_cold_user_with_profile_gets_own_cluster(trained: Trained) -> None:
    m = trained()
    m.update_user(UserProfile("newbie", {"cluster": "1"}))
    page = [int(i[1:]) % 2 for i, _ in m.recommend("newbie", 10)]
    assert sum(page) >= 6  # demographic lift points to odd items


def test_new_catalog_item_is_shown_in_catalog_mode(trained: Trained) -> None:
    m = trained(candidates="catalog")
    m.update_item(Item("brand-new", "fresh", ("cluster1",)))
    seen = trained(candidates="seen")
    seen.update_item(Item("brand-new", "fresh", ("cluster1",)))
    assert "brand-new" not in [i for i, _ in seen.recommend("u1", 60)]
    assert "brand-new" in [i for i, _ in m.recommend("u1", 60)]


def test_tag_cap_applies(trained: Trained) -> None:
    m = trained(max_tag_share=0.5)
    page = m.recommend("u1", 6)
    tags = [int(i[1:]) % 2 for i, _ in page]
    assert len(page) == 6 and tags.count(0) <= 3 and tags.count(1) <= 3


def test_user_state_is_msgpackable_and_complete(trained: Trained) -> None:
    m = trained()
    st = unpackb(packb(m.user_state("u4")))
    assert set(st) >= {"events", "items", "embedding", "history", "groups", "ratings"}
    assert st["events"] == m.n_events("u4")
    assert m.item_state_many(["i1", "nope"])[1] is None


def test_user_state_round_trip_moves_the_user(trained: Trained) -> None:
    m = trained()
    state = unpackb(packb(m.user_state("u4")))
    fresh = Hybrid(n_factors=8)
    fresh.load_user_state("u4", state)
    assert fresh.user_state("u4") is not None
    back = unpackb(packb(fresh.user_state("u4")))
    assert back["history"] == state["history"] and back["groups"] == state["groups"]
    assert np.array_equal(back["embedding"], state["embedding"])
    assert back["ratings"] == state["ratings"]


def test_negative_feedback_lowers_the_item() -> None:
    m = Hybrid(n_factors=4, seed=3)
    m.learn_many([Event("u", "a", "click", T0), Event("v", "b", "click", T0)])
    users, items = m.tables.users, m.tables.items
    before = float(users.P[0] @ items.Q[1] + items.b[1])
    m.learn_many([Event("u", "b", "rating", T0, 1.0)])
    after = float(users.P[0] @ items.Q[1] + items.b[1])
    assert after < before


@pytest.mark.parametrize(
    "bad",
    [{"candidates": "all"}, {"max_tag_share": 0.0}, {"ranker_sample": 0}, {"ranker_every": 0},
     {"ann_candidates": -1}, {"profile_groups": 40_000}, {"rate_prior": 0.0}],
)  # fmt: skip
def test_bad_params(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Hybrid(**bad)  # type: ignore[arg-type]


def test_item_state_round_trip_moves_embedding(trained: Trained) -> None:
    m = trained()
    (state,) = m.item_state_many(["i3"])
    assert state is not None
    fresh = Hybrid(n_factors=8)
    fresh.load_item_state("i3", unpackb(packb(state)))
    (back,) = fresh.item_state_many(["i3"])
    assert back is not None and np.array_equal(back["embedding"], state["embedding"])
    assert back["tags"] == state["tags"] and back["count"] == state["count"]


def test_state_dict_keeps_its_keys(trained: Trained) -> None:
    # checkpoints written before the hybrid became a package must still load
    st = trained().state_dict()
    assert set(st) >= {
        "P", "Q", "b", "T", "hist_offsets", "hist", "groups", "group_ids", "logD", "D_tot",
        "logD_item", "cooc", "pop", "pop_slow", "buffer", "buf_n", "n_positive", "rat_u",
        "rat_i", "rat_g", "ranker",
    }  # fmt: skip


def test_state_saved_before_the_item_rate_plane_loads(trained: Trained) -> None:
    # a ranker vector without the last plane: the plane comes back with weight zero
    m = trained()
    st = m.state_dict()
    ranker = dict(st["ranker"])
    for key in ("w", "adam_m", "adam_v"):
        ranker[key] = np.delete(ranker[key], Plane.ITEM_RATE)
    ranker["n_features"] -= 1
    st["ranker"] = ranker
    fresh = Hybrid(n_factors=8)
    fresh.load_state_dict(st)
    r = fresh.tables.shared.ranker
    assert r.n_features == m.tables.shared.ranker.n_features and r.w[Plane.ITEM_RATE] == 0.0
    assert fresh.recommend("u3", 5) == m.recommend("u3", 5)  # the plane is zero: no pages


def test_worker_params_build_a_catalog_model() -> None:
    from homerec.models import WORKER_PARAMS, make_model

    m = make_model("hybrid", n_factors=4, **WORKER_PARAMS)
    assert m.get_params()["candidates"] == "catalog"
    m.update_item(Item("only-in-catalog", "t", ("x",)))
    assert [i for i, _ in m.recommend("anyone", 3)] == ["only-in-catalog"]
    m.update_item(Item("only-in-catalog", "t", ("x",), active=False))
    assert m.recommend("anyone", 3) == []


def test_ranker_every_skips_steps(trained: Trained) -> None:
    m = trained(ranker_every=1000)
    assert m.tables.shared.ranker.steps == 0
    assert trained().tables.shared.ranker.steps > 0


def test_rating_guess_follows_user_and_item_means() -> None:
    m = Hybrid(n_factors=4)
    assert m.predict_one("a", "x") == 3.0
    for n in range(20):
        m.learn_many([Event("a", f"x{n}", "rating", T0 + n, 5.0),
                      Event("b", f"x{n}", "rating", T0 + n, 1.0)])  # fmt: skip
    high, low = m.predict_one("a", "x1"), m.predict_one("b", "x1")
    assert high is not None and low is not None and high > 4.0 > 2.0 > low
