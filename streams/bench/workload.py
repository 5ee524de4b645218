"""The benchmark's world: a seeded synthetic stream, pre-encoded events, uuid-named topics.

Every phase of a run uses the same world (catalog, user profiles, events):
the first ``warm_events`` events warm the model before any clock starts,
the next ``n_events`` are the measured stream.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile
from streams.codec import encode_event, encode_item
from streams.config import Settings
from streams.errors import DeliveryFailed
from streams.topics import create_topics, delete_topics

__all__ = ["Workload", "WorkloadSpec", "delete_topics", "new_settings", "produce"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSpec:
    """Shape of the benchmark world (defaults: the goals' 10K items, 100K users)."""

    n_users: int = 100_000
    n_items: int = 10_000
    n_events: int = 30_000
    warm_events: int = 2_000
    seed: int = 42

    def to_dict(self) -> dict[str, int]:
        return {
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_events": self.n_events,
            "warm_events": self.warm_events,
            "seed": self.seed,
        }


@dataclass(slots=True)
class Workload:
    """The materialised world of a :class:`WorkloadSpec` (deterministic under its seed)."""

    spec: WorkloadSpec
    items: list[Item] = field(default_factory=list)
    profiles: list[UserProfile] = field(default_factory=list)
    warm: list[Event] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @classmethod
    def build(cls, spec: WorkloadSpec) -> Workload:
        stream = SyntheticStream(
            SyntheticConfig(
                n_users=spec.n_users,
                n_items=spec.n_items,
                n_events=spec.warm_events + spec.n_events,
                seed=spec.seed,
            )
        )
        events = list(stream.events())
        return cls(
            spec=spec,
            items=stream.items(),
            profiles=stream.profiles(),
            warm=events[: spec.warm_events],
            events=events[spec.warm_events :],
        )

    def encoded(self) -> list[tuple[bytes, bytes]]:
        """The measured events as ``(key, value)`` messages of the events topic."""
        return [encode_event(e) for e in self.events]

    def encoded_items(self) -> list[tuple[bytes, bytes]]:
        return [encode_item(i) for i in self.items]


def new_settings(
    base: Settings,
    tag: str,
    *,
    partitions: int = 4,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> Settings:
    """``base``'s connection with a fresh ``bench-<uuid>-<tag>`` prefix; the contract's topics
    created (with ``overrides`` of their configs by topic, see :func:`create_topics`)."""
    settings = Settings(
        bootstrap=base.bootstrap,
        topic_prefix=f"bench-{uuid.uuid4().hex[:10]}-{tag}",
        kafka_options=base.kafka_options,
    )
    create_topics(settings, partitions=partitions, overrides=overrides)
    return settings


def produce(
    settings: Settings,
    topic: str,
    messages: Iterable[tuple[bytes, bytes]],
    *,
    options: dict[str, Any] | None = None,
) -> int:
    """Send ``messages`` to ``topic`` as fast as the broker takes them; raise unless all acked."""
    from kafka import KafkaProducer

    opts = {"acks": "all", "linger_ms": 20, "batch_size": 1024 * 1024, **(options or {})}
    producer = KafkaProducer(**settings.client_options(client_id="homerec-bench-load", **opts))
    futures = []
    try:
        for key, value in messages:
            futures.append(producer.send(topic, key=key, value=value))
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)
    failed = sum(1 for f in futures if not f.succeeded())
    if failed:
        raise DeliveryFailed(f"{failed} of {len(futures)} messages to {topic} not acknowledged")
    return len(futures)
