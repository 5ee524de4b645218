"""Hiding rules in the models: which events hide an item from the user, for how long."""

from __future__ import annotations

import numpy as np
import pytest

from homerec.events import Event
from homerec.hiding import HidingRules
from homerec.models import MODELS, IndexedRecommender, Popularity, make_model
from homerec.state_io import dumps_state, loads_state, packb

TS = 1_700_000_000_000
ITEMS = [f"i{n}" for n in range(8)]


def _model(spec: str, name: str = "popularity", **kw: object) -> IndexedRecommender:
    """``name`` with hiding rules ``spec``; every item of ITEMS clicked by other users (i0
    the most often), so each is a candidate for ``u``."""
    model = make_model(name, hiding=HidingRules.parse(spec), **kw)
    assert isinstance(model, IndexedRecommender)
    model.learn_many(
        Event(f"o{n}", item, "click", TS)
        for n in range(8)
        for item in ITEMS[: 8 - n]  # i0 clicked 8 times, i7 once
    )
    return model


def _page(model: IndexedRecommender, user: str = "u") -> set[str]:
    return {item for item, _ in model.recommend(user, len(ITEMS))}


def _events(model: IndexedRecommender, n: int, user: str = "u") -> None:
    """``n`` events of ``user`` on items outside ITEMS (each then hidden for good)."""
    start = model.n_events(user)
    model.learn_many(Event(user, f"x{start + j}", "click", TS) for j in range(n))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_by_default_any_event_hides_its_item_for_good(name: str) -> None:
    model = _model("", name)
    for item, kind in zip(ITEMS, ("view", "click", "share", "skip"), strict=False):
        model.learn_one(Event("u", item, kind, TS))
    model.learn_one(Event("u", ITEMS[4], "rating", TS, 2.0))
    _events(model, 50)
    assert _page(model) & set(ITEMS[:5]) == set()
    assert set(ITEMS[5:]) <= _page(model)
    assert not model._hidden  # nothing temporary is kept


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_skip_hides_its_item_for_the_users_next_n_events(name: str) -> None:
    model = _model("skip=3", name)
    model.learn_one(Event("u", "i0", "skip", TS))
    for _ in range(2):
        _events(model, 1)
        assert "i0" not in _page(model)
    _events(model, 1)  # the third event after the skip
    assert "i0" in _page(model)
    assert not model._hidden  # expired hides are dropped


def test_a_type_with_zero_hides_nothing() -> None:
    model = _model("share=0,view=0")
    model.learn_many([Event("u", "i0", "share", TS), Event("u", "i1", "view", TS)])
    assert {"i0", "i1"} <= _page(model)
    model.learn_one(Event("u", "i1", "click", TS))
    assert "i1" not in _page(model)


def test_a_shorter_hide_never_shortens_a_longer_one() -> None:
    model = _model("view=5,skip=1")
    model.learn_many([Event("u", "i0", "view", TS), Event("u", "i0", "skip", TS)])
    _events(model, 3)
    assert "i0" not in _page(model)  # the view's 5 events are not over
    _events(model, 1)
    assert "i0" in _page(model)


def test_a_hide_for_good_wins_over_a_temporary_one() -> None:
    model = _model("skip=2")
    model.learn_many([Event("u", "i0", "skip", TS), Event("u", "i0", "click", TS)])
    _events(model, 10)
    assert "i0" not in _page(model)


def test_impressions_neither_hide_nor_count_as_the_users_events() -> None:
    model = _model("skip=1")
    model.learn_one(Event("u", "i0", "skip", TS))
    model.learn_many(Event("u", item, "impression", TS, float(p)) for p, item in enumerate(ITEMS))
    assert "i0" not in _page(model)  # impressions are not the event that ends the hide
    assert set(ITEMS[1:]) <= _page(model)
    _events(model, 1)
    assert "i0" in _page(model)


def test_a_user_keeps_at_most_the_longest_rules_hides() -> None:
    model = _model("view=4,click=0")
    for n in range(100):
        model.learn_one(Event("u", f"y{n}", "view", TS))
    assert len(model._hidden[model._users.get("u")]) == 8 * 4  # 4 pairs of int32


def _hidden_users(model: IndexedRecommender) -> dict[str, set[str]]:
    return {u: _page(model, u) for u in ("u", "w", "nobody")}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_hides_round_trip_through_the_model_state(name: str) -> None:
    model = _model("video,skip=4", name)
    model.learn_many([Event("u", "i0", "skip", TS), Event("u", "i1", "view", TS),
                      Event("w", "i2", "skip", TS), Event("w", "i3", "click", TS)])  # fmt: skip
    _events(model, 2, "w")
    twin = loads_state(dumps_state(model))
    assert isinstance(twin, IndexedRecommender)
    assert twin.hiding == model.hiding
    assert packb(twin.state_dict()) == packb(model.state_dict())
    assert _hidden_users(twin) == _hidden_users(model)
    for m in (model, twin):  # and they end alike: w's skip after 4 events, u's view never
        _events(m, 2, "w")
        _events(m, 4, "u")
    assert _hidden_users(twin) == _hidden_users(model)
    assert "i2" in _page(twin, "w") and "i1" not in _page(twin, "u")


def test_the_hides_round_trip_through_the_users_state() -> None:
    model = _model("skip=4")
    model.learn_many([Event("u", "i0", "skip", TS), Event("u", "i1", "click", TS)])
    state = model.user_state("u")
    assert state is not None and state["hidden"] == [["i0", 5]]
    fresh = _model("skip=4")  # the changelog restores a user into another worker's model
    fresh.load_user_state("u", state)
    assert _page(fresh) == _page(model)
    for m in (model, fresh):
        _events(m, 3)
    assert _page(fresh) == _page(model) and "i0" in _page(fresh)
    assert "hidden" not in (fresh.user_state("u") or {})


def test_forgetting_erases_the_hides_and_keeps_the_others_on_their_rows() -> None:
    model = _model("skip=5")
    model.learn_many([Event("secret-user", "i0", "skip", TS), Event("w", "i1", "skip", TS)])
    before = _page(model, "w")
    assert model.forget_user("secret-user")
    assert b"secret-user" not in packb(model.state_dict())
    assert list(model._hidden) == [model._users.get("w")]
    assert _page(model, "w") == before and "i1" not in before
    _events(model, 5, "w")
    assert "i1" in _page(model, "w")


def test_forgetting_moves_the_shown_pages_with_their_users() -> None:
    model = _model("", "hybrid", explore=0.5, candidates="catalog")
    model.recommend_many(["a", "b"], 4)  # unknown users: no page kept
    model.learn_many([Event(u, "i7", "click", TS) for u in ("a", "b", "c")])
    model.recommend_many(["a", "b", "c"], 4)
    pages = {u: model._shown[model._users.get(u)].tolist() for u in ("b", "c")}  # type: ignore[index]
    model.forget_users(["a"])
    assert {u: model._shown[model._users.get(u)].tolist() for u in ("b", "c")} == pages  # type: ignore[index]
    assert len(model._shown) == 2


def test_the_candidate_path_excludes_temporary_hides_too() -> None:
    model = _model("skip=2")
    model.learn_many([Event("u", "i2", "skip", TS), Event("u", "i5", "click", TS)])
    assert isinstance(model, Popularity)
    n = len(model._items)
    rows = np.array([model._users.get("u"), -1], np.int32)
    columns = np.tile(np.arange(n), (2, 1))
    scores = np.zeros((2, n), np.float32)
    model._exclude_seen(rows, columns, scores, n)
    hidden = {model._items.id(c) for c in np.flatnonzero(np.isinf(scores[0])).tolist()}
    assert hidden == {"i2", "i5"} and not np.isinf(scores[1]).any()
