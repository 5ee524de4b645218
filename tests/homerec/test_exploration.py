"""Exploration in the core: the explored share of a page, its flags, its determinism."""

from __future__ import annotations

import numpy as np
import pytest

from homerec.events import Event
from homerec.exploration import draw, explore_probabilities, exposure_bonus, slots
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
        if name == "hybrid":  # 6 tags of 10 items each: the explored slot keeps the cap too
            tags = [int(item[1:]) % 6 for item in items]
            assert max(tags.count(t) for t in set(tags)) <= 5
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


@pytest.mark.parametrize("size", [1, 2, 7, 256, 1000, 10_001])
@pytest.mark.parametrize("never_shown", [0, 1, 3])
def test_draw_is_the_reference_distribution_drawn_as_rng_choice_draws(
    size: int, never_shown: int
) -> None:
    data = np.random.default_rng(size + never_shown)
    scores = (3.0 + 2.0 * data.standard_normal(size)).astype(np.float32)
    exposure = (data.random(size) * 40).astype(np.float32)
    exposure[data.permutation(size)[:never_shown]] = 0.0
    probs = explore_probabilities(scores, exposure)
    bonus, never = exposure_bonus(exposure)
    for seed in range(200):
        expected, rng = np.random.default_rng(seed), np.random.default_rng(seed)
        j = int(expected.choice(size, p=probs))
        got, p = draw(scores, bonus, never, float(rng.random()))
        assert got == j
        assert p == pytest.approx(probs[j], rel=1e-5)
        assert expected.random() == rng.random()  # the generators moved alike


def test_draw_without_spread_is_the_bonus_alone() -> None:
    exposure = np.array([1.0, 9.0, 99.0], np.float32)
    bonus, never = exposure_bonus(exposure)
    probs = explore_probabilities(np.zeros(3, np.float32), exposure)
    for u in (0.0, 0.4, 0.8, 0.999):
        j, p = draw(np.zeros(3, np.float32), bonus, never, u)
        assert p == pytest.approx(probs[j], rel=1e-6)


@pytest.mark.parametrize("never_shown", [0, 2])
def test_a_draw_in_place_is_the_draw_among_the_pool_s_items(never_shown: int) -> None:
    # positions of a row of scores, some of them out of the pool, each holding an item
    data = np.random.default_rng(7 + never_shown)
    columns = data.permutation(500)[:300]
    scores = (1.0 + data.standard_normal(300)).astype(np.float32)
    pool = data.random(300) < 0.7
    at = np.flatnonzero(pool)
    exposure = data.random(500) * 30
    exposure[columns[at[:never_shown]]] = 0.0
    exposure[columns[~pool][:3]] = 0.0  # never shown but out of the pool: not drawn first
    bonus, never = exposure_bonus(exposure)
    probs = explore_probabilities(scores[at], exposure[columns[at]])
    for seed in range(100):
        expected, rng = np.random.default_rng(seed), np.random.default_rng(seed)
        j = int(expected.choice(len(at), p=probs))
        got, p = draw(scores, bonus, never, float(rng.random()), pool=pool, columns=columns)
        assert got == at[j]
        assert p == pytest.approx(probs[j], rel=1e-6)  # the bonus is kept in float32
    with pytest.raises(ValueError, match="empty"):
        draw(scores, bonus, never, 0.5, pool=np.zeros(300, bool), columns=columns)
