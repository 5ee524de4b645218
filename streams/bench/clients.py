"""The kafka-python client settings of the worker, so the ceiling is measured like for like.

These mirror what :meth:`streams.worker.Worker.open` passes to its clients
(the worker does not export them; keep the two in step).
"""

from __future__ import annotations

from typing import Any

__all__ = ["consumer_options", "producer_options"]


def producer_options() -> dict[str, Any]:
    """The worker's producer settings (at-least-once)."""
    return {
        "acks": "all",
        "linger_ms": 2,
        "batch_size": 256 * 1024,
        "max_request_size": 4 * 1024 * 1024,
    }


def consumer_options(max_batch: int) -> dict[str, Any]:
    """The worker's consumer settings, ``group_id`` left to the caller."""
    return {
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": max_batch,
        "max_poll_interval_ms": 300_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 1_000,
        "fetch_max_wait_ms": 50,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
    }
