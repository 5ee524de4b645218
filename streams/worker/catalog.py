"""The catalog as the worker sees it: read to the end at start-up and after a rollback,
then fed by a :class:`~streams.catalog_feed.CatalogFeed` thread between batches.

Invalid catalog records become dead letters sent with the next batch (inside its
transaction with exactly-once), or when the worker closes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from homerec.errors import InvalidEvent
from homerec.limits import Limits
from homerec.models.base import Recommender
from streams import metrics as m
from streams.catalog_feed import CatalogFeed
from streams.codec import decode_item
from streams.config import Settings
from streams.errors import StreamsError
from streams.partition_reader import PartitionReader
from streams.worker.intake import DeadLetterRecord, dead_letter

__all__ = ["Catalog"]

log = logging.getLogger(__name__)


class Catalog:
    """Applies the ``items`` topic's records to the model."""

    def __init__(self, settings: Settings, topic: str, *, limits: Limits) -> None:
        self.settings = settings
        self.topic = topic
        self._limits = limits
        self._reader: PartitionReader | None = None
        self._feed: CatalogFeed | None = None
        #: dead letters of catalog records, sent with the next batch
        self.dead: list[DeadLetterRecord] = []

    def open(self) -> None:
        self._reader = PartitionReader(self.settings, self.topic, client_id="homerec-catalog")

    def reload(self, model: Recommender) -> int:
        """Read the whole catalog into ``model`` (blocking), then start the feed."""
        assert self._reader is not None, "open() first"
        self.pause()
        self._reader.assign(self._reader.partitions())
        n = self._apply(model, self._reader.read_to_end(self._reader.partitions()))
        log.info("catalog: %d records read from %s", n, self.topic)
        if self._feed is None:
            self._feed = CatalogFeed(self._reader)
        self._feed.start()
        return n

    def pause(self) -> None:
        """Stop the feed (the reader is the caller's again); what it had read but not
        handed over is superseded by the next :meth:`reload`."""
        if self._feed is not None:
            self._feed.stop()
            self._feed.take()

    def update(self, model: Recommender) -> int:
        """Apply the records that arrived since the last call (no network call)."""
        if self._feed is None:
            return 0
        return self._apply(model, self._feed.take())

    def take_dead(self) -> list[DeadLetterRecord]:
        dead, self.dead = self.dead, []
        return dead

    def close(self) -> None:
        if self._feed is not None:
            try:
                self._feed.stop()
            except StreamsError:
                log.exception("stopping the catalog reader")
            self._feed = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _apply(self, model: Recommender, records: Iterable[Any]) -> int:
        n = 0
        for rec in records:
            try:
                item = decode_item(rec.key, rec.value, self._limits)
            except InvalidEvent as exc:
                self.dead.append(dead_letter(exc, self.topic, rec))
                m.ITEMS_CONSUMED.labels(outcome="invalid").inc()
                continue
            model.update_item(item)
            m.ITEMS_CONSUMED.labels(outcome="applied").inc()
            n += 1
        return n
