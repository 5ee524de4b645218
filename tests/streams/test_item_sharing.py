"""A worker group learns one item side through ``<prefix>.item-updates`` (real broker).

Three in-process workers split four partitions of a synthetic stream; once it has
drained, every member holds the same item side. Tolerances: event counts,
demographic counts and rating counts are identical; co-occurrence weights and
rating sums equal to float32 rounding (``rel 1e-5``); decayed popularity within
``rel 1e-3`` (every member applies it in the topic's order, own deltas included, so
it is the same; ``test_item_sharing_ml100k.py`` holds it to ``rel 1e-9`` with the
default half-lives); embeddings, biases and ranker weights within ``atol 2e-3``
(their steps travel as float16, the rounding error follows with the next delta).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from kafka import KafkaProducer

from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
from homerec.events import Event
from homerec.models.hybrid import Hybrid
from homerec.partitioning import partition_of
from homerec.profiles import UserProfile
from streams.codec import decode_item_update, encode_profile
from streams.config import Settings
from streams.worker import Guarantee, Worker, WorkerConfig
from tests.streams.fixtures import (
    ThreadWorker,
    counts_per_user,
    final_counts,
    latest_pages,
    read_all,
    send_events,
    send_items,
    wait_for,
)

pytestmark = pytest.mark.kafka

WORLD = SyntheticStream(SyntheticConfig(n_users=60, n_items=80, n_events=1500, seed=11))
PARTITIONS = 4


def _model() -> Hybrid:
    # popularity half-lives far beyond the stream: see the module docstring
    return Hybrid(n_factors=8, tag_dims=16, seed=3, pop_half_life=1e6, pop_slow_half_life=1e7)


def _send_profiles(
    producer: KafkaProducer, settings: Settings, profiles: Iterable[UserProfile]
) -> None:
    for p in profiles:
        key, value = encode_profile(p)
        producer.send(settings.topic("users"), key=key, value=value)
    producer.flush()


def _start(settings: Settings, n: int, **config: Any) -> list[ThreadWorker]:
    cfg = WorkerConfig(k=10, max_batch=200, **config)
    return [ThreadWorker(Worker(settings, _model(), cfg)).start() for _ in range(n)]


def _wait_assigned(workers: list[ThreadWorker]) -> None:
    def settled() -> bool:
        sizes = [len(w.worker._assignment) for w in workers]
        return (
            all(sizes)
            and sum(sizes) == PARTITIONS
            and not any(w.worker._assignment.pending for w in workers)
        )

    wait_for(settled, 60, "every worker assigned partitions")


def _item_side(model: Hybrid) -> dict[str, dict[str, Any]]:
    """Per item id: the item-side state (independent of row numbering)."""
    t = model.tables.items
    n = model.n_items
    ids = list(model._items.ids)
    pop, slow = t.pop.values(n), t.pop_slow.values(n)
    groups = list(t.demo.ids.ids)
    D = np.expm1(t.demo.logD[: len(groups), :n].astype(np.float64))
    return {
        item: {
            "count": float(model._item_count[r]),
            "pop": float(pop[r]),
            "pop_slow": float(slow[r]),
            "ratings": tuple(t.ratings[r].tolist()),
            "cooc": {ids[d]: c for d, c in t.cooc.row(r).items()},
            "demo": {g: round(float(D[k, r])) for k, g in enumerate(groups) if D[k, r] > 0.5},
            "q": t.Q[r].copy(),
            "b": float(t.b[r]),
        }
        for r, item in enumerate(ids)
    }


def _assert_same(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> None:
    assert a.keys() == b.keys()
    for item in a:
        x, y = a[item], b[item]
        assert x["count"] == y["count"], item
        assert x["demo"] == y["demo"], item
        assert x["ratings"][1] == y["ratings"][1], item
        assert x["ratings"][0] == pytest.approx(y["ratings"][0], rel=1e-5), item
        for key in ("pop", "pop_slow"):
            assert x[key] == pytest.approx(y[key], rel=1e-3, abs=1e-6), (item, key)
        assert x["cooc"].keys() == y["cooc"].keys(), item
        for d in x["cooc"]:
            assert x["cooc"][d] == pytest.approx(y["cooc"][d], rel=1e-5), (item, d)
        np.testing.assert_allclose(x["q"], y["q"], atol=2e-3, err_msg=item)
        assert x["b"] == pytest.approx(y["b"], abs=2e-3), item


def _caught_up(settings: Settings, workers: list[ThreadWorker]) -> bool:
    """Every member has read the item-updates topic to its end."""
    end = len(read_all(settings, "item-updates"))
    return all(
        w.worker._sharing._reader is not None and w.worker._sharing._reader.position(0) >= end
        for w in workers
    )


def test_three_workers_hold_the_same_item_side(settings: Settings, producer: KafkaProducer) -> None:
    events = list(WORLD.events())
    send_items(producer, settings, WORLD.items())
    _send_profiles(producer, settings, WORLD.profiles())
    workers = _start(settings, 3)
    try:
        _wait_assigned(workers)
        send_events(producer, settings, events)
        wait_for(lambda: final_counts(settings) == counts_per_user(events), 90, "stream drained")
        wait_for(lambda: _caught_up(settings, workers), 30, "item updates applied")
    finally:
        for w in workers:
            w.stop()
    models = [w.worker.model for w in workers]
    assert all(isinstance(m, Hybrid) for m in models)
    sides = [_item_side(m) for m in models]  # type: ignore[arg-type]
    # every event is counted once in every replica, whichever member learned it
    total = sum(v["count"] for v in sides[0].values())
    assert total == len(events)
    for side in sides[1:]:
        _assert_same(sides[0], side)
    w0 = models[0].tables.shared.ranker.w  # type: ignore[union-attr]
    for model in models[1:]:
        np.testing.assert_allclose(model.tables.shared.ranker.w, w0, atol=2e-3)  # type: ignore[union-attr]
    # the deltas name their member and the events they were learned from
    updates = [decode_item_update(r.value) for r in read_all(settings, "item-updates")]
    assert len({u.delta.source for u in updates}) == 3
    assert sum(u.delta.events for u in updates) == len(events)


def _hot_item_events(settings: Settings, owner: set[int], item: str, n: int) -> list[Event]:
    """``n`` positive events on ``item`` from users whose partition is in ``owner``."""
    users = [f"hot{k}" for k in range(400)]
    mine = [u for u in users if partition_of(u, PARTITIONS) in owner][:20]
    t0 = WORLD.config.start_ts
    return [Event(mine[k % len(mine)], item, "click", t0 + k) for k in range(n)]


@pytest.mark.parametrize("share", [True, False])
def test_popularity_learned_by_one_member_moves_the_others_lists(
    settings: Settings, producer: KafkaProducer, share: bool
) -> None:
    items = WORLD.items()
    send_items(producer, settings, items)
    workers = _start(settings, 2, share_items=share)
    try:
        _wait_assigned(workers)
        a, b = (w.worker for w in workers)
        a_parts = {tp.partition for tp in a._assignment.assigned}
        b_parts = {tp.partition for tp in b._assignment.assigned}
        hot = items[-1].item  # an item nobody else engages with
        learned = _hot_item_events(settings, a_parts, hot, 300)
        send_events(producer, settings, learned)
        wait_for(
            lambda: final_counts(settings) == counts_per_user(learned), 60, "hot events learned"
        )
        if share:
            wait_for(lambda: _caught_up(settings, [workers[1]]), 30, "item updates applied")
        # a cold user of the other member: its list is popularity (and profile) driven
        newcomer = next(
            f"new{k}" for k in range(1000) if partition_of(f"new{k}", PARTITIONS) in b_parts
        )
        probe = [Event(newcomer, items[0].item, "view", WORLD.config.start_ts + 10_000)]

        def probed() -> bool:
            send_events(producer, settings, probe)
            return newcomer in latest_pages(settings)

        wait_for(probed, 30, "the other member's list")
    finally:
        for w in workers:
            w.stop()
    page = latest_pages(settings)[newcomer]
    shown = [item for item, _ in page.items]
    assert (hot in shown) is share


class _Crash(Exception):
    """Stands for the process dying: nothing in the worker handles it."""


class _Dies(Worker):
    """Dies right after its ``n``-th offset commit (with overlapped acknowledgements, the
    batch after it is sent: its delta is out, its offsets are not committed)."""

    n = 2

    def open(self) -> None:
        super().open()
        deliver = self._delivery.deliver
        commits = 0

        def dies(futures: Any, offsets: Any, **kwargs: Any) -> None:
            nonlocal commits
            deliver(futures, offsets, **kwargs)
            commits += 1
            if commits == self.n:
                raise _Crash("killed")

        self._delivery.deliver = dies  # type: ignore[method-assign]


@pytest.mark.parametrize("guarantee", ["at-least-once", "exactly-once"])
def test_a_member_that_dies_and_one_that_joins_start_from_the_groups_item_side(
    settings: Settings, producer: KafkaProducer, guarantee: Guarantee
) -> None:
    """One of three members dies mid-stream, a new one joins: the survivors take over its
    partitions, the newcomer restores the newest checkpoint and the item updates since;
    every event is counted once, per user and in every member's item side."""
    events = list(WORLD.events())
    send_items(producer, settings, WORLD.items())
    _send_profiles(producer, settings, WORLD.profiles())
    cfg = WorkerConfig(k=10, max_batch=50, checkpoint_every_s=0.2, processing_guarantee=guarantee)
    doomed = ThreadWorker(_Dies(settings, _model(), cfg)).start()
    workers = [doomed] + [ThreadWorker(Worker(settings, _model(), cfg)).start() for _ in range(2)]
    try:
        _wait_assigned(workers)
        send_events(producer, settings, events[:900])
        doomed.thread.join(60)
        assert isinstance(doomed.error, _Crash)
        newcomer = ThreadWorker(Worker(settings, _model(), cfg)).start()
        workers = [*workers[1:], newcomer]
        _wait_assigned(workers)
        send_events(producer, settings, events[900:])
        wait_for(lambda: final_counts(settings) == counts_per_user(events), 90, "stream drained")
        wait_for(lambda: _caught_up(settings, workers), 30, "item updates applied")
    finally:
        for w in workers:
            w.stop()
    models = [w.worker.model for w in workers]
    sides = [_item_side(m) for m in models]  # type: ignore[arg-type]
    for side in sides:
        assert sum(v["count"] for v in side.values()) == len(events)
    for side in sides[1:]:
        _assert_same(sides[0], side)
    assert newcomer.worker._sharing.member  # it shares under a name of its own
