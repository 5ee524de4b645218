"""The static temporal split protocol on hand-made streams (issue 20)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from homerec.datasets.base import Dataset
from homerec.errors import ConfigError
from homerec.evaluation.split import evaluate_split, split_events
from homerec.events import Event
from homerec.items import Item
from homerec.models import make_model
from homerec.models.base import Recommender
from homerec.profiles import UserProfile
from homerec.typing import Scored, UserId

T0 = 1_700_000_000_000


def _r(user: str, item: str, n: int, value: float) -> Event:
    return Event(user, item, "rating", T0 + n, value)


#: 10 events: the first 8 are the training part at train_share=0.8.
STREAM = [
    _r("u1", "a", 0, 5.0),
    _r("u2", "a", 1, 4.0),
    _r("u2", "b", 2, 2.0),
    _r("u3", "c", 3, 5.0),
    _r("u1", "b", 4, 3.0),
    _r("u3", "a", 5, 5.0),
    _r("u4", "a", 6, 1.0),
    _r("u1", "c", 7, 4.0),
    # test part
    _r("u5", "a", 8, 5.0),  # cold, relevant: a (popularity's top item)
    _r("u6", "z", 9, 5.0),  # cold, but z never appeared in training: not evaluated
]


def test_boundaries_train_test_cold_warm() -> None:
    extra = [
        _r("u2", "c", 10, 4.0),  # warm, relevant: c
        _r("u3", "b", 11, 2.0),  # warm, not positive
        _r("u1", "a", 12, 5.0),  # warm, but a was u1's already: not relevant
        _r("u7", "b", 13, 3.0),  # cold, no positive
        _r("u5", "c", 14, 4.0),  # u5's second relevant item
    ]
    events = [*STREAM[:8], *STREAM[8:], *extra]
    s = split_events(events, 8 / len(events))
    assert list(s.train) == STREAM[:8]
    assert list(s.test) == [*STREAM[8:], *extra]
    assert s.cold == {"u5": ("a", "c")}
    assert s.warm == {"u2": ("c",)}
    assert s.new_users == 3  # u5, u6, u7
    assert s.train_items == {"a", "b", "c"}


def test_the_cut_is_a_position_not_a_timestamp() -> None:
    tied = [Event(f"u{n}", "a", "click", T0) for n in range(5)]
    s = split_events(tied, 0.6)
    assert [e.user for e in s.train] == ["u0", "u1", "u2"]
    assert s.cold == {"u3": ("a",), "u4": ("a",)}


@pytest.mark.parametrize("share", [0.0, 1.0, -0.5, 1.5])
def test_train_share_must_leave_both_parts(share: float) -> None:
    with pytest.raises(ConfigError, match="train_share"):
        split_events(STREAM, share)


def test_popularity_hit_rate_by_hand() -> None:
    # Training counts (events of any type): a 4, b 2, c 2 → popularity's list a, b, c
    # (ties by row, i.e. first appearance). Cold u5 wants a: a hit at rank 0.
    # Warm u2 (had a, b) wants c: candidates are c only → hit at rank 0.
    # Warm u4 (had a) wants b and c: top-1 is b → hit; NDCG@1 = 1.
    # Warm u3 (had c, a) wants b, with k=1 → b → hit.
    test = [
        _r("u5", "a", 8, 5.0),
        _r("u2", "c", 9, 5.0),
        _r("u4", "c", 10, 4.0),
        _r("u4", "b", 11, 4.0),
        _r("u8", "b", 12, 5.0),  # cold, wants b: popularity shows a → miss
    ]
    ds = Dataset("toy", [*STREAM[:8], *test])
    r = evaluate_split(make_model("popularity"), ds, k=1, train_share=8 / 13)
    assert (r.train_events, r.test_events) == (8, 5)
    assert (r.cold.users, r.cold.hits, r.cold.hr) == (2, 1, 0.5)
    assert r.cold.ndcg == pytest.approx(0.5)
    assert r.cold.coverage == pytest.approx(1 / 3)  # only a shown to cold users
    assert (r.warm.users, r.warm.hits) == (2, 2)
    # k=2: u4 gets [b, c], both relevant → NDCG 1; u8 gets [a, b]: b at rank 1 → 1/log2(3)
    r2 = evaluate_split(make_model("popularity"), ds, k=2, train_share=8 / 13)
    assert (r2.cold.hits, r2.warm.hits) == (2, 2)
    assert r2.cold.ndcg == pytest.approx((1.0 + 1 / math.log2(3)) / 2)
    assert r2.warm.ndcg == pytest.approx(1.0)


class _Spy(Recommender):
    """Records the calls the protocol makes; recommends nothing."""

    name = "spy"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def learn_one(self, event: Event) -> None:
        self.calls.append(("learn", event.ts))

    def learn_many(self, events: Iterable[Event]) -> None:
        self.calls.append(("learn_many", len(list(events))))

    def update_item(self, item: Item) -> None:
        self.calls.append(("item", item.item))

    def update_user(self, profile: UserProfile) -> None:
        self.calls.append(("user", profile.user))

    def recommend_many(self, users: Sequence[UserId], k: int) -> list[list[Scored]]:
        self.calls.append(("recommend", tuple(users)))
        return [[] for _ in users]

    def n_events(self, user: UserId) -> int:
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


def test_catalog_then_profiles_then_training_then_lists() -> None:
    ds = Dataset("toy", STREAM, (Item("a", "A"),), (UserProfile("u5", {"age": 30.0}),))
    spy = _Spy()
    r = evaluate_split(spy, ds, k=3, batch=3)
    assert spy.calls == [
        ("item", "a"), ("user", "u5"),
        ("learn_many", 3), ("learn_many", 3), ("learn_many", 2),
        ("recommend", ("u5",)),  # the cold users; no warm user has a relevant item
    ]  # fmt: skip
    assert r.profiles == 1 and r.cold.users == 1 and r.cold.hits == 0
    without = _Spy()
    assert evaluate_split(without, ds, k=3, profiles=False).profiles == 0
    assert ("user", "u5") not in without.calls


def _synthetic(n: int = 600) -> Dataset:
    events = [
        Event(f"u{(m * 7) % 40 + (m // 30)}", f"i{(m * 11) % 29}", "rating", T0 + m,
              float(1 + (m * 13) % 5))
        for m in range(n)
    ]  # fmt: skip
    profiles = tuple(UserProfile(f"u{u}", {"gender": "MF"[u % 2]}) for u in range(70))
    items = tuple(Item(f"i{i}", f"item {i}", (f"g{i % 3}",)) for i in range(29))
    return Dataset("synthetic", events, items, profiles)


@pytest.mark.parametrize("name", ["hybrid", "itemknn", "popularity"])
def test_deterministic_under_a_seed(name: str) -> None:
    ds = _synthetic()
    first = evaluate_split(make_model(name, seed=3), ds, k=5).as_dict()
    again = evaluate_split(make_model(name, seed=3), ds, k=5).as_dict()
    first.pop("seconds"), again.pop("seconds")
    assert first == again
    assert first["cold"]["users"] > 0 and first["warm"]["users"] > 0
    assert first["protocol"] == "split"
