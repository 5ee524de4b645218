"""State deltas: a full state plus the deltas taken after it is the state of the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from homerec.errors import StateError
from homerec.events import Event
from homerec.hiding import HidingRules
from homerec.models import make_model
from homerec.models.deltas import apply_delta
from homerec.profiles import UserProfile
from homerec.state_io import packb, unpackb


def _events(rng: np.random.Generator, n: int, t0: int, users: int = 50) -> list[Event]:
    types = ("click", "impression", "skip", "rating", "view")
    return [
        Event(f"u{rng.integers(0, users)}", f"i{rng.integers(0, 30)}",
              types[int(rng.integers(0, len(types)))], t0 + k, value=3.0)
        for k in range(n)
    ]  # fmt: skip


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert set(a) == set(b), set(a) ^ set(b)
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert np.array_equal(a[key], np.asarray(b[key])), key
        else:
            assert packb(a[key]) == packb(b[key]), key


@pytest.mark.parametrize("name", ["hybrid", "popularity"])
def test_base_plus_deltas_is_the_state(name: str) -> None:
    rng = np.random.default_rng(7)
    params: dict[str, Any] = {"hiding": HidingRules(skip=3, view=2)}
    if name == "hybrid":
        params.update(n_factors=4, tag_dims=4)
    model = make_model(name, **params)
    model.learn_many(_events(rng, 300, 0))
    assert model.state_delta() is None  # not tracking before a full state
    state = unpackb(packb(model.state_dict()))  # as restored: through msgpack
    model.begin_deltas()
    for r in range(6):
        model.learn_many(_events(rng, 40, 1000 * (r + 1), users=60))
        model.update_user(UserProfile(f"u{r}", {"age": 20.0 + r}))
        if r % 2:  # forgotten users: gone from the merged state, rows moved up
            model.forget_users([f"u{rng.integers(0, 60)}" for _ in range(4)] + ["nobody"])
        delta = model.state_delta()
        assert delta is not None and len(delta["user_ids"]) < len(state["users"]) + 60
        state = apply_delta(state, unpackb(packb(delta)))
    full = model.state_dict()
    _same(full, state)
    restored = make_model(name, **params)
    restored.load_state_dict(state)
    assert restored.recommend_many(["u1", "u2"], 5) == model.recommend_many(["u1", "u2"], 5)


def test_a_delta_holds_only_the_changed_users() -> None:
    model = make_model("hybrid", n_factors=4, tag_dims=4)
    model.learn_many([Event(f"u{u}", "a", "click", u) for u in range(100)])
    base = model.state_dict()
    model.begin_deltas()
    model.learn_many([Event("u5", "b", "click", 200), Event("new", "a", "click", 201)])
    delta = model.state_delta()
    assert delta is not None and delta["user_ids"] == ["u5", "new"] and len(delta["P"]) == 2
    assert apply_delta(base, delta)["users"][-1] == "new"
    empty = model.state_delta()  # nothing since
    assert empty is not None and empty["user_ids"] == [] and empty["gone"] == []
    with pytest.raises(StateError):
        apply_delta(make_model("popularity").state_dict(), delta)
