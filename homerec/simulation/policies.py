"""What decides a page: any homerec model by name, or the two references that need no model.

A :class:`Policy` ranks pages for users, learns the events they caused and hears
about catalog changes and profiles. :class:`ModelPolicy` wraps a
:class:`~homerec.models.base.Recommender` built as the worker builds it
(``WORKER_PARAMS``: catalog candidates, the tag cap); :class:`RandomPolicy` shows
unconsumed active items uniformly; :class:`OraclePolicy` knows the world and
shows each user's most relevant unconsumed active items (relevance times
examination is largest with the most relevant item first).

>>> sorted(POLICIES)
['hybrid', 'itemknn', 'oracle', 'popularity', 'random', 'river-biasedmf']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from homerec.errors import ConfigError
from homerec.events import Event
from homerec.hiding import HidingRules
from homerec.items import Item
from homerec.models import MODELS, WORKER_PARAMS, make_model
from homerec.models.base import Recommender
from homerec.profiles import UserProfile
from homerec.simulation.world import World
from homerec.typing import ItemId, UserId

__all__ = [
    "POLICIES", "REFERENCES", "ModelPolicy", "OraclePolicy", "Policy", "RandomPolicy",
    "make_policy",
]  # fmt: skip

#: Policies that need no model.
REFERENCES: tuple[str, ...] = ("random", "oracle")
#: Every ``--policy`` name: the model registry's and the references.
POLICIES: tuple[str, ...] = (*MODELS, *REFERENCES)


class Policy(Protocol):
    """The homepage under test."""

    name: str

    def recommend(self, users: Sequence[UserId], k: int) -> list[list[ItemId]]:
        """Up to ``k`` items per user, best first."""
        ...

    def learn(self, events: Sequence[Event]) -> None:
        """The events of the sessions since the last call, in order."""
        ...

    def update_item(self, item: Item) -> None:
        """A catalog record (new item, or ``active: false``)."""
        ...

    def update_user(self, profile: UserProfile) -> None:
        """A user's profile."""
        ...


class ModelPolicy:
    """A homerec model in the loop, called exactly as the worker calls it."""

    def __init__(self, model: Recommender) -> None:
        self.model = model
        self.name = model.name

    def recommend(self, users: Sequence[UserId], k: int) -> list[list[ItemId]]:
        return [[item for item, _ in page] for page in self.model.recommend_many(users, k)]

    def learn(self, events: Sequence[Event]) -> None:
        self.model.learn_many(events)

    def update_item(self, item: Item) -> None:
        self.model.update_item(item)

    def update_user(self, profile: UserProfile) -> None:
        self.model.update_user(profile)


class _WorldPolicy:
    """A reference that reads the world's state instead of learning."""

    name = "world"

    def __init__(self, world: World) -> None:
        self.world = world
        self._user_index = {user: u for u, user in enumerate(world.user_ids)}

    def learn(self, events: Sequence[Event]) -> None:
        pass

    def update_item(self, item: Item) -> None:
        pass

    def update_user(self, profile: UserProfile) -> None:
        pass

    def _rows(self, users: Sequence[UserId]) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        return np.array([self._user_index[u] for u in users], np.int64)


class RandomPolicy(_WorldPolicy):
    """``k`` active items the user has not consumed, uniformly at random."""

    name = "random"

    def __init__(self, world: World, seed: int = 0) -> None:
        super().__init__(world)
        self._rng = np.random.default_rng([seed, 99])

    def recommend(self, users: Sequence[UserId], k: int) -> list[list[ItemId]]:
        w = self.world
        n = w.n_known
        out = []
        for u in self._rows(users).tolist():
            cand = np.flatnonzero(w.active[:n] & ~w.consumed[u, :n])
            pick = self._rng.choice(cand, min(k, len(cand)), replace=False)
            out.append([w.item_ids[i] for i in pick.tolist()])
        return out


class OraclePolicy(_WorldPolicy):
    """The ``k`` most relevant active items the user has not consumed, by the true tastes."""

    name = "oracle"

    def recommend(self, users: Sequence[UserId], k: int) -> list[list[ItemId]]:
        w = self.world
        rel = w.relevance_all(self._rows(users), w.now)
        m = min(k, rel.shape[1])
        top = np.argpartition(-rel, m - 1, axis=1)[:, :m] if m else np.zeros((len(rel), 0), int)
        out = []
        for r, cols in enumerate(top):
            cols = cols[np.argsort(-rel[r, cols], kind="stable")]
            out.append([w.item_ids[i] for i in cols.tolist() if np.isfinite(rel[r, i])])
        return out


def make_policy(
    name: str,
    world: World,
    *,
    seed: int = 0,
    explore: float | None = None,
    hiding: HidingRules | None = None,
) -> Policy:
    """The policy ``name`` (see :data:`POLICIES`) for ``world``; ``explore`` overrides the
    worker's share of explored slots (``0.0``: the model's own best only, as the baselines
    that a run is compared with are built); ``hiding``: the model's hiding rules (the
    references never show an item the user consumed, as the world never acts on one
    again)."""
    if name == "random":
        return RandomPolicy(world, seed)
    if name == "oracle":
        return OraclePolicy(world)
    if name not in MODELS:
        raise ConfigError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")
    params = dict(WORKER_PARAMS)
    if explore is not None:
        params["explore"] = explore
    if hiding is not None:
        params["hiding"] = hiding
    return ModelPolicy(make_model(name, **params, seed=seed))
