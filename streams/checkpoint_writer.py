"""Writes checkpoints off the worker's loop, on a thread with its own producer.

Taking a checkpoint has three parts: the snapshot (a delta of the changed rows, or
``state_dict``, a copy of the model's tables, for a base) must happen between two
batches; merging deltas into a new base (compaction), encoding it (msgpack,
chunks: a few times longer than the snapshot) and sending tens of megabytes to
the broker and waiting for their acknowledgements need not. The worker hands
the snapshot and a function that encodes it to this writer and goes on with the
next batch; the writer encodes, sends the chunks, waits for every
acknowledgement, then sends the manifest and waits again, so a manifest never
points at chunks the broker did not take. (Encoding holds the GIL for a few
milliseconds at a time, so the loop slows a little while it runs instead of
stopping for all of it.) One checkpoint is in flight at a time; the worker
skips a checkpoint while the previous one is still being written.

The producer is a plain (non-transactional) one even under exactly-once: a
checkpoint is taken after its offsets were committed, so it describes
committed state whether or not a later transaction aborts, and replay starts
from its offsets either way. The same holds for a delta (taken at the same point)
and for a compaction (the merge of checkpoints that each held only committed
state, under the newest one's offsets).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

__all__ = ["CheckpointWriter", "Encoder", "WriteResult"]

log = logging.getLogger(__name__)

#: builds a checkpoint's records on the writer thread: ``(records, encoded state bytes)``,
#: or ``(records, bytes, after)``: ``after`` (tombstones of chunks no manifest needs any
#: more) is sent once the manifest is acknowledged
Encoder = Callable[[], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """How one checkpoint write ended."""

    name: str
    slot: str
    ok: bool
    seconds: float
    #: size of the encoded model state (0 if encoding failed)
    nbytes: int = 0
    error: str | None = None


class CheckpointWriter:
    """Sends one checkpoint at a time on a background thread; see the module docstring."""

    def __init__(
        self,
        producer: Any,
        topic: str,
        *,
        timeout_s: float = 120.0,
        pace_s: float = 0.005,
        on_done: Callable[[WriteResult], None] | None = None,
    ) -> None:
        self._producer = producer
        self._pace_s = pace_s
        self._topic = topic
        self._timeout_s = timeout_s
        self._on_done = on_done
        self._thread: threading.Thread | None = None
        self.last: WriteResult | None = None

    @property
    def busy(self) -> bool:
        """A checkpoint is still being written."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, name: str, slot: str, encode: Encoder) -> bool:
        """Begin writing what ``encode()`` returns: ``(records, state bytes)``, the records
        being the chunks, then the manifest. False if a write is in flight."""
        if self.busy:
            return False
        self._thread = threading.Thread(
            target=self._write,
            args=(name, slot, encode),
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

    def _write(self, name: str, slot: str, encode: Encoder) -> None:
        started = time.perf_counter()
        nbytes = 0
        try:
            out = encode()
            records, nbytes = out[0], out[1]
            self._send_all(records[:-1])  # the chunks, acknowledged before ...
            self._send_all(records[-1:])  # ... the manifest that points to them
            if len(out) > 2 and out[2]:
                self._send_all(out[2])  # then what it no longer points to
            result = WriteResult(name, slot, True, time.perf_counter() - started, nbytes)
        except KafkaError as exc:
            elapsed = time.perf_counter() - started
            result = WriteResult(name, slot, False, elapsed, nbytes, str(exc))
        except Exception as exc:  # noqa: BLE001 - a writer thread must report, not vanish
            log.exception("checkpoint writer failed")
            elapsed = time.perf_counter() - started
            result = WriteResult(name, slot, False, elapsed, nbytes, repr(exc))
        self.last = result
        if self._on_done is not None:
            self._on_done(result)

    def _send_all(self, records: Sequence[tuple[bytes, bytes | None]]) -> None:
        futures = []
        for key, value in records:
            futures.append(self._producer.send(self._topic, key=key, value=value, partition=0))
            if self._pace_s > 0:
                # hand the GIL back between chunks: kafka-python batches and sends in Python,
                # and tens of megabytes at once would starve the worker's loop for a while
                time.sleep(self._pace_s)
        self._producer.flush(timeout=self._timeout_s)
        for future in futures:
            future.get(timeout=self._timeout_s)  # raises the delivery error, if any
