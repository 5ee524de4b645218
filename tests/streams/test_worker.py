"""The worker against the real broker: contract, DLQ, restart (uuid-named topics)."""

from __future__ import annotations

import math
import random

import msgpack
import pytest

from homerec.events import Event
from homerec.items import Item
from homerec.models import Popularity
from streams import metrics
from streams.codec import decode_homepage
from streams.config import Settings
from streams.worker import Worker, WorkerConfig
from tests.streams.counting_model import CountingModel
from tests.streams.fixtures import (
    ThreadWorker,
    counts_per_user,
    dead_letters,
    latest_pages,
    read_all,
    send_events,
    send_items,
    send_raw,
    wait_for,
)

pytestmark = pytest.mark.kafka

TS = 1_700_000_000_000


def _events(n_users: int, n_items: int, n: int, seed: int = 1) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        user = f"u{rng.randrange(n_users)}"
        item = f"i{min(int(rng.expovariate(0.3)), n_items - 1)}"
        kind = rng.choice(["view", "click", "share", "rating", "skip"])
        value = float(rng.randint(1, 5)) if kind == "rating" else None
        out.append(Event(user, item, kind, TS + i, value, id=f"e{i}"))  # type: ignore[arg-type]
    return out


def test_contract_end_to_end(settings: Settings, producer) -> None:  # type: ignore[no-untyped-def]
    items = [Item(f"i{n}", f"Item {n}", ("a" if n % 2 else "b",), True, TS) for n in range(30)]
    items.append(Item("i_off", "Withdrawn", ("a",), False, TS))
    send_items(producer, settings, items)
    events = _events(20, 30, 400)
    events += [Event("u0", "i_off", "click", TS + 10_000)]
    send_events(producer, settings, events)
    expected = counts_per_user(events)
    worker = ThreadWorker(Worker(settings, CountingModel(), WorkerConfig(k=5))).start()
    try:
        wait_for(
            lambda: {u: p.events for u, p in latest_pages(settings).items()} == expected,
            what="every user's final list",
        )
    finally:
        worker.stop()
    pages = latest_pages(settings)
    interacted: dict[str, set[str]] = {}
    newest: dict[str, int] = {}
    for e in events:
        interacted.setdefault(e.user, set()).add(e.item)
        newest[e.user] = max(newest.get(e.user, 0), e.ts)
    for user, page in pages.items():
        got = [item for item, _ in page.items]
        assert 0 < len(got) <= 5
        assert not set(got) & interacted[user], "an interacted item was recommended"
        assert "i_off" not in got, "an inactive item was recommended"
        scores = [s for _, s in page.items]
        assert scores == sorted(scores, reverse=True) and all(map(math.isfinite, scores))
        assert page.event_ts == newest[user]
        assert page.ts >= page.event_ts
    assert dead_letters(settings) == []


BAD_MESSAGES: list[tuple[str, bytes | None, bytes | None]] = [
    ("not_msgpack", b"u1", b"\xc1\xc1 definitely not msgpack"),
    ("not_a_map", b"u1", msgpack.packb([1, 2, 3])),
    ("missing_field", b"u1", msgpack.packb({"user": "u1", "type": "click", "ts": TS})),
    ("wrong_type", b"u1", msgpack.packb({"user": "u1", "item": 7, "type": "click", "ts": TS})),
    ("unknown_type", b"u1", msgpack.packb({"user": "u1", "item": "i1", "type": "like", "ts": TS})),
    (
        "not_finite",
        b"u1",
        msgpack.packb({"user": "u1", "item": "i1", "type": "rating", "ts": TS, "value": math.nan}),
    ),
    (
        "not_finite",
        b"u1",
        msgpack.packb({"user": "u1", "item": "i1", "type": "rating", "ts": TS, "value": math.inf}),
    ),
    (
        "out_of_range",
        b"u1",
        msgpack.packb({"user": "u1", "item": "i1", "type": "rating", "ts": TS, "value": 9.0}),
    ),
    ("out_of_range", b"u1", msgpack.packb({"user": "u1", "item": "i1", "type": "view", "ts": -5})),
    (
        "oversize",
        b"u1",
        msgpack.packb({"user": "u1", "item": "x" * 300, "type": "click", "ts": TS}),
    ),
    (
        "oversize",
        b"u1",
        msgpack.packb(
            {"user": "u1", "item": "i1", "type": "click", "ts": TS, "context": {"p": "y" * 70_000}}
        ),
    ),
    ("key_mismatch", b"u2", msgpack.packb({"user": "u1", "item": "i1", "type": "click", "ts": TS})),
    ("empty", b"u1", None),
]


def test_malformed_messages_go_to_the_dlq_and_valid_ones_are_processed(
    settings: Settings,
    producer,  # type: ignore[no-untyped-def]
) -> None:
    good = [Event("u1", f"i{n}", "click", TS + n) for n in range(3)]
    send_events(producer, settings, good[:1])
    for _, key, value in BAD_MESSAGES:
        send_raw(producer, settings, key, value)
    send_events(producer, settings, good[1:])
    worker = ThreadWorker(Worker(settings, CountingModel(), WorkerConfig(k=5))).start()
    try:
        wait_for(
            lambda: len(dead_letters(settings)) == len(BAD_MESSAGES),
            what="all bad messages in the DLQ",
        )
        wait_for(lambda: latest_pages(settings).get("u1") is not None, what="u1's list")
        wait_for(lambda: latest_pages(settings)["u1"].events == 3, what="u1 has 3 events")
    finally:
        worker.stop()
    letters = dead_letters(settings)
    # the messages land in different partitions (their keys differ), so compare as multisets
    got = sorted((d.reason, d.key or b"", d.value or b"") for d in letters)
    want = sorted((reason, key or b"", value or b"") for reason, key, value in BAD_MESSAGES)
    assert got == want, "each message keeps its original key and bytes and the right reason"
    for letter in letters:
        assert letter.topic == settings.topic("events") and letter.detail
        assert letter.offset >= 0 and 0 <= letter.partition < 4


def _count(metric: object, **labels: str) -> float:
    return float(metric.labels(**labels)._value.get())  # type: ignore[attr-defined]


def test_published_slots_and_impressions_are_counted(settings: Settings, producer) -> None:  # type: ignore[no-untyped-def]
    """Every published item is counted once, as ranked or explored (no user label)."""
    items = [Item(f"i{n}", f"Item {n}", ("a",), True, TS) for n in range(40)]
    send_items(producer, settings, items)
    events = _events(15, 40, 300)
    shown = [Event(f"u{n}", "i3", "impression", TS + 1_000 + n, 2.0) for n in range(7)]
    send_events(producer, settings, [*events, *shown])
    before = {slot: _count(metrics.RECS_SLOTS, slot=slot) for slot in ("ranked", "explored")}
    impressions = _count(metrics.EVENTS_CONSUMED, type="impression", outcome="applied")
    model = Popularity(candidates="catalog", explore=0.3)
    worker = ThreadWorker(Worker(settings, model, WorkerConfig(k=5))).start()
    try:
        expected = counts_per_user(events)
        wait_for(
            lambda: {u: p.events for u, p in latest_pages(settings).items()} == expected,
            what="every user's final list",
        )
    finally:
        worker.stop()
    published = [decode_homepage(r.value) for r in read_all(settings, "recommendations")]
    explored = sum(sum(page.explore) for page in published)
    ranked = sum(len(page.items) for page in published) - explored
    assert explored > 0 and ranked > explored
    assert _count(metrics.RECS_SLOTS, slot="explored") - before["explored"] == explored
    assert _count(metrics.RECS_SLOTS, slot="ranked") - before["ranked"] == ranked
    after = _count(metrics.EVENTS_CONSUMED, type="impression", outcome="applied")
    assert after - impressions == len(shown)


def test_restart_after_clean_stop_resumes_with_state(settings: Settings, producer) -> None:  # type: ignore[no-untyped-def]
    first = _events(15, 20, 300, seed=2)
    send_events(producer, settings, first)
    w1 = ThreadWorker(Worker(settings, CountingModel(), WorkerConfig(k=5))).start()
    try:
        wait_for(
            lambda: (
                {u: p.events for u, p in latest_pages(settings).items()} == counts_per_user(first)
            ),
            what="first half processed",
        )
    finally:
        w1.stop()
    second = [
        Event(e.user, e.item, e.type, e.ts + 1_000_000, e.value, id=f"x{n}")
        for n, e in enumerate(_events(15, 20, 300, seed=3))
    ]
    send_events(producer, settings, second)
    # a brand-new model object: everything it knows must come from the changelog
    w2 = ThreadWorker(Worker(settings, CountingModel(), WorkerConfig(k=5))).start()
    try:
        wait_for(
            lambda: (
                {u: p.events for u, p in latest_pages(settings).items()}
                == counts_per_user(first + second)
            ),
            what="events per user equal what was sent",
        )
    finally:
        w2.stop()


def test_start_up_freezes_the_heap_unless_told_not_to(settings: Settings) -> None:
    import gc

    for freeze in (False, True):
        gc.unfreeze()
        worker = Worker(settings, CountingModel(), WorkerConfig(k=5, freeze_heap=freeze))
        worker.open()
        try:
            # what start-up built is out of the collector's reach only when asked
            assert (gc.get_freeze_count() > 0) is freeze
        finally:
            worker.close()
            gc.unfreeze()


def test_an_idle_worker_writes_no_progress_line(
    settings: Settings,
    producer,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    import time

    caplog.set_level(logging.INFO, logger="streams.worker")
    worker = Worker(settings, CountingModel(), WorkerConfig(k=5, log_every_s=0.05))
    worker.open()
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            worker.step()
        assert not [r for r in caplog.records if r.getMessage().startswith("processed")]
        send_events(producer, settings, [Event("u1", "i1", "click", TS)])
        deadline = time.monotonic() + 20.0
        lines: list[logging.LogRecord] = []
        while not lines and time.monotonic() < deadline:
            worker.step()
            lines = [r for r in caplog.records if r.getMessage().startswith("processed")]
        assert lines and lines[0].__dict__["events"] == 1
    finally:
        worker.close()
