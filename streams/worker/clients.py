"""The worker's Kafka clients: how each is configured, opened and closed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from streams.config import Settings

__all__ = ["Clients"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Clients:
    """The producer of lists, changelog and dead letters; the group's consumer; the
    checkpoint writer's producer. ``None`` until opened, again once closed."""

    settings: Settings
    #: this process's identity in client ids (and the transactional id, static membership)
    instance: str
    producer: Any = None
    consumer: Any = None
    checkpoint_producer: Any = None

    def open_producers(self, *, transactional: bool, checkpoints: bool) -> None:
        s = self.settings
        options: dict[str, Any] = {
            "client_id": f"homerec-worker-{self.instance}",
            "acks": "all",
            "linger_ms": 2,
            "batch_size": 256 * 1024,
            "max_request_size": 4 * 1024 * 1024,
        }
        if transactional:
            options["transactional_id"] = f"{s.group}-{self.instance}"
        self.producer = KafkaProducer(**s.client_options(**options))
        if transactional:
            self.producer.init_transactions()
        if checkpoints:
            self.checkpoint_producer = KafkaProducer(
                **s.client_options(
                    client_id=f"homerec-checkpoint-{self.instance}",
                    acks="all",
                    linger_ms=5,
                    max_request_size=4 * 1024 * 1024,
                )
            )

    def join(self, topic: str, listener: Any, *, max_batch: int, static: bool) -> None:
        """Join the consumer group on ``topic``; ``static`` membership: a restarted worker
        with the same ``--instance-id`` takes its partitions back at once instead of
        waiting for the session timeout."""
        s = self.settings
        membership: dict[str, Any] = {}
        if static:
            membership["group_instance_id"] = f"{s.group}-{self.instance}"
        self.consumer = KafkaConsumer(
            **s.client_options(
                **membership,
                client_id=f"homerec-worker-{self.instance}",
                group_id=s.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                max_poll_records=max_batch,
                max_poll_interval_ms=300_000,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=1_000,
                fetch_max_wait_ms=50,
                max_partition_fetch_bytes=4 * 1024 * 1024,
            )
        )
        from streams.topics import partitions_for

        partitions_for(self.consumer, topic)
        self.consumer.subscribe([topic], listener=listener)

    def close(self) -> None:
        """Close every client (errors are logged: closing must not mask the real error)."""
        for name in ("consumer", "producer", "checkpoint_producer"):
            client = getattr(self, name)
            if client is None:
                continue
            try:
                if name == "consumer":
                    client.close(autocommit=False)
                else:
                    client.close(timeout=5)
            except Exception:  # noqa: BLE001
                log.exception("closing %s", name)
            setattr(self, name, None)
