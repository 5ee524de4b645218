"""Whole-model checkpoints + replay make a restarted worker's state exact (real broker).

The default model's learned state after a crash and restart is compared, array by
array, with the state of a worker that ran the same stream without interruption.
One partition, so that the learning order is the event order in every run. The model
hides viewed and skipped items for a few events only, so the exclusions' expiries are
part of the state compared.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition

from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
from homerec.events import Event
from homerec.hiding import HidingRules
from homerec.models.hybrid import Hybrid
from streams.checkpoint import Shelf, is_checkpoint_key
from streams.config import Settings
from streams.topics import create_topics
from streams.worker import Worker, WorkerConfig
from tests.streams.fixtures import (
    ThreadWorker,
    counts_per_user,
    read_all,
    run_until_applied,
    send_events,
    send_items,
)

pytestmark = pytest.mark.kafka

WORLD = SyntheticStream(SyntheticConfig(n_users=40, n_items=80, n_events=900, seed=5))
EVENTS: list[Event] = list(WORLD.events())


class _Crash(Exception):
    """Stands for the process dying: nothing in the worker handles it."""


def _topics(bootstrap: str, producer: Any) -> Settings:
    settings = Settings(bootstrap=bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:12]}")
    create_topics(settings, partitions=1)
    send_items(producer, settings, WORLD.items())
    return settings


def _model() -> Hybrid:
    return Hybrid(n_factors=8, tag_dims=16, seed=3, hiding=HidingRules.parse("view=3,skip=2"))


def _run_to_end(settings: Settings, model: Hybrid, config: WorkerConfig) -> Worker:
    worker: Worker = run_until_applied(
        settings, Worker(settings, model, config), EVENTS, timeout_s=60, what="every event once"
    )
    return worker


#: serving state, not learned state: exposure is counted and exploration draws are made
#: when lists are ranked, clicks on pages against the pages ranked, and a replay after a
#: crash learns without ranking (README, Guarantees)
_SERVING = {"item_shown", "item_clicks", "explore_rng"}


def _assert_same_state(a: dict[str, Any], b: dict[str, Any], path: str = "") -> None:
    assert a.keys() == b.keys(), path
    for key in a.keys() - _SERVING:
        x, y = a[key], b[key]
        where = f"{path}.{key}"
        if isinstance(x, dict):
            _assert_same_state(x, y, where)
        elif isinstance(x, np.ndarray):
            assert np.array_equal(x, y), where
        else:
            assert x == y, where


class _Dies(Worker):
    """Dies right after its 8th batch was acknowledged and its commit sent (not necessarily
    answered: commits are asynchronous), before it could write another checkpoint."""

    commits = 0

    def open(self) -> None:
        super().open()
        deliver = self._delivery.deliver

        def dies(futures: Any, offsets: Any, **kwargs: Any) -> None:
            deliver(futures, offsets, **kwargs)
            self.commits += 1
            if self.commits == 8:
                raise _Crash("killed")

        self._delivery.deliver = dies  # type: ignore[method-assign]


def _crash_midway(settings: Settings, producer: Any, config: WorkerConfig) -> None:
    send_events(producer, settings, EVENTS[:600])
    first = ThreadWorker(_Dies(settings, _model(), config)).start()
    first.thread.join(60)
    assert isinstance(first.error, _Crash)
    send_events(producer, settings, EVENTS[600:])


@pytest.fixture(scope="module")
def reference(bootstrap: str) -> Hybrid:
    """The model of a worker that processed the whole stream without interruption."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        plain = _topics(bootstrap, producer)
        send_events(producer, plain, EVENTS)
    finally:
        producer.close(timeout=5)
    model = _run_to_end(plain, _model(), WorkerConfig(k=5, max_batch=50)).model
    assert isinstance(model, Hybrid)
    return model


@pytest.mark.parametrize(
    "every_s", [0.05, 1e9], ids=["from-a-checkpoint", "before-the-first-checkpoint"]
)
def test_a_crashed_worker_restarts_with_exactly_the_uninterrupted_state(
    bootstrap: str, producer: Any, reference: Hybrid, every_s: float
) -> None:
    """A checkpoint and the events since; or, before the first one, the whole log from 0."""
    config = WorkerConfig(k=5, max_batch=50, checkpoint_every_s=every_s)
    crashy = _topics(bootstrap, producer)
    _crash_midway(crashy, producer, config)
    second = _run_to_end(crashy, _model(), config)
    state = second.model.state_dict()
    assert len(state["hidden_users"])  # some hides last past the stream's end
    _assert_same_state(state, reference.state_dict())
    # both processes wrote under one name (their partitions): restarts do not accumulate
    shelf = Shelf()
    for rec in read_all(crashy, "item-state"):
        if is_checkpoint_key(rec.key):
            shelf.add(rec.key, rec.value)
    assert shelf.names() == ["p0"]


@pytest.mark.parametrize(
    "config",
    [
        WorkerConfig(k=5, max_batch=50, checkpoint_every_s=1e9, max_replay=0),
        WorkerConfig(k=5, max_batch=50, checkpoint_every_s=0, item_state_every_s=0.05),
    ],
    ids=["replay-budget-exceeded", "checkpoints-off"],
)
def test_without_replay_users_come_back_from_the_changelog(
    bootstrap: str, producer: Any, reference: Hybrid, config: WorkerConfig
) -> None:
    """Users are exact (their changelog records); shared state is not."""
    crashy = _topics(bootstrap, producer)
    _crash_midway(crashy, producer, config)
    second = _run_to_end(crashy, _model(), config).model
    for user, n in counts_per_user(EVENTS).items():
        assert second.n_events(user) == n
        # what each user is shown no more, and until when
        mine, theirs = second.user_state(user), reference.user_state(user)
        assert mine is not None and theirs is not None
        assert (mine["items"], mine.get("hidden")) == (theirs["items"], theirs.get("hidden"))
    # the ranker's weights are in no per-user or per-item record
    assert isinstance(second, Hybrid)
    assert isinstance(reference, Hybrid)
    ranker, reference_ranker = second.tables.shared.ranker, reference.tables.shared.ranker
    assert not np.array_equal(ranker.w, reference_ranker.w)


def test_a_checkpoint_older_than_the_log_falls_back_to_the_changelog(
    bootstrap: str, producer: Any
) -> None:
    """Retention deleted events after the checkpoint's offsets: replay would skip them."""
    config = WorkerConfig(k=5, max_batch=50, checkpoint_every_s=1e9)  # one, after batch 1
    settings = _topics(bootstrap, producer)
    _crash_midway(settings, producer, config)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_records({TopicPartition(settings.topic("events"), 0): 300})
    finally:
        admin.close()
    second = _run_to_end(settings, _model(), config)  # every user's count, exactly
    assert second.model.n_users == len(counts_per_user(EVENTS))  # type: ignore[attr-defined]
