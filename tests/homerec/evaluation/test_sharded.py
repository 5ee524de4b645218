from __future__ import annotations

import dataclasses

import pytest

from homerec.datasets.base import Dataset
from homerec.errors import ConfigError
from homerec.evaluation.prequential import evaluate
from homerec.evaluation.sharded import ShardedModel
from homerec.events import Event
from homerec.items import Item
from homerec.models import make_model
from homerec.partitioning import partition_of
from homerec.profiles import UserProfile

T0 = 1_700_000_000_000


def _data() -> Dataset:
    ev = [
        Event(
            f"u{(n * 7) % 23}",
            f"i{(n * 5 + n // 9) % 31}",
            "rating",
            T0 + n,
            float(1 + (n * 3) % 5),
        )  # fmt: skip
        for n in range(600)
    ]
    profiles = tuple(
        UserProfile(f"u{n}", {"age": 18 + n, "gender": "FM"[n % 2]}) for n in range(23)
    )
    return Dataset("t", ev, profiles=profiles)


@pytest.mark.parametrize("share", [True, False])
def test_one_worker_is_the_plain_evaluation(share: bool) -> None:
    # with a catalog: a shared model starts an item met only mid-stream at a vector drawn
    # from its id, not from its generator (members must agree), so without one the two
    # runs differ from the first such item on
    data = dataclasses.replace(_data(), items=tuple(Item(f"i{n}") for n in range(31)))
    plain = evaluate(make_model("hybrid"), data, k=5).as_dict()
    group = ShardedModel(lambda: make_model("hybrid"), 1, exchange_lag=7, share=share)
    sharded = evaluate(group, data, k=5).as_dict()
    for key in ("seconds", "events_per_s"):
        plain.pop(key)
        sharded.pop(key)
    assert sharded == plain


def test_users_are_split_by_the_partitioner_and_ranked_by_their_member() -> None:
    group = ShardedModel(lambda: make_model("hybrid"), 4, exchange_lag=50)
    evaluate(group, _data(), k=5)
    for n in range(23):
        user = f"u{n}"
        owner = group.members[partition_of(user, 4)]
        assert owner.n_events(user) > 0
        assert all(m.n_events(user) == 0 for m in group.members if m is not owner)
    assert group.exchanges == 600 // 50
    assert group.stats.deltas == 4 * group.exchanges
    assert group.stats.bytes_per_event > 0


def test_sharing_helps_against_learning_alone() -> None:
    alone = evaluate(ShardedModel(lambda: make_model("hybrid"), 4, share=False), _data(), k=5)
    shared = evaluate(ShardedModel(lambda: make_model("hybrid"), 4, exchange_lag=20), _data(), k=5)
    assert shared.test_cases == alone.test_cases
    assert shared.hr >= alone.hr


def test_bad_settings() -> None:
    with pytest.raises(ConfigError):
        ShardedModel(lambda: make_model("hybrid"), 0)
    with pytest.raises(ConfigError):
        ShardedModel(lambda: make_model("hybrid"), 2, exchange_lag=0)
    with pytest.raises(ConfigError, match="cannot share"):
        ShardedModel(lambda: make_model("popularity"), 2)
    ShardedModel(lambda: make_model("popularity"), 2, share=False)  # alone is fine
