from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homerec import Event, Item
from homerec.datasets.base import Dataset
from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream, dataset
from homerec.errors import ConfigError
from homerec.typing import EVENT_TYPES

SMALL = SyntheticConfig(n_users=200, n_items=150, n_tags=12, n_events=5_000, chunk_size=1_000)


@pytest.fixture(scope="module")
def big() -> SyntheticStream:
    """Enough events to measure the planted structure."""
    return SyntheticStream(SyntheticConfig(n_users=500, n_items=400, n_events=60_000, seed=3))


def test_same_seed_same_stream() -> None:
    a = list(SyntheticStream(SMALL))
    b = list(SyntheticStream(SMALL))
    assert a == b
    assert [e.id for e in a] == [e.id for e in b]
    assert SyntheticStream(SMALL).items() == SyntheticStream(SMALL).items()


def test_other_seed_other_stream() -> None:
    other = SyntheticConfig(n_users=200, n_items=150, n_tags=12, n_events=5_000, seed=43)
    assert list(SyntheticStream(SMALL))[:50] != list(SyntheticStream(other))[:50]


def test_length_ids_and_order() -> None:
    events = list(SyntheticStream(SMALL))
    assert len(events) == SMALL.total_events == len(SyntheticStream(SMALL))
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(events))
    assert events[0].ts >= SMALL.start_ts
    assert len({e.id for e in events}) == len(events)
    assert all(0 <= int(e.user[1:]) < SMALL.n_users and e.user[0] == "u" for e in events)
    assert all(0 <= int(e.item[1:]) < SMALL.n_items and e.item[0] == "i" for e in events)


def test_limit_is_a_prefix() -> None:
    gen = SyntheticStream(SMALL)
    assert list(gen.events(limit=1_234)) == list(gen)[:1_234]
    assert list(gen.events(limit=0)) == []


def test_events_match_batches() -> None:
    gen = SyntheticStream(SMALL)
    batch = next(gen.batches())
    first = list(gen.events(limit=len(batch.ts)))
    assert [e.ts for e in first] == batch.ts.tolist()
    assert [EVENT_TYPES.index(e.type) for e in first] == batch.types.tolist()


def test_every_event_round_trips_and_values_fit_the_type() -> None:
    for event in SyntheticStream(SMALL):
        assert Event.from_dict(event.to_dict()) == event
        if event.type == "rating":
            assert event.value in (1.0, 2.0, 3.0, 4.0, 5.0)
        else:
            assert event.value is None


def test_all_event_types_occur() -> None:
    types = {e.type for e in SyntheticStream(SMALL)}
    assert types == set(EVENT_TYPES) - {"impression"}  # a stream of actions, not of pages


def test_type_mix_can_exclude_types() -> None:
    cfg = SyntheticConfig(n_users=20, n_items=20, n_events=500, type_mix={"click": 1, "skip": 1})
    assert {e.type for e in SyntheticStream(cfg)} == {"click", "skip"}


def test_no_ids_when_disabled() -> None:
    cfg = SyntheticConfig(n_users=20, n_items=20, n_events=50, event_ids=False)
    assert all(e.id is None for e in SyntheticStream(cfg))


def test_catalog() -> None:
    cfg = SyntheticConfig(n_users=10, n_items=300, n_tags=8, max_tags_per_item=3)
    items = SyntheticStream(cfg).items()
    assert [it.item for it in items] == [f"i{i}" for i in range(300)]
    for it in items:
        assert Item.from_dict(it.to_dict()) == it
        assert 1 <= len(it.tags) <= 3 and len(set(it.tags)) == len(it.tags)
        assert it.title and it.active
    assert len({t for it in items for t in it.tags}) == 8


def test_some_items_inactive() -> None:
    cfg = SyntheticConfig(n_users=10, n_items=2_000, inactive_fraction=0.1)
    share = np.mean([not it.active for it in SyntheticStream(cfg).items()])
    assert 0.05 < share < 0.15


def test_profiles() -> None:
    profiles = SyntheticStream(SMALL).profiles()
    assert [p.user for p in profiles] == [f"u{u}" for u in range(SMALL.n_users)]
    assert all(set(p.features) == {"age", "location"} for p in profiles)


def test_dataset_helper() -> None:
    ds = dataset(SMALL)
    assert isinstance(ds, Dataset)
    assert len(ds.events) == SMALL.total_events
    assert len(ds.items) == SMALL.n_items and len(ds.profiles) == SMALL.n_users
    with pytest.raises(ConfigError, match="too many"):
        dataset(SyntheticConfig(n_events=10_000_000))


def test_huge_stream_is_lazy() -> None:
    gen = SyntheticStream(SyntheticConfig(n_users=100_000, n_items=50_000, n_events=10_000_000))
    start = time.perf_counter()
    head = list(itertools.islice(gen, 1_000))
    assert len(head) == 1_000 and len(gen) == 10_000_000
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_users": 0},
        {"n_items": -1},
        {"n_events": -5},
        {"popularity_skew": -1.0},
        {"drift_rate": float("nan")},
        {"inactive_fraction": 1.0},
        {"max_tags_per_item": 50, "n_tags": 10},
        {"type_mix": {"like": 1.0}},
        {"type_mix": {"click": 0.0}},
        {"start_ts": 0},
    ],
)
def test_bad_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SyntheticConfig(**kwargs)  # type: ignore[arg-type]


def test_config_copies_type_mix() -> None:
    mix = {"click": 1.0, "skip": 1.0}
    cfg = SyntheticConfig(type_mix=mix)
    mix["share"] = 5.0
    assert "share" not in cfg.type_mix


# -- planted structure ---------------------------------------------------------


def test_engaged_items_are_liked_more_than_random_ones(big: SyntheticStream) -> None:
    rng = np.random.default_rng(0)
    batches = list(big.batches())
    users = np.concatenate([b.users for b in batches])
    items = np.concatenate([b.items for b in batches])
    types = np.concatenate([b.types for b in batches])
    ts = np.concatenate([b.ts for b in batches])
    aff = big.affinity(users, items, ts)
    assert np.allclose(aff, np.concatenate([b.affinity for b in batches]), atol=1e-4)
    random_aff = big.affinity(users, rng.integers(0, big.config.n_items, len(users)), ts)
    click, share, skip = (EVENT_TYPES.index(t) for t in ("click", "share", "skip"))
    assert aff[types == click].mean() > random_aff.mean() + 1.0
    assert aff[types == share].mean() > aff[types == click].mean()
    assert aff[types == skip].mean() < aff[types == click].mean() - 0.3


def test_ratings_follow_affinity(big: SyntheticStream) -> None:
    b = np.concatenate([b.values for b in big.batches()])
    a = np.concatenate([b.affinity for b in big.batches()])
    rated = ~np.isnan(b)
    assert 3.0 < b[rated].mean() < 4.0
    assert np.corrcoef(b[rated], a[rated])[0, 1] > 0.5


def test_popular_items_get_more_events(big: SyntheticStream) -> None:
    items = np.concatenate([b.items for b in big.batches()])
    counts = np.bincount(items, minlength=big.config.n_items)
    order = np.argsort(-big.item_popularity)
    assert counts[order[:20]].mean() > 3 * counts.mean()
    assert counts[order[-200:]].mean() < 0.7 * counts.mean()


def test_tags_carry_content_signal(big: SyntheticStream) -> None:
    vec = big.item_factors / np.linalg.norm(big.item_factors, axis=1, keepdims=True)
    sim = vec @ vec.T
    first_tag = np.array([t[0] for t in big.item_tags])
    same = first_tag[:, None] == first_tag[None, :]
    np.fill_diagonal(same, False)
    assert sim[same].mean() > sim[~same].mean() + 0.12


def test_profiles_carry_taste_signal(big: SyntheticStream) -> None:
    u = big.user_factors
    sim = u @ u.T
    same = big.user_age[:, None] == big.user_age[None, :]
    np.fill_diagonal(same, False)
    assert sim[same].mean() > sim[~same].mean() + 0.2


def test_tastes_drift() -> None:
    users = np.arange(50)
    later = SMALL.start_ts + 30 * 86_400_000
    drifting = SyntheticStream(SyntheticConfig(n_users=50, n_items=10, drift_rate=0.5))
    cos = np.sum(drifting.tastes(users, later) * drifting.user_factors, axis=1)
    assert cos.mean() < 0.5
    assert np.allclose(np.linalg.norm(drifting.tastes(users, later), axis=1), 1.0, atol=1e-4)
    static = SyntheticStream(SyntheticConfig(n_users=50, n_items=10, drift_rate=0.0))
    assert np.allclose(static.tastes(users, later), static.user_factors)


# -- properties ------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n_users=st.integers(1, 40),
    n_items=st.integers(1, 40),
    n_events=st.integers(0, 400),
    chunk_size=st.integers(1, 150),
    skew=st.floats(0.0, 2.0),
    drift=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_config_gives_valid_ordered_events(
    n_users: int,
    n_items: int,
    n_events: int,
    chunk_size: int,
    skew: float,
    drift: float,
    seed: int,
) -> None:
    cfg = SyntheticConfig(
        n_users=n_users,
        n_items=n_items,
        n_tags=3,
        max_tags_per_item=2,
        n_events=n_events,
        chunk_size=chunk_size,
        popularity_skew=skew,
        activity_skew=skew,
        drift_rate=drift,
        seed=seed,
    )
    events = list(SyntheticStream(cfg))
    assert len(events) == n_events
    for a, b in itertools.pairwise(events):
        assert a.ts <= b.ts
    for e in events:
        assert Event.from_dict(e.to_dict()) == e
        assert int(e.user[1:]) < n_users and int(e.item[1:]) < n_items


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 3_000), s=st.floats(0.0, 3.0), seed=st.integers(0, 1_000))
def test_popularity_is_a_distribution(n: int, s: float, seed: int) -> None:
    gen = SyntheticStream(
        SyntheticConfig(
            n_users=1,
            n_items=n,
            n_tags=1,
            max_tags_per_item=1,
            popularity_skew=s,
            seed=seed,
            n_events=0,
        )
    )
    p = gen.item_popularity
    assert p.shape == (n,) and np.all(p > 0) and abs(p.sum() - 1.0) < 1e-9


def test_id_prefix_renames_the_ids_only() -> None:
    cfg = SyntheticConfig(n_users=20, n_items=20, n_events=50, seed=3)
    plain = list(SyntheticStream(cfg))
    run = list(SyntheticStream(dataclasses.replace(cfg, id_prefix="demo-x")))
    assert [e.id for e in plain] == [f"e3.{n}" for n in range(50)]
    assert [e.id for e in run] == [f"demo-x.{n}" for n in range(50)]
    assert [dataclasses.replace(e, id=None) for e in run] == [
        dataclasses.replace(e, id=None) for e in plain
    ]


def test_authors_are_off_by_default_and_favourites_show_in_the_stream() -> None:
    assert all(it.author == "" for it in SyntheticStream(SMALL).items())
    cfg = SyntheticConfig(n_users=200, n_items=300, n_events=6000, n_authors=20, seed=5)
    gen = SyntheticStream(cfg)
    assert all(it.author.startswith("author") for it in gen.items())
    fav = sum(
        int(gen.item_author[i] == gen.user_author[u])
        for batch in gen.batches()
        for u, i in zip(batch.users.tolist(), batch.items.tolist(), strict=True)
    )
    # how often a user's item would be by its favourite author without the boost
    share = np.mean(gen.item_author[:, None] == gen.user_author[None, :])
    assert fav / cfg.total_events > 1.5 * share
