"""Delivery's commit state machine without a broker.

The clients here only record what is asked of them and answer with futures that
are plain data (resolved or failed by the test); delivery against the real broker
is tested in test_durability.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka.errors import CommitFailedError, KafkaError, NotCoordinatorError
from kafka.structs import TopicPartition

from streams.errors import DeliveryFailed
from streams.worker.delivery import Delivery, Sent
from streams.worker.intake import Batch

TOPIC = "t.events"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class Future:
    """A future that is data: resolved or failed by whoever holds it."""

    def __init__(self, error: BaseException | None = None, *, done: bool = True) -> None:
        self.exception = error
        self.is_done = done
        self._callbacks: list[Callable[[Any], None]] = []

    def add_both(self, fn: Callable[[Any], None]) -> None:
        self._callbacks.append(fn)

    def get(self, timeout: float | None = None) -> None:
        if self.exception is not None:
            raise self.exception
        for fn in self._callbacks:
            fn(None)

    def failed(self) -> bool:
        return self.is_done and self.exception is not None

    def succeeded(self) -> bool:
        return self.is_done and self.exception is None


@dataclass
class Clients:
    """Records calls; ``send_error``/``commit_errors`` are what the next calls answer."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    send_error: BaseException | None = None
    commit_errors: list[BaseException | None] = field(default_factory=list)
    async_futures: list[Future] = field(default_factory=list)

    @property
    def producer(self) -> Clients:
        return self

    @property
    def consumer(self) -> Clients:
        return self

    # producer
    def send(self, topic: str, **kwargs: Any) -> Future:
        self.calls.append(("send", topic, kwargs["key"]))
        return Future(self.send_error)

    def flush(self, timeout: float | None = None) -> None:
        self.calls.append(("flush",))

    def begin_transaction(self) -> None:
        self.calls.append(("begin",))

    def commit_transaction(self) -> None:
        self.calls.append(("commit_transaction",))

    def abort_transaction(self) -> None:
        self.calls.append(("abort",))

    def send_offsets_to_transaction(self, offsets: Any, metadata: Any) -> None:
        self.calls.append(("txn_offsets", _plain(offsets)))

    # consumer
    def group_metadata(self) -> str:
        return "group"

    def commit(self, offsets: Any) -> None:
        self.calls.append(("commit", _plain(offsets)))
        error = self.commit_errors.pop(0) if self.commit_errors else None
        if error is not None:
            raise error

    def commit_async(self, offsets: Any) -> Future:
        self.calls.append(("commit_async", _plain(offsets)))
        future = Future(done=False)
        self.async_futures.append(future)
        return future

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == name]


def _plain(offsets: Any) -> dict[int, int]:
    return {tp.partition: om.offset for tp, om in offsets.items()}


def _batch(**offsets: int) -> Batch:
    """A batch that consumed up to ``p0=…, p1=…``."""
    return Batch(offsets={TopicPartition(TOPIC, int(p[1:])): off for p, off in offsets.items()})


def _delivery(clients: Clients, settled: list[Sent], **kwargs: Any) -> Delivery:
    options: dict[str, Any] = {
        "transactional": False,
        "commit_interval_s": 0.0,
        "commit_retry_s": 0.5,
    }
    options.update(kwargs)
    return Delivery(
        clients,
        assigned={P0, P1},
        stop=threading.Event(),
        on_settled=settled.append,
        **options,
    )


def _run_batch(d: Delivery, batch: Batch, key: bytes = b"u1") -> None:
    d.learned(batch)
    d.begin()
    d.send("t.recommendations", key, b"list", partition=0)
    d.end(batch, [])


def test_overlapped_acks_settle_a_batch_once_the_next_one_is_sent() -> None:
    clients, settled = Clients(), []
    d = _delivery(clients, settled)
    first, second = _batch(p0=9), _batch(p0=19)
    _run_batch(d, first)
    assert settled == [] and clients.named("commit_async") == []
    assert d.waiting and not d.committed
    assert d.in_flight_ids is first.ids
    _run_batch(d, second)
    assert [s.batch for s in settled] == [first]
    assert clients.named("commit_async") == [("commit_async", {0: 10})]  # the next offset
    assert settled[0].acked_ms > 0, "the time of the last acknowledgement is kept"
    assert not d.committed, "the second batch is in flight"
    clients.async_futures[-1].is_done = True  # the coordinator answered
    d.settle_all()
    assert [s.batch for s in settled] == [first, second]
    assert clients.named("commit")[-1] == ("commit", {0: 20})
    assert d.committed and not d.waiting


def test_nothing_is_committed_that_was_not_acknowledged() -> None:
    clients, settled = Clients(send_error=KafkaError("no ack")), []
    d = _delivery(clients, settled, overlap_acks=False)
    with pytest.raises(DeliveryFailed, match="did not acknowledge"):
        _run_batch(d, _batch(p0=3))
    assert clients.named("commit") == clients.named("commit_async") == []
    assert settled == [] and not d.committed


def test_commits_are_held_back_by_the_interval_and_sent_when_settling_all() -> None:
    clients, settled = Clients(), []
    d = _delivery(clients, settled, overlap_acks=False, commit_interval_s=3600.0)
    for n in range(3):
        _run_batch(d, _batch(p0=10 * n + 9, p1=n))
    # the first commit goes at once, the others wait for the interval
    assert clients.named("commit_async") == [("commit_async", {0: 10, 1: 1})]
    assert len(settled) == 3 and d.waiting
    clients.async_futures[0].is_done = True
    d.settle_all()
    assert clients.named("commit") == [("commit", {0: 30, 1: 3})]
    assert not d.waiting


def test_an_unconfirmed_commit_is_sent_again_with_the_next_one() -> None:
    clients, settled = Clients(), []
    d = _delivery(clients, settled, overlap_acks=False)
    _run_batch(d, _batch(p0=4))
    _run_batch(d, _batch(p1=6))  # the first commit's answer has not come yet
    assert clients.named("commit_async")[-1] == ("commit_async", {0: 5, 1: 7})
    clients.async_futures[-1].exception = NotCoordinatorError()  # retriable
    clients.async_futures[-1].is_done = True
    _run_batch(d, _batch(p0=8))
    assert clients.named("commit_async")[-1] == ("commit_async", {0: 9, 1: 7})


def test_a_commit_that_failed_for_good_raises_delivery_failed() -> None:
    clients, settled = Clients(), []
    d = _delivery(clients, settled, overlap_acks=False)
    _run_batch(d, _batch(p0=4))
    clients.async_futures[-1].exception = CommitFailedError()
    clients.async_futures[-1].is_done = True
    with pytest.raises(DeliveryFailed, match="offset commit failed"):
        d.settle_all()


def test_offsets_of_revoked_partitions_are_not_committed() -> None:
    clients, settled = Clients(), []
    assigned = {P0, P1}
    d = Delivery(
        clients,
        transactional=False,
        overlap_acks=False,
        commit_interval_s=3600.0,
        assigned=assigned,
        stop=threading.Event(),
        on_settled=settled.append,
    )
    _run_batch(d, _batch(p0=4, p1=5))  # committed at once, no answer yet
    _run_batch(d, _batch(p0=7, p1=8))  # held back
    assigned.discard(P1)  # another worker owns partition 1 now
    d.settle_all()
    assert clients.named("commit") == [("commit", {0: 8})]


def test_a_synchronous_commit_retries_retriable_errors_then_gives_up() -> None:
    clients, settled = Clients(commit_errors=[NotCoordinatorError(), None]), []
    d = _delivery(clients, settled, overlap_acks=False, async_commit=False)
    _run_batch(d, _batch(p0=1))
    assert len(clients.named("commit")) == 2 and d.committed
    clients.commit_errors = [NotCoordinatorError()] * 50
    with pytest.raises(DeliveryFailed):
        _run_batch(d, _batch(p0=2))  # commit_retry_s=0.5: a few retries, then rollback


def test_exactly_once_puts_records_and_offsets_in_one_transaction() -> None:
    clients, settled = Clients(), []
    d = _delivery(clients, settled, transactional=True)
    _run_batch(d, _batch(p0=4))
    assert [c[0] for c in clients.calls] == ["begin", "send", "txn_offsets", "commit_transaction"]
    assert clients.named("txn_offsets") == [("txn_offsets", {0: 5})]
    assert clients.named("commit") == clients.named("commit_async") == []
    assert len(settled) == 1 and d.committed and not d.waiting  # never overlapped


def test_a_failed_transaction_is_aborted() -> None:
    clients, settled = Clients(send_error=KafkaError("fenced?")), []
    d = _delivery(clients, settled, transactional=True)
    with pytest.raises(DeliveryFailed):
        _run_batch(d, _batch(p0=4))
    assert clients.calls[-1] == ("abort",) and settled == []


def test_reset_forgets_commits_in_progress_and_lets_the_batch_in_flight_land() -> None:
    clients, settled = Clients(), []
    d = _delivery(clients, settled, commit_interval_s=3600.0)
    _run_batch(d, _batch(p0=1))
    _run_batch(d, _batch(p0=2))
    assert d.waiting
    d.reset()
    assert not d.waiting and d.committed and d.in_flight_ids == ()
    assert clients.calls[-1] == ("flush",)


def test_closing_sends_the_last_records_without_offsets() -> None:
    clients, settled = Clients(), []
    d = _delivery(clients, settled, transactional=True)
    d.begin()
    d.send("t.item-state", b"i1", b"state")
    d.complete(10.0)
    assert [c[0] for c in clients.calls] == ["begin", "send", "commit_transaction"]
    assert settled == []
