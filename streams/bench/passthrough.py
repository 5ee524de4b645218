"""The ceiling: a bare kafka-python loop that consumes events and produces one message per event.

Same broker, same machine, same client settings as the worker
(:mod:`streams.bench.clients`), same events: poll a batch, send every record's
key and value to an output topic, flush, wait for the acknowledgements, commit
the offsets. No decoding, no model. homerec's worker cannot be faster than this.
"""

from __future__ import annotations

import logging
import time

from streams.bench.clients import consumer_options, producer_options
from streams.bench.throughput import BatchClock, ThroughputResult
from streams.config import Settings
from streams.errors import StreamsError
from streams.topics import EVENTS, TopicSpec, create_topics, partitions_for

__all__ = ["ThroughputResult", "run_passthrough"]

log = logging.getLogger(__name__)


def run_passthrough(
    settings: Settings,
    *,
    n_events: int,
    max_batch: int = 2000,
    timeout_s: float = 300.0,
    output: str = "passthrough",
    fanout: int = 1,
    explicit_partition: bool = False,
    group: str = "passthrough",
) -> ThroughputResult:
    """Consume ``n_events`` from ``<prefix>.events`` (own group), re-produce each to ``<prefix>.<output>``.

    Variants that price the worker's send pattern (not the ceiling): ``fanout``
    sends each record that many times (the worker sends a list and a changelog
    record per touched user); ``explicit_partition`` passes the consumed
    partition to ``send`` instead of letting the default partitioner hash the key.
    """
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.structs import OffsetAndMetadata

    events_topic = settings.topic(EVENTS.name)
    out_topic = settings.topic(output)
    consumer = KafkaConsumer(
        **settings.client_options(
            client_id="homerec-bench-passthrough",
            group_id=f"{settings.topic_prefix}.{group}",
            **consumer_options(max_batch),
        )
    )
    producer = KafkaProducer(
        **settings.client_options(client_id="homerec-bench-passthrough", **producer_options())
    )
    n_parts = len(partitions_for(consumer, events_topic))
    spec = TopicSpec(output, False, True, "passthrough benchmark output; key = user id")
    create_topics(settings, partitions=n_parts, specs=[spec])
    clock = BatchClock()
    deadline = time.monotonic() + timeout_s
    try:
        consumer.subscribe([events_topic])
        while clock.total < n_events:
            if time.monotonic() > deadline:
                raise StreamsError(
                    f"passthrough consumed {clock.total} of {n_events} events in {timeout_s:.0f}s"
                )
            records = consumer.poll(timeout_ms=100, max_records=max_batch)
            if not records:
                continue
            futures = []
            offsets = {}
            n = 0
            for tp, msgs in records.items():
                part = tp.partition if explicit_partition else None
                for msg in msgs:
                    for _ in range(fanout):
                        futures.append(
                            producer.send(out_topic, key=msg.key, value=msg.value, partition=part)
                        )
                n += len(msgs)
                offsets[tp] = OffsetAndMetadata(msgs[-1].offset + 1, "", -1)
            producer.flush(timeout=30)
            for fut in futures:
                fut.get(timeout=30)
            consumer.commit(offsets)
            clock.batch_done(n)
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=10)
    result = clock.result()
    log.info(
        "passthrough (%s): %d events in %.2fs = %.0f events/s",
        group,
        result.events,
        result.seconds,
        result.eps,
    )
    return result
