from __future__ import annotations

from collections.abc import Callable

import numpy as np

from homerec.simulation import SimulationConfig, World


def test_same_seed_same_world(small_config: Callable[..., SimulationConfig]) -> None:
    a, b = World(small_config(seed=4)), World(small_config(seed=4))
    assert np.array_equal(a.item_vectors, b.item_vectors)
    assert np.array_equal(a.session_users, b.session_users)
    assert a.catalog() == b.catalog() and a.profiles() == b.profiles()
    c = World(small_config(seed=5))
    assert not np.array_equal(a.session_users, c.session_users)


def test_churn_adds_and_retires_on_schedule(small_config: Callable[..., SimulationConfig]) -> None:
    w = World(small_config(schedule=((10, 3, 2), (20, 0, 5))))
    assert w.steps == ((10, 3, 2), (20, 0, 5)) and w.n_total == 123
    retired, added = w.churn(w.steps[0])
    assert added.tolist() == [120, 121, 122] and w.added_at[120] == 10
    assert len(retired) == 2 and not w.active[retired].any()
    assert w.active.sum() == 121 and w.n_known == 123
    record = w.item_record(int(retired[0]), 10)
    assert record.active is False and record.tags


def test_tags_carry_the_latent_space(small_config: Callable[..., SimulationConfig]) -> None:
    w = World(small_config(n_items=400))
    first = np.array([t[0] for t in w.item_tags])
    unit = w.item_vectors / np.linalg.norm(w.item_vectors, axis=1, keepdims=True)
    # items sharing a first tag are closer to each other than to the catalog at large
    same = [unit[first == t] for t in np.unique(first) if (first == t).sum() > 3]
    within = np.mean([np.mean(g @ g.T) for g in same])
    assert within > 0.15 > 3 * abs(float(np.mean(unit @ unit.T)))


def test_page_outcomes_follow_position_and_relevance(
    small_config: Callable[..., SimulationConfig],
) -> None:
    cfg = small_config(n_users=2000, n_sessions=4000, activity_skew=0.0, organic_rate=0.0)
    w = World(cfg)
    forward, backward = list(range(10)), list(range(9, -1, -1))
    pages = [forward] * 2000 + [backward] * 2000  # each item as often at each end
    out = w.play(np.arange(4000), pages)
    at = {(s, i): p for s in range(4000) for p, i in enumerate(pages[s])}
    by_pos = np.zeros(10)
    sessions = {}
    for s in range(4000):  # events carry the session's clock
        sessions.setdefault(w.ts(s), s)
    for e in out.events:
        if e.type == "click":
            by_pos[at[sessions[e.ts], int(e.item[1:])]] += 1
    assert by_pos[0] > 2 * by_pos[4] > 0 and by_pos[0] > 4 * by_pos[9]
    assert {e.type for e in out.events} == {"click", "share", "rating", "skip"}
    # nothing consumed is acted on again: one click or skip per (user, item) at most
    pairs = [(e.user, e.item) for e in out.events if e.type in ("click", "skip")]
    assert len(pairs) == len(set(pairs))


def test_organic_events_find_unshown_items(small_config: Callable[..., SimulationConfig]) -> None:
    w = World(small_config(organic_rate=1.0))
    out = w.play(np.arange(20), [[] for _ in range(20)])
    views = [e for e in out.events if e.type == "view"]
    assert len(views) == out.organic == 20
    assert out.clicks.sum() == 0
