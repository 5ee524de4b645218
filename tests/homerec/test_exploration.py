"""Exploration in the core: the explored share of a page, its flags, its determinism."""

from __future__ import annotations

import numpy as np
import pytest

from homerec.events import Event
from homerec.exploration import explore_probabilities, slots
from homerec.items import Item
from homerec.models import MODELS, make_model
from homerec.models.indexed import IndexedRecommender

TS = 1_700_000_000_000


def _model(name: str = "hybrid", explore: float = 0.1, seed: int = 0) -> IndexedRecommender:
    m = make_model(name, candidates="catalog", max_tag_share=0.5, explore=explore, seed=seed)
    assert isinstance(m, IndexedRecommender)
    rng = np.random.default_rng(1)
    for i in range(60):
        m.update_item(Item(f"i{i}", f"item {i}", (f"t{i % 6}",)))
    events = [
        Event(f"u{u}", f"i{int(rng.integers(0, 30))}", "click", TS + n)
        for n, u in enumerate(rng.integers(0, 20, 400).tolist())
    ]
    m.learn_many(events)
    return m


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_slot_in_ten_is_explored_with_its_propensity(name: str) -> None:
    m = _model(name)
    users = [f"u{u}" for u in range(20)] + ["stranger"]
    pages = m.recommend_logged(users, 10)
    for user, page in zip(users, pages, strict=True):
        assert len(page) == 10
        assert sum(explored for _, _, explored, _ in page) == 1
        for _, _, explored, p in page:
            assert (0.0 < p < 1.0) if explored else p == 1.0
        items = [item for item, _, _, _ in page]
        assert len(set(items)) == 10
        st = m.user_state(user)
        assert st is None or not set(items) & set(st["items"])  # never a consumed item


def test_exploration_is_deterministic_per_seed_and_off_by_default() -> None:
    users = [f"u{u}" for u in range(20)]
    assert _model(seed=3).recommend_logged(users, 10) == _model(seed=3).recommend_logged(users, 10)
    plain = _model(explore=0.0).recommend_logged(users, 10)
    assert not any(explored for page in plain for _, _, explored, _ in page)
    assert make_model("hybrid").get_params()["explore"] == 0.0


def test_brand_new_items_come_first_and_inactive_never() -> None:
    m = _model()
    users = [f"u{u}" for u in range(20)]
    for _ in range(10):  # 200 pages: every item has been shown
        m.recommend_logged(users, 10)
    m.update_item(Item("fresh", "fresh", ("t0",)))
    m.update_item(Item("gone", "gone", ("t1",)))
    m.update_item(Item("gone", "gone", ("t1",), active=False))
    pages = m.recommend_logged(users, 10)
    shown = [item for page in pages for item, _, _, _ in page]
    assert "gone" not in shown
    assert "fresh" in shown  # 20 explored slots: the only item never shown is in one of them


def test_exposure_survives_a_state_round_trip() -> None:
    m = _model()
    m.recommend_logged(["u1", "u2"], 10)
    twin = _model()
    twin.load_state_dict(m.state_dict())
    users = [f"u{u}" for u in range(20)]
    assert twin.recommend_logged(users, 10) == m.recommend_logged(users, 10)


def test_the_draw() -> None:
    rng = np.random.default_rng(0)
    assert [slots(10, 0.25, rng) for _ in range(2000)].count(3) in range(900, 1100)
    p = explore_probabilities(np.array([1.0, 1.0, 1.0]), np.array([0.5, 10.0, 100.0]))
    assert p[0] > p[1] > p[2] and abs(p.sum() - 1.0) < 1e-12
    p = explore_probabilities(np.array([3.0, 1.0, 1.0]), np.array([9.0, 0.0, 0.0]))
    assert p.tolist() == [0.0, 0.5, 0.5]  # the never shown first
