"""``homerec replay`` against the real broker (uuid-named topics); unit tests of the token bucket."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from homerec.datasets.synthetic import DEMO_WORLD, SyntheticStream
from homerec.errors import ConfigError
from homerec.events import Event
from streams.cli import build_parser, main
from streams.codec import decode_event, decode_item
from streams.commands import replay
from streams.config import Settings
from tests.streams.fixtures import read_all

SHARED_ML100K = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ml-100k"


def run(*argv: str) -> int:
    """``homerec replay ARGV`` through the real entry point (errors: one line on stderr, exit 2)."""
    return main(["replay", *argv])


def conn(settings: Settings) -> list[str]:
    return ["--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix, "--quiet"]


# -- token bucket (no broker) ------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_token_bucket_keeps_the_average_rate() -> None:
    clock = FakeClock()
    bucket = replay.TokenBucket(1_000.0, burst=10, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        bucket.take(50)
    # 5000 tokens at 1000/s, minus the initial burst of 10
    assert clock.now == pytest.approx(4.99, abs=1e-6)
    assert all(s > 0 for s in clock.sleeps)


def test_token_bucket_does_not_sleep_within_the_burst_and_refills() -> None:
    clock = FakeClock()
    bucket = replay.TokenBucket(100.0, burst=20, clock=clock, sleep=clock.sleep)
    bucket.take(20)
    assert clock.sleeps == []
    clock.now += 10.0  # idle time refills, but only up to the burst
    bucket.take(20)
    assert clock.sleeps == []
    bucket.take(1)
    assert clock.sleeps == [pytest.approx(0.01)]


def test_token_bucket_rejects_bad_rate() -> None:
    with pytest.raises(ConfigError):
        replay.TokenBucket(0.0)


# -- against the broker --------------------------------------------------------------------


@pytest.mark.kafka
def test_synthetic_replay_delivers_catalog_and_events_in_order(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = dataclasses.replace(DEMO_WORLD, n_users=40, n_items=25, n_events=600, seed=5)
    argv = ["--users", "40", "--items", "25", "--events", "600", "--seed", "5"]
    assert run(*argv, "--timestamps", "original", *conn(settings)) == 0
    out = capsys.readouterr().out
    assert "replayed 600 events" in out
    assert "event ids e5.0 to e5.599" in out and "--fresh-ids" in out

    gen = SyntheticStream(cfg)
    records = read_all(settings, "events")
    assert len(records) == 600
    got: dict[str, list[Event]] = defaultdict(list)
    for rec in records:
        event = decode_event(rec.key, rec.value)  # key = user id, value validates
        got[event.user].append(event)
    want: dict[str, list[Event]] = defaultdict(list)
    for event in gen:
        want[event.user].append(event)
    assert got == want  # per user (= per partition) in the generator's order
    assert {e.id for es in got.values() for e in es} == {e.id for e in gen}

    items = [decode_item(r.key, r.value) for r in read_all(settings, "items")]
    assert sorted(items, key=lambda it: int(it.item[1:])) == gen.items()


@pytest.mark.kafka
def test_limit_rate_and_wall_clock_timestamps(settings: Settings) -> None:
    start_ms = int(time.time() * 1000)
    t0 = time.monotonic()
    argv = ["--events", "1000", "--limit", "300", "--rate", "1000", "--timestamps", "now"]
    assert run(*argv, "--no-catalog", *conn(settings)) == 0
    elapsed = time.monotonic() - t0
    records = read_all(settings, "events")
    assert len(records) == 300
    assert elapsed >= 0.2  # 300 events at 1000/s, minus a burst of 50
    events = [decode_event(r.key, r.value) for r in records]
    assert all(start_ms - 1_000 <= e.ts <= int(time.time() * 1000) for e in events)
    assert read_all(settings, "items") == []


@pytest.mark.kafka
def test_shifted_timestamps_keep_the_gaps(settings: Settings) -> None:
    before = int(time.time() * 1000)
    assert run("--events", "200", "--no-catalog", "--timestamps", "shift", *conn(settings)) == 0
    events = sorted(
        (decode_event(r.key, r.value) for r in read_all(settings, "events")), key=lambda e: e.id
    )
    original = {e.id: e.ts for e in SyntheticStream(dataclasses.replace(DEMO_WORLD, n_events=200))}
    offsets = {e.ts - original[e.id] for e in events}
    assert len(offsets) == 1
    first = min(e.ts for e in events)
    assert before <= first <= int(time.time() * 1000)


@pytest.mark.kafka
def test_events_jsonl_source(settings: Settings, tmp_path: Path) -> None:
    events = [
        Event("alice", "m1", "click", 1_700_000_000_000),
        Event("bob", "m2", "rating", 1_700_000_000_500, 4.0, id="x1"),
        Event("alice", "m3", "share", 1_700_000_001_000, context={"page": "home"}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in events) + "\n")
    assert run("--source", "events-jsonl", "--data", str(path), *conn(settings)) == 0
    got = [decode_event(r.key, r.value) for r in read_all(settings, "events")]
    assert sorted(got, key=lambda e: e.ts) == events


@pytest.mark.kafka
def test_events_jsonl_bad_line_is_reported_with_its_number(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"user": "u", "item": "i", "type": "view", "ts": 1_700_000_000_000})
    path.write_text(good + "\n" + '{"user": "u", "item": "i", "type": "like", "ts": 1}\n')
    assert run("--source", "events-jsonl", "--data", str(path), *conn(settings)) == 2
    assert "bad.jsonl:2: invalid event" in capsys.readouterr().err


def test_missing_data_argument() -> None:
    assert run("--source", "events-jsonl", "--bootstrap", "localhost:9092") == 2


@pytest.mark.kafka
@pytest.mark.skipif(not (SHARED_ML100K / "u.data").is_file(), reason="no ../shared ML-100K")
def test_ml100k_source(settings: Settings) -> None:
    argv = ["--source", "ml-100k", "--data", str(SHARED_ML100K), "--limit", "500"]
    assert run(*argv, *conn(settings)) == 0
    events = [decode_event(r.key, r.value) for r in read_all(settings, "events")]
    assert len(events) == 500 and all(e.type == "rating" for e in events)
    items = read_all(settings, "items")
    assert len(items) == 1682
    assert any(decode_item(r.key, r.value).title.startswith("Toy Story") for r in items)


@pytest.mark.kafka
def test_missing_topics_fail_with_a_clear_message(
    bootstrap: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--events", "10", "--bootstrap", bootstrap, "--topic-prefix", topic_prefix, "-q"]
    assert run(*argv) == 2
    out = capsys.readouterr().err
    assert f"topic {topic_prefix}.events does not exist" in out
    assert "Traceback" not in out


@pytest.mark.kafka
def test_create_topics_flag(bootstrap: str, topic_prefix: str) -> None:
    argv = ["--events", "50", "--create-topics", "--bootstrap", bootstrap]
    assert run(*argv, "--topic-prefix", topic_prefix, "-q") == 0
    assert len(read_all(Settings(bootstrap=bootstrap, topic_prefix=topic_prefix), "events")) == 50


@pytest.mark.kafka
def test_unreachable_broker(capsys: pytest.CaptureFixture[str]) -> None:
    # port 1 refuses at once; the command gives up after its bootstrap timeout
    assert run("--events", "10", "--bootstrap", "localhost:1", "-q") == 2
    assert "cannot reach Kafka at localhost:1" in capsys.readouterr().err


@pytest.mark.kafka
def test_broker_rejections_are_counted_and_fail_the_command(
    bootstrap: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A topic whose max.message.bytes is below a batch: the broker refuses, nothing is lost
    silently."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [
                NewTopic(
                    f"{topic_prefix}.events", 1, 1, topic_configs={"max.message.bytes": "100"}
                ),
                NewTopic(
                    f"{topic_prefix}.items", 1, 1, topic_configs={"cleanup.policy": "compact"}
                ),
            ]
        )
    finally:
        admin.close()
    argv = ["--events", "40", "--bootstrap", bootstrap, "--topic-prefix", topic_prefix, "-q"]
    assert run(*argv, "--compression", "none") == 1
    err = capsys.readouterr().err
    assert "messages were not delivered" in err


@pytest.mark.kafka
def test_client_refused_message_is_counted_and_the_rest_delivered(settings: Settings) -> None:
    events = [Event(f"u{i}", "i1", "view", 1_700_000_000_000 + i) for i in range(20)]
    events[7] = Event("u7", "i1", "view", 1_700_000_000_007, context={"blob": "x" * 2_000_000})
    source = replay.Source("test", (), events, len(events))
    producer = replay.make_producer(settings, None)
    try:
        result = replay.replay(settings, source, producer=producer)
    finally:
        producer.close()
    assert (result.events, result.failed) == (20, 1)
    assert "MessageSizeTooLarge" in repr(result.first_error)
    assert len(read_all(settings, "events")) == 19


def test_synthetic_defaults_are_the_demo_world() -> None:
    """A replay after 'homerec demo' sends the demo's catalog: same ids, titles and tags."""
    args = build_parser().parse_args(["replay"])
    source = replay._open_source(args)
    demo_items = SyntheticStream(DEMO_WORLD).items()
    assert [(i.item, i.title, i.tags, i.active) for i in source.items] == [
        (i.item, i.title, i.tags, i.active) for i in demo_items
    ]
    assert source.total == DEMO_WORLD.n_users * DEMO_WORLD.events_per_user


@pytest.mark.kafka
def test_synthetic_events_are_stamped_now_and_fresh_ids_are_new(settings: Settings) -> None:
    before = int(time.time() * 1000)
    argv = ["--users", "30", "--items", "20", "--events", "50", "--no-catalog", *conn(settings)]
    assert run(*argv) == 0
    assert run(*argv, "--fresh-ids") == 0
    events = [decode_event(r.key, r.value) for r in read_all(settings, "events")]
    assert len(events) == 100 and all(before <= e.ts <= int(time.time() * 1000) for e in events)
    stable = {e.id for e in events if e.id and e.id.startswith("e7.")}
    assert len(stable) == 50 and len({e.id for e in events}) == 100
