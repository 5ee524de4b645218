"""Writes whole-model checkpoints off the worker's loop, on a thread with its own producer.

Taking a checkpoint has two parts: the snapshot (``state_dict`` and its
encoding, a few tens of milliseconds at 100K users) must happen between two
batches, but sending tens of megabytes to the broker and waiting for their
acknowledgements does not. The worker hands the encoded records to this
writer and goes on with the next batch; the writer sends the chunks, waits for
every acknowledgement, then sends the manifest and waits again, so a manifest
never points at chunks the broker did not take. One checkpoint is in flight at
a time; the worker skips a checkpoint while the previous one is still being
written.

The producer is a plain (non-transactional) one even under exactly-once: a
checkpoint is taken after its offsets were committed, so it describes
committed state whether or not a later transaction aborts, and replay starts
from its offsets either way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

__all__ = ["CheckpointWriter", "WriteResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """How one checkpoint write ended."""

    name: str
    slot: str
    ok: bool
    seconds: float
    error: str | None = None


class CheckpointWriter:
    """Sends one checkpoint at a time on a background thread; see the module docstring."""

    def __init__(
        self,
        producer: Any,
        topic: str,
        *,
        timeout_s: float = 120.0,
        on_done: Callable[[WriteResult], None] | None = None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout_s = timeout_s
        self._on_done = on_done
        self._thread: threading.Thread | None = None
        self.last: WriteResult | None = None

    @property
    def busy(self) -> bool:
        """A checkpoint is still being written."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, name: str, slot: str, records: Sequence[tuple[bytes, bytes]]) -> bool:
        """Begin writing ``records`` (chunks, then the manifest); False if one is in flight."""
        if self.busy:
            return False
        self._thread = threading.Thread(
            target=self._write,
            args=(name, slot, list(records)),
            name=f"homerec-checkpoint-{name}",
            daemon=True,
        )
        self._thread.start()
        return True

    def wait(self, timeout_s: float | None = None) -> WriteResult | None:
        """Block until the write in flight (if any) ended; the last result."""
        if self._thread is not None:
            self._thread.join(self._timeout_s if timeout_s is None else timeout_s)
        return self.last

    def _write(self, name: str, slot: str, records: list[tuple[bytes, bytes]]) -> None:
        started = time.perf_counter()
        try:
            self._send_all(records[:-1])  # the chunks, acknowledged before ...
            self._send_all(records[-1:])  # ... the manifest that points to them
            result = WriteResult(name, slot, True, time.perf_counter() - started)
        except KafkaError as exc:
            result = WriteResult(name, slot, False, time.perf_counter() - started, str(exc))
        except Exception as exc:  # noqa: BLE001 - a writer thread must report, not vanish
            log.exception("checkpoint writer failed")
            result = WriteResult(name, slot, False, time.perf_counter() - started, repr(exc))
        self.last = result
        if self._on_done is not None:
            self._on_done(result)

    def _send_all(self, records: list[tuple[bytes, bytes]]) -> None:
        futures = [
            self._producer.send(self._topic, key=key, value=value, partition=0)
            for key, value in records
        ]
        self._producer.flush(timeout=self._timeout_s)
        for future in futures:
            future.get(timeout=self._timeout_s)  # raises the delivery error, if any
