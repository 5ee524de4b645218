"""Forgetting a user: every model that implements :class:`Forgetful` keeps no trace of it."""

from __future__ import annotations

import numpy as np
import pytest

from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
from homerec.events import Event
from homerec.models import MODELS, make_model
from homerec.models.stateful import Forgetful
from homerec.profiles import ProfileSchema, UserProfile
from homerec.state_io import packb

SECRET = "alice-7f3c9e"  # no item id, tag or other user id contains it
TS = 1_700_000_000_000


def _trained(name: str) -> tuple[object, list[Event]]:
    gen = SyntheticStream(SyntheticConfig(n_users=40, n_items=30, n_events=600, seed=3))
    model = make_model(name)
    for item in gen.items():
        model.update_item(item)
    schema = ProfileSchema()
    for p in gen.profiles()[:20]:
        model.update_user(schema.apply(p))
    model.update_user(schema.apply(UserProfile(SECRET, {"age": 33.0, "gender": "F"})))
    events = list(gen.events())
    mine = [Event(SECRET, f"i{n}", "click", TS + n) for n in range(5)]
    model.learn_many(events[:300] + mine + events[300:])
    return model, events


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forget_leaves_no_trace_in_the_state(name: str) -> None:
    model, _ = _trained(name)
    assert isinstance(model, Forgetful)
    assert SECRET.encode() in packb(model.state_dict())  # type: ignore[attr-defined]
    before = {u: model.n_events(u) for u in ("u1", "u2", "u3")}  # type: ignore[attr-defined]
    assert model.forget_user(SECRET)
    assert not model.forget_user(SECRET)  # already gone
    state = model.state_dict()  # type: ignore[attr-defined]
    assert SECRET.encode() not in packb(state)
    assert model.n_events(SECRET) == 0  # type: ignore[attr-defined]
    # the other users keep their state, and the state round-trips exactly
    assert {u: model.n_events(u) for u in before} == before  # type: ignore[attr-defined]
    twin = make_model(name)
    twin.load_state_dict(state)
    assert packb(twin.state_dict()) == packb(state)
    assert twin.recommend("u1", 5) == model.recommend("u1", 5)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_later_event_starts_a_fresh_user(name: str) -> None:
    model, events = _trained(name)
    model.forget_users([SECRET, "nobody"])  # type: ignore[attr-defined]
    model.learn_one(Event(SECRET, "i0", "click", TS + 10_000))  # type: ignore[attr-defined]
    assert model.n_events(SECRET) == 1  # type: ignore[attr-defined]
    page = [i for i, _ in model.recommend(SECRET, 10)]  # type: ignore[attr-defined]
    assert "i0" not in page  # its own new interaction is excluded, the old ones are not
    model.learn_many(events[:50])  # type: ignore[attr-defined]


def test_hybrid_rows_move_up_and_groups_go() -> None:
    model, _ = _trained("hybrid")
    users = model.tables.users  # type: ignore[attr-defined]
    row = model._users.get(SECRET)  # type: ignore[attr-defined]
    nxt = model._users.id(row + 1)  # type: ignore[attr-defined]
    p_next = users.P[row + 1].copy()
    model.forget_user(SECRET)  # type: ignore[attr-defined]
    users = model.tables.users  # type: ignore[attr-defined]
    assert model._users.get(nxt) == row  # type: ignore[attr-defined]
    np.testing.assert_array_equal(users.P[row], p_next)
    assert len(users.hist) == users.P.shape[0] == users.groups.shape[0]
