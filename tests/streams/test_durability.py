"""Durable state against the real broker: exactly-once, rollback, rebalance (uuid topics).

Failures are injected by wrapping one client call; the broker itself is real.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from kafka.errors import KafkaError

from homerec.events import Event
from streams.config import Settings
from streams.worker import Worker, WorkerConfig
from tests.streams.counting_model import CountingModel
from tests.streams.fixtures import (
    ThreadWorker,
    committed_events,
    counts_per_user,
    final_counts,
    read_all,
    run_until_applied,
    send_events,
    wait_for,
)

pytestmark = pytest.mark.kafka

TS = 1_700_000_000_000


def _events(n: int, seed: int, n_users: int = 12, start: int = 0) -> list[Event]:
    rng = random.Random(seed)
    return [
        Event(f"u{rng.randrange(n_users)}", f"i{rng.randrange(40)}", "click", TS + start + i)
        for i in range(n)
    ]


class _FailOnce:
    """Wraps a client method: the n-th call raises ``error`` once, all others pass through."""

    def __init__(
        self,
        target: Any,
        name: str,
        error: BaseException,
        *,
        real_call: bool,
        at_call: int = 2,
        counts: Any = None,
    ) -> None:
        #: which calls count (e.g. only those of a batch, not of a checkpoint)
        self._counts = counts or (lambda: True)
        self.calls = 0
        self.failed = False
        self._orig = getattr(target, name)
        self._error = error
        self._real = real_call
        self._at = at_call
        setattr(target, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._counts():
            return self._orig(*args, **kwargs)
        self.calls += 1
        if self.calls == self._at and not self.failed:
            self.failed = True
            if self._real:  # the broker applied the call, but the client saw an error
                self._orig(*args, **kwargs)
            raise self._error
        return self._orig(*args, **kwargs)


class _InjectingWorker(Worker):
    """Fails the 2nd call of ``inject`` made while delivering a batch (``during="batch"``),
    while taking a whole-model checkpoint (``during="checkpoint"``) or at any time
    (``during="any"``, e.g. on the checkpoint writer's thread)."""

    def __init__(
        self, *args: Any, inject: str, real_call: bool, during: str = "batch", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.inject = inject
        self.real_call = real_call
        self.fault: _FailOnce | None = None
        self.during = during
        self._in: str | None = None

    def open(self) -> None:
        super().open()
        client_name, method = self.inject.split(".")
        self.fault = _FailOnce(
            getattr(self._clients, client_name),
            method,
            KafkaError("injected"),
            real_call=self.real_call,
            counts=None if self.during == "any" else (lambda: self._in == self.during),
        )
        deliver = self._delivery.deliver

        def delivering(futures: Any, offsets: Any, **kwargs: Any) -> None:
            self._in = "batch"
            try:
                deliver(futures, offsets, **kwargs)
            finally:
                self._in = None

        self._delivery.deliver = delivering  # type: ignore[method-assign]

    def _maybe_checkpoint(self, *, force: bool) -> None:
        self._in = "checkpoint"
        try:
            super()._maybe_checkpoint(force=force)
        finally:
            self._in = None


def test_exactly_once_end_to_end(settings: Settings, producer: Any) -> None:
    events = _events(300, seed=5)
    send_events(producer, settings, events)
    cfg = WorkerConfig(k=5, processing_guarantee="exactly-once", max_batch=50)
    run_until_applied(settings, Worker(settings, CountingModel(), cfg), events)
    # read_committed readers see each user's state once per batch, never an aborted write
    assert len(read_all(settings, "changelog")) >= len(counts_per_user(events))


@pytest.mark.parametrize(
    ("guarantee", "inject", "real_call"),
    [
        # lists and changelog written, offsets NOT committed: the batch is seen again
        ("at-least-once", "consumer.commit", False),
        ("at-least-once", "consumer.commit_async", False),
        # offsets committed but the client saw an error
        ("at-least-once", "consumer.commit", True),
        ("at-least-once", "consumer.commit_async", True),
        # the transaction fails to commit: it is aborted, nothing of the batch is visible
        ("exactly-once", "producer.commit_transaction", False),
    ],
)
def test_failed_batch_rolls_back_and_applies_each_event_once(
    settings: Settings, producer: Any, guarantee: str, inject: str, real_call: bool
) -> None:
    """``consumer.commit`` with ``async_commit=False``, ``commit_async`` with the default."""
    events = _events(400, seed=6)
    send_events(producer, settings, events)
    cfg = WorkerConfig(
        k=5,
        processing_guarantee=guarantee,  # type: ignore[arg-type]
        max_batch=40,
        async_commit=inject.endswith("_async"),
        commit_interval_s=0.0,  # a commit per batch: the 2nd call is the 2nd batch's
    )
    inner = _InjectingWorker(settings, CountingModel(), cfg, inject=inject, real_call=real_call)
    run_until_applied(settings, inner, events)
    assert inner.fault is not None and inner.fault.failed, "the fault was never injected"
    assert inner.rebuilds == 1
    assert final_counts(settings) == counts_per_user(events)


def test_rebalance_second_worker_joins_and_leaves(settings: Settings, producer: Any) -> None:
    first = _events(300, seed=7)
    send_events(producer, settings, first)
    w1 = ThreadWorker(Worker(settings, CountingModel(), WorkerConfig(k=5, max_batch=50))).start()
    try:
        wait_for(lambda: final_counts(settings) == counts_per_user(first), what="first wave")
        w2 = ThreadWorker(
            Worker(settings, CountingModel(), WorkerConfig(k=5, max_batch=50))
        ).start()
        wait_for(
            lambda: w2.worker._assignment.assigned and len(w1.worker._assignment) < 4,
            what="partitions to move to the second worker",
        )
        second = _events(300, seed=8, start=10_000)
        send_events(producer, settings, second)
        wait_for(
            lambda: final_counts(settings) == counts_per_user(first + second),
            what="second wave",
        )
        w2.stop()  # leaves: its partitions move back to w1, which restores them
        third = _events(300, seed=9, start=20_000)
        send_events(producer, settings, third)
        wait_for(
            lambda: final_counts(settings) == counts_per_user(first + second + third),
            what="third wave",
        )
    finally:
        w1.stop()


def test_rolled_back_batch_does_not_leave_its_ids_in_the_dedup_window(
    settings: Settings, producer: Any
) -> None:
    """Events with ids in a batch that fails must be applied when the batch is redone."""
    events = [
        Event(e.user, e.item, e.type, e.ts, id=f"id{n}") for n, e in enumerate(_events(400, 10))
    ]
    send_events(producer, settings, events)
    cfg = WorkerConfig(k=5, processing_guarantee="exactly-once", max_batch=40)
    inner = _InjectingWorker(
        settings, CountingModel(), cfg, inject="producer.commit_transaction", real_call=False
    )
    run_until_applied(settings, inner, events)
    assert inner.fault is not None and inner.fault.failed and inner.rebuilds == 1


@pytest.mark.parametrize("guarantee", ["at-least-once", "exactly-once"])
def test_a_failed_checkpoint_changes_nothing(
    settings: Settings, producer: Any, guarantee: str
) -> None:
    """A checkpoint is best effort: its failure (on the writer's own producer, off the loop)
    is logged, the batches go on, no rollback, and the next checkpoint is written."""
    events = _events(400, seed=12)
    send_events(producer, settings, events)
    cfg = WorkerConfig(
        k=5,
        processing_guarantee=guarantee,  # type: ignore[arg-type]
        max_batch=40,
        checkpoint_every_s=0.01,
    )
    inner = _InjectingWorker(
        settings,
        CountingModel(),
        cfg,
        inject="checkpoint_producer.flush",
        real_call=False,
        during="any",
    )
    run_until_applied(settings, inner, events)
    assert inner.fault is not None and inner.fault.failed and inner.rebuilds == 0
    assert inner.fault.calls > 2  # checkpoints went on being written after the failure


class _Crash(Exception):
    """Stands for the process dying (not a Kafka error: nothing handles it)."""


def test_crash_between_acks_and_commit_does_not_double_apply(
    settings: Settings, producer: Any
) -> None:
    """The successor restores states ahead of the committed offset and skips the replay.

    Its first polls see no fetch response yet (lag looks 0): the skip list must hold anyway.
    """
    events = _events(300, seed=11)
    send_events(producer, settings, events)

    class _Dies(Worker):
        def open(self) -> None:
            super().open()
            self.fault = _FailOnce(
                self._clients.consumer, "commit_async", _Crash("killed"), real_call=False
            )

    cfg1 = WorkerConfig(k=5, max_batch=100, commit_interval_s=0.0)
    first = ThreadWorker(_Dies(settings, CountingModel(), cfg1))
    first.start()
    first.thread.join(30)
    assert isinstance(first.error, _Crash), "the first worker should have died in its 2nd commit"
    cfg = WorkerConfig(k=5, max_batch=100, poll_timeout_ms=1)
    run_until_applied(
        settings, Worker(settings, CountingModel(), cfg), events, what="each event once"
    )


def test_a_repeat_in_the_next_batch_is_dropped_while_the_first_is_in_flight(
    settings: Settings, producer: Any
) -> None:
    """With overlapping acknowledgements a batch is decoded before the previous one is
    settled: the ids of the batch in flight count as seen."""
    events = [
        Event(e.user, e.item, e.type, e.ts, id=f"r{n}") for n, e in enumerate(_events(200, 13))
    ]
    stream: list[Event] = []
    for n, event in enumerate(events):
        stream.append(event)
        if n >= 7:
            stream.append(events[n - 7])  # a producer retry, one batch of 10 later
    send_events(producer, settings, stream)
    cfg = WorkerConfig(k=5, max_batch=10)
    worker = run_until_applied(settings, Worker(settings, CountingModel(), cfg), events)
    assert worker.rebuilds == 0


def test_offsets_held_back_by_the_commit_interval_are_committed_when_idle(
    settings: Settings, producer: Any
) -> None:
    """With a commit interval longer than the run, the offsets still land once the topic
    is drained (an idle poll settles everything); the counts stay exact."""
    events = _events(300, seed=14)
    send_events(producer, settings, events)

    class _Counts(Worker):
        delivered = 0

        def open(self) -> None:
            super().open()
            # counts the calls, never fails
            self.commits = _FailOnce(
                self._clients.consumer,
                "commit_async",
                KafkaError("never"),
                real_call=True,
                at_call=-1,
            )
            deliver = self._delivery.deliver

            def counted(futures: Any, offsets: Any, **kwargs: Any) -> None:
                deliver(futures, offsets, **kwargs)
                self.delivered += 1

            self._delivery.deliver = counted  # type: ignore[method-assign]

    cfg = WorkerConfig(k=5, max_batch=20, commit_interval_s=3600.0)
    worker = _Counts(settings, CountingModel(), cfg)
    tw = ThreadWorker(worker).start()
    try:
        wait_for(lambda: final_counts(settings) == counts_per_user(events), what="all applied")
        wait_for(lambda: committed_events(settings) == len(events), what="offsets committed")
        # the first batch's commit is sent at once, later ones wait for the interval or idle
        assert worker.delivered >= 10 and worker.commits.calls == 1
    finally:
        tw.stop()
