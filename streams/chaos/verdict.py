"""Compare what was sent with what the workers say they applied.

The ground truth of *sent* is the events topic itself: every event id in
``<prefix>.events``, counted per user (the load producer is idempotent, so an
acknowledged event is there once; an event whose send failed may or may not
be there, and the log decides). *Final* is the ``events`` field of each
user's newest list in ``<prefix>.recommendations`` (read committed): how many
of the user's events the model state has applied. Per user,

* lost = max(0, sent − final): events never applied (or whose effect was rolled back);
* double_applied = max(0, final − sent): events applied more than once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams.codec import decode_event, decode_homepage
from streams.config import Settings
from streams.errors import StreamsError
from streams.topics import EVENTS, RECOMMENDATIONS

__all__ = ["Verdict", "compare", "final_per_user", "judge", "read_topic", "sent_per_user"]


@dataclass(frozen=True, slots=True)
class Verdict:
    sent: int
    lost: int
    double_applied: int
    users: int
    #: events acknowledged to the load producer but missing from the events topic
    acked_missing: int = 0
    #: the users with a difference: user -> (sent, final)
    wrong: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: events partition -> (lost, double_applied) of its users, where either is not 0
    by_partition: Mapping[int, tuple[int, int]] = field(default_factory=dict)


def compare(
    sent: Mapping[str, int],
    final: Mapping[str, int],
    acked: Mapping[str, int] | None = None,
    partition_of: Mapping[str, int] | None = None,
) -> Verdict:
    """Per-user comparison.

    >>> v = compare({"a": 3, "b": 2, "c": 1}, {"a": 3, "b": 4}, partition_of={"b": 0, "c": 1})
    >>> v.sent, v.lost, v.double_applied, dict(v.wrong), dict(v.by_partition)
    (6, 1, 2, {'b': (2, 4), 'c': (1, 0)}, {0: (0, 2), 1: (1, 0)})
    """
    lost = double = 0
    wrong: dict[str, tuple[int, int]] = {}
    by_partition: dict[int, tuple[int, int]] = {}
    for user in sorted(set(sent) | set(final)):
        s, f = sent.get(user, 0), final.get(user, 0)
        lost += max(0, s - f)
        double += max(0, f - s)
        if s != f:
            wrong[user] = (s, f)
            p = (partition_of or {}).get(user, -1)
            pl, pd = by_partition.get(p, (0, 0))
            by_partition[p] = (pl + max(0, s - f), pd + max(0, f - s))
    missing = sum(max(0, n - sent.get(u, 0)) for u, n in (acked or {}).items())
    return Verdict(sum(sent.values()), lost, double, len(sent), missing, wrong, by_partition)


def read_topic(settings: Settings, name: str, timeout_s: float = 120.0) -> Iterator[Any]:
    """Every committed record of ``<prefix>.<name>``, from the beginning to the current end."""
    consumer = KafkaConsumer(
        **settings.client_options(
            client_id="homerec-chaos-verdict",
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_poll_records=5000,
        )
    )
    try:
        topic = settings.topic(name)
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            raise StreamsError(f"topic {topic} has no partitions (does it exist?)")
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        pending = {tp for tp in tps if consumer.position(tp) < end[tp]}
        while pending:
            if time.monotonic() > deadline:
                raise StreamsError(f"could not read {topic} to its end in {timeout_s:.0f}s")
            for recs in consumer.poll(timeout_ms=200).values():
                yield from recs
            # positions pass transaction markers too: compare positions with the end offsets
            pending = {tp for tp in pending if consumer.position(tp) < end[tp]}
    finally:
        consumer.close(autocommit=False)


def sent_per_user(settings: Settings, partition_of: dict[str, int] | None = None) -> Counter[str]:
    """Distinct event ids per user in the events topic (events without an id count each);
    fills ``partition_of`` (user -> events partition) when given."""
    ids: set[tuple[str, str]] = set()
    out: Counter[str] = Counter()
    for rec in read_topic(settings, EVENTS.name):
        event = decode_event(rec.key, rec.value)
        if partition_of is not None:
            partition_of[event.user] = rec.partition
        if event.id is not None:
            if (event.user, event.id) in ids:
                continue
            ids.add((event.user, event.id))
        out[event.user] += 1
    return out


def final_per_user(settings: Settings) -> dict[str, int]:
    """The ``events`` field of each user's newest list in the recommendations topic."""
    final: dict[str, int] = {}
    for rec in read_topic(settings, RECOMMENDATIONS.name):
        if rec.value is None:
            continue
        page = decode_homepage(rec.value)
        final[page.user] = page.events
    return final


def judge(settings: Settings, acked: Mapping[str, int] | None = None) -> Verdict:
    """Read both topics to their end and compare."""
    partition_of: dict[str, int] = {}
    sent = sent_per_user(settings, partition_of)
    return compare(sent, final_per_user(settings), acked, partition_of)
