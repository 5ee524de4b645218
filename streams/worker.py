"""The consumer-group worker: bytes in, typed events, model update, top-K out, offsets committed.

One direction, no back and forth. Each loop iteration:

1. take the catalog records that arrived (read on a thread of its own,
   :mod:`streams.catalog_feed`; items update the model first);
2. poll up to ``max_batch`` events from the assigned partitions;
3. decode and validate: bad messages go to the dead-letter topic with the reason;
4. drop repeats (same event ``id`` within the window; events already in a
   restored user state);
5. score the live quality of the lists users were shown, then learn the batch;
6. re-rank every user the batch touched, in one vectorised call;
7. publish one list per touched user and their state to the changelog;
8. wait for the broker's acknowledgements, then commit the consumed offsets
   (or, with exactly-once, commit all of it in one Kafka transaction).

With at-least-once, by default, step 8 overlaps the next batch: a batch's
acknowledgements arrive while the next batch is polled and processed, and are
checked (then its offsets committed) once that batch is sent; the commit itself
does not wait for the coordinator's answer, which is checked at the next commit
(a failed one is sent again with it, or rolls the state back as a failed
synchronous commit does). An idle poll, a checkpoint, a restore and closing
wait for all of it first. Nothing is committed before it is acknowledged.

State is partitioned like the events: the changelog record of a user carries
the offset of the last event applied to it, so a batch replayed after a crash
is never applied twice to a restored user, whatever the guarantee.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, ProducerFencedError
from kafka.structs import OffsetAndMetadata

from homerec.dedup import IdWindow
from homerec.errors import InvalidEvent, StateError
from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.homepage import Homepage
from homerec.limits import Limits
from homerec.live_quality import LiveHitRate
from homerec.models.base import Recommender
from homerec.state_io import iter_packb_map, packb, unpackb
from homerec.typing import UserId
from streams import checkpoint as ckpt
from streams import kafka_compat
from streams import metrics as m
from streams.catalog_feed import CatalogFeed
from streams.checkpoint_writer import CheckpointWriter, WriteResult
from streams.codec import (
    decode_event as _decode_event,
)
from streams.codec import (
    decode_item,
    encode_dead_letter,
    encode_homepage,
)
from streams.config import Settings
from streams.errors import DeliveryFailed, StreamsError
from streams.partition_reader import PartitionReader
from streams.topics import CHANGELOG, DLQ, EVENTS, ITEM_STATE, ITEMS, RECOMMENDATIONS

__all__ = ["Guarantee", "Worker", "WorkerConfig"]

log = logging.getLogger(__name__)
kafka_compat.apply()

Guarantee = Literal["at-least-once", "exactly-once"]

#: Errors after which this process must not go on (another instance owns its work now).
_FATAL: tuple[type[BaseException], ...] = (ProducerFencedError,)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """Processing settings of one worker (see ``homerec worker --help``)."""

    k: int = 10
    max_batch: int = 2000
    poll_timeout_ms: int = 100
    processing_guarantee: Guarantee = "at-least-once"
    limits: Limits = field(default_factory=Limits)
    feedback: FeedbackWeights = field(default_factory=FeedbackWeights)
    dedup_window: int = 100_000
    quality_window: int = 1000
    #: Write per-user state to the changelog topic and restore it on assignment.
    changelog: bool = True
    #: Seconds between progress log lines.
    log_every_s: float = 10.0
    #: Stable identity of this worker (transactional id suffix); random when empty.
    instance_id: str = ""
    #: Seconds between snapshots of the items that changed to the item-state topic.
    item_state_every_s: float = 5.0
    #: Seconds between whole-model checkpoints (0: never; restore is then per user and item);
    #: at least 20 times the last checkpoint's duration.
    checkpoint_every_s: float = 15.0
    #: Most events replayed from a checkpoint on restore; beyond, the changelog is used.
    max_replay: int = 50_000
    #: How long to keep retrying a failed offset commit before rebuilding from the changelog.
    commit_retry_s: float = 30.0
    #: at-least-once: send each batch's offset commit without waiting for the answer (it is
    #: checked at the next commit); False waits for it before the next poll.
    async_commit: bool = True
    #: with ``async_commit``: send the offsets of acknowledged batches at most this often
    #: (seconds; 0 = after every batch). A crash replays at most this much more, harmlessly.
    commit_interval_s: float = 0.1
    #: at-least-once: check a batch's acknowledgements (then commit) after the next batch is
    #: sent, instead of before the next poll; False waits for them first.
    overlap_acks: bool = True
    #: after start-up and after each restore, collect garbage once and move every object
    #: alive to the collector's permanent generation (``gc.freeze``): the later full
    #: collections then scan only what was created since, not the model, the libraries and
    #: what was loaded (the bench's worker: 120-134 ms per full collection before, 26-33 ms
    #: after, see docs/performance.md)
    freeze_heap: bool = True


@dataclass(slots=True)
class _Batch:
    """What one poll produced, after decoding."""

    events: list[Event] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    #: user -> (partition, offset of the newest event of this batch for the user)
    source: dict[UserId, tuple[int, int]] = field(default_factory=dict)
    newest_ts: dict[UserId, int] = field(default_factory=dict)
    dead: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = field(default_factory=list)
    #: idempotence keys of the applied events (entered into the window once durable)
    ids: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class _Sent:
    """A batch whose output is sent: what to do once the broker has acknowledged it."""

    futures: list[Any]
    batch: _Batch
    pages: list[Homepage]
    #: wall-clock ms when the broker acknowledged the batch's last record (set on the IO thread)
    acked_ms: int = 0

    def on_acked(self, _: Any) -> None:
        self.acked_ms = _now_ms()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.worker._on_revoked(list(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker._on_assigned(list(assigned))


class Worker:
    """A member of the ``<prefix>.worker`` consumer group.

    Use :meth:`run` (blocks until :meth:`request_stop`, e.g. from a signal
    handler) or drive it with :meth:`open`, :meth:`step` and :meth:`close`.
    """

    def __init__(
        self,
        settings: Settings,
        model: Recommender,
        config: WorkerConfig | None = None,
        *,
        health: Any = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.config = config or WorkerConfig()
        self.health = health
        self._stop = threading.Event()
        self._ids = IdWindow(self.config.dedup_window)
        self._quality = LiveHitRate(self.config.quality_window)
        self._events_topic = settings.topic(EVENTS.name)
        self._recs_topic = settings.topic(RECOMMENDATIONS.name)
        self._dlq_topic = settings.topic(DLQ.name)
        self._changelog_topic = settings.topic(CHANGELOG.name)
        self._items_topic = settings.topic(ITEMS.name)
        #: users restored from the changelog whose state is ahead of the committed offset:
        #: user -> (partition, offset of the last applied event, newest event ts)
        self._restored: dict[UserId, tuple[int, int, int]] = {}
        self._newest_ts: dict[UserId, int] = {}
        self._assigned: set[TopicPartition] = set()
        self._pending_restore: set[TopicPartition] = set()
        self._consumer: Any = None
        self._producer: Any = None
        self._catalog: PartitionReader | None = None
        #: reads the catalog on a thread between the worker's own reads of it
        self._catalog_feed: CatalogFeed | None = None
        self._last_commit = time.monotonic()
        self._stats = {"events": 0, "dlq": 0, "batches": 0, "published": 0}
        self._last_log = time.monotonic()
        self._lag = 0
        self._transactional = self.config.processing_guarantee == "exactly-once"
        self._supports_user_state = self.config.changelog and _has_user_state(model)
        self._checkpoints = self.config.changelog and self.config.checkpoint_every_s > 0
        #: per-item snapshots: the approximate item-side restore when checkpoints are off
        self._supports_item_state = (
            self.config.changelog and _has_item_state(model) and not self._checkpoints
        )
        self._item_state_topic = settings.topic(ITEM_STATE.name)
        self._dirty_items: set[str] = set()
        #: dead letters of catalog records, sent with the next batch
        self._pending_dead: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
        self._last_item_snapshot = time.monotonic()
        # the first checkpoint follows the first batch: a worker that dies young has one
        self._last_checkpoint = -float("inf")
        self._checkpoint_cost_s = 0.0
        #: checkpoints are sent on a thread with a producer of their own
        self._ckpt_producer: Any = None
        self._ckpt_writer: CheckpointWriter | None = None
        #: checkpoint name -> chunk slot its manifest points to (the next write uses the other)
        self._ckpt_slots: dict[str, str] = {}
        #: events partition -> next offset whose effect the model state includes exactly
        #: (from a checkpoint, a restore or processing); restore replays from there
        self._covered: dict[int, int] = {}
        #: partitions whose events or users this model has ever been given
        self._seen_partitions: set[int] = set()
        #: a batch was learned but not (yet) committed: no checkpoint of this state
        self._uncommitted = False
        #: the last asynchronous offset commit (future, offsets) whose answer is not yet seen
        self._commit_pending: tuple[Any, dict[TopicPartition, Any]] | None = None
        #: offsets of acknowledged batches not sent yet (``commit_interval_s``), and when the
        #: last commit was sent
        self._to_commit: dict[TopicPartition, Any] = {}
        self._commit_sent_at = -float("inf")
        #: the batch sent last, its acknowledgements not yet checked (``overlap_acks``)
        self._in_flight: _Sent | None = None
        #: the batch learned last (the model is committed once it is settled)
        self._last_learned: _Batch | None = None
        #: an error escaped a step: close() commits and checkpoints nothing more
        self._broken = False
        #: partitions whose "covered" offset a revocation dropped (their users restored
        #: ahead lost their skip list): a batch settled later must not claim them again
        self._uncovered: set[int] = set()
        self._overlap = self.config.overlap_acks and not self._transactional
        self.rebuilds = 0

    # -- lifecycle -------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the loop to finish the current batch, commit and return."""
        self._stop.set()
        if self.health is not None:
            self.health.set_stopping()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def open(self) -> None:
        """Connect, read the catalog to its end, join the group."""
        s = self.settings
        instance = self.config.instance_id or uuid.uuid4().hex[:12]
        producer_opts: dict[str, Any] = {
            "client_id": f"homerec-worker-{instance}",
            "acks": "all",
            "linger_ms": 2,
            "batch_size": 256 * 1024,
            "max_request_size": 4 * 1024 * 1024,
        }
        if self._transactional:
            producer_opts["transactional_id"] = f"{s.group}-{instance}"
        try:
            self._producer = KafkaProducer(**s.client_options(**producer_opts))
            if self._transactional:
                self._producer.init_transactions()
            if self._checkpoints:
                self._ckpt_producer = KafkaProducer(
                    **s.client_options(
                        client_id=f"homerec-checkpoint-{instance}",
                        acks="all",
                        linger_ms=5,
                        max_request_size=4 * 1024 * 1024,
                    )
                )
                self._ckpt_writer = CheckpointWriter(
                    self._ckpt_producer, self._item_state_topic, on_done=self._checkpoint_done
                )
            self._catalog = PartitionReader(s, self._items_topic, client_id="homerec-catalog")
            self._restore_shared_state()
            membership: dict[str, Any] = {}
            if self.config.instance_id:
                # static membership: a restarted worker with the same --instance-id takes its
                # partitions back at once instead of waiting for the session timeout
                membership["group_instance_id"] = f"{s.group}-{instance}"
            self._consumer = KafkaConsumer(
                **s.client_options(
                    **membership,
                    client_id=f"homerec-worker-{instance}",
                    group_id=s.group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    isolation_level="read_committed",
                    max_poll_records=self.config.max_batch,
                    max_poll_interval_ms=300_000,
                    session_timeout_ms=10_000,
                    heartbeat_interval_ms=1_000,
                    fetch_max_wait_ms=50,
                    max_partition_fetch_bytes=4 * 1024 * 1024,
                )
            )
            from streams.topics import partitions_for

            partitions_for(self._consumer, self._events_topic)
            self._consumer.subscribe([self._events_topic], listener=_Rebalance(self))
        except KafkaError as exc:
            self.close()
            raise StreamsError(f"cannot start the worker: {exc}", exc) from exc
        self._freeze_heap("start-up")
        m.WORKER_INFO.info(
            {
                "version": _version(),
                "model": self.model.name,
                "guarantee": self.config.processing_guarantee,
                "k": str(self.config.k),
            }
        )
        log.info(
            "worker %s joined group %s (%s, k=%d, model=%s)",
            instance,
            s.group,
            self.config.processing_guarantee,
            self.config.k,
            self.model.name,
        )

    def run(self) -> None:
        """Process until :meth:`request_stop`; always leaves cleanly."""
        self.open()
        try:
            while not self._stop.is_set():
                self.step()
        finally:
            self.close()

    def close(self) -> None:
        """Flush the last item snapshot and checkpoint, leave the group, close all clients
        (idempotent)."""
        if not self._broken and self._consumer is not None and (
            self._commit_pending or self._in_flight or self._to_commit
        ):
            try:
                self._settle_all()
            except Exception:  # noqa: BLE001 - closing must not mask the real error
                log.exception("final acknowledgements or offset commit failed")
        if self._producer is not None and self._consumer is not None and self._assigned:
            try:
                self._maybe_checkpoint(force=True)
            except Exception:  # noqa: BLE001 - closing must not mask the real error
                log.exception("final checkpoint failed")
        if self._producer is not None and (self._dirty_items or self._pending_dead):
            try:
                if self._transactional:
                    self._producer.begin_transaction()
                futures = self._snapshot_items(force=True)
                futures += [
                    self._producer.send(self._dlq_topic, key=k, value=v, headers=h)
                    for k, v, h in self._pending_dead
                ]
                self._complete(futures, 10.0)
            except KafkaError:
                log.exception("final item-state snapshot failed (snapshots are best effort)")
        if self._ckpt_writer is not None and self._ckpt_writer.busy:
            self._ckpt_writer.wait()  # a half-written checkpoint is of no use to anyone
        for name in ("_consumer", "_producer", "_ckpt_producer"):
            client = getattr(self, name)
            if client is None:
                continue
            try:
                if name == "_consumer":
                    client.close(autocommit=False)
                else:
                    client.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing must not mask the real error
                log.exception("closing %s", name)
            setattr(self, name, None)
        if self._catalog_feed is not None:
            try:
                self._catalog_feed.stop()
            except StreamsError:
                log.exception("stopping the catalog reader")
            self._catalog_feed = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        m.CONSUMER_ASSIGNED.set(0)

    # -- the loop --------------------------------------------------------------
    def step(self) -> int:
        """One poll-process-publish-commit cycle; returns the number of records consumed."""
        if self.health is not None:
            self.health.beat()
        self._read_catalog(block=False)
        records = self._consumer.poll(
            timeout_ms=self.config.poll_timeout_ms, max_records=self.config.max_batch
        )
        n = sum(len(v) for v in records.values())
        try:
            waiting = self._in_flight or self._commit_pending or self._to_commit
            if self._pending_restore or (not n and waiting):
                # a restore reads the committed offsets: the last batch must be committed;
                # when idle, nothing is left waiting
                self._settle_all()
            if self._pending_restore:
                pending = sorted(self._pending_restore, key=lambda tp: tp.partition)
                self._pending_restore.clear()
                self._restore(pending)
            if n:
                started = time.perf_counter()
                self._process(records)
                m.BATCH_DURATION.observe(time.perf_counter() - started)
                m.BATCH_SIZE.observe(n)
        except DeliveryFailed as exc:
            if isinstance(exc.cause, _FATAL):
                self._broken = True
                raise
            log.warning("batch not durable (%s): rolling back to the changelog", exc)
            self._rebuild()
            return n
        except BaseException:
            # the batch stopped half-way: nothing more of it may be committed or checkpointed
            self._broken = True
            raise
        self._update_lag()
        m.CHECKPOINT_AGE.set(time.monotonic() - self._last_commit)
        self._maybe_log()
        return n

    def _process(self, records: Mapping[TopicPartition, list[Any]]) -> None:
        batch = self._decode(records)
        feedback = self.config.feedback
        for event in batch.events:
            if feedback.is_positive(event):
                hit = self._quality.observe(event.user, event.item)
                if hit is not None:
                    m.QUALITY_CASES.inc()
                    if hit:
                        m.QUALITY_HITS.inc()
        m.QUALITY_HIT_RATE.set(self._quality.hit_rate)
        self._uncommitted = True  # the model is now ahead of what is committed
        self._last_learned = batch
        self.model.learn_many(batch.events)
        if self._supports_item_state:
            self._dirty_items.update(e.item for e in batch.events)
        users = list(batch.source)
        lists = self.model.recommend_many(users, self.config.k) if users else []
        if self._transactional:
            self._producer.begin_transaction()
        futures: list[Any] = []
        now = _now_ms()
        pages: list[Homepage] = []
        for user, ranked in zip(users, lists, strict=True):
            event_ts = batch.newest_ts.get(user) or self._newest_ts.get(user, 0)
            self._newest_ts[user] = event_ts
            page = Homepage(user, tuple(ranked), now, event_ts, self.model.n_events(user))
            pages.append(page)
            key, value = encode_homepage(page)
            # recommendations are co-partitioned with the events: same partition as the
            # user's events, without hashing the key again (murmur2 is pure Python)
            futures.append(
                self._producer.send(
                    self._recs_topic, key=key, value=value, partition=batch.source[user][0]
                )
            )
            if self._supports_user_state:
                partition, offset = batch.source[user]
                state = {"o": offset, "t": event_ts, "s": self.model.user_state(user)}  # type: ignore[attr-defined]
                futures.append(
                    self._producer.send(
                        self._changelog_topic, key=key, value=packb(state), partition=partition
                    )
                )
        batch.dead.extend(self._pending_dead)
        self._pending_dead.clear()
        for key_, value_, headers in batch.dead:
            futures.append(
                self._producer.send(self._dlq_topic, key=key_, value=value_, headers=headers)
            )
        futures.extend(self._snapshot_items(force=False))
        sent = _Sent(futures, batch, pages)
        if futures:
            futures[-1].add_both(sent.on_acked)
        if self._overlap:
            # this batch's acknowledgements arrive while the next one is processed
            previous, self._in_flight = self._in_flight, sent
            if previous is not None:
                self._settle(previous, flush=False)
        else:
            self._settle(sent, flush=True)
        self._maybe_checkpoint(force=False)

    def _settle(self, sent: _Sent, *, flush: bool) -> None:
        """Wait for ``sent``'s acknowledgements, commit its offsets, then its bookkeeping."""
        batch, pages = sent.batch, sent.pages
        # the next offset to consume, per partition
        offsets = {tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in batch.offsets.items()}
        self._deliver(sent.futures, offsets, flush=flush)
        for id_key in batch.ids:
            self._ids.seen(id_key)
        acked = sent.acked_ms or _now_ms()
        for page in pages:
            self._quality.published(page.user, [item for item, _ in page.items])
            if page.event_ts:
                m.FRESHNESS.observe(max(0.0, (acked - page.event_ts) / 1000.0))
        m.RECS_PUBLISHED.inc(len(pages))
        m.STATE_USERS.set(_count(self.model, "n_users"))
        m.STATE_ITEMS.set(_count(self.model, "n_items"))
        self._stats["published"] += len(pages)
        self._stats["batches"] += 1
        self._last_commit = time.monotonic()
        for tp, off in batch.offsets.items():
            if tp.partition not in self._uncovered:
                self._covered[tp.partition] = off + 1
        # committed once the batch learned last is settled and nothing else is in flight
        self._uncommitted = self._in_flight is not None or batch is not self._last_learned
        if self._restored:
            # users restored ahead of the committed offset: once processing has passed
            # their offset, their state is simply "covered" like every other user's
            self._restored = {
                u: r for u, r in self._restored.items() if r[1] >= self._covered.get(r[0], 0)
            }

    def _settle_all(self) -> None:
        """Settle the batch in flight and wait for the last offset commit's answer."""
        sent, self._in_flight = self._in_flight, None
        if sent is not None:
            self._settle(sent, flush=True)
        self._confirm_commits()

    def _decode(self, records: Mapping[TopicPartition, list[Any]]) -> _Batch:
        batch = _Batch()
        limits = self.config.limits
        counts: Counter[tuple[str, str]] = Counter()
        for tp, msgs in records.items():
            for msg in msgs:
                batch.offsets[tp] = msg.offset
                try:
                    event = _decode_event(msg.key, msg.value, limits)
                except InvalidEvent as exc:
                    batch.dead.append(_dead_letter(exc, tp.topic, msg))
                    counts["invalid", "invalid"] += 1
                    self._stats["dlq"] += 1
                    continue
                restored = self._restored.get(event.user)
                if restored is not None:
                    if msg.offset <= restored[1]:
                        # already applied to the state restored from the changelog
                        counts[event.type, "duplicate"] += 1
                        batch.source.setdefault(event.user, (tp.partition, restored[1]))
                        batch.newest_ts.setdefault(event.user, restored[2])
                        continue
                    # past the restored state: this user's later events are new (a user's
                    # events are in one partition, in offset order)
                    del self._restored[event.user]
                if event.id is not None:
                    # ids enter the window only once their batch is durable (see _process):
                    # a batch that is rolled back must not leave its ids behind
                    key = _id_key(event.user, event.id)
                    if key in self._ids or key in batch.ids or self._in_flight_has(key):
                        counts[event.type, "duplicate"] += 1
                        continue
                    batch.ids[key] = None
                batch.events.append(event)
                batch.source[event.user] = (tp.partition, msg.offset)
                if event.ts > batch.newest_ts.get(event.user, 0):
                    batch.newest_ts[event.user] = event.ts
                counts[event.type, "applied"] += 1
                self._stats["events"] += 1
        for (etype, outcome), n in counts.items():  # one metric update per label set and batch
            m.EVENTS_CONSUMED.labels(type=etype, outcome=outcome).inc(n)
        return batch

    def _in_flight_has(self, id_key: str) -> bool:
        return self._in_flight is not None and id_key in self._in_flight.batch.ids

    def _deliver(
        self, futures: list[Any], offsets: dict[TopicPartition, Any], *, flush: bool = True
    ) -> None:
        """Wait for every send, then commit offsets: nothing is committed that was not acked.

        ``flush=False``: the sends are not pushed out at once (another batch may have been
        sent since, whose acknowledgements are not waited for here).
        """
        try:
            if self._transactional:
                self._producer.send_offsets_to_transaction(offsets, self._consumer.group_metadata())
            self._complete(futures, 30.0, flush=flush)
        except KafkaError as exc:
            if self._transactional:
                self._abort()
            raise DeliveryFailed(f"broker did not acknowledge the batch: {exc}", exc) from exc
        if not self._transactional and offsets:
            if self.config.async_commit:
                self._commit_async(offsets)
            else:
                self._commit(offsets)

    def _complete(self, futures: list[Any], timeout_s: float, *, flush: bool = True) -> None:
        """Commit the open transaction (exactly-once) or flush, then wait for every ack."""
        if self._transactional:
            self._producer.commit_transaction()
        elif flush:
            self._producer.flush(timeout=timeout_s)
        for fut in futures:
            fut.get(timeout=timeout_s)

    def _commit(self, offsets: dict[TopicPartition, Any]) -> None:
        """Commit, retrying retriable errors (e.g. a coordinator moving during a broker restart)."""
        deadline = time.monotonic() + self.config.commit_retry_s
        delay = 0.1
        while True:
            try:
                self._consumer.commit(offsets)
                return
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or time.monotonic() + delay > deadline:
                    # the batch's output is durable; its events will be seen again and skipped
                    # by the changelog offsets of their users (so no double application)
                    raise DeliveryFailed(f"offset commit failed: {exc}", exc) from exc
                log.warning("offset commit failed (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 2.0)

    def _commit_async(self, offsets: dict[TopicPartition, Any]) -> None:
        """Send ``offsets`` (with those held back and those of an unconfirmed earlier commit)
        to the coordinator without waiting for its answer, at most every
        ``commit_interval_s``; until then they are held back."""
        self._to_commit.update(offsets)
        now = time.monotonic()
        if now - self._commit_sent_at < self.config.commit_interval_s:
            return
        self._commit_sent_at = now
        offsets = self._outstanding_offsets()
        if not offsets:
            return
        try:
            future = self._consumer.commit_async(offsets)
        except KafkaError as exc:
            self._commit_failed(exc)  # e.g. no coordinator known: sent again with the next one
            future = None
        self._commit_pending = (future, offsets)

    def _outstanding_offsets(self) -> dict[TopicPartition, Any]:
        """Offsets of acknowledged batches not known to be committed, of the partitions still
        assigned: the last asynchronous commit's unless it is known to have landed, then those
        held back by ``commit_interval_s``; raises :class:`DeliveryFailed` if that commit
        failed for good."""
        offsets: dict[TopicPartition, Any] = {}
        if self._commit_pending is not None:
            future, unconfirmed = self._commit_pending
            self._commit_pending = None
            if future is not None and future.failed():
                self._commit_failed(future.exception)
            if future is None or not future.succeeded():
                offsets.update(unconfirmed)
        offsets.update(self._to_commit)
        self._to_commit = {}
        return {tp: off for tp, off in offsets.items() if tp in self._assigned}

    def _commit_failed(self, exc: BaseException) -> None:
        """An asynchronous commit failed: retriable errors are retried with the next commit,
        others roll back like a failed synchronous commit."""
        if not getattr(exc, "retriable", False):
            raise DeliveryFailed(f"offset commit failed: {exc}", exc)
        log.warning("offset commit failed (%s); sending it again with the next one", exc)

    def _confirm_commits(self) -> None:
        """Wait until the offsets of every acknowledged batch are committed."""
        offsets = self._outstanding_offsets()
        if offsets:
            self._commit(offsets)  # ordered after the pending one: both have landed on return

    def _abort(self) -> None:
        """Abort the open transaction (the caller then rebuilds the state)."""
        try:
            self._producer.abort_transaction()
        except KafkaError:
            log.exception("abort_transaction failed")

    def _rebuild(self) -> None:
        """Roll the in-memory state back to what is durable, and the consumer to its offsets.

        A fresh model (same hyperparameters) is loaded from the newest checkpoint and the
        catalog, then each assigned partition replays its events up to the committed offset
        (or, without a usable checkpoint, its users come from the changelog and items from
        their snapshots); every assigned partition is rewound to its committed offset. Events
        of the failed batch are then processed again, exactly once.
        """
        started = time.perf_counter()
        self.rebuilds += 1
        self.model = self.model.clone()
        self._restored.clear()
        self._newest_ts.clear()
        self._dirty_items.clear()
        self._covered.clear()
        self._uncovered.clear()
        self._seen_partitions.clear()
        self._uncommitted = False
        self._last_learned = None
        self._commit_pending = None  # its fate does not matter: the offsets are read below
        self._to_commit.clear()
        if self._in_flight is not None:
            # let the sends of the batch in flight land (or fail) before the changelog is read
            self._in_flight = None
            try:
                self._producer.flush(timeout=30)
            except KafkaError:
                log.warning("flushing the batch in flight before the rollback failed")
        self._ids = IdWindow(self.config.dedup_window)
        self._restore_shared_state()
        assigned = sorted(self._assigned, key=lambda tp: tp.partition)
        self._pending_restore.clear()
        for tp in assigned:
            committed = self._consumer.committed(tp)
            if committed is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)
        if assigned:
            self._restore(assigned)
        log.warning("state rebuilt in %.2fs", time.perf_counter() - started)

    # -- item state ----------------------------------------------------------------
    def _snapshot_items(self, *, force: bool) -> list[Any]:
        """Send the state of items changed since the last snapshot (every few seconds)."""
        if not self._supports_item_state or not self._dirty_items:
            return []
        now = time.monotonic()
        if not force and now - self._last_item_snapshot < self.config.item_state_every_s:
            return []
        items = sorted(self._dirty_items)
        self._dirty_items.clear()
        self._last_item_snapshot = now
        states = self.model.item_state_many(items)  # type: ignore[attr-defined]
        return [
            self._producer.send(self._item_state_topic, key=item.encode("utf-8"), value=packb(st))
            for item, st in zip(items, states, strict=True)
            if st is not None
        ]

    def _restore_shared_state(self) -> None:
        """Start from the newest checkpoint, then the catalog; per-item snapshots otherwise.

        Reads the item-state topic once. A checkpoint replaces the whole model, so it is
        loaded before the catalog (newer catalog records win over the checkpoint's copy).
        Per-item snapshots are only used without a checkpoint: a checkpoint is a consistent
        state that replay brings up to date, and newer per-item records would break that.
        """
        assert self._catalog is not None
        if self._catalog_feed is not None:
            self._catalog_feed.stop()  # the catalog is read from the start below
            self._catalog_feed.take()  # superseded by that read
        if self._ckpt_writer is not None:
            # a rollback while a checkpoint is on its way: let it land first, so that the
            # slots read below are the ones in use (the next write must not reuse them)
            self._ckpt_writer.wait()
        started = time.perf_counter()
        items: dict[bytes, bytes] = {}
        shelf = ckpt.Shelf()
        if self._supports_item_state or self._checkpoints:
            reader = PartitionReader(
                self.settings, self._item_state_topic, client_id="homerec-items"
            )
            try:
                for rec in reader.read_to_end(reader.partitions()):
                    if rec.key is None:
                        continue
                    if ckpt.is_checkpoint_key(rec.key):
                        shelf.add(rec.key, rec.value)
                    elif rec.value is not None and self._supports_item_state:
                        items[rec.key] = rec.value
            finally:
                reader.close()
        self._ckpt_slots = {n: slot for n in shelf.names() if (slot := shelf.slot(n)) is not None}
        cp = shelf.pick(self.config.instance_id or None) if self._checkpoints else None
        if cp is not None:
            try:
                self.model.load_state_dict(unpackb(cp.data)["state"])
            except (StateError, KeyError, TypeError, ValueError) as exc:
                # e.g. another model or other hyperparameters than the checkpoint's writer
                log.warning("checkpoint %r not usable (%s); starting without it", cp.name, exc)
                self.model = self.model.clone()
                cp = None
        if cp is not None:
            self._covered = dict(cp.offsets)
            self._seen_partitions = set(cp.offsets)
            self._ids.extend(cp.ids)
            log.info(
                "loaded checkpoint %r (%.1f MB, %d users, partitions %s, %.0fs old)",
                cp.name,
                len(cp.data) / 1e6,
                _count(self.model, "n_users"),
                sorted(cp.offsets),
                max(0.0, (_now_ms() - cp.ts) / 1000),
            )
        self._catalog.assign(self._catalog.partitions())
        n_items = self._read_catalog(block=True)
        log.info("catalog: %d records read from %s", n_items, self._items_topic)
        if self._catalog_feed is None:
            self._catalog_feed = CatalogFeed(self._catalog)
        self._catalog_feed.start()
        if cp is None and self._supports_item_state:
            for key, value in items.items():
                self.model.load_item_state(key.decode("utf-8"), unpackb(value))  # type: ignore[attr-defined]
            log.info("restored %d item states", len(items))
        log.info("shared state restored in %.2fs", time.perf_counter() - started)

    def _maybe_checkpoint(self, *, force: bool) -> None:
        """Write the whole model with the offsets it covers, every ``checkpoint_every_s``.

        Taken between batches right after a commit, so the state is exactly "every event
        before the covered offsets". Skipped after a batch that failed (its events are in
        the model but not committed) and while users restored from the changelog are
        ahead of those offsets. Best effort: a failed checkpoint is logged, the previous
        one still holds (replay is just longer).
        """
        if not self._checkpoints or self._broken or self._restored or self._pending_restore:
            return
        now = time.monotonic()
        # a big model takes long to write: space checkpoints so that writing them costs
        # at most 1/20 of the loop's time (replays grow instead; --max-replay bounds them)
        every = max(self.config.checkpoint_every_s, 20.0 * self._checkpoint_cost_s)
        if not force and now - self._last_checkpoint < every:
            return
        self._last_checkpoint = now
        # the checkpoint covers what is committed: the batch in flight is settled first, and
        # a restore replays from its offsets up to the committed ones, which must not lag
        self._settle_all()
        if self._uncommitted:
            return  # a batch failed: its events are in the model but not committed
        offsets = {
            tp.partition: self._covered[tp.partition]
            for tp in self._assigned
            if tp.partition in self._covered
        }
        if not offsets:
            return
        writer = self._ckpt_writer
        if writer is None:
            return
        if writer.busy:
            if not force:
                return  # the previous one is still on its way; the next one comes later
            writer.wait()
        started = time.perf_counter()
        # the snapshot is a copy of the model's tables (Recommender.state_dict); encoding
        # and sending it happen on the writer thread while the loop goes on
        state = self.model.state_dict()
        # named by the stable --instance-id, else by the partitions it covers: a name per
        # process would leave a whole model behind in the compacted topic at every restart
        name = self.config.instance_id or "p" + "-".join(str(p) for p in sorted(offsets))
        slot = ckpt.next_slot(self._ckpt_slots.get(name))
        ids, ts = self._ids.to_list(), _now_ms()

        def encode() -> tuple[list[tuple[bytes, bytes]], int]:
            # packb({"state": state}), value by value, handing the GIL back in between
            parts = []
            for part in iter_packb_map({"state": state}, depth=2):
                parts.append(part)
                time.sleep(0)
            data = b"".join(parts)
            records = ckpt.encode(name, data, offsets=offsets, ids=ids, ts=ts, slot=slot)
            return records, len(data)

        writer.start(name, slot, encode)
        # only the snapshot stalls the loop
        self._checkpoint_cost_s = time.perf_counter() - started
        m.MODEL_CHECKPOINT_SNAPSHOT_SECONDS.observe(self._checkpoint_cost_s)
        log.info(
            "checkpoint %r: snapshot of partitions %s in %.2fs, writing to slot %s",
            name,
            sorted(offsets),
            self._checkpoint_cost_s,
            slot,
        )
        if force:
            writer.wait()

    def _checkpoint_done(self, result: WriteResult) -> None:
        """The writer thread's report (runs on that thread: bookkeeping only)."""
        if result.ok:
            self._ckpt_slots[result.name] = result.slot
            m.MODEL_CHECKPOINT_SECONDS.observe(result.seconds)
            m.MODEL_CHECKPOINT_BYTES.set(result.nbytes)
            log.info(
                "checkpoint %r written: %.1f MB in %.2fs",
                result.name,
                result.nbytes / 1e6,
                result.seconds,
            )
        else:
            log.warning(
                "checkpoint %r not written (%s); the previous one still holds",
                result.name,
                result.error,
            )

    # -- catalog -----------------------------------------------------------------
    def _read_catalog(self, *, block: bool) -> int:
        assert self._catalog is not None
        n = 0
        if block:
            records: Any = self._catalog.read_to_end(self._catalog.partitions())
        else:
            assert self._catalog_feed is not None  # started once the catalog was read
            records = self._catalog_feed.take()
        for rec in records:
            try:
                item = decode_item(rec.key, rec.value, self.config.limits)
            except InvalidEvent as exc:
                # sent with the next batch (inside its transaction with exactly-once)
                self._pending_dead.append(_dead_letter(exc, self._items_topic, rec))
                m.ITEMS_CONSUMED.labels(outcome="invalid").inc()
                continue
            self.model.update_item(item)
            m.ITEMS_CONSUMED.labels(outcome="applied").inc()
            n += 1
        return n

    # -- rebalancing and restore -------------------------------------------------
    def _on_revoked(self, revoked: list[TopicPartition]) -> None:
        # runs on kafka-python's IO thread: no blocking calls here; bookkeeping only
        self._assigned.difference_update(revoked)
        self._pending_restore.difference_update(revoked)
        gone = {tp.partition for tp in revoked}
        for user in [u for u, r in self._restored.items() if r[0] in gone]:
            # the skip list goes; should the partition come back, the changelog restore
            # (not replay) rebuilds it, so "covered" must not claim the partition
            partition = self._restored.pop(user)[0]
            self._covered.pop(partition, None)
            # the batch in flight may be settled after this (overlap_acks): it must not
            # put the partition back
            self._uncovered.add(partition)
        for tp in revoked:
            try:
                m.CONSUMER_LAG.remove(str(tp.partition))
            except KeyError:
                pass
        m.CONSUMER_ASSIGNED.set(len(self._assigned))
        if self.health is not None:
            self.health.set_assigned(len(self._assigned))
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        # IO thread: remember the partitions; the loop restores them before their first batch
        self._assigned.update(assigned)
        self._pending_restore.update(assigned)
        m.CONSUMER_ASSIGNED.set(len(self._assigned))
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))
        if self.health is not None:
            self.health.set_assigned(len(self._assigned))

    def _restore(self, partitions: list[TopicPartition]) -> None:
        """Bring the state of newly assigned ``partitions`` up to their committed offsets.

        A partition the model covers (from a checkpoint, because this worker processed it,
        or from offset 0 when the model has never seen it) replays its events from there,
        if the log still starts at or before that offset (retention) and within
        ``max_replay`` events in all: exact. Any other partition loads its users' latest
        changelog records.
        """
        started = time.perf_counter()
        committed = {tp.partition: (self._consumer.committed(tp) or 0) for tp in partitions}
        if self._checkpoints:
            # partitions the model knows nothing of are "covered" at offset 0
            for tp in partitions:
                if tp.partition not in self._seen_partitions:
                    self._covered.setdefault(tp.partition, 0)
        # a replay can only start where the log still has the events (retention deletes)
        first = self._consumer.beginning_offsets(partitions) if self._covered else {}
        replay: dict[int, tuple[int, int]] = {}
        from_changelog: list[TopicPartition] = []
        budget = self.config.max_replay
        for tp in partitions:
            self._seen_partitions.add(tp.partition)
            start, stop = self._covered.get(tp.partition), committed[tp.partition]
            if start is not None and first.get(tp, 0) <= start <= stop and stop - start <= budget:
                replay[tp.partition] = (start, stop)
                budget -= stop - start
            else:
                from_changelog.append(tp)
        self._restore_users(from_changelog, committed)
        replayed = self._replay(replay)
        for tp in partitions:
            self._covered[tp.partition] = committed[tp.partition]
            self._uncovered.discard(tp.partition)
        self._freeze_heap("restore")
        elapsed = time.perf_counter() - started
        m.STATE_RESTORE.observe(elapsed)
        log.info(
            "restored partitions %s in %.2fs: %s replayed (%d events), %s from the changelog",
            sorted(committed),
            elapsed,
            sorted(replay),
            replayed,
            sorted(tp.partition for tp in from_changelog),
        )

    def _freeze_heap(self, after: str) -> None:
        """``gc.collect()`` then ``gc.freeze()`` (see :attr:`WorkerConfig.freeze_heap`).

        Frozen objects are still freed when no longer referenced; only cyclic garbage
        among them would stay (a start-up or a restore leaves none: collected first)."""
        if not self.config.freeze_heap:
            return
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        log.debug(
            "heap frozen after %s: %d objects in %.0f ms",
            after,
            gc.get_freeze_count(),
            1000 * (time.perf_counter() - started),
        )

    def _replay(self, ranges: dict[int, tuple[int, int]]) -> int:
        """Learn the events of ``ranges`` again (no lists are published): they were
        processed before, by this worker's predecessor or another worker."""
        if not any(stop > start for start, stop in ranges.values()):
            return 0
        reader = PartitionReader(self.settings, self._events_topic, client_id="homerec-replay")
        events: list[Event] = []
        n = 0
        try:
            for rec in reader.read_range(ranges, timeout_s=300.0):
                try:
                    event = _decode_event(rec.key, rec.value, self.config.limits)
                except InvalidEvent:
                    continue  # dead-lettered when it was first consumed
                if event.id is not None and self._ids.seen(_id_key(event.user, event.id)):
                    continue
                events.append(event)
                if len(events) >= self.config.max_batch:
                    self.model.learn_many(events)
                    n += len(events)
                    events.clear()
                    if self.health is not None:
                        self.health.beat()  # a long replay is progress, not a wedged loop
            self.model.learn_many(events)
            n += len(events)
        finally:
            reader.close()
        m.STATE_REPLAYED.inc(n)
        return n

    def _restore_users(
        self, partitions: list[TopicPartition], committed: Mapping[int, int]
    ) -> None:
        """Load the users of ``partitions`` from the changelog (their latest state)."""
        if not self._supports_user_state or not partitions:
            return
        started = time.perf_counter()
        reader = PartitionReader(self.settings, self._changelog_topic, client_id="homerec-restore")
        users = 0
        try:
            for rec in reader.read_to_end([tp.partition for tp in partitions]):
                if rec.value is None:
                    continue
                record = unpackb(rec.value)
                user = rec.key.decode("utf-8")
                self.model.load_user_state(user, record["s"])  # type: ignore[attr-defined]
                self._newest_ts[user] = int(record.get("t", 0))
                offset = int(record["o"])
                if offset >= committed.get(rec.partition, 0):
                    self._restored[user] = (rec.partition, offset, int(record.get("t", 0)))
                else:
                    self._restored.pop(user, None)
                users += 1
                if self.health is not None and users % 10_000 == 0:
                    self.health.beat()  # a long restore is progress, not a wedged loop
        finally:
            reader.close()
        log.info(
            "restored %d user states from %s partitions %s in %.2fs",
            users,
            self._changelog_topic,
            sorted(tp.partition for tp in partitions),
            time.perf_counter() - started,
        )

    # -- observability -------------------------------------------------------------
    def _update_lag(self) -> None:
        total = 0
        for tp in list(self._assigned):
            high = self._consumer.highwater(tp)
            if high is None:
                continue
            try:
                pos = self._consumer.position(tp, timeout_ms=0)
            except KafkaError:
                continue
            if pos is None:
                continue
            lag = max(0, high - pos)
            total += lag
            m.CONSUMER_LAG.labels(partition=str(tp.partition)).set(lag)
        self._lag = total
        if self.health is not None:
            self.health.set_lag(total)

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last_log < self.config.log_every_s:
            return
        elapsed = now - self._last_log
        s = self._stats
        log.info(
            "processed %d events (%.0f/s), %d lists published, %d to DLQ, lag %d, live HR@%d %.3f",
            s["events"],
            s["events"] / elapsed,
            s["published"],
            s["dlq"],
            self._lag,
            self.config.k,
            self._quality.hit_rate,
            extra={
                "events": s["events"],
                "dlq": s["dlq"],
                "published": s["published"],
                "lag": self._lag,
            },
        )
        self._stats = dict.fromkeys(s, 0)
        self._last_log = now


def _dead_letter(
    exc: InvalidEvent, topic: str, rec: Any
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """The DLQ record for consumer record ``rec`` of ``topic``, counted by reason."""
    m.DLQ_MESSAGES.labels(reason=exc.reason).inc()
    return encode_dead_letter(
        exc, topic=topic, partition=rec.partition, offset=rec.offset, key=rec.key, value=rec.value
    )


def _id_key(user: UserId, event_id: str) -> str:
    """The idempotence window's key of an event: ids are unique per user."""
    return f"{user}\x00{event_id}"


def _has_item_state(model: Recommender) -> bool:
    return callable(getattr(model, "item_state_many", None)) and callable(
        getattr(model, "load_item_state", None)
    )


def _has_user_state(model: Recommender) -> bool:
    return callable(getattr(model, "user_state", None)) and callable(
        getattr(model, "load_user_state", None)
    )


def _count(model: Recommender, name: str) -> int:
    value = getattr(model, name, 0)
    return int(value() if callable(value) else value)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _version() -> str:
    from homerec import __version__

    return __version__
