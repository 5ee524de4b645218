"""``homerec demo``: the whole loop on the local broker in one command.

Creates the topics, starts a worker (in this process), replays a synthetic
world (catalog + events) into Kafka, waits until the worker has caught up, and
prints a few users' homepages next to what they engaged with.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from tqdm import tqdm

from homerec.datasets.synthetic import DEMO_WORLD, SyntheticStream
from homerec.homepage import Homepage
from homerec.models import DEFAULT_MODEL, MODELS, WORKER_PARAMS, make_model
from streams.codec import decode_homepage, encode_event, encode_item, encode_profile
from streams.commands.arguments import positive_float, positive_int
from streams.config import Settings, add_connection_arguments, settings_from_args
from streams.errors import StreamsError
from streams.logs import hold_back_kafka
from streams.topics import check_broker, create_topics
from streams.worker import Worker, WorkerConfig

__all__ = ["register"]

log = logging.getLogger("homerec.demo")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run the whole loop locally on synthetic data and print a few homepages",
        description=(
            "Create the topics, start a worker, replay a synthetic world (catalog + events), "
            "wait until the worker caught up, and print a few users' homepages. Needs a broker "
            "(deploy/kafka/local-kafka.sh start; 'make demo' does both)."
        ),
    )
    world = DEMO_WORLD
    parser.add_argument(
        "--users",
        type=positive_int,
        default=world.n_users,
        help=f"synthetic users (default {world.n_users})",
    )
    parser.add_argument(
        "--items",
        type=positive_int,
        default=world.n_items,
        help=f"catalog size (default {world.n_items})",
    )
    parser.add_argument(
        "--events",
        type=positive_int,
        default=world.total_events,
        help=f"events to replay (default {world.total_events})",
    )
    parser.add_argument(
        "--show", type=positive_int, default=3, help="homepages to print (default 3)"
    )
    parser.add_argument(
        "--k",
        type=positive_int,
        default=WorkerConfig().k,
        help=f"list length (default {WorkerConfig().k})",
    )
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, choices=sorted(MODELS), help=f"default {DEFAULT_MODEL}"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=world.seed,
        help=f"seed of the synthetic world (default {world.seed})",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=300.0,
        help="give up after this many seconds (default 300)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    hold_back_kafka()
    settings = settings_from_args(args)
    check_broker(settings)  # one error line, not the client's retries, without a broker
    started = time.monotonic()
    run_ms = int(time.time() * 1000)
    created = create_topics(settings, partitions=4)
    print(f"topics: {', '.join(f'{n} ({w})' for n, w in created.items())}")
    earlier = _events_in_topic(settings)
    if earlier:
        print(
            f"{settings.topic('events')} already holds {earlier:,} events from before this "
            "run: the worker restores the state they built and learns this run's events on "
            "top (--topic-prefix NEW starts from scratch)"
        )
    # the same world as every demo run and as 'homerec replay --source synthetic' (same
    # catalog), but event ids of this run: ids of an earlier run would be dropped as
    # duplicates by the worker's de-duplication window
    world = SyntheticStream(
        replace(
            DEMO_WORLD,
            n_users=args.users,
            n_items=args.items,
            n_events=args.events,
            seed=args.seed,
            start_ts=int(run_ms - args.events * DEMO_WORLD.mean_gap_ms),
            id_prefix=_run_id(run_ms),
        )
    )
    catalog = {item.item: item for item in world.items()}
    model = make_model(args.model, **WORKER_PARAMS)
    worker = Worker(settings, model, WorkerConfig(k=args.k))
    skipped_before = _skipped()
    error: list[BaseException] = []

    def _work() -> None:
        try:
            worker.run()
        except BaseException as exc:  # noqa: BLE001 - reported below
            error.append(exc)

    thread = threading.Thread(target=_work, name="homerec-worker", daemon=True)
    thread.start()

    producer = KafkaProducer(**settings.client_options(acks="all", linger_ms=10))
    history: dict[str, list[tuple[str, str]]] = defaultdict(list)
    activity: Counter[str] = Counter()
    try:
        for item in catalog.values():
            key, value = encode_item(item)
            producer.send(settings.topic("items"), key=key, value=value)
        profiles = world.profiles()
        for profile in profiles:  # the users' profiles: the worker's users table
            key, value = encode_profile(profile)
            producer.send(settings.topic("users"), key=key, value=value)
        producer.flush()
        t0 = time.monotonic()
        for event in tqdm(
            world.events(), total=args.events, desc="replaying events", unit="ev", leave=False
        ):
            # stamp events with the wall clock, as a live producer would, so the printed
            # freshness (publish time - newest event time) is real
            key, value = encode_event(replace(event, ts=time.time_ns() // 1_000_000))
            producer.send(settings.topic("events"), key=key, value=value)
            history[event.user].append((event.type, event.item))
            activity[event.user] += 1
        producer.flush()
        produce_s = time.monotonic() - t0
    finally:
        producer.close(timeout=10)
    print(
        f"replayed {args.events} events ({args.events / produce_s:,.0f}/s), {len(catalog)} items "
        f"and {len(profiles)} profiles"
    )

    t1 = time.monotonic()
    try:
        _wait_caught_up(settings, args.timeout, error)
    finally:
        worker.request_stop()
        thread.join(15)
    if error:
        raise StreamsError(f"worker failed: {error[0]}", error[0])
    print(
        f"worker caught up {time.monotonic() - t1:.1f}s after the last event was sent "
        f"(total {time.monotonic() - started:.1f}s)"
    )
    skipped = _skipped() - skipped_before
    if skipped:
        print(
            f"note: the worker skipped {skipped:,.0f} of the {args.events:,} events as "
            "duplicates (an id it had already applied, within its --dedup-window)"
        )
    shown = [u for u, _ in activity.most_common(args.show)]
    # only lists this run published: an older one would show an earlier run's state
    pages = {u: p for u, p in _latest_pages(settings, shown).items() if p.ts >= run_ms}
    for user in shown:
        _print_page(user, pages.get(user), history[user], catalog, earlier=bool(earlier))
    lag_ms = max(map(_lag_ms, pages.values()), default=0)
    if lag_ms > 1000:
        print(
            f"\n(published up to {lag_ms / 1000:.1f}s after their newest event: the events "
            f"came as one burst of {args.events / produce_s:,.0f}/s, faster than one worker "
            "learns them; 'homerec bench' measures freshness at a steady load)"
        )
    print(
        "\nNext: 'homerec recs USER' prints any user's list; 'homerec worker' runs a worker "
        "that keeps going; 'homerec replay --source synthetic' sends more events of this "
        "world; see README.md."
    )
    return 0


def _run_id(run_ms: int) -> str:
    """What this run's event ids start with: unique per run (the start time, in hex)."""
    return f"demo-{run_ms:x}"


def _skipped() -> float:
    """Events the in-process worker has skipped as duplicates so far (its own counter)."""
    from streams import metrics

    return sum(
        sample.value
        for metric in metrics.EVENTS_CONSUMED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("outcome") == "duplicate"
    )


def _events_in_topic(settings: Settings) -> int:
    """How many events the events topic holds (end minus start offsets)."""
    consumer = KafkaConsumer(**settings.client_options(group_id=None, enable_auto_commit=False))
    try:
        topic = settings.topic("events")
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return 0
        start, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return sum(end[tp] - start[tp] for tp in tps)
    finally:
        consumer.close(autocommit=False)


def _wait_caught_up(settings: Settings, timeout_s: float, error: list[BaseException]) -> None:
    """Block until the worker group's committed offsets reach the end of the events topic."""
    consumer = KafkaConsumer(**settings.client_options(group_id=settings.group))
    try:
        topic = settings.topic("events")
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        end = consumer.end_offsets(tps)
        total = sum(end.values())
        deadline = time.monotonic() + timeout_s
        with tqdm(total=total, desc="worker progress", unit="ev", leave=False) as bar:
            while True:
                if error:
                    return
                done = sum(min(consumer.committed(tp) or 0, end[tp]) for tp in tps)
                bar.update(done - bar.n)
                if done >= total:
                    return
                if time.monotonic() > deadline:
                    raise StreamsError(f"worker did not catch up within {timeout_s:.0f}s")
                time.sleep(0.25)
    finally:
        consumer.close(autocommit=False)


def _latest_pages(settings: Settings, users: list[str]) -> dict[str, Homepage]:
    wanted = set(users)
    consumer = KafkaConsumer(**settings.client_options(group_id=None, enable_auto_commit=False))
    try:
        topic = settings.topic("recommendations")
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        pages: dict[str, Homepage] = {}
        while any(consumer.position(tp) < end[tp] for tp in tps):
            for recs in consumer.poll(timeout_ms=500).values():
                for rec in recs:
                    if rec.key is not None and rec.key.decode() in wanted:
                        page = decode_homepage(rec.value)
                        pages[page.user] = page
        return pages
    finally:
        consumer.close(autocommit=False)


def _lag_ms(page: Homepage) -> int:
    """How long after its newest event a list was published."""
    return max(0, page.ts - page.event_ts)


def _print_page(
    user: str,
    page: Homepage | None,
    history: list[tuple[str, str]],
    catalog: dict[str, Any],
    *,
    earlier: bool = False,
) -> None:
    liked = [item for kind, item in history if kind in ("click", "share", "rating")]
    tags = Counter(tag for item in liked for tag in catalog[item].tags)
    print(
        f"\n== {user}: {len(history)} events{' this run' if earlier else ''}; favourite tags: "
        f"{', '.join(t for t, _ in tags.most_common(4)) or '-'}"
    )
    if page is None:
        print("   (no homepage published in this run)")
        return
    print(
        f"   homepage after {page.events} events{', earlier runs included,' if earlier else ''} "
        f"published {_lag_ms(page)} ms after the newest event:"
    )
    explored = page.explore or (False,) * len(page.items)
    for rank, ((item, score), explore) in enumerate(zip(page.items, explored, strict=True), 1):
        entry = catalog.get(item)
        title = entry.title if entry else item
        itags = ", ".join(entry.tags) if entry else ""
        # an explored slot is drawn, not ranked: its score need not follow the others'
        mark = "  (explored)" if explore else ""
        print(f"   {rank:2d}. {title:38s} [{itags}]  score {score:.3f}{mark}")
