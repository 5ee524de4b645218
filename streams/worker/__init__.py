"""The consumer-group worker: bytes in, typed events, model update, top-K out, offsets committed.

:class:`Worker` (:mod:`~streams.worker.core`) is a short loop over parts that own
their state, each a module of its own:

* :mod:`~streams.worker.intake`: decode, validate, dedup, dead letters (pure);
* :mod:`~streams.worker.delivery`: records sent, acknowledgements, offset
  commits, transactions (the commit state machine);
* :mod:`~streams.worker.recovery`: assignment, coverage bookkeeping, checkpoint
  load, replay, changelog restore;
* :mod:`~streams.worker.checkpointing`: when to take model checkpoints (bases, deltas) and
  per-item snapshots;
* :mod:`~streams.worker.catalog`: the catalog, read between batches;
* :mod:`~streams.worker.users`: the users table of the assigned partitions
  (profiles, deletion requests);
* :mod:`~streams.worker.clients`, :mod:`~streams.worker.progress`: the Kafka
  clients, the progress log line.
"""

from __future__ import annotations

from streams.worker.config import Guarantee, WorkerConfig
from streams.worker.core import Worker

__all__ = ["Guarantee", "Worker", "WorkerConfig"]
