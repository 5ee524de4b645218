"""Factory fixtures for Kafka integration tests (real broker, uuid-named topics)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from homerec.events import Event
from homerec.homepage import Homepage
from homerec.items import Item
from streams.codec import decode_dead_letter, decode_homepage, encode_event, encode_item
from streams.config import Settings
from streams.topics import create_topics, delete_topics

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(bootstrap: str, topic_prefix: str) -> Iterator[Settings]:
    """Settings with fresh topics (4 partitions) created on the real broker, deleted
    afterwards: a broker that keeps every test's topics runs out of file handles after
    a few dozen runs of the suite."""
    s = Settings(bootstrap=bootstrap, topic_prefix=topic_prefix)
    create_topics(s, partitions=4)
    yield s
    delete_topics([s])


@pytest.fixture
def producer(bootstrap: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    yield p
    p.close(timeout=5)


def send_events(producer: KafkaProducer, settings: Settings, events: Iterable[Event]) -> int:
    n = 0
    for event in events:
        key, value = encode_event(event)
        producer.send(settings.topic("events"), key=key, value=value)
        n += 1
    producer.flush()
    return n


def send_raw(
    producer: KafkaProducer, settings: Settings, key: bytes | None, value: bytes | None
) -> None:
    producer.send(settings.topic("events"), key=key, value=value).get(timeout=10)


def send_items(producer: KafkaProducer, settings: Settings, items: Iterable[Item]) -> None:
    for item in items:
        key, value = encode_item(item)
        producer.send(settings.topic("items"), key=key, value=value)
    producer.flush()


def read_all(settings: Settings, name: str, timeout_s: float = 10.0) -> list[Any]:
    """Every record of topic ``<prefix>.<name>`` currently in the log, in partition order."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    try:
        topic = settings.topic(name)
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end")
            for recs in consumer.poll(timeout_ms=200).values():
                out.extend(recs)
        return out
    finally:
        consumer.close()


def latest_pages(settings: Settings) -> dict[str, Homepage]:
    """The newest homepage per user in the recommendations topic (a tombstone deletes it)."""
    pages: dict[str, Homepage] = {}
    for rec in read_all(settings, "recommendations"):
        if rec.value is None:
            pages.pop(rec.key.decode(), None)
            continue
        page = decode_homepage(rec.value)
        pages[page.user] = page
    return pages


def counts_per_user(events: Iterable[Event]) -> dict[str, int]:
    """How many events each user sent."""
    out: dict[str, int] = {}
    for e in events:
        out[e.user] = out.get(e.user, 0) + 1
    return out


def final_counts(settings: Settings) -> dict[str, int]:
    """The ``events`` field of each user's newest list."""
    return {u: p.events for u, p in latest_pages(settings).items()}


def dead_letters(settings: Settings) -> list[Any]:
    return [decode_dead_letter(rec.value) for rec in read_all(settings, "events.dlq")]


def committed_events(settings: Settings) -> int:
    """The workers' group's committed offsets on the events topic, summed over partitions."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=settings.group)
    try:
        topic = settings.topic("events")
        parts = consumer.partitions_for_topic(topic) or set()
        return sum(int(consumer.committed(TopicPartition(topic, p)) or 0) for p in parts)
    finally:
        consumer.close(autocommit=False)


def wait_for(
    predicate: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.2)


class ThreadWorker:
    """A :class:`streams.worker.Worker` on a background thread (same process)."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc

    def start(self) -> ThreadWorker:
        self.thread.start()
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        self.worker.request_stop()
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "worker did not stop"
        if self.error is not None:
            raise self.error


def run_until_applied(
    settings: Settings,
    worker: Any,
    events: Iterable[Event],
    *,
    timeout_s: float = 30.0,
    what: str = "all events applied",
) -> Any:
    """Run ``worker`` on a thread until every user's published ``events`` count equals
    what ``events`` holds for them, then stop it (re-raising its error); returns it."""
    expected = counts_per_user(events)
    tw = ThreadWorker(worker).start()
    try:
        wait_for(lambda: final_counts(settings) == expected, timeout_s, what)
    finally:
        tw.stop()
    return worker


@pytest.fixture
def worker_process(settings: Settings) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``homerec worker`` as a real process; killed at teardown if still running."""
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> subprocess.Popen[str]:
        cmd = [
            sys.executable,
            "-m",
            "streams.cli",
            "worker",
            "--bootstrap",
            settings.bootstrap,
            "--topic-prefix",
            settings.topic_prefix,
            "--metrics-port",
            "0",
            *extra,
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
