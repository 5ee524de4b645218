"""A steady, seeded event load that counts, per user, what the broker acknowledged.

Events come from :class:`homerec.datasets.synthetic.SyntheticStream` (seeded),
each with a unique id. The producer is idempotent (``acks=all``, retries
within ``delivery_timeout_ms``), so a broker restart neither loses an acked
event nor writes one twice; a send that fails for good is counted in
``failed`` and never re-sent (a re-send could duplicate it in the log). The
rate is kept by a schedule, not by sleeping per event: when a send blocks
(broker away), the missed slots are skipped rather than sent in one burst.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
from homerec.events import Event
from streams.codec import encode_event, encode_item
from streams.config import Settings
from streams.topics import EVENTS, ITEMS

__all__ = ["SteadyLoad"]

log = logging.getLogger(__name__)

#: Most events sent in one tick after a stall (the rest of the missed slots are dropped).
_MAX_BURST_S = 0.25


class SteadyLoad:
    """Offer ``rate`` events per second to ``<prefix>.events`` on a background thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        rate: float,
        seed: int,
        n_users: int = 400,
        n_items: int = 300,
        max_events: int | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.settings = settings
        self.rate = rate
        self.max_events = max_events
        self._stream = SyntheticStream(
            SyntheticConfig(
                n_users=n_users, n_items=n_items, n_events=10_000_000, seed=seed, n_tags=20
            )
        )
        self._tag = f"c{seed}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Any = None
        self.attempted = 0
        self.acked: Counter[str] = Counter()
        self.failed = 0
        self.first_error: str = ""

    @property
    def n_acked(self) -> int:
        with self._lock:
            return sum(self.acked.values())

    def publish_catalog(self) -> int:
        """Send the synthetic catalog to ``<prefix>.items`` (what the workers read first)."""
        producer = self._ensure_producer()
        items = self._stream.items()
        for item in items:
            key, value = encode_item(item)
            producer.send(self.settings.topic(ITEMS.name), key=key, value=value)
        producer.flush(timeout=30)
        return len(items)

    def _ensure_producer(self) -> Any:
        if self._producer is None:
            self._producer = KafkaProducer(
                **self.settings.client_options(
                    client_id="homerec-chaos-load",
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    delivery_timeout_ms=120_000,
                    request_timeout_ms=10_000,
                    max_block_ms=30_000,
                    reconnect_backoff_max_ms=1_000,
                )
            )
        return self._producer

    def start(self) -> None:
        self._ensure_producer()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self._thread.start()

    def _events(self) -> Iterator[Event]:
        for seq, event in enumerate(self._stream):
            yield dataclasses.replace(event, id=f"{self._tag}.{seq}")

    def _run(self) -> None:
        topic = self.settings.topic(EVENTS.name)
        events = self._events()
        started = time.monotonic()
        slots_done = 0
        while not self._stop.wait(0.01):
            due = int((time.monotonic() - started) * self.rate) - slots_done
            if due > self.rate * _MAX_BURST_S:
                slots_done += due - int(self.rate * _MAX_BURST_S)  # skip what a stall missed
                due = int(self.rate * _MAX_BURST_S)
            for _ in range(due):
                if self.max_events is not None and self.attempted >= self.max_events:
                    return
                event = next(events)
                key, value = encode_event(event)
                try:
                    future = self._producer.send(topic, key=key, value=value)
                except KafkaError as exc:
                    self._on_error(exc)
                else:
                    future.add_callback(self._on_ack, event.user)
                    future.add_errback(self._on_error)
                self.attempted += 1
                slots_done += 1
                if self._stop.is_set():
                    return

    def _on_ack(self, user: str, _metadata: Any) -> None:
        with self._lock:
            self.acked[user] += 1

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self.failed += 1
            if not self.first_error:
                self.first_error = repr(exc)
        log.warning("event not delivered: %r", exc)

    def stop(self, flush_timeout_s: float = 130.0) -> None:
        """Stop offering events and wait for the outstanding acknowledgements."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=40)
        if self._producer is not None:
            try:
                self._producer.flush(timeout=flush_timeout_s)
            except KafkaError:
                log.exception("flushing the load producer")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=40)
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
