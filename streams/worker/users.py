"""The users topic as a table of the worker's own partitions: profiles and deletion requests.

``<prefix>.users`` is compacted and co-partitioned with the events (a Kafka
Streams KTable joined with the event stream): the worker that owns a user's
events partition owns its profile. On assignment the table's partitions that
match the assigned events partitions are read to their end (:meth:`Users.restore`);
between batches a :class:`~streams.catalog_feed.CatalogFeed` thread brings the
new records and the loop takes them (:meth:`Users.update`), as for the catalog.

* a profile goes to the model as ``schema.apply(profile)`` (its demographic
  groups), exactly what ``homerec eval`` gives it;
* a bad profile becomes a dead letter with its reason (once per process: a restore
  reads it again);
* a tombstone (null value) is a deletion request: :meth:`Users.update` returns
  it for the worker to carry out, and :attr:`Users.forgotten` keeps the request's
  record timestamp: events of that user up to it (late, or read again on
  restore) are the forgotten user's and are never learned again; later ones
  start a fresh user.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, NamedTuple

from homerec.errors import InvalidEvent
from homerec.limits import Limits
from homerec.models.base import Recommender
from homerec.models.stateful import Forgetful
from homerec.profiles import ProfileSchema, UserProfile
from homerec.typing import UserId
from streams import metrics as m
from streams.catalog_feed import CatalogFeed
from streams.codec import decode_profile
from streams.config import Settings
from streams.errors import StreamsError, TopicMissing
from streams.partition_reader import PartitionReader
from streams.worker.intake import DeadLetterRecord, dead_letter

__all__ = ["Forget", "Users"]

log = logging.getLogger(__name__)


class Forget(NamedTuple):
    """A deletion request to carry out: the user, the partition its records live in."""

    user: UserId
    partition: int


class Users:
    """Applies the users topic's records of the assigned partitions to the model."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        limits: Limits,
        schema: ProfileSchema,
        forgotten: dict[UserId, int],
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.schema = schema
        self._limits = limits
        self._reader: PartitionReader | None = None
        self._feed: CatalogFeed | None = None
        self._partitions: list[int] = []
        #: user -> timestamp (epoch ms) of its deletion request, for the table's users whose
        #: latest record is a tombstone (shared with intake, which drops their older events)
        self.forgotten = forgotten
        #: dead letters of bad profiles, sent with the next batch
        self.dead: list[DeadLetterRecord] = []
        #: the deletion requests of the partitions restored last (their tombstones on
        #: recommendations and changelog may not be durable: the worker sends them again)
        self.erased: list[Forget] = []
        #: how many users the model held that a restore erased (a checkpoint is due)
        self.erased_known = 0
        #: partition -> offset of the last record applied (by a restore or the loop)
        self._applied: dict[int, int] = {}
        #: records of partitions followed before a restore that the loop has not handled
        self._held: list[Any] = []
        #: (partition, offset) of the bad records dead-lettered by this process (a restore
        #: reads them again)
        self._dead_sent: set[tuple[int, int]] = set()
        #: profiles that came after a deletion request of the same step (applied after it)
        self._after: list[UserProfile] = []

    def open(self) -> None:
        """Connect; without the users topic (a deployment from before it) profiles and
        deletion requests are off, with a warning."""
        reader = PartitionReader(self.settings, self.topic, client_id="homerec-users")
        try:
            reader.partitions(timeout_s=5.0)
        except TopicMissing:
            reader.close()
            log.warning(
                "topic %s does not exist: no profiles, no deletion requests "
                "('homerec topics create' adds it)",
                self.topic,
            )
            return
        self._reader = reader

    def restore(self, model: Recommender, partitions: Iterable[int], new: Iterable[int]) -> int:
        """Read ``partitions`` (all those assigned now) to their end, then follow their new
        records. For those of ``new`` (the partitions being restored), forget the users whose
        latest record is a tombstone (a checkpoint older than the request may hold them)
        and hand the model every other user's latest profile. Returns the profiles applied."""
        if self._reader is None:
            return 0
        self.pause()
        self._partitions = sorted(partitions)
        restoring = set(new)
        latest: dict[UserId, tuple[int, UserProfile | None]] = {}
        stamps: dict[UserId, int] = {}
        applied = self._applied
        for rec in self._reader.read_to_end(self._partitions):
            if rec.partition not in restoring:
                # a partition followed before: what the loop has not handled yet goes the
                # loop's way at the next step
                if rec.offset > applied.get(rec.partition, -1):
                    self._held.append(rec)
            else:
                applied[rec.partition] = rec.offset
            if rec.value is None:
                if rec.key:
                    user = rec.key.decode("utf-8", "replace")
                    latest[user] = (rec.partition, None)
                    stamps[user] = int(rec.timestamp)
                continue
            try:
                profile = decode_profile(rec.key, rec.value, self._limits)
            except InvalidEvent as exc:
                if (rec.partition, rec.offset) not in self._dead_sent:
                    self._dead_letter(exc, rec)
                continue
            latest[profile.user] = (rec.partition, profile)
        self.forgotten.clear()
        gone: list[UserId] = []
        n = 0
        for user, (partition, p) in latest.items():
            if p is None:
                self.forgotten[user] = stamps[user]
                if partition in restoring:
                    gone.append(user)
        if gone and isinstance(model, Forgetful):
            # e.g. in a checkpoint older than the request: the next one must not be
            self.erased_known += len(model.forget_users(gone))
        self.erased.extend(Forget(u, latest[u][0]) for u in gone)
        for partition, p in latest.values():
            if p is not None and partition in restoring:
                model.update_user(self.schema.apply(p))
                n += 1
        log.info(
            "users: %d profiles and %d deletion requests read from %s partitions %s",
            n,
            len(gone),
            self.topic,
            self._partitions,
        )
        if self._feed is None:
            self._feed = CatalogFeed(self._reader)
        if self._partitions:
            self._feed.start()
        return n

    def take_erased(self) -> tuple[list[Forget], int]:
        """:attr:`erased` and :attr:`erased_known`, cleared."""
        erased, known = self.erased, self.erased_known
        self.erased, self.erased_known = [], 0
        return erased, known

    def pause(self) -> None:
        """Stop the feed (the reader is the caller's again); what it had read but not
        handed over is read again by the restore that follows."""
        if self._feed is not None:
            self._feed.stop()
            self._feed.take()

    def update(self, model: Recommender) -> list[Forget]:
        """Apply the profiles that arrived since the last call (no network call); return
        the deletion requests among them, for the worker to carry out in this step."""
        if self._feed is None:
            return []
        held, self._held = self._held, []
        return self._apply(model, held + self._feed.take())

    def take_dead(self) -> list[DeadLetterRecord]:
        dead, self.dead = self.dead, []
        return dead

    def close(self) -> None:
        if self._feed is not None:
            try:
                self._feed.stop()
            except StreamsError:
                log.exception("stopping the users reader")
            self._feed = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _apply(self, model: Recommender, records: Iterable[Any]) -> list[Forget]:
        forgets: dict[UserId, Forget] = {}
        applied = self._applied
        for rec in records:
            if rec.offset <= applied.get(rec.partition, -1):
                continue  # handled already (read again by a restore)
            applied[rec.partition] = rec.offset
            if rec.value is None:
                if not rec.key:
                    continue  # a tombstone without a key names nobody
                user = rec.key.decode("utf-8", "replace")
                self.forgotten[user] = int(rec.timestamp)
                forgets[user] = Forget(user, rec.partition)
                m.PROFILES_CONSUMED.labels(outcome="tombstone").inc()
                continue
            try:
                profile = decode_profile(rec.key, rec.value, self._limits)
            except InvalidEvent as exc:
                self._dead_letter(exc, rec)
                continue
            m.PROFILES_CONSUMED.labels(outcome="applied").inc()
            if profile.user in forgets:
                # a profile after the request: the user comes back once it is carried out
                self._after.append(profile)
                continue
            model.update_user(self.schema.apply(profile))
        return list(forgets.values())

    def _dead_letter(self, exc: InvalidEvent, rec: Any) -> None:
        self.dead.append(dead_letter(exc, self.topic, rec))
        self._dead_sent.add((rec.partition, rec.offset))
        m.PROFILES_CONSUMED.labels(outcome="invalid").inc()

    def forgotten_done(self, model: Recommender) -> None:
        """The deletion requests :meth:`update` returned are carried out: apply the
        profiles that followed them."""
        after, self._after = self._after, []
        for profile in after:
            model.update_user(self.schema.apply(profile))
