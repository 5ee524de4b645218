"""Delivery: a batch's records sent, their acknowledgements checked, then its offsets committed.

One object owns the commit state machine (as Quix Streams' checkpoint object
does). Nothing is committed before it is acknowledged. Per guarantee:

* **exactly-once**: the batch's records and its offsets go into one Kafka
  transaction, committed (or aborted) before the next poll;
* **at-least-once, synchronous** (``overlap_acks=False``, ``async_commit=False``):
  flush, wait for every acknowledgement, commit the offsets and wait for the answer;
* **at-least-once, overlapped** (the default): a batch's acknowledgements arrive
  while the next batch is polled and processed, and are checked (then its offsets
  committed) once that batch is sent; the commit is sent without waiting for the
  coordinator's answer, at most every ``commit_interval_s`` (offsets held back
  until then), and its answer is checked at the next commit: a retriable failure is
  sent again with it, any other one raises :class:`~streams.errors.DeliveryFailed`
  as a failed synchronous commit does.

:meth:`Delivery.settle_all` waits for all of it (before an idle poll, a
checkpoint, a restore, closing). After each settled batch the ``on_settled``
callback does the bookkeeping that must follow durability (dedup window, quality,
coverage).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from homerec.homepage import Homepage
from streams.errors import DeliveryFailed
from streams.worker.intake import Batch

__all__ = ["Clients", "Delivery", "PendingCommit", "Sent", "now_ms"]

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, OffsetAndMetadata]


class Clients(Protocol):
    """Where delivery finds its clients (opened after delivery is built)."""

    @property
    def producer(self) -> Any: ...

    @property
    def consumer(self) -> Any: ...


class PendingCommit(NamedTuple):
    """An asynchronous offset commit whose answer is not seen yet."""

    #: kafka-python's future of the commit; None if it could not even be sent
    future: Any
    offsets: Offsets


@dataclass(slots=True)
class Sent:
    """A batch whose records are sent: what to do once the broker has acknowledged them."""

    futures: list[Any]
    batch: Batch
    pages: list[Homepage]
    #: wall-clock ms when the broker acknowledged the batch's last record (set on the IO thread)
    acked_ms: int = 0

    def on_acked(self, _: Any) -> None:
        self.acked_ms = now_ms()


class Delivery:
    """Sends records, checks acknowledgements, commits offsets or transactions.

    ``clients`` has the ``producer`` and the ``consumer`` (set once they are open);
    ``assigned`` tells which partitions may still be committed; ``stop`` cuts short the
    pauses between retries of a failed commit.
    """

    def __init__(
        self,
        clients: Clients,
        *,
        transactional: bool,
        overlap_acks: bool = True,
        async_commit: bool = True,
        commit_interval_s: float = 0.1,
        commit_retry_s: float = 30.0,
        assigned: Container[TopicPartition],
        stop: threading.Event,
        on_settled: Callable[[Sent], None],
    ) -> None:
        self._clients = clients
        self.transactional = transactional
        self._overlap = overlap_acks and not transactional
        self._async = async_commit
        self._interval_s = commit_interval_s
        self._retry_s = commit_retry_s
        self._assigned = assigned
        self._stop = stop
        self._on_settled = on_settled
        #: futures of the records sent since :meth:`begin`
        self._futures: list[Any] = []
        #: the batch sent last, its acknowledgements not yet checked (overlapped acks)
        self._in_flight: Sent | None = None
        self._pending: PendingCommit | None = None
        #: offsets of acknowledged batches not sent yet (``commit_interval_s``)
        self._to_commit: Offsets = {}
        self._commit_sent_at = -float("inf")
        #: the batch learned last, and whether the model is ahead of what is committed
        self._last_learned: Batch | None = None
        self._uncommitted = False
        #: monotonic time of the last settled batch (its offsets committed or queued)
        self.last_commit = time.monotonic()

    # -- state ---------------------------------------------------------------
    @property
    def waiting(self) -> bool:
        """Something is sent or committed whose outcome is not checked yet."""
        return bool(self._in_flight or self._pending or self._to_commit)

    @property
    def committed(self) -> bool:
        """Every batch learned is committed (a checkpoint of the model is then consistent)."""
        return not self._uncommitted

    @property
    def in_flight_ids(self) -> Container[str]:
        """Idempotence keys of the batch in flight (not yet in the window)."""
        return self._in_flight.batch.ids if self._in_flight is not None else ()

    def learned(self, batch: Batch) -> None:
        """``batch`` is being learned: the model is now ahead of what is committed."""
        self._uncommitted = True
        self._last_learned = batch

    # -- sending ---------------------------------------------------------------
    def begin(self) -> None:
        """Start a batch's records (a transaction, with exactly-once)."""
        self._futures = []
        if self.transactional:
            self._clients.producer.begin_transaction()

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self._futures.append(
            self._clients.producer.send(
                topic, key=key, value=value, partition=partition, headers=headers
            )
        )

    def end(self, batch: Batch, pages: list[Homepage]) -> None:
        """The batch's records are sent: settle it (or, overlapped, the one before it)."""
        sent = Sent(self._futures, batch, pages)
        self._futures = []
        if sent.futures:
            sent.futures[-1].add_both(sent.on_acked)
        if self._overlap:
            previous, self._in_flight = self._in_flight, sent
            if previous is not None:
                self._settle(previous, flush=False)
        else:
            self._settle(sent, flush=True)

    def complete(self, timeout_s: float) -> None:
        """Commit the transaction or flush the records sent since :meth:`begin` and wait for
        them, without offsets (closing: the last item snapshot and dead letters)."""
        futures, self._futures = self._futures, []
        self._complete(futures, timeout_s)

    def complete_or_fail(self, timeout_s: float) -> None:
        """:meth:`complete` in the loop: a failure aborts the transaction and raises
        :class:`DeliveryFailed` (the worker then rolls back)."""
        try:
            self.complete(timeout_s)
        except KafkaError as exc:
            if self.transactional:
                self._abort()
            raise DeliveryFailed(f"broker did not acknowledge the records: {exc}", exc) from exc

    # -- settling ----------------------------------------------------------------
    def settle_all(self) -> None:
        """Settle the batch in flight and wait for the last offset commit's answer."""
        sent, self._in_flight = self._in_flight, None
        if sent is not None:
            self._settle(sent, flush=True)
        offsets = self._outstanding()
        if offsets:
            self._commit(offsets)  # ordered after the pending one: both have landed on return

    def reset(self) -> None:
        """Forget every commit in progress (a rollback reads the committed offsets anew)."""
        self._uncommitted = False
        self._last_learned = None
        self._pending = None  # its fate does not matter: the rollback reads the offsets
        self._to_commit = {}
        self._futures = []
        if self._in_flight is not None:
            # let the sends of the batch in flight land (or fail) before the changelog is read
            self._in_flight = None
            try:
                self._clients.producer.flush(timeout=30)
            except KafkaError:
                log.warning("flushing the batch in flight before the rollback failed")

    def _settle(self, sent: Sent, *, flush: bool) -> None:
        # the next offset to consume, per partition
        offsets = {tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in sent.batch.offsets.items()}
        self.deliver(sent.futures, offsets, flush=flush)
        self.last_commit = time.monotonic()
        self._on_settled(sent)
        # committed once the batch learned last is settled and nothing else is in flight
        self._uncommitted = self._in_flight is not None or sent.batch is not self._last_learned

    def deliver(self, futures: list[Any], offsets: Offsets, *, flush: bool = True) -> None:
        """Wait for every send, then commit ``offsets``: nothing is committed that was not
        acknowledged.

        ``flush=False``: the sends are not pushed out at once (another batch may have been
        sent since, whose acknowledgements are not waited for here).
        """
        producer, consumer = self._clients.producer, self._clients.consumer
        try:
            if self.transactional:
                producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
            self._complete(futures, 30.0, flush=flush)
        except KafkaError as exc:
            if self.transactional:
                self._abort()
            raise DeliveryFailed(f"broker did not acknowledge the batch: {exc}", exc) from exc
        if not self.transactional and offsets:
            if self._async:
                self._commit_async(offsets)
            else:
                self._commit(offsets)

    def _complete(self, futures: list[Any], timeout_s: float, *, flush: bool = True) -> None:
        """Commit the open transaction (exactly-once) or flush, then wait for every ack."""
        if self.transactional:
            self._clients.producer.commit_transaction()
        elif flush:
            self._clients.producer.flush(timeout=timeout_s)
        for fut in futures:
            fut.get(timeout=timeout_s)

    def _abort(self) -> None:
        """Abort the open transaction (the caller then rebuilds the state)."""
        try:
            self._clients.producer.abort_transaction()
        except KafkaError:
            log.exception("abort_transaction failed")

    # -- offset commits ----------------------------------------------------------
    def _commit(self, offsets: Offsets) -> None:
        """Commit, retrying retriable errors (e.g. a coordinator moving during a broker restart)."""
        deadline = time.monotonic() + self._retry_s
        delay = 0.1
        while True:
            try:
                self._clients.consumer.commit(offsets)
                return
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or time.monotonic() + delay > deadline:
                    # the batch's output is durable; its events will be seen again and skipped
                    # by the changelog offsets of their users (so no double application)
                    raise DeliveryFailed(f"offset commit failed: {exc}", exc) from exc
                log.warning("offset commit failed (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 2.0)

    def _commit_async(self, offsets: Offsets) -> None:
        """Send ``offsets`` (with those held back and those of an unconfirmed earlier commit)
        without waiting for the answer, at most every ``commit_interval_s``; until then they
        are held back."""
        self._to_commit.update(offsets)
        now = time.monotonic()
        if now - self._commit_sent_at < self._interval_s:
            return
        self._commit_sent_at = now
        offsets = self._outstanding()
        if not offsets:
            return
        try:
            future = self._clients.consumer.commit_async(offsets)
        except KafkaError as exc:
            self._commit_failed(exc)  # e.g. no coordinator known: sent again with the next one
            future = None
        self._pending = PendingCommit(future, offsets)

    def _outstanding(self) -> Offsets:
        """Offsets of acknowledged batches not known to be committed, of the partitions still
        assigned: the last asynchronous commit's unless it is known to have landed, then those
        held back; raises :class:`DeliveryFailed` if that commit failed for good."""
        offsets: Offsets = {}
        if self._pending is not None:
            future, unconfirmed = self._pending
            self._pending = None
            if future is not None and future.failed():
                self._commit_failed(future.exception)
            if future is None or not future.succeeded():
                offsets.update(unconfirmed)
        offsets.update(self._to_commit)
        self._to_commit = {}
        return {tp: off for tp, off in offsets.items() if tp in self._assigned}

    def _commit_failed(self, exc: BaseException) -> None:
        """Retriable errors are retried with the next commit; others roll back like a failed
        synchronous commit."""
        if not getattr(exc, "retriable", False):
            raise DeliveryFailed(f"offset commit failed: {exc}", exc)
        log.warning("offset commit failed (%s); sending it again with the next one", exc)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
