"""A tiny, transparent model for testing the Kafka shell's mechanics.

Popularity ranking plus per-user event counts and interacted sets; it has the
same per-user state hooks as the real models, so changelog restore is tested
independently of the real model's internals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from homerec.events import Event
from homerec.items import Item
from homerec.models.base import Recommender
from homerec.typing import Scored, UserId


class CountingModel(Recommender):
    name = "counting"

    def __init__(self) -> None:
        self._pop: Counter[str] = Counter()
        self._seen: dict[UserId, set[str]] = {}
        self._count: Counter[UserId] = Counter()
        self._inactive: set[str] = set()

    def learn_one(self, event: Event) -> None:
        self._pop[event.item] += 1
        self._seen.setdefault(event.user, set()).add(event.item)
        self._count[event.user] += 1

    def update_item(self, item: Item) -> None:
        self._pop.setdefault(item.item, 0)
        if item.active:
            self._inactive.discard(item.item)
        else:
            self._inactive.add(item.item)

    def recommend_many(self, users: Sequence[UserId], k: int) -> list[list[Scored]]:
        ranked = sorted(self._pop.items(), key=lambda kv: (-kv[1], kv[0]))
        out = []
        for user in users:
            seen = self._seen.get(user, set())
            out.append(
                [
                    (item, float(n))
                    for item, n in ranked
                    if item not in seen and item not in self._inactive
                ][:k]
            )
        return out

    def n_events(self, user: UserId) -> int:
        return self._count[user]

    def user_state(self, user: UserId) -> dict[str, Any]:
        return {"n": self._count[user], "seen": sorted(self._seen.get(user, ()))}

    def load_user_state(self, user: UserId, state: Mapping[str, Any]) -> None:
        self._count[user] = int(state["n"])
        self._seen[user] = set(state["seen"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "pop": dict(self._pop),
            "count": dict(self._count),
            "seen": {u: sorted(s) for u, s in self._seen.items()},
            "inactive": sorted(self._inactive),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._pop = Counter(state["pop"])
        self._count = Counter(state["count"])
        self._seen = {u: set(s) for u, s in state["seen"].items()}
        self._inactive = set(state["inactive"])
