"""The catalog, read on a thread of its own while the worker's loop runs.

Reading the ``items`` topic from the loop cost a broker round trip per batch
even when nothing had changed: kafka-python's ``poll(0)`` hands the fetch to its
IO thread and waits for it, a sizeable share of a small batch's time. The feed
polls on its own thread instead (it mostly waits there, without the GIL) and the
loop takes what has arrived, in order, without any network call. Kafka gives no
order between the catalog and the events topic anyway, so an item is applied at
the first batch after it arrived, as before.

The feed owns its reader while it runs: a consumer is not thread-safe, so the
worker stops the feed before it reads the catalog itself (a rollback re-reads it
from the start) and starts it again afterwards.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kafka.errors import KafkaError

from streams.errors import StreamsError
from streams.partition_reader import PartitionReader

__all__ = ["CatalogFeed"]

log = logging.getLogger(__name__)


class CatalogFeed:
    """Polls ``reader`` (already assigned and positioned) on a daemon thread.

    :meth:`take` returns the records that arrived since the last call. An error other
    than a Kafka one (which the client retries) ends the thread and is raised by the
    next :meth:`take`.
    """

    def __init__(self, reader: PartitionReader, *, poll_timeout_ms: int = 100) -> None:
        self._reader = reader
        self._timeout_ms = poll_timeout_ms
        self._lock = threading.Lock()
        self._records: list[Any] = []
        self._error: BaseException | None = None
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name="homerec-catalog", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop polling (the reader is the caller's again); records not taken are kept."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._halt.set()
        thread.join(timeout_s)
        if thread.is_alive():
            raise StreamsError(f"the catalog reader did not stop within {timeout_s:.0f}s")

    def take(self) -> list[Any]:
        """The records that arrived since the last call, in order."""
        with self._lock:
            records, self._records = self._records, []
            error, self._error = self._error, None
        if error is not None:
            raise StreamsError(f"reading the catalog failed: {error}", error)
        return records

    def _run(self) -> None:
        while not self._halt.is_set():
            try:
                records = self._reader.poll(self._timeout_ms)
            except KafkaError as exc:
                log.warning("catalog poll failed (%s); retrying", exc)
                self._halt.wait(1.0)
                continue
            except BaseException as exc:  # noqa: BLE001 - handed to the loop by take()
                with self._lock:
                    self._error = exc
                return
            if records:
                with self._lock:
                    self._records.extend(records)
