"""The topic contract, defined once: names, keys, compaction, and idempotent creation.

==============================  ========  =========  =====================================
topic                           key       cleanup    value (msgpack map)
==============================  ========  =========  =====================================
``<prefix>.events``             user id   delete     ``homerec.Event`` (user, item, type, ts,
                                                     value?, id?, context?)
``<prefix>.items``              item id   compact    ``homerec.Item`` (item, title, tags,
                                                     active, ts, author?)
``<prefix>.users``              user id   compact    ``homerec.UserProfile`` (user, age?, gender?,
                                                     location?, occupation?, attrs?, ts?);
                                                     a tombstone asks to forget the user
                                                     (co-partitioned with events)
``<prefix>.recommendations``    user id   compact    ``homerec.homepage.Homepage``
``<prefix>.events.dlq``         orig.     delete     reason, detail, topic, partition,
                                                     offset, key, value, ts
``<prefix>.changelog``          user id   compact    per-user model state (internal;
                                                     co-partitioned with events)
``<prefix>.item-state``         item id   compact    per-item model state (internal)
``<prefix>.item-updates``       member    delete     one member's item-side delta per batch
                                                     (``homerec.sharing.ItemDelta`` and the
                                                     event offsets it covers; internal,
                                                     one partition, read in full by all)
==============================  ========  =========  =====================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.config import Settings
from streams.errors import BrokerUnavailable, StreamsError

__all__ = [
    "ALL_TOPICS",
    "CHANGELOG",
    "DLQ",
    "EVENTS",
    "ITEMS",
    "ITEM_STATE",
    "ITEM_UPDATES",
    "RECOMMENDATIONS",
    "USERS",
    "TopicSpec",
    "check_broker",
    "create_topics",
    "delete_topics",
    "describe_topics",
    "partitions_for",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic of the contract; ``name`` is the part after ``<prefix>.``."""

    name: str
    compacted: bool
    #: True when the topic must have the same partition count as the events topic.
    co_partitioned: bool
    description: str

    def config(self) -> dict[str, str]:
        if self.compacted:
            return {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}
        return {"cleanup.policy": "delete"}


EVENTS = TopicSpec("events", False, True, "user events; key = user id")
ITEMS = TopicSpec("items", True, False, "catalog; key = item id")
USERS = TopicSpec("users", True, True, "user profiles, tombstone = forget; key = user id")
RECOMMENDATIONS = TopicSpec("recommendations", True, True, "latest top-K list; key = user id")
DLQ = TopicSpec("events.dlq", False, False, "rejected messages with the reason")
CHANGELOG = TopicSpec("changelog", True, True, "per-user model state (internal)")
ITEM_STATE = TopicSpec("item-state", True, False, "per-item model state (internal)")
# one partition: every member reads all of it, and one total order is simplest to cover
# with the offsets a checkpoint records
ITEM_UPDATES = TopicSpec("item-updates", False, False, "item-side deltas per batch (internal)")
ALL_TOPICS: tuple[TopicSpec, ...] = (
    EVENTS, ITEMS, USERS, RECOMMENDATIONS, DLQ, CHANGELOG, ITEM_STATE, ITEM_UPDATES,
)  # fmt: skip


def create_topics(
    settings: Settings,
    *,
    partitions: int = 4,
    replication: int = 1,
    specs: Iterable[TopicSpec] = ALL_TOPICS,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """Create the topics that do not exist yet; return ``{name: "created" | "exists"}``.

    Idempotent. Topics that exist are left as they are, except that a
    co-partitioned topic whose partition count differs from the events topic
    is reported as an error (state would be restored from the wrong partition).
    ``overrides`` adds topic configs by spec name (e.g. ``{"events":
    {"message.timestamp.type": "LogAppendTime"}}``) to the topics it creates.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    if partitions < 1 or replication < 1:
        raise StreamsError("partitions and replication must be at least 1")
    try:
        admin = KafkaAdminClient(**settings.client_options(client_id="homerec-topics"))
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot reach Kafka at {settings.bootstrap}: {exc}", exc) from exc
    try:
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        new: list[Any] = []
        for spec in specs:
            name = settings.topic(spec.name)
            if name in existing:
                result[name] = "exists"
                continue
            n = partitions if spec.co_partitioned or spec is DLQ else 1
            configs = {**spec.config(), **(overrides or {}).get(spec.name, {})}
            new.append(NewTopic(name, n, replication, topic_configs=configs))
            result[name] = "created"
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                # another process won the race: that is fine, it is idempotent
                pass
        # a producer writing before the partitions have a leader (new topics, or a broker
        # that has just started) gets a burst of NotLeaderForPartition retries, each
        # logged as a warning: wait for the leaders first
        _wait_for_leaders(admin, list(result))
        counts = _partition_counts(admin, [settings.topic(s.name) for s in ALL_TOPICS])
        base = counts.get(settings.topic(EVENTS.name))
        for spec in ALL_TOPICS:
            name = settings.topic(spec.name)
            if spec.co_partitioned and base is not None and counts.get(name, base) != base:
                raise StreamsError(
                    f"{name} has {counts[name]} partitions but {settings.topic(EVENTS.name)} has "
                    f"{base}: co-partitioned topics must match (delete and re-create it)"
                )
        for name, what in result.items():
            log.info("topic %s: %s", name, what)
        return result
    finally:
        admin.close()


def describe_topics(settings: Settings, *, timeout_s: float = 5.0) -> dict[str, int]:
    """The broker's topics named ``<prefix>.…``, with their partition counts.

    Contacts the broker (at most ``timeout_s`` to connect); raises
    :class:`streams.errors.BrokerUnavailable` with one line, and nothing logged,
    when it cannot be reached.
    """
    from kafka.errors import KafkaError

    from streams.logs import quiet_kafka

    prefix = f"{settings.topic_prefix}."
    with quiet_kafka():
        admin = _admin(settings, timeout_s)
        try:
            names = sorted(t for t in admin.list_topics() if t.startswith(prefix))
            return _partition_counts(admin, names) if names else {}
        except KafkaError as exc:
            raise BrokerUnavailable(
                f"Kafka at {settings.bootstrap} did not answer: {type(exc).__name__}: {exc}", exc
            ) from exc
        finally:
            admin.close()


def check_broker(settings: Settings, *, timeout_s: float = 5.0) -> None:
    """Raise :class:`streams.errors.BrokerUnavailable` (one line, nothing logged) unless
    the broker answers within ``timeout_s``."""
    describe_topics(settings, timeout_s=timeout_s)


def _admin(settings: Settings, timeout_s: float) -> Any:
    """An admin client that gives up connecting after ``timeout_s``."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    timeout_ms = max(1, int(timeout_s * 1000))
    options = settings.client_options(
        client_id="homerec-topics",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=max(timeout_ms, 1000),
    )
    try:
        return KafkaAdminClient(**options)
    except KafkaError as exc:
        raise BrokerUnavailable(
            f"cannot reach Kafka at {settings.bootstrap} within {timeout_s:g}s "
            f"({type(exc).__name__}); is the broker running? "
            "(locally: deploy/kafka/local-kafka.sh start)",
            exc,
        ) from exc


def _wait_for_leaders(admin: Any, names: list[str], timeout_s: float = 15.0) -> None:
    """Until every partition of ``names`` has a leader (best effort: gives up silently)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            descs = admin.describe_topics(names)
        except Exception:  # noqa: BLE001 - metadata may lag right after creation
            descs = []
        ready = {
            d.get("name")
            for d in descs
            if not d.get("error_code")
            and d.get("partitions")
            and all(
                p.get("leader_id", -1) >= 0 and not p.get("error_code") for p in d["partitions"]
            )
        }
        if ready >= set(names):
            return
        time.sleep(0.1)
    log.warning("topics %s: not every partition has a leader after %.0fs", names, timeout_s)


def _partition_counts(admin: Any, names: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for desc in admin.describe_topics(names):
        if not desc.get("error_code") and desc.get("partitions"):
            out[desc.get("name") or desc.get("topic")] = len(desc["partitions"])
    return out


def partitions_for(consumer: Any, topic: str, timeout_s: float = 10.0) -> list[int]:
    """Partition numbers of ``topic`` as seen by a kafka-python consumer (waits for metadata)."""
    import time

    from streams.errors import TopicMissing

    deadline = time.monotonic() + timeout_s
    while True:
        if topic in consumer.topics():  # topics() refreshes the cluster metadata
            parts = consumer.partitions_for_topic(topic)
            if parts:
                return sorted(parts)
        if time.monotonic() >= deadline:
            raise TopicMissing(f"topic {topic} does not exist; run 'homerec topics create'")
        time.sleep(0.1)


def delete_topics(settings_list: Sequence[Settings]) -> None:
    """Delete every topic under the prefixes of ``settings_list`` (best effort)."""
    if not settings_list:
        return
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(**settings_list[0].client_options(client_id="homerec-admin"))
    try:
        prefixes = tuple(f"{s.topic_prefix}." for s in settings_list)
        names = [t for t in admin.list_topics() if t.startswith(prefixes)]
        if names:
            admin.delete_topics(names)
            log.info("deleted %d topics", len(names))
    except KafkaError as exc:
        log.warning("could not delete topics: %s", exc)
    finally:
        admin.close()
