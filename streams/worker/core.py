"""The consumer-group worker: a short loop over parts that own their state.

One direction, no back and forth. Each :meth:`Worker.step`:

1. takes the catalog records that arrived (:mod:`~streams.worker.catalog`), and the
   profiles and deletion requests of its users (:mod:`~streams.worker.users`): a
   deletion request erases the user at once (model, dedup ids, live quality,
   bookkeeping), publishes tombstones for it on recommendations and changelog, and
   asks for a checkpoint;
2. polls up to ``max_batch`` events from the assigned partitions;
3. decodes, validates and drops repeats (:mod:`~streams.worker.intake`);
4. scores the live quality of the lists users were shown, then learns the batch;
5. with a shared item side (:mod:`~streams.worker.sharing`), takes the delta of its
   own learning and applies the other members' deltas that arrived;
6. re-ranks every user the batch touched, in one vectorised call;
7. publishes one list per touched user and their state to the changelog, and the
   item delta;
8. has the broker acknowledge it and commits the offsets, or commits all of it in
   one transaction (:mod:`~streams.worker.delivery`).

Restores on assignment and rollbacks are :mod:`~streams.worker.recovery`'s,
checkpoints :mod:`~streams.worker.checkpointing`'s. State is partitioned like the
events: the changelog record of a user carries the offset of the last event
applied to it, so a batch replayed after a crash is never applied twice to a
restored user, whatever the guarantee.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, ProducerFencedError

from homerec.homepage import Homepage
from homerec.live_quality import LiveHitRate
from homerec.models.base import Recommender
from homerec.models.stateful import Forgetful, ItemStateful, Sized, UserStateful
from homerec.sharing import ItemShared
from homerec.state_io import packb
from homerec.typing import Shown, UserId
from streams import kafka_compat
from streams import metrics as m
from streams.codec import encode_homepage
from streams.config import Settings
from streams.errors import DeliveryFailed, StreamsError
from streams.topics import (
    CHANGELOG,
    DLQ,
    EVENTS,
    ITEM_STATE,
    ITEM_UPDATES,
    ITEMS,
    RECOMMENDATIONS,
    USERS,
)
from streams.worker.catalog import Catalog
from streams.worker.checkpointing import CheckpointSchedule, ItemSnapshots
from streams.worker.clients import Clients
from streams.worker.config import WorkerConfig
from streams.worker.delivery import Delivery, Sent, now_ms
from streams.worker.intake import Batch, DeadLetterRecord, Intake, Record
from streams.worker.progress import Progress, consumer_lag
from streams.worker.recovery import Assignment, Coverage, Recovery, freeze_heap
from streams.worker.sharing import ItemSharing, event_ranges
from streams.worker.users import Forget, Users

__all__ = ["Worker"]

log = logging.getLogger(__name__)
kafka_compat.apply()

#: Errors after which this process must not go on (another instance owns its work now).
_FATAL: tuple[type[BaseException], ...] = (ProducerFencedError,)


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
        self.config = cfg = config or WorkerConfig()
        self.health = health
        self.rebuilds = 0
        self._stop = threading.Event()
        #: an error escaped a step: close() commits and checkpoints nothing more
        self._broken = False
        self._lag = 0
        self._topic = {
            t.name: settings.topic(t.name)
            for t in (
                EVENTS,
                RECOMMENDATIONS,
                DLQ,
                CHANGELOG,
                ITEMS,
                ITEM_STATE,
                ITEM_UPDATES,
                USERS,
            )
        }
        self._user_state = cfg.changelog and isinstance(model, UserStateful)
        self._clients = Clients(settings, cfg.instance_id or uuid.uuid4().hex[:12])
        self._sharing = ItemSharing(
            settings,
            self._topic[ITEM_UPDATES.name],
            instance=self._clients.instance,
            enabled=cfg.share_items and isinstance(model, ItemShared),
        )
        self._quality = LiveHitRate(cfg.quality_window)
        self._progress = Progress(cfg.log_every_s)
        #: user -> ``ts`` of its deletion request (the users table's tombstones): shared by
        #: the users table, intake and recovery
        self._forgotten: dict[UserId, int] = {}
        self._intake = Intake(
            limits=cfg.limits, dedup_window=cfg.dedup_window, forgotten=self._forgotten
        )
        self._assignment = Assignment()
        self._coverage = Coverage()
        self._delivery = Delivery(
            self._clients,
            transactional=cfg.processing_guarantee == "exactly-once",
            overlap_acks=cfg.overlap_acks,
            async_commit=cfg.async_commit,
            commit_interval_s=cfg.commit_interval_s,
            commit_retry_s=cfg.commit_retry_s,
            assigned=self._assignment,
            stop=self._stop,
            on_settled=self._settled,
        )
        self._checkpoints = CheckpointSchedule(
            self._topic[ITEM_STATE.name],
            every_s=cfg.checkpoint_every_s if cfg.changelog else 0.0,
            instance_id=cfg.instance_id,
        )
        # per-item snapshots: the approximate item-side restore when checkpoints are off
        # (a shared item side restores from the item updates instead)
        self._items = ItemSnapshots(
            self._topic[ITEM_STATE.name],
            enabled=cfg.changelog
            and isinstance(model, ItemStateful)
            and not self._checkpoints.enabled
            and not self._sharing.enabled,
            every_s=cfg.item_state_every_s,
        )
        self._catalog = Catalog(settings, self._topic[ITEMS.name], limits=cfg.limits)
        self._users = Users(
            settings,
            self._topic[USERS.name],
            limits=cfg.limits,
            schema=cfg.profile_schema,
            forgotten=self._forgotten,
        )
        self._recovery = Recovery(
            settings,
            intake=self._intake,
            coverage=self._coverage,
            user_state=self._user_state,
            item_state=self._items.enabled,
            checkpoints=self._checkpoints.enabled,
            instance_id=cfg.instance_id,
            max_replay=cfg.max_replay,
            max_batch=cfg.max_batch,
            freeze=cfg.freeze_heap,
            health=health,
            forgotten=self._forgotten,
        )

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
        c = self._clients
        try:
            c.open_producers(
                transactional=self._delivery.transactional, checkpoints=self._checkpoints.enabled
            )
            if self._checkpoints.enabled:
                self._checkpoints.open(c.checkpoint_producer)
            self._catalog.open()
            self._users.open()
            self._sharing.open()
            self._restore_shared_state()
            c.join(
                self._topic[EVENTS.name],
                _Rebalance(self),
                max_batch=self.config.max_batch,
                static=bool(self.config.instance_id),
            )
        except KafkaError as exc:
            self.close()
            raise StreamsError(f"cannot start the worker: {exc}", exc) from exc
        freeze_heap("start-up", enabled=self.config.freeze_heap)
        m.WORKER_INFO.info(
            {
                "version": _version(),
                "model": self.model.name,
                "guarantee": self.config.processing_guarantee,
                "k": str(self.config.k),
                "hiding": self.config.hiding.spec(),
            }
        )
        log.info(
            "worker %s joined group %s (%s, k=%d, model=%s)",
            c.instance,
            self.settings.group,
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
        """Settle what is sent, write the last checkpoint and item snapshot, leave the group,
        close all clients (idempotent)."""
        c = self._clients
        if not self._broken and c.consumer is not None and self._delivery.waiting:
            try:
                self._delivery.settle_all()
            except Exception:  # noqa: BLE001 - closing must not mask the real error
                log.exception("final acknowledgements or offset commit failed")
        if c.producer is not None and c.consumer is not None and self._assignment.assigned:
            try:
                if not self._broken:
                    self._share_idle()  # own learning out, then every delta up to the end in
                    self._sharing.drain(self.model)
                self._maybe_checkpoint(force=True)
            except Exception:  # noqa: BLE001 - closing must not mask the real error
                log.exception("final checkpoint failed")
        if c.producer is not None and (
            self._items.pending or self._catalog.dead or self._users.dead
        ):
            try:
                self._delivery.begin()
                self._items.send(self.model, self._send, force=True)
                self._send_dead_letters(self._catalog.take_dead() + self._users.take_dead())
                self._delivery.complete(10.0)
            except KafkaError:
                log.exception("final item-state snapshot failed (snapshots are best effort)")
        self._checkpoints.wait()  # a half-written checkpoint is of no use to anyone
        c.close()
        self._sharing.close()
        self._catalog.close()
        self._users.close()
        m.CONSUMER_ASSIGNED.set(0)

    # -- the loop --------------------------------------------------------------
    def step(self) -> int:
        """One poll-process-publish-commit cycle; returns the number of records consumed."""
        if self.health is not None:
            self.health.beat()
        self._catalog.update(self.model)
        forgets = self._users.update(self.model)
        polled = self._clients.consumer.poll(
            timeout_ms=self.config.poll_timeout_ms, max_records=self.config.max_batch
        )
        records = [rec for recs in polled.values() for rec in recs]
        try:
            if forgets:
                self._forget(forgets)
            if self._assignment.pending or (not records and self._delivery.waiting):
                # a restore reads the committed offsets: the last batch must be committed;
                # when idle, nothing is left waiting
                self._delivery.settle_all()
            if self._assignment.pending:
                self._restore(self._assignment.take_pending())
            if records:
                started = time.perf_counter()
                self._process(records)
                m.BATCH_DURATION.observe(time.perf_counter() - started)
                m.BATCH_SIZE.observe(len(records))
            else:
                self._share_idle()
                if self._checkpoints.urgent:
                    # asked for by a deletion request while a write was on its way: idle,
                    # the loop would not try again
                    self._maybe_checkpoint(force=False)
        except DeliveryFailed as exc:
            if isinstance(exc.cause, _FATAL):
                self._broken = True
                raise
            log.warning("batch not durable (%s): rolling back to the changelog", exc)
            self._rebuild()
            return len(records)
        except BaseException:
            # the batch stopped half-way: nothing more of it may be committed or checkpointed
            self._broken = True
            raise
        self._update_lag()
        m.OFFSET_COMMIT_AGE.set(time.monotonic() - self._delivery.last_commit)
        self._progress.maybe_log(lag=self._lag, k=self.config.k, hit_rate=self._quality.hit_rate)
        return len(records)

    def _process(self, records: list[Record]) -> None:
        """bytes -> events -> learn -> rank -> records -> commit."""
        # bytes -> events (repeats and bad messages out)
        batch = self._intake.take(
            records, restored=self._coverage.restored, in_flight=self._delivery.in_flight_ids
        )
        self._progress.consumed(len(batch.events), batch.n_invalid)
        # learn (scored first: was each item on the list the user saw?)
        self._score(batch)
        self._delivery.learned(batch)  # the model is now ahead of what is committed
        self.model.learn_many(batch.events)
        self._items.touched(e.item for e in batch.events)
        # shared item side: own learning out, the other members' in (take first)
        delta = self._sharing.take(self.model)
        self._sharing.apply_new(self.model)
        # rank every user the batch touched, in one vectorised call
        users = list(batch.source)
        lists = self.model.recommend_logged(users, self.config.k) if users else []
        # records: lists and user states, item delta, dead letters, item snapshots
        self._delivery.begin()
        pages = self._publish(batch, zip(users, lists, strict=True))
        if delta is not None:
            self._sharing.send(delta, event_ranges(records), self._send)
        self._send_dead_letters(
            batch.dead
            + self._catalog.take_dead()
            + self._users.take_dead()
            + self._sharing.take_dead()
        )
        self._items.send(self.model, self._send, force=False)
        # commit (overlapped: the batch before this one)
        self._delivery.end(batch, pages)
        self._maybe_checkpoint(force=False)

    def _share_idle(self) -> None:
        """No events: send what the item side changed anyway, apply the others' deltas."""
        if not self._sharing.live:
            return
        delta = self._sharing.take(self.model)
        dead = self._sharing.take_dead()
        if delta is not None or dead:
            self._delivery.begin()
            if delta is not None:
                self._sharing.send(delta, {}, self._send)
            self._send_dead_letters(dead)
            self._delivery.complete_or_fail(30.0)
        self._sharing.apply_new(self.model)

    def _forget(self, forgets: list[Forget]) -> None:
        """Carry out deletion requests now: erase every trace of the users in this process,
        tombstone their records on recommendations and changelog, and checkpoint soon."""
        # the batch in flight books its ids and lists once durable: before they are erased
        self._delivery.settle_all()
        users = [f.user for f in forgets]
        if isinstance(self.model, Forgetful):
            self.model.forget_users(users)
        self._users.forgotten_done(self.model)
        self._intake.forget(users)
        for user in users:
            self._quality.forget(user)
        self._coverage.forget(users)
        m.USERS_FORGOTTEN.inc(len(forgets))  # erased from this process; now the topics
        self._send_tombstones(forgets)
        log.info("forgot %d users (deletion requests)", len(forgets))  # ids never logged
        self._checkpoints.soon()
        self._maybe_checkpoint(force=False)

    def _send_tombstones(self, forgets: list[Forget]) -> None:
        """Tombstones for ``forgets`` on recommendations and changelog (their partitions are
        the users topic's: co-partitioned), acknowledged (committed) before returning."""
        recs, changelog = self._topic[RECOMMENDATIONS.name], self._topic[CHANGELOG.name]
        self._delivery.begin()
        for f in forgets:
            key = f.user.encode("utf-8")
            self._delivery.send(recs, key, None, partition=f.partition)
            if self._user_state:
                self._delivery.send(changelog, key, None, partition=f.partition)
        self._delivery.complete_or_fail(30.0)

    def _score(self, batch: Batch) -> None:
        """Prequential quality: was each positive event's item on the user's list?"""
        feedback = self.config.feedback
        for event in batch.events:
            if feedback.is_positive(event):
                hit = self._quality.observe(event.user, event.item)
                if hit is not None:
                    m.QUALITY_CASES.inc()
                    if hit:
                        m.QUALITY_HITS.inc()
        m.QUALITY_HIT_RATE.set(self._quality.hit_rate)

    def _publish(
        self, batch: Batch, ranked: Iterable[tuple[UserId, list[Shown]]]
    ) -> list[Homepage]:
        """Send each user's list and, with the changelog, its state."""
        model, newest = self.model, self._coverage.newest_ts
        stateful = model if self._user_state and isinstance(model, UserStateful) else None
        recs, changelog = self._topic[RECOMMENDATIONS.name], self._topic[CHANGELOG.name]
        now = now_ms()
        pages: list[Homepage] = []
        for user, items in ranked:
            event_ts = batch.newest_ts.get(user) or newest.get(user, 0)
            newest[user] = event_ts
            page = Homepage(
                user, tuple((item, score) for item, score, _, _ in items), now, event_ts,
                model.n_events(user), explore=tuple(e for _, _, e, _ in items),
                p=tuple(p for _, _, _, p in items),
            )  # fmt: skip
            pages.append(page)
            key, value = encode_homepage(page)
            source = batch.source[user]
            # recommendations are co-partitioned with the events: same partition as the
            # user's events, without hashing the key again (murmur2 is pure Python)
            self._delivery.send(recs, key, value, partition=source.partition)
            if stateful is not None:
                state = {"o": source.offset, "t": event_ts, "s": stateful.user_state(user)}
                self._delivery.send(changelog, key, packb(state), partition=source.partition)
        return pages

    def _send(self, topic: str, key: bytes, value: bytes) -> None:
        self._delivery.send(topic, key, value)

    def _send_dead_letters(self, dead: list[DeadLetterRecord]) -> None:
        for letter in dead:
            self._delivery.send(
                self._topic[DLQ.name], letter.key, letter.value, headers=letter.headers
            )

    def _settled(self, sent: Sent) -> None:
        """``sent`` is durable: what may only follow durability."""
        self._intake.remember(sent.batch.ids)
        acked = sent.acked_ms or now_ms()
        for page in sent.pages:
            self._quality.published(page.user, [item for item, _ in page.items])
            if page.event_ts:
                m.FRESHNESS.observe(max(0.0, (acked - page.event_ts) / 1000.0))
        m.RECS_PUBLISHED.inc(len(sent.pages))
        explored = sum(sum(page.explore) for page in sent.pages)
        m.RECS_SLOTS.labels(slot="ranked").inc(sum(len(p.items) for p in sent.pages) - explored)
        m.RECS_SLOTS.labels(slot="explored").inc(explored)
        sized = self.model if isinstance(self.model, Sized) else None
        m.STATE_USERS.set(sized.n_users if sized is not None else 0)
        m.STATE_ITEMS.set(sized.n_items if sized is not None else 0)
        self._progress.published(len(sent.pages))
        self._coverage.settled(sent.batch.offsets)

    # -- checkpoints, restore, rollback -----------------------------------------
    def _maybe_checkpoint(self, *, force: bool) -> None:
        """A whole-model checkpoint, if due: right after a commit, of committed state only.

        Skipped after a batch that failed (its events are in the model but not committed)
        and while users restored from the changelog are ahead of the covered offsets.
        """
        if self._broken or self._coverage.restored or self._assignment.pending:
            return
        if self._sharing.enabled and not self._sharing.live:
            return  # its item side is not the group's yet
        if not self._checkpoints.due(force=force):
            return
        # the checkpoint covers what is committed: the batch in flight is settled first, and
        # a restore replays from its offsets up to the committed ones, which must not lag
        self._delivery.settle_all()
        if not self._delivery.committed:
            return
        offsets = self._coverage.offsets(self._assignment.assigned)
        self._checkpoints.take(
            self.model,
            offsets,
            self._intake.window.to_list(),
            force=force,
            shared=self._sharing.checkpoint_info(),
        )

    def _restore_shared_state(self) -> None:
        """Start from the newest checkpoint, then the catalog; per-item snapshots otherwise.

        A checkpoint replaces the whole model, so it is loaded before the catalog (newer
        catalog records win over the checkpoint's copy).
        """
        self._catalog.pause()  # the catalog is read from the start below
        # a rollback while a checkpoint is on its way: let it land first, so that the
        # slots read below are the ones in use (the next write must not reuse them)
        self._checkpoints.wait()
        started = time.perf_counter()
        shared = self._recovery.read_item_state()
        self._checkpoints.restored(shared.slots, shared.deltas)
        self.model, loaded = self._recovery.load_checkpoint(self.model, shared.checkpoint)
        # the item updates since the checkpoint are applied at the first restore, when the
        # partitions to replay are known. Sharing starts before the catalog: a shared model
        # starts an item at a vector drawn from its id, so every member starts the catalog's
        # items alike, whatever order it reads them in (items partitions interleave
        # differently in each member) and whatever its generator drew before
        self._sharing.reset(self.model, shared.checkpoint if loaded else None)
        self._catalog.reload(self.model)
        if not loaded:
            self._recovery.load_items(self.model, shared.items)
        log.info("shared state restored in %.2fs", time.perf_counter() - started)

    def _restore(self, partitions: list[TopicPartition]) -> None:
        # the users table first: deletion requests are carried out before the changelog
        # and the replay, which skip what belongs to the erased users
        self._users.restore(
            self.model,
            [tp.partition for tp in self._assignment.sorted()],
            [tp.partition for tp in partitions],
        )
        choose = None
        if self._sharing.enabled:
            model = self.model

            def choose(ranges: Mapping[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
                return self._sharing.choose_replay(model, ranges)

        self._recovery.restore(self.model, self._clients.consumer, partitions, choose=choose)
        self._sharing.after_restore(self.model)
        # the tombstones of the requests in the table may not be durable (a crash, or a
        # request sent while no worker ran): sent again, unless the user is back (events
        # after the request: a fresh user, whose records must stay)
        stale = {f.user: f for f in self._recovery.take_stale()}
        erased, known = self._users.take_erased()
        m.USERS_FORGOTTEN.inc(known)  # requests the loop had not carried out yet
        for f in erased:
            if self.model.n_events(f.user) == 0:
                stale.setdefault(f.user, f)
        if stale:
            for user in stale:
                self._quality.forget(user)
            self._intake.forget(stale)
            self._send_tombstones(list(stale.values()))
            log.info("sent the tombstones of %d erased users (again)", len(stale))
        if known or stale:
            self._checkpoints.soon()

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
        self._coverage.reset()
        self._items.clear()
        self._delivery.reset()
        self._intake.reset()
        self._restore_shared_state()
        consumer = self._clients.consumer
        assigned = self._assignment.sorted()
        self._assignment.pending.clear()
        for tp in assigned:
            committed = consumer.committed(tp)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        if assigned:
            self._restore(assigned)
        log.warning("state rebuilt in %.2fs", time.perf_counter() - started)

    # -- rebalancing (kafka-python calls these from poll) -------------------------
    def _on_revoked(self, revoked: list[TopicPartition]) -> None:
        # no blocking calls here; bookkeeping only
        self._assignment.remove(revoked)
        self._coverage.revoke(tp.partition for tp in revoked)
        for tp in revoked:
            try:
                m.CONSUMER_LAG.remove(str(tp.partition))
            except KeyError:
                pass
        self._assigned_changed()
        log.info("partitions revoked: %s", sorted(tp.partition for tp in revoked))

    def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        # the loop restores them before their first batch
        self._assignment.add(assigned)
        self._assigned_changed()
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))

    def _assigned_changed(self) -> None:
        m.CONSUMER_ASSIGNED.set(len(self._assignment))
        if self.health is not None:
            self.health.set_assigned(len(self._assignment))

    def _update_lag(self) -> None:
        self._lag = consumer_lag(self._clients.consumer, self._assignment.sorted())
        if self.health is not None:
            self.health.set_lag(self._lag)


def _version() -> str:
    from homerec import __version__

    return __version__
