"""Freshness: event ts at produce time → its user's refreshed list readable by a consumer.

The worker runs in a child process (its own interpreter, as in production),
warmed like the pipeline phase (:class:`streams.bench.worker_group.WorkerGroup`;
with ``workers`` > 1, that many in one consumer group). This process offers events at a fixed rate
(token schedule, ``ts`` = wall clock at sending) and, on a second thread,
consumes ``<prefix>.recommendations``: every list carries the ``event_ts`` of
the newest event it reflects, so ``receive time − event_ts`` is the freshness
of that list. Reported: percentiles over all lists received during the run.

The bench's events and recommendations topics keep the broker's append time
(``message.timestamp.type=LogAppendTime``, :data:`TOPIC_OVERRIDES`), so each
list's freshness splits into three stages: the event's ``ts`` → the event
appended (the offering producer: its linger and send), → the list appended
(the worker: fetch, learn, re-rank, publish; from then on the list is readable
by any consumer), → the list received by this process's reader. The headline
percentiles are ``ts`` → list appended, the issue's "readable by a consumer";
``received_*`` adds the reader's own fetch, which shares this process (and its
GIL) with the offering producer.

The load is offered for ``warmup_s`` seconds before the measured ``seconds``
(lists of events sent during the warm-up are not counted): the worker's first
batches after it reports ready are not its steady state (first calls into
cold caches, and its first whole-model checkpoint follows its first batch).
Later checkpoints (every 15 s or more) fall inside the measured window and count.

The offering producer lingers 5 ms (``linger.ms`` 5 is Kafka 4's default for
producers): the broker then gets the events in small batches, as from web back
ends, not one request per event. An event's ``ts`` is taken before it is
sent, so the linger counts in its freshness. This process does not collect cyclic
garbage while it offers the load (``gc.disable``; the events offered and the
lists read are 100,000s of objects): its full collections would then pause
the offer stage, a pause of the web back end rather than of homerec. The worker keeps its collector (see ``WorkerConfig.freeze_heap``).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.errors import HomerecError
from streams.bench.rows import rounded_fields
from streams.bench.worker_group import MemberSpec, WorkerGroup
from streams.bench.workload import Workload
from streams.codec import decode_homepage, encode_event
from streams.config import Settings
from streams.errors import StreamsError
from streams.topics import EVENTS, RECOMMENDATIONS

__all__ = [
    "GOAL_P50_MS",
    "GOAL_P99_MS",
    "TOPIC_OVERRIDES",
    "FreshnessResult",
    "capacity",
    "run_freshness",
]

log = logging.getLogger(__name__)


#: Topic configs of the freshness phase's topics: the broker stamps every record with its
#: append time, the moment it became readable (the worker reads ``ts`` from the payload).
TOPIC_OVERRIDES: dict[str, dict[str, str]] = {
    EVENTS.name: {"message.timestamp.type": "LogAppendTime"},
    RECOMMENDATIONS.name: {"message.timestamp.type": "LogAppendTime"},
}


@dataclass(frozen=True, slots=True)
class FreshnessResult:
    """Latency percentiles (ms) of the lists received at ``offered_eps``.

    ``p*_ms``: event ``ts`` → list appended (readable); ``received_p*_ms``: → list received
    by the bench's reader; ``offer_*``, ``worker_*``, ``reader_*``: the three stages (event
    appended, list appended, list received), each over the lists whose event was matched.
    """

    offered_eps: float
    warmup_s: float
    sent: int
    lists: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    received_p50_ms: float
    received_p90_ms: float
    received_p99_ms: float
    offer_p50_ms: float
    offer_p99_ms: float
    worker_p50_ms: float
    worker_p99_ms: float
    reader_p50_ms: float
    reader_p99_ms: float

    def to_dict(self) -> dict[str, float | int]:
        return rounded_fields(self, 2)


#: issue 5's freshness goals (ms, event ``ts`` → list readable)
GOAL_P50_MS = 20.0
GOAL_P99_MS = 100.0


def capacity(
    results: list[FreshnessResult], p50_ms: float = GOAL_P50_MS, p99_ms: float = GOAL_P99_MS
) -> float | None:
    """The highest offered load of ``results`` up to which every one met both goals
    (``None`` if the lowest did not): a rate that passed above one that failed does not
    count, the machine's noise being what it is.

    >>> r = lambda eps, p50, p99: FreshnessResult(eps, 0, 0, 1, p50, 0, p99, *[0.0] * 10)
    >>> capacity([r(3000, 25, 90), r(1000, 12, 30), r(2000, 19, 70)])
    2000
    >>> capacity([r(1000, 12, 30), r(2000, 30, 70), r(3000, 19, 90)])
    1000
    >>> capacity([r(1000, 21, 30)]) is None
    True
    """
    best: float | None = None
    for result in sorted(results, key=lambda r: r.offered_eps):
        if result.p50_ms > p50_ms or result.p99_ms > p99_ms:
            break
        best = result.offered_eps
    return best


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _ListReader(threading.Thread):
    """Consumes the recommendations topic and records ``receive − event_ts`` per list."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="freshness-reader", daemon=True)
        from kafka import KafkaConsumer, TopicPartition

        #: per list received: (user, event_ts, appended_ms, received_ms)
        self.lists: list[tuple[str, int, int, int]] = []
        self.halt = threading.Event()
        self.error: BaseException | None = None
        self.since_ms = 0
        topic = settings.topic(RECOMMENDATIONS.name)
        self._consumer = KafkaConsumer(
            **settings.client_options(
                client_id="homerec-bench-freshness",
                group_id=None,
                enable_auto_commit=False,
                fetch_max_wait_ms=100,
            )
        )
        parts = self._consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        self._consumer.seek_to_end(*tps)
        for tp in tps:
            self._consumer.position(tp)

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                for recs in self._consumer.poll(timeout_ms=50).values():
                    received = _now_ms()
                    for rec in recs:
                        if rec.value is None:
                            continue
                        try:
                            page = decode_homepage(rec.value)
                        except HomerecError:
                            continue
                        if page.event_ts >= self.since_ms:
                            self.lists.append(
                                (str(page.user), page.event_ts, rec.timestamp, received)
                            )
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc
        finally:
            self._consumer.close(autocommit=False)


def run_freshness(
    settings: Settings,
    workload: Workload,
    member: MemberSpec,
    *,
    rate: float,
    seconds: float = 20.0,
    warmup_s: float = 3.0,
    workers: int = 1,
    start_timeout_s: float = 600.0,
) -> FreshnessResult:
    """Offer ``rate`` events/s of ``workload`` to ``workers`` warmed worker processes running
    ``member`` (one consumer group) for ``warmup_s`` seconds, then for ``seconds`` more;
    measure the freshness of the lists of the events of the second part."""
    from kafka import KafkaProducer

    if rate <= 0:
        raise StreamsError(f"offered load must be > 0 events/s, got {rate:g}")
    group = WorkerGroup(settings, member, workers)
    reader: _ListReader | None = None
    producer: Any = None
    sent = warm = 0
    offered: list[tuple[str, int, Any]] = []  # (user, ts, future) per event
    try:
        group.start(wait_ready=True, timeout_s=start_timeout_s)
        # this process's own collector pauses (its offered events and the lists read grow
        # into the 100,000s of objects) would count in the offer and reader stages
        gc.collect()
        gc.disable()
        reader = _ListReader(settings)
        producer = KafkaProducer(
            **settings.client_options(client_id="homerec-bench-offer", acks="all", linger_ms=5)
        )
        topic = settings.topic(EVENTS.name)
        events = workload.events
        reader.since_ms = _now_ms() + int(warmup_s * 1000)
        reader.start()
        started = time.perf_counter()
        warm = int(rate * warmup_s)
        total = warm + int(rate * seconds)
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                base = events[sent % len(events)]
                event = dataclasses.replace(base, ts=_now_ms(), id=f"f{sent}")
                key, value = encode_event(event)
                fut = producer.send(topic, key=key, value=value)
                offered.append((str(event.user), event.ts, fut))
                sent += 1
            wait = sent / rate - (time.perf_counter() - started)
            if wait > 0:
                time.sleep(min(wait, 0.005))
        producer.flush(timeout=30)
        time.sleep(2.0)  # lists of the last events
    finally:
        gc.enable()
        if producer is not None:
            producer.close(timeout=10)
        if reader is not None:
            reader.halt.set()
            reader.join(10)
        group.close()
    assert reader is not None
    if reader.error is not None:
        raise StreamsError(f"reading the recommendations failed: {reader.error}")
    if not reader.lists:
        raise StreamsError("no refreshed list was received during the freshness run")
    result = _summarise(rate, warmup_s, sent - warm, offered, reader.lists)
    log.info("freshness at %.0f events/s: p50 %.1f ms, p99 %.1f ms (%d lists); stages p50: "
             "offer %.1f, worker %.1f, reader %.1f ms", rate, result.p50_ms, result.p99_ms,
             result.lists, result.offer_p50_ms, result.worker_p50_ms,
             result.reader_p50_ms)  # fmt: skip
    return result


def _summarise(
    rate: float,
    warmup_s: float,
    sent: int,
    offered: list[tuple[str, int, Any]],
    lists: list[tuple[str, int, int, int]],
) -> FreshnessResult:
    """Percentiles of the lists' latencies, and of the three stages where the event is known."""
    # the append time of each offered event, by (user, ts): a list carries its newest event's ts
    appended: dict[tuple[str, int], int] = {}
    for user, ts, fut in offered:
        if fut.is_done and fut.succeeded():
            at = int(fut.value.timestamp)
            appended[user, ts] = max(at, appended.get((user, ts), at))
    event_ts = np.asarray([x[1] for x in lists], np.float64)
    list_at = np.asarray([x[2] for x in lists], np.float64)
    received = np.asarray([x[3] for x in lists], np.float64)
    readable = list_at - event_ts
    matched = [(appended[u, ts], ts, at) for u, ts, at, _ in lists if (u, ts) in appended]
    stages = np.asarray(matched, np.float64).reshape(-1, 3) if matched else np.full((1, 3), np.nan)
    ev_at, ev_ts, ls_at = stages[:, 0], stages[:, 1], stages[:, 2]

    def pct(x: npt.NDArray[np.float64], q: float) -> float:
        return float(np.percentile(x, q))

    offer, worker, read = ev_at - ev_ts, ls_at - ev_at, received - list_at
    return FreshnessResult(
        offered_eps=float(rate), warmup_s=warmup_s, sent=sent, lists=len(lists),
        p50_ms=pct(readable, 50), p90_ms=pct(readable, 90), p99_ms=pct(readable, 99),
        max_ms=float(readable.max()),
        received_p50_ms=pct(received - event_ts, 50),
        received_p90_ms=pct(received - event_ts, 90),
        received_p99_ms=pct(received - event_ts, 99),
        offer_p50_ms=pct(offer, 50), offer_p99_ms=pct(offer, 99),
        worker_p50_ms=pct(worker, 50), worker_p99_ms=pct(worker, 99),
        reader_p50_ms=pct(read, 50), reader_p99_ms=pct(read, 99),
    )  # fmt: skip
