"""Prequential evaluation of a consumer group: users split over ``N`` members.

:class:`ShardedModel` stands in for one model in
:func:`~homerec.evaluation.prequential.evaluate` (the protocol and the metrics are
that module's, unchanged). Each member is its own model instance; an event goes to
the member of its user — ``partition_of(user, N)``, the producers' partitioner
(kafka-python's murmur2 of the UTF-8 key) with ``N`` partitions, one per member —
and a test case is ranked by that member too. Catalog records go to every member
(every worker reads the items topic in full); a profile to its user's member (the
users table is co-partitioned with the events).

With sharing on, every ``exchange_lag`` events of the stream each member takes its
item delta (:meth:`~homerec.sharing.ItemShared.take_item_delta`) and every member
applies the others' (:meth:`~homerec.sharing.ItemShared.apply_item_deltas`): the
list stands in for the item-updates topic (every member is given all of it, in one
order, its own delta included, as a worker reads the topic), and the records go
through their msgpack form, as they would on the topic. An event's item-side effect thus reaches the
other members within ``exchange_lag`` events.

>>> from homerec.datasets.base import Dataset
>>> from homerec.events import Event
>>> from homerec.evaluation.prequential import evaluate
>>> from homerec.models import make_model
>>> ev = [Event(f"u{n % 7}", f"i{n % 5}", "rating", 10**12 + n, 5.0) for n in range(60)]
>>> group = ShardedModel(lambda: make_model("hybrid"), 2, exchange_lag=10)
>>> evaluate(group, Dataset("t", ev), k=3).test_cases, group.exchanges
(55, 6)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from homerec.errors import ConfigError
from homerec.events import Event
from homerec.items import Item
from homerec.models.base import Recommender
from homerec.partitioning import partition_of
from homerec.profiles import UserProfile
from homerec.sharing import ItemDelta, ItemShared
from homerec.typing import ItemId, Scored, UserId

__all__ = ["DEFAULT_EXCHANGE_LAG", "ExchangeStats", "ShardedModel"]

#: Events of the stream between two exchanges of item deltas (``--exchange-lag``).
#: A worker exchanges after each batch, and a batch is what arrived since its last
#: poll (up to ``--max-batch``): the lag in stream events is about members × batch.
#: 500 is 8 members that each exchange after about 60 of their own events (a worker
#: that keeps up with its partitions); a loaded worker's batches are longer, and a
#: larger lag measures what that costs.
DEFAULT_EXCHANGE_LAG = 500


@dataclass(slots=True)
class ExchangeStats:
    """What the exchanges cost: deltas sent and their msgpack bytes (each is sent once,
    to the topic, and read by every other member)."""

    deltas: int = 0
    bytes: int = 0
    events: int = 0
    largest: int = 0

    @property
    def bytes_per_delta(self) -> float:
        return self.bytes / self.deltas if self.deltas else 0.0

    @property
    def bytes_per_event(self) -> float:
        return self.bytes / self.events if self.events else 0.0


class ShardedModel(Recommender):
    """``workers`` members built by ``factory``, users split by the producers'
    partitioner; with ``share``, item deltas exchanged every ``exchange_lag`` events."""

    def __init__(
        self,
        factory: Callable[[], Recommender],
        workers: int,
        *,
        exchange_lag: int = DEFAULT_EXCHANGE_LAG,
        share: bool = True,
    ) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        if exchange_lag < 1:
            raise ConfigError(f"exchange_lag must be at least 1, got {exchange_lag}")
        self.factory = factory
        self.members = [factory() for _ in range(workers)]
        self.name = self.members[0].name
        self.workers = workers
        self.exchange_lag = exchange_lag
        self.share = share
        self.exchanges = 0
        self.stats = ExchangeStats()
        self._owner: dict[UserId, int] = {}
        self._pending = 0
        self._started = False
        if share and not all(isinstance(m, ItemShared) for m in self.members):
            raise ConfigError(f"model {self.name!r} cannot share its item side")

    def member_of(self, user: UserId) -> Recommender:
        """The member that owns ``user``'s events."""
        p = self._owner.get(user)
        if p is None:
            p = self._owner[user] = partition_of(user, self.workers)
        return self.members[p]

    # -- metadata ----------------------------------------------------------
    def update_item(self, item: Item) -> None:
        for m in self.members:
            m.update_item(item)

    def update_user(self, profile: UserProfile) -> None:
        self.member_of(profile.user).update_user(profile)

    # -- learning ----------------------------------------------------------
    def learn_one(self, event: Event) -> None:
        self.learn_many((event,))

    def learn_many(self, events: Iterable[Event]) -> None:
        if self.share and not self._started:
            for n, m in enumerate(self.members):  # after the catalog and profiles
                assert isinstance(m, ItemShared)
                m.share_items(f"member-{n}")
            self._started = True
        for event in events:
            self.member_of(event.user).learn_many((event,))
            self._pending += 1
            if self.share and self._pending >= self.exchange_lag:
                self.exchange()

    def exchange(self) -> None:
        """Each member takes its delta; every member applies the others' (through msgpack)."""
        deltas: list[ItemDelta] = []
        for m in self.members:
            assert isinstance(m, ItemShared)
            wire = msgpack.packb(m.take_item_delta().to_dict())
            self.stats.deltas += 1
            self.stats.bytes += len(wire)
            self.stats.largest = max(self.stats.largest, len(wire))
            deltas.append(ItemDelta.from_dict(msgpack.unpackb(wire)))
        for m in self.members:
            assert isinstance(m, ItemShared)
            m.apply_item_deltas(deltas)
        self.stats.events += self._pending
        self._pending = 0
        self.exchanges += 1

    # -- ranking -----------------------------------------------------------
    def recommend_many(self, users: Sequence[UserId], k: int) -> list[list[Scored]]:
        return [self.member_of(user).recommend_many([user], k)[0] for user in users]

    def predict_one(self, user: UserId, item: ItemId) -> float | None:
        return self.member_of(user).predict_one(user, item)

    def n_events(self, user: UserId) -> int:
        return self.member_of(user).n_events(user)

    # -- persistence (one state per member: the group has none of its own) --
    def state_dict(self) -> dict[str, Any]:
        return {"members": [m.state_dict() for m in self.members]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for m, s in zip(self.members, state["members"], strict=True):
            m.load_state_dict(s)
