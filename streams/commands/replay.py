"""``homerec replay``: produce a dataset into ``<prefix>.events`` and its catalog into ``<prefix>.items``.

Sources: the built-in synthetic generator (``--source synthetic``, lazy, any
length), MovieLens 100K (``--source ml-100k --data DIR``) or homerec's own
JSON-lines event schema (``--source events-jsonl --data FILE``). The catalog
is sent first (compacted topic, key = item id), then the user profiles of the
synthetic world or of MovieLens' ``u.user`` (compacted ``<prefix>.users``, key =
user id, partitioned like the events), then the events in time order
(key = user id), optionally rate-limited by a token bucket. Every send is
tracked: the command flushes at the end and exits non-zero if the broker did
not acknowledge every message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka import codec as kafka_codec
from kafka.errors import KafkaError, MessageSizeTooLargeError
from kafka.partitioner import DefaultPartitioner
from tqdm import tqdm

from homerec.datasets.synthetic import DEMO_WORLD, SyntheticStream
from homerec.errors import ConfigError, InvalidEvent
from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile
from streams.codec import encode_event, encode_item, encode_profile, packb
from streams.commands.arguments import non_negative_float, non_negative_int, positive_int
from streams.config import Settings, add_connection_arguments, settings_from_args
from streams.errors import BrokerUnavailable, DeliveryFailed, TopicMissing
from streams.topics import EVENTS, ITEMS, USERS, create_topics, partitions_for

__all__ = ["Delivery", "TokenBucket", "register", "replay"]

log = logging.getLogger("homerec.replay")

SOURCES = ("synthetic", "ml-100k", "events-jsonl")
TIMESTAMPS = ("original", "shift", "now")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "replay",
        help="produce a dataset (synthetic, MovieLens, JSON lines) into the events topic",
        description=(
            "Send a dataset's catalog to <prefix>.items (key = item id) and its events, in "
            "time order, to <prefix>.events (key = user id), as msgpack maps. Exits non-zero "
            "if any message was not acknowledged by the broker."
        ),
    )
    src = parser.add_argument_group("source")
    src.add_argument("--source", choices=SOURCES, default="synthetic", help="default synthetic")
    src.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="ml-100k: the directory holding u.data, u.item, u.user; "
        "events-jsonl: the file (one event a line)",
    )
    world = DEMO_WORLD
    syn = parser.add_argument_group(
        "synthetic source",
        "The defaults are the world of 'homerec demo' (same seed and shape: the same items "
        "with the same titles and tags), so a replay after the demo continues in its catalog.",
    )
    syn.add_argument(
        "--users", type=positive_int, default=world.n_users, help=f"default {world.n_users}"
    )
    syn.add_argument(
        "--items", type=positive_int, default=world.n_items, help=f"default {world.n_items}"
    )
    syn.add_argument(
        "--events",
        type=non_negative_int,
        default=None,
        help=f"stream length (default {world.events_per_user:g} per user)",
    )
    syn.add_argument(
        "--tags",
        type=positive_int,
        default=world.n_tags,
        help=f"distinct tags (default {world.n_tags})",
    )
    syn.add_argument(
        "--authors",
        type=non_negative_int,
        default=world.n_authors,
        help="give items one of this many authors, and users a favourite one "
        f"(default {world.n_authors}: none)",
    )
    syn.add_argument("--seed", type=int, default=world.seed, help=f"default {world.seed}")
    syn.add_argument(
        "--popularity-skew",
        type=non_negative_float,
        default=world.popularity_skew,
        help=f"Zipf exponent (default {world.popularity_skew:g})",
    )
    syn.add_argument(
        "--drift-rate",
        type=non_negative_float,
        default=world.drift_rate,
        help=f"taste drift, radians/day (default {world.drift_rate:g})",
    )
    syn.add_argument(
        "--inactive-fraction",
        type=non_negative_float,
        default=world.inactive_fraction,
        help=f"share of the catalog marked inactive (default {world.inactive_fraction:g})",
    )
    syn.add_argument(
        "--mean-gap-ms",
        type=non_negative_float,
        default=world.mean_gap_ms,
        help=f"mean gap between events (default {world.mean_gap_ms:g})",
    )
    syn.add_argument(
        "--fresh-ids",
        action="store_true",
        help="give the events ids of this run: by default they are e<seed>.<n>, the same at "
        "every replay of a seed, and a worker applies an id once within its --dedup-window",
    )
    out = parser.add_argument_group("sending")
    out.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="EVENTS_PER_S",
        help="limit the send rate (token bucket; default: as fast as possible)",
    )
    out.add_argument("--limit", type=int, default=None, metavar="N", help="send at most N events")
    out.add_argument(
        "--timestamps",
        choices=TIMESTAMPS,
        default=None,
        help="event ts as in the source (original), moved so the first event is now "
        "(shift), or the wall clock at sending (now); default now for the synthetic source "
        "(its own clock is arbitrary, and a list's 'published after' figure would be years), "
        "original for the others",
    )
    out.add_argument(
        "--no-catalog", action="store_true", help="do not send the catalog to <prefix>.items"
    )
    out.add_argument(
        "--no-profiles",
        action="store_true",
        help="do not send the user profiles to <prefix>.users",
    )
    out.add_argument(
        "--create-topics",
        action="store_true",
        help="create the topics of the contract first if missing (4 partitions)",
    )
    out.add_argument(
        "--compression",
        choices=("auto", "none", "gzip", "lz4", "snappy", "zstd"),
        default="auto",
        help="producer compression; auto = lz4 if its library is installed, else gzip",
    )
    out.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bar (also off when not a TTY)"
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=_run)


# -- sources -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """What to send: a catalog and a lazy, time-ordered event stream of known length."""

    name: str
    items: Iterable[Item]
    events: Iterable[Event]
    total: int | None = None
    profiles: Iterable[UserProfile] = ()


def _open_source(args: argparse.Namespace) -> Source:
    if args.source == "synthetic":
        cfg = dataclasses.replace(
            DEMO_WORLD,
            n_users=args.users,
            n_items=args.items,
            n_tags=args.tags,
            n_events=args.events,
            max_tags_per_item=min(3, max(1, args.tags)),
            popularity_skew=args.popularity_skew,
            drift_rate=args.drift_rate,
            inactive_fraction=args.inactive_fraction,
            mean_gap_ms=args.mean_gap_ms,
            n_authors=args.authors,
            seed=args.seed,
            id_prefix=f"r{int(time.time() * 1000):x}" if args.fresh_ids else "",
        )
        gen = SyntheticStream(cfg)
        return Source("synthetic", gen.items(), gen.events(), cfg.total_events, gen.profiles())
    if args.data is None:
        raise ConfigError(f"--source {args.source} needs --data PATH")
    if args.source == "ml-100k":
        from homerec.datasets.movielens import load_ml100k

        ds = load_ml100k(args.data)
        return Source(ds.name, ds.items, ds.events, len(ds.events), ds.profiles)
    path: Path = args.data
    if not path.is_file():
        raise ConfigError(f"{path} is not a file")
    return Source(path.name, (), _read_jsonl(path))


def _read_jsonl(path: Path) -> Iterator[Event]:
    """Events of a JSON-lines file, lazily; a bad line stops the replay with its line number."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield Event.from_dict(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n}: not JSON ({exc.msg})") from None
            except InvalidEvent as exc:
                raise ConfigError(f"{path}:{n}: invalid event: {exc}") from None


# -- sending -------------------------------------------------------------------


class TokenBucket:
    """Average ``rate`` operations per second, bursts up to ``burst``; sleeps, never spins.

    Tokens may go negative: :meth:`take` then sleeps until the debt is repaid,
    so callers can take many tokens at once and the long-run rate stays exact.

    >>> now = [0.0]
    >>> bucket = TokenBucket(100.0, burst=10, clock=lambda: now[0],
    ...                      sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> bucket.take(10); now[0]            # the initial burst is free
    0.0
    >>> bucket.take(50); round(now[0], 3)  # 50 more at 100/s: half a second
    0.5
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ConfigError(f"rate must be positive, got {rate:g}")
        self.rate = rate
        self.burst = max(1.0, rate / 20) if burst is None else burst
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._last = clock()

    def take(self, n: float = 1.0) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= n
        if self._tokens < 0:
            self._sleep(-self._tokens / self.rate)


@dataclass
class Delivery:
    """Counts acknowledged and failed sends; callbacks run on the producer's I/O thread."""

    acked: int = 0
    failed: int = 0
    first_error: BaseException | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self, _metadata: Any) -> None:
        with self._lock:
            self.acked += 1

    def error(self, exc: BaseException) -> None:
        with self._lock:
            self.failed += 1
            if self.first_error is None:
                self.first_error = exc
        log.debug("delivery failed: %r", exc)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    events: int
    items: int
    failed: int
    seconds: float
    first_error: BaseException | None = None
    profiles: int = 0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _compression(choice: str) -> str | None:
    available = {
        "gzip": kafka_codec.has_gzip(),
        "lz4": kafka_codec.has_lz4(),
        "snappy": kafka_codec.has_snappy(),
        "zstd": kafka_codec.has_zstd(),
    }
    if choice == "auto":
        # lz4 compresses fast; gzip (zlib) is always there
        return "lz4" if available["lz4"] else "gzip"
    if choice == "none":
        return None
    if not available[choice]:
        raise ConfigError(f"--compression {choice}: its Python library is not installed")
    return choice


class _CachedKeyPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """kafka-python's murmur2 partitioner (same placement as Java's) with a per-key cache.

    Users recur often in a stream, and pure-Python murmur2 is a measurable part
    of each send.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bytes], tuple[int, int]] = {}

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        if serialized_key is None:
            return int(super().partition(topic, key, None, value, serialized_value, cluster))
        n = len(cluster.partitions_for_topic(topic) or ())
        hit = self._cache.get((topic, serialized_key))
        if hit is not None and hit[0] == n:
            return hit[1]
        p = int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
        if len(self._cache) >= 1_000_000:
            self._cache.clear()
        self._cache[(topic, serialized_key)] = (n, p)
        return p


def make_producer(settings: Settings, compression: str | None) -> Any:
    """A kafka-python producer tuned for bulk replay: idempotent, acks=all, batched."""
    try:
        return KafkaProducer(
            **settings.client_options(
                client_id="homerec-replay",
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                batch_size=256 * 1024,
                compression_type=compression,
                partitioner=_CachedKeyPartitioner(),
                max_block_ms=30_000,
            )
        )
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot reach Kafka at {settings.bootstrap}: {exc}", exc) from exc


def check_topics(settings: Settings, names: Iterable[str], timeout_s: float = 5.0) -> None:
    """Raise :class:`streams.errors.TopicMissing` unless every topic exists."""
    try:
        consumer = KafkaConsumer(**settings.client_options(client_id="homerec-replay-check"))
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot reach Kafka at {settings.bootstrap}: {exc}", exc) from exc
    try:
        for name in names:
            partitions_for(consumer, name, timeout_s)
    finally:
        consumer.close()


def _encode_event(event: Event, ts: int | None) -> tuple[bytes, bytes]:
    if ts is None:
        return encode_event(event)
    raw = event.to_dict()
    raw["ts"] = ts
    return event.user.encode("utf-8"), packb(raw)


def _send(send: Any, delivery: Delivery, topic: str, key: bytes, value: bytes) -> None:
    """Queue one message; a message the client refuses (too large) counts as failed."""
    try:
        fut = send(topic, key=key, value=value)
    except MessageSizeTooLargeError as exc:
        delivery.error(exc)
        return
    fut.add_callback(delivery.ok).add_errback(delivery.error)


def replay(
    settings: Settings,
    source: Source,
    *,
    producer: Any,
    rate: float | None = None,
    limit: int | None = None,
    timestamps: str = "original",
    catalog: bool = True,
    profiles: bool = True,
    progress: bool = False,
) -> ReplayResult:
    """Send ``source`` through ``producer``; flush; count what the broker acknowledged.

    Raises :class:`streams.errors.DeliveryFailed` when the flush does not finish
    or a send cannot even be queued; failed acknowledgements are counted in the
    result (the caller decides the exit code).
    """

    if timestamps not in TIMESTAMPS:
        raise ConfigError(f"timestamps must be one of {', '.join(TIMESTAMPS)}")
    if limit is not None and limit < 0:
        raise ConfigError("--limit must be >= 0")
    delivery = Delivery()
    events_topic, items_topic = settings.topic(EVENTS.name), settings.topic(ITEMS.name)
    start = time.perf_counter()
    n_items = n_events = n_profiles = 0
    try:
        if catalog:
            for item in source.items:
                key, value = encode_item(item)
                _send(producer.send, delivery, items_topic, key, value)
                n_items += 1
        if profiles:
            users_topic = settings.topic(USERS.name)
            for profile in source.profiles:
                key, value = encode_profile(profile)
                _send(producer.send, delivery, users_topic, key, value)
                n_profiles += 1
        total = source.total if limit is None else min(limit, source.total or limit)
        bucket = TokenBucket(rate) if rate else None
        group = max(1, min(1_000, int(rate / 100))) if rate else 500
        shift: int | None = None
        bar = tqdm(
            total=total,
            unit="ev",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            mininterval=0.5,
            desc="replay",
        )
        with bar:
            pending = 0
            send = producer.send
            for event in source.events:
                if limit is not None and n_events >= limit:
                    break
                if bucket is not None and pending == 0:
                    bucket.take(group)
                ts: int | None = None
                if timestamps == "now":
                    ts = int(time.time() * 1000)
                elif timestamps == "shift":
                    if shift is None:
                        shift = int(time.time() * 1000) - event.ts
                    ts = event.ts + shift
                key, value = _encode_event(event, ts)
                _send(send, delivery, events_topic, key, value)
                n_events += 1
                pending += 1
                if pending >= group:
                    bar.update(pending)
                    pending = 0
            bar.update(pending)
    except KafkaError as exc:
        raise DeliveryFailed(f"replay stopped after {n_events} events: {exc}", exc) from exc
    sent = n_events + n_items + n_profiles
    try:
        producer.flush(timeout=120)
    except KafkaError as exc:
        # kafka-python's flush raises when a fatal error aborted batches; the aborted
        # futures still fail (and are counted) through their errbacks
        log.warning("flush: %r", exc)
        deadline = time.monotonic() + 10.0
        while delivery.acked + delivery.failed < sent and time.monotonic() < deadline:
            time.sleep(0.05)
    seconds = time.perf_counter() - start
    if delivery.acked + delivery.failed < sent:
        missing = sent - delivery.acked - delivery.failed
        raise DeliveryFailed(
            f"{missing} of {sent} messages were neither acknowledged nor failed at flush "
            f"({delivery.failed} failed)"
        )
    if delivery.failed:
        log.error("first delivery error: %r", delivery.first_error)
    return ReplayResult(
        n_events, n_items, delivery.failed, seconds, delivery.first_error, n_profiles
    )


def _close(producer: Any) -> None:
    try:
        producer.close(timeout=10)
    except KafkaError as exc:  # already accounted for by the delivery counts
        log.warning("closing the producer: %r", exc)


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    # fail fast on an unreachable broker (kafka-python waits 30 s by default)
    options = {"bootstrap_timeout_ms": 10_000, **settings.kafka_options}
    settings = dataclasses.replace(settings, kafka_options=options)
    if args.rate is not None and args.rate <= 0:
        raise ConfigError("--rate must be positive")
    source = _open_source(args)
    timestamps = args.timestamps or ("now" if args.source == "synthetic" else "original")
    if args.create_topics:
        create_topics(settings)
    needed = [settings.topic(EVENTS.name)] + (
        [] if args.no_catalog else [settings.topic(ITEMS.name)]
    )
    check_topics(settings, needed)
    profiles = not args.no_profiles
    if profiles:
        try:
            check_topics(settings, [settings.topic(USERS.name)], timeout_s=2.0)
        except TopicMissing:
            # a deployment from before the users topic: the events still go
            print(
                f"homerec replay: {settings.topic(USERS.name)} does not exist, profiles not "
                "sent ('homerec topics create' adds it)",
                file=sys.stderr,
            )
            profiles = False
    producer = make_producer(settings, _compression(args.compression))
    try:
        result = replay(
            settings,
            source,
            producer=producer,
            rate=args.rate,
            limit=args.limit,
            timestamps=timestamps,
            catalog=not args.no_catalog,
            profiles=profiles,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    finally:
        _close(producer)
    print(
        f"replayed {result.events} events from {source.name} to {settings.topic(EVENTS.name)} "
        f"{result.items} items to {settings.topic(ITEMS.name)} and {result.profiles} profiles "
        f"to {settings.topic(USERS.name)} in {result.seconds:.2f}s "
        f"({result.rate:,.0f} events/s)"
    )
    if args.source == "synthetic" and not args.fresh_ids and result.events:
        print(
            f"event ids e{args.seed}.0 to e{args.seed}.{result.events - 1}: a worker skips an id "
            "it applied within its --dedup-window, so a second replay of this stream is not "
            "learned again (--fresh-ids sends it as new events)"
        )
    if result.failed:
        print(
            f"homerec replay: error: {result.failed} messages were not delivered "
            f"(first: {result.first_error!r})",
            file=sys.stderr,
        )
        return 1
    return 0
