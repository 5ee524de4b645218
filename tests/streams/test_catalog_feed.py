"""The catalog feed against the real broker: records arrive in order, stop hands the reader back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kafka import KafkaProducer

from homerec.items import Item
from streams.catalog_feed import CatalogFeed
from streams.config import Settings
from streams.errors import StreamsError
from streams.partition_reader import PartitionReader
from tests.streams.fixtures import send_items

pytestmark = pytest.mark.kafka


def _take_until(feed: CatalogFeed, n: int, timeout_s: float = 15.0) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += feed.take()
        time.sleep(0.02)
    return got


def test_items_produced_while_it_runs_are_taken_in_order(
    settings: Settings, producer: KafkaProducer
) -> None:
    send_items(producer, settings, [Item("old", tags=("a",))])
    reader = PartitionReader(settings, settings.topic("items"), client_id="test-feed")
    try:
        reader.assign(reader.partitions())
        assert [r.key for r in reader.read_to_end(reader.partitions())] == [b"old"]
        feed = CatalogFeed(reader, poll_timeout_ms=50)
        feed.start()
        try:
            assert feed.take() == []  # nothing new: the initial read is not repeated
            send_items(producer, settings, [Item(f"i{n}", tags=("a",)) for n in range(20)])
            got = _take_until(feed, 20)
            assert [r.key for r in got] == [f"i{n}".encode() for n in range(20)]
            assert feed.take() == []  # each record once
        finally:
            feed.stop()
        assert not feed.running
        # stopped: the reader is the caller's again, and sees what came after
        send_items(producer, settings, [Item("late", tags=("a",))])
        deadline = time.monotonic() + 15
        late: list[Any] = []
        while not late and time.monotonic() < deadline:
            late = reader.poll(100)
        assert [r.key for r in late] == [b"late"]
    finally:
        reader.close()


class _Broken:
    """A reader whose poll fails with a bug, not a Kafka error."""

    def poll(self, timeout_ms: int = 0) -> list[Any]:
        raise RuntimeError("boom")


def test_an_error_in_the_thread_is_raised_by_take() -> None:
    feed = CatalogFeed(_Broken(), poll_timeout_ms=1)  # type: ignore[arg-type]
    feed.start()
    deadline = time.monotonic() + 5
    with pytest.raises(StreamsError, match="boom"):
        while time.monotonic() < deadline:
            feed.take()
            time.sleep(0.01)
    feed.stop()
