"""``<prefix>.users`` on the real broker: profiles reach the model, tombstones forget users."""

from __future__ import annotations

import logging
from typing import Any

import msgpack
import pytest
from kafka import KafkaProducer

from homerec.events import Event
from homerec.items import Item
from homerec.models import make_model
from homerec.profiles import UserProfile
from homerec.state_io import packb
from streams import checkpoint as ckpt
from streams import metrics as m
from streams.codec import encode_profile
from streams.commands.forget import forget
from streams.commands.recs import latest_homepages
from streams.config import Settings
from streams.worker import Guarantee, Worker, WorkerConfig
from tests.streams.fixtures import (
    ThreadWorker,
    dead_letters,
    latest_pages,
    read_all,
    send_events,
    send_items,
    wait_for,
)

pytestmark = pytest.mark.kafka

TS = 1_700_000_000_000
SECRET = "zed-forget-7f3a"  # no other id, title or tag contains it
A, B = [f"a{n}" for n in range(5)], [f"b{n}" for n in range(5)]


def send_profiles(producer: KafkaProducer, settings: Settings, profiles: list[UserProfile]) -> None:
    for p in profiles:
        key, value = encode_profile(p)
        producer.send(settings.topic("users"), key=key, value=value)
    producer.flush()


def _world(producer: KafkaProducer, settings: Settings) -> list[Event]:
    """Women click the a-items, men the b-items, equally often."""
    items = [Item(i, i, ("x",), True, TS) for i in (*A, *B, "new")]
    send_items(producer, settings, items)
    profiles = [UserProfile(f"f{n}", {"gender": "F", "age": 30.0}) for n in range(15)]
    profiles += [UserProfile(f"m{n}", {"gender": "M", "age": 30.0}) for n in range(15)]
    profiles += [
        UserProfile("coldF", {"gender": "F", "age": 30.0}),
        UserProfile("coldM", {"gender": "M", "age": 30.0}),
    ]
    send_profiles(producer, settings, profiles)
    events = []
    t = TS
    for rnd in range(3):
        for n in range(15):
            for mine, who in ((A, f"f{n}"), (B, f"m{n}")):
                t += 1
                events.append(Event(who, mine[(n + rnd) % 5], "click", t, id=f"e{t}"))
    return events


def _model() -> Any:
    return make_model("hybrid", n_factors=8, seed=1)


def test_profiles_reach_the_model_and_a_cold_users_first_list_follows_its_group(
    settings: Settings, producer: KafkaProducer
) -> None:
    events = _world(producer, settings)
    send_events(producer, settings, events)
    # a bad profile goes to the dead-letter topic with its reason
    producer.send(
        settings.topic("users"), key=b"bad", value=msgpack.packb({"user": "bad", "age": "old"})
    )
    producer.flush()
    worker = ThreadWorker(Worker(settings, _model(), WorkerConfig(k=4))).start()
    try:
        wait_for(lambda: len(latest_pages(settings)) == 30, what="the warm users' lists")
        # the cold users' first event, on an item nobody else has touched
        send_events(
            producer,
            settings,
            [
                Event("coldF", "new", "view", TS + 10_000),
                Event("coldM", "new", "view", TS + 10_001),
            ],
        )
        wait_for(lambda: {"coldF", "coldM"} <= set(latest_pages(settings)), what="cold lists")
        wait_for(lambda: any(d.reason == "wrong_type" for d in dead_letters(settings)), what="DLQ")
    finally:
        worker.stop()
    pages = latest_pages(settings)
    first_f = [i for i, _ in pages["coldF"].items]
    first_m = [i for i, _ in pages["coldM"].items]
    assert set(first_f) <= set(A), first_f
    assert set(first_m) <= set(B), first_m
    letters = [d for d in dead_letters(settings) if d.topic == settings.topic("users")]
    (letter,) = letters
    assert letter.reason == "wrong_type" and letter.key == b"bad"


def _latest(settings: Settings, name: str, key: bytes) -> list[Any]:
    return [r for r in read_all(settings, name) if r.key == key]


def _newest_checkpoint(settings: Settings) -> ckpt.Checkpoint | None:
    shelf = ckpt.Shelf()
    for rec in read_all(settings, "item-state"):
        if rec.key is not None and ckpt.is_checkpoint_key(rec.key):
            shelf.add(rec.key, rec.value)
    return shelf.pick(None)


@pytest.mark.parametrize("guarantee", ["at-least-once", "exactly-once"])
def test_a_tombstone_forgets_the_user_everywhere(
    settings: Settings,
    producer: KafkaProducer,
    guarantee: Guarantee,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    events = _world(producer, settings)
    send_profiles(producer, settings, [UserProfile(SECRET, {"gender": "F", "age": 41.0})])
    mine = [Event(SECRET, a, "click", TS + 5_000 + n, id=f"s{n}") for n, a in enumerate(A[:3])]
    send_events(producer, settings, events + mine)
    key = SECRET.encode()
    # no checkpoint but the first and the one the forget asks for
    config = WorkerConfig(
        k=4, checkpoint_every_s=3600.0, processing_guarantee=guarantee, instance_id="w1"
    )
    worker = Worker(settings, _model(), config)
    tw = ThreadWorker(worker).start()
    before = m.USERS_FORGOTTEN._value.get()
    try:
        wait_for(lambda: SECRET in latest_pages(settings), what="the user's list")
        cp = _newest_checkpoint(settings)
        assert cp is not None and key in cp.data  # the first checkpoint has the user
        assert forget(settings, [SECRET], producer=producer) == 1
        wait_for(
            lambda: (
                _latest(settings, "recommendations", key)[-1].value is None
                and _latest(settings, "changelog", key)[-1].value is None
            ),
            what="tombstones on recommendations and changelog",
        )
        assert SECRET.encode() not in packb(worker.model.state_dict())  # type: ignore[attr-defined]
        assert m.USERS_FORGOTTEN._value.get() == before + 1
        # the checkpoint the forget asked for: no trace of the user, neither in the model
        # nor in the idempotence window
        wait_for(
            lambda: (c := _newest_checkpoint(settings)) is not None and key not in c.data,
            what="a checkpoint without the user",
        )
        cp = _newest_checkpoint(settings)
        assert cp is not None and not any(SECRET in i for i in cp.ids)
    finally:
        tw.stop()
    cp = _newest_checkpoint(settings)  # the one written on close
    assert cp is not None and key not in cp.data and not any(SECRET in i for i in cp.ids)
    assert not any(key in delta for delta in cp.deltas)

    # a restarted worker: no list for the user; a later event starts a fresh user
    worker = Worker(settings, _model(), config)
    tw = ThreadWorker(worker).start()
    try:
        wait_for(lambda: len(latest_pages(settings)) >= 30, what="the restarted worker")
        assert latest_homepages(settings, [SECRET], timeout_s=10) == {}
        assert SECRET.encode() not in packb(worker.model.state_dict())  # type: ignore[attr-defined]
        # an event older than the request is the forgotten user's: never learned again
        send_events(producer, settings, [Event(SECRET, "b0", "click", TS + 6_000)])
        fresh = Event(SECRET, "b1", "click", 4_000_000_000_000, id="late")
        send_events(producer, settings, [fresh])
        wait_for(
            lambda: SECRET in latest_homepages(settings, [SECRET], timeout_s=10),
            what="the fresh user's list",
        )
        assert latest_homepages(settings, [SECRET])[SECRET].events == 1
    finally:
        tw.stop()
    # the log counts users, it never names them
    messages = [r.getMessage() for r in caplog.records]
    # carried out by the loop, or by a restore when a rebalance came first
    assert any("forgot 1 users" in t or "of 1 erased users" in t for t in messages)
    assert not any(SECRET in t for t in messages)


def test_a_request_sent_while_no_worker_runs_is_carried_out_at_start(
    settings: Settings, producer: KafkaProducer
) -> None:
    events = _world(producer, settings)
    mine = [Event(SECRET, a, "click", TS + 5_000 + n, id=f"s{n}") for n, a in enumerate(A[:3])]
    send_events(producer, settings, events + mine)
    key = SECRET.encode()
    config = WorkerConfig(k=4, checkpoint_every_s=3600.0)
    tw = ThreadWorker(Worker(settings, _model(), config)).start()
    try:
        wait_for(lambda: SECRET in latest_pages(settings), what="the user's list")
    finally:
        tw.stop()  # its last checkpoint holds the user
    cp = _newest_checkpoint(settings)
    assert cp is not None and key in cp.data
    forget(settings, [SECRET], producer=producer)
    worker = Worker(settings, _model(), config)
    tw = ThreadWorker(worker).start()
    try:
        wait_for(
            lambda: (
                _latest(settings, "recommendations", key)[-1].value is None
                and _latest(settings, "changelog", key)[-1].value is None
            ),
            what="tombstones on recommendations and changelog",
        )
        wait_for(
            lambda: (c := _newest_checkpoint(settings)) is not None and key not in c.data,
            what="a checkpoint without the user",
        )
        assert key not in packb(worker.model.state_dict())  # type: ignore[attr-defined]
    finally:
        tw.stop()


def test_a_request_read_by_a_restore_of_other_partitions_still_goes_the_loops_way(
    settings: Settings, producer: KafkaProducer
) -> None:
    """A rebalance adds partition 2 while a request on partition 1 was not handled yet."""
    from homerec.limits import Limits
    from homerec.profiles import ProfileSchema
    from streams.worker.users import Forget, Users

    model = make_model("popularity")
    users = Users(
        settings,
        settings.topic("users"),
        limits=Limits(),
        schema=ProfileSchema(),
        forgotten={},
    )
    users.open()
    try:
        users.restore(model, [0, 1], [0, 1])
        topic = settings.topic("users")
        producer.send(topic, key=b"ann", value=None, partition=1).get(timeout=10)
        users.restore(model, [0, 1, 2], [2])  # reads the request, not its partition's owner
        assert "ann" in users.forgotten
        assert users.update(model) == [Forget("ann", 1)]
        assert users.update(model) == []  # once
        users.restore(model, [0, 1, 2], [0])
        assert users.update(model) == []  # handled: not again
    finally:
        users.close()
