"""The full worker on the measured events: decode, validate, learn, re-rank, publish, commit.

The real :class:`streams.worker.Worker` runs in this process on this thread
(``open`` / ``step`` / ``close``), with the settings ``homerec worker`` uses,
over the same events topic the passthrough read. It is clocked like the
passthrough (:mod:`streams.bench.throughput`). Slow models are cut off after
``max_seconds``: the rate is then over the events processed by then.
"""

from __future__ import annotations

import logging
import time

from homerec.models.base import Recommender
from streams.bench.throughput import BatchClock, ThroughputResult
from streams.config import Settings
from streams.worker import Guarantee, Worker, WorkerConfig

__all__ = ["run_pipeline", "worker_config"]

log = logging.getLogger(__name__)


def worker_config(
    *,
    max_batch: int = 2000,
    changelog: bool = True,
    k: int = 10,
    guarantee: Guarantee = "at-least-once",
    sync_delivery: bool = False,
    share_items: bool = True,
) -> WorkerConfig:
    """The worker's defaults, without the periodic progress log line."""
    return WorkerConfig(
        k=k,
        max_batch=max_batch,
        changelog=changelog,
        share_items=share_items,
        log_every_s=3600.0,
        processing_guarantee=guarantee,
        async_commit=not sync_delivery,
        overlap_acks=not sync_delivery,
    )


def run_pipeline(
    settings: Settings,
    model: Recommender,
    *,
    n_events: int,
    max_batch: int = 2000,
    changelog: bool = True,
    max_seconds: float = 60.0,
    join_timeout_s: float = 60.0,
    guarantee: Guarantee = "at-least-once",
    sync_delivery: bool = False,
    share_items: bool = True,
) -> ThroughputResult:
    """Run the worker until ``n_events`` are consumed or ``max_seconds`` of processing elapsed."""
    config = worker_config(
        max_batch=max_batch,
        changelog=changelog,
        guarantee=guarantee,
        sync_delivery=sync_delivery,
        share_items=share_items,
    )
    worker = Worker(settings, model, config)
    clock = BatchClock()
    worker.open()
    try:
        join_deadline = time.monotonic() + join_timeout_s
        started: float | None = None
        while clock.total < n_events:
            n = worker.step()
            clock.batch_done(n)
            now = time.monotonic()
            if started is None:
                if n:
                    started = now
                elif now > join_deadline:
                    break
            elif now - started > max_seconds:
                log.info("pipeline: stopped after %.0fs (%d events)", now - started, clock.total)
                break
    finally:
        worker.close()
    result = clock.result()
    log.info(
        "pipeline: %d events in %.2fs = %.0f events/s", result.events, result.seconds, result.eps
    )
    return result
