"""A shared check suite that every model must pass (River's ``river.checks`` in spirit).

``yield_checks(model)`` yields check functions; each takes a fresh, untrained
model and raises :class:`AssertionError` on failure. The test suite runs all of
them over every registered model; a new model gets them for free.

>>> from homerec.models import make_model
>>> for check in yield_checks(make_model("popularity")):
...     check(make_model("popularity"))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from homerec.events import Event
from homerec.items import Item
from homerec.models.base import Recommender
from homerec.profiles import UserProfile
from homerec.state_io import dumps_state, loads_state, packb, unpackb

__all__ = [
    "check_clone",
    "check_deterministic",
    "check_excludes_consumed_and_inactive",
    "check_learns_planted_preference",
    "check_no_mutable_defaults",
    "check_state_round_trip",
    "check_user_state_round_trip",
    "planted_stream",
    "yield_checks",
]

_T0 = 1_700_000_000_000


def planted_stream(
    n_users: int = 40, n_items: int = 30, n_events: int = 1200, seed: int = 0, noise: float = 0.1
) -> tuple[list[Event], list[Item], list[UserProfile]]:
    """Two taste clusters: even users like even items, odd users odd items (10 % noise).

    Half the events are clicks (own cluster) or skips (other cluster), half are
    ratings: 4–5 stars for the own cluster, 1–2 for the other.

    Items are tagged with their cluster; users' profiles name their cluster.
    """
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    for n in range(n_events):
        u = int(rng.integers(n_users))
        if rng.random() >= noise:
            i = int(rng.integers(n_items // 2)) * 2 + u % 2
        else:
            i = int(rng.integers(n_items))
        i = min(i, n_items - 1)
        own = i % 2 == u % 2
        if rng.random() < 0.5:
            events.append(Event(f"u{u}", f"i{i}", "click" if own else "skip", _T0 + n * 1000))
        else:
            stars = float(rng.integers(4, 6)) if own else float(rng.integers(1, 3))
            events.append(Event(f"u{u}", f"i{i}", "rating", _T0 + n * 1000, stars))
    items = [Item(f"i{i}", f"item {i}", (f"cluster{i % 2}",)) for i in range(n_items)]
    profiles = [UserProfile(f"u{u}", {"cluster": str(u % 2)}) for u in range(n_users)]
    return events, items, profiles


def _feed(model: Recommender, events: Sequence[Event], batch: int = 50) -> None:
    for start in range(0, len(events), batch):
        model.learn_many(events[start : start + batch])


def _recs(model: Recommender, users: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
    return model.recommend_many(list(users), k)


def check_no_mutable_defaults(model: Recommender) -> None:
    for name, p in inspect.signature(type(model).__init__).parameters.items():
        assert not isinstance(p.default, list | dict | set), f"mutable default for {name}"


def check_clone(model: Recommender) -> None:
    events, items, _ = planted_stream(n_events=200)
    _feed(model, events)
    fresh = model.clone()
    assert type(fresh) is type(model)
    assert fresh.get_params().keys() == model.get_params().keys()
    assert fresh.n_events("u1") == 0 and model.n_events("u1") > 0
    assert fresh.recommend("u1", 5) == []


def check_deterministic(model: Recommender) -> None:
    events, items, profiles = planted_stream(n_events=400)
    twin = model.clone()
    for m in (model, twin):
        for it in items:
            m.update_item(it)
        for p in profiles:
            m.update_user(p)
        _feed(m, events)
    users = [f"u{u}" for u in range(10)] + ["nobody"]
    assert _recs(model, users) == _recs(twin, users)


def _half_fed(model: Recommender) -> list[Event]:
    """Catalog, 20 profiles and the first 300 of 600 planted events; returns all 600."""
    events, items, profiles = planted_stream(n_events=600)
    for it in items:
        model.update_item(it)
    for p in profiles[:20]:
        model.update_user(p)
    _feed(model, events[:300])
    return events


def check_state_round_trip(model: Recommender) -> None:
    events = _half_fed(model)
    copy = loads_state(dumps_state(model))
    assert type(copy) is type(model)
    users = [f"u{u}" for u in range(40)] + ["nobody"]
    assert _recs(copy, users) == _recs(model, users)
    # learning goes on identically after a restore
    _feed(model, events[300:])
    _feed(copy, events[300:])
    assert _recs(copy, users) == _recs(model, users)
    assert copy.n_events("u3") == model.n_events("u3")


def check_state_dict_is_a_snapshot(model: Recommender) -> None:
    """What ``state_dict`` returned does not change when the model learns on (the worker
    encodes a checkpoint's snapshot on another thread)."""
    events = _half_fed(model)
    state = model.state_dict()
    before = packb(state)
    _feed(model, events[300:])
    model.update_item(Item("late", "t", ("new-tag",)))
    assert packb(state) == before, "state_dict shares memory with the live model"


def check_user_state_round_trip(model: Recommender) -> None:
    user_state = getattr(model, "user_state", None)
    if user_state is None:
        return
    events, items, _ = planted_stream(n_events=400)
    _feed(model, events)
    restored = loads_state(dumps_state(model))
    state = user_state("u5")
    assert state is not None and user_state("nobody") is None
    record = unpackb(packb(state))
    restored.load_user_state("u5", record)  # type: ignore[attr-defined]
    assert restored.user_state("u5") is not None  # type: ignore[attr-defined]
    assert _recs(restored, ["u5"]) == _recs(model, ["u5"])
    # a user moved to another worker: installing the record there gives the same page
    other = loads_state(dumps_state(model))
    other.load_user_state("u5-moved", record)  # type: ignore[attr-defined]
    assert [i for i, _ in _recs(other, ["u5-moved"])[0]] == [i for i, _ in _recs(model, ["u5"])[0]]


def check_excludes_consumed_and_inactive(model: Recommender) -> None:
    events, items, _ = planted_stream(n_events=300)
    _feed(model, events)
    consumed = {e.item for e in events if e.user == "u2"}
    recs = [i for i, _ in model.recommend("u2", 30)]
    assert not consumed & set(recs), "recommended an item the user already interacted with"
    if recs:
        model.update_item(Item(recs[0], "gone", (), active=False))
        assert recs[0] not in [i for i, _ in model.recommend("u2", 30)]
        assert all(recs[0] not in [i for i, _ in page] for page in _recs(model, ["u1", "x"], 30))


def check_learns_planted_preference(model: Recommender) -> None:
    """After the stream, users' top-5 hold mostly items of their own cluster."""
    events, items, profiles = planted_stream(n_items=120, n_events=1500, noise=0.3)
    for it in items:
        model.update_item(it)
    for p in profiles:
        model.update_user(p)
    _feed(model, events)
    users = [f"u{u}" for u in range(40)]
    own = total = 0
    for user, page in zip(users, _recs(model, users, 5), strict=True):
        for item, _ in page:
            total += 1
            own += int(item[1:]) % 2 == int(user[1:]) % 2
    share = own / max(total, 1)
    baseline = getattr(model, "name", "") == "popularity"
    assert total > 0
    assert baseline or share >= 0.7, f"only {share:.0%} of recommendations match the planted taste"


def yield_checks(model: Recommender) -> Iterator[Callable[[Recommender], None]]:
    """The checks that apply to ``model`` (all of them, for homerec's models)."""
    yield check_no_mutable_defaults
    yield check_clone
    yield check_deterministic
    yield check_state_round_trip
    yield check_state_dict_is_a_snapshot
    yield check_user_state_round_trip
    yield check_excludes_consumed_and_inactive
    yield check_learns_planted_preference
