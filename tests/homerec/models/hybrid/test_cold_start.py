"""The first list of a user with no event: long-horizon popularity, a validated tilt to
the user's groups, never worse than the popularity list."""

from __future__ import annotations

import numpy as np
import pytest
from msgpack import packb, unpackb

from homerec.checks import planted_stream
from homerec.events import Event
from homerec.models.hybrid import Hybrid, Plane
from homerec.models.hybrid.cold_start import BETAS, VALIDATION_SAMPLE, ColdStartBlend
from homerec.models.popularity import Popularity
from homerec.profiles import UserProfile
from tests.homerec.models.hybrid.fixtures import T0


def trend_shift_stream() -> list[Event]:
    """Ten classics clicked by 30 users each over the first 300 events, then ten trend
    items clicked 12 times each over the last 120: all-time counts favour the classics,
    the last few hundred events (``pop_half_life=50`` below) the trend."""
    ev = [Event(f"c{n}", f"classic{n % 10}", "click", T0 + n) for n in range(300)]
    ev += [Event(f"t{n}", f"trend{n % 10}", "click", T0 + 300 + n) for n in range(120)]
    return ev


def _top(model: Hybrid | Popularity, user: str, k: int) -> set[str]:
    return {item for item, _ in model.recommend(user, k)}


def test_a_user_with_no_event_gets_the_long_run_popularity_list() -> None:
    # the property the first list relies on: ordered by long-horizon popularity, which on
    # a stream shorter than pop_slow_half_life is the all-time count, whatever the ranker
    # learned. Here its weights favour the fast plane for cold users, as they do on
    # ML-100K: the ranker's own score would put the trend items first
    events = trend_shift_stream()
    m = Hybrid(n_factors=4, pop_half_life=50.0, seed=1)
    pop = Popularity()
    m.learn_many(events)
    pop.learn_many(events)
    m.tables.shared.ranker.w[[Plane.POP_FAST, Plane.POP_COLD]] = (3.0, 3.0)
    fast = m.tables.items.pop.values(m.n_items)
    trend_rows = [m._items.get(f"trend{n}") for n in range(10)]
    assert min(fast[trend_rows]) > fast.max() / 2  # the trend leads on the fast plane
    classics = {f"classic{n}" for n in range(10)}
    assert _top(pop, "newcomer", 10) == classics
    assert _top(m, "newcomer", 10) == classics  # unknown user
    m.update_user(UserProfile("signed-up", {"age": 30}))
    assert _top(m, "signed-up", 10) == classics  # known, profiled, no event yet


def test_a_profiled_newcomer_gets_their_groups_list_when_validation_says_so() -> None:
    # two taste clusters that profiles name: the validated tilt is positive and a new
    # user's first list holds at least as many of their cluster's items as popularity's
    events, items, profiles = planted_stream(n_items=40, n_events=1500)
    m, pop = Hybrid(n_factors=8, seed=2), Popularity()
    for it in items:
        m.update_item(it)
    for p in profiles:
        m.update_user(p)
    m.learn_many(events)
    pop.learn_many(events)
    assert m.tables.shared.cold.cases > 0 and m.tables.shared.cold.beta > 0
    for cluster in ("0", "1"):
        m.update_user(UserProfile(f"new{cluster}", {"cluster": cluster}))
        mine = {f"i{i}" for i in range(int(cluster), 40, 2)}
        hybrid_hits = len(_top(m, f"new{cluster}", 10) & mine)
        pop_hits = len(_top(pop, f"new{cluster}", 10) & mine)
        assert hybrid_hits >= pop_hits and hybrid_hits >= 8


def test_the_blend_picks_the_beta_that_ranks_the_positives_best() -> None:
    blend = ColdStartBlend.empty()
    assert blend.beta == 0.0  # no case yet: plain popularity
    # the positive (index 0) is less popular than both others but lifted by its group
    pop_slow = np.array([1.0, 2.0, 1.5])
    lift = np.array([1.2, 0.0, 0.0])
    blend.validate(pop_slow, lift, scale=1.0)
    ranks = [int(((pop_slow[1:] + b * lift[1:]) > pop_slow[0] + b * lift[0]).sum()) for b in BETAS]
    assert ranks == [2, 2, 1, 1, 0]
    assert blend.beta == 1.0
    # cases where the lift misleads pull it back (ties: the smallest of the best)
    for _ in range(3):
        blend.validate(np.array([3.0, 2.0, 1.0]), np.array([0.0, 0.0, 5.0]), scale=1.0)
    assert blend.beta == 0.0


def test_the_blend_samples_large_catalogs_evenly_and_deterministically() -> None:
    blend = ColdStartBlend.empty()
    assert blend.columns(10).tolist() == list(range(10))
    cols = blend.columns(VALIDATION_SAMPLE * 10)
    assert len(cols) == VALIDATION_SAMPLE and cols.max() < VALIDATION_SAMPLE * 10
    assert np.array_equal(cols, blend.columns(VALIDATION_SAMPLE * 10))
    blend.add(np.zeros(len(BETAS)))
    assert not np.array_equal(cols, blend.columns(VALIDATION_SAMPLE * 10))  # offset moves


def test_the_blend_round_trips_and_old_states_load_empty() -> None:
    blend = ColdStartBlend.empty()
    blend.add(np.arange(len(BETAS), dtype=np.float64))
    back = ColdStartBlend.from_state(
        unpackb(packb({k: _plain(v) for k, v in blend.state().items()}))
    )
    assert back.cases == 1 and back.gain.tolist() == blend.gain.tolist()
    assert ColdStartBlend.from_state({}).cases == 0
    with pytest.raises(ValueError, match="cold_gain"):
        ColdStartBlend.from_state({"cold_gain": [1.0], "cold_cases": 1})


def _plain(v: object) -> object:
    return v.tolist() if isinstance(v, np.ndarray) else v
