"""``homerec recs`` against the real broker (uuid-named topics)."""

from __future__ import annotations

import json
import re

import pytest
from kafka import KafkaProducer

from homerec.homepage import Homepage
from homerec.items import Item
from streams.cli import main
from streams.codec import encode_homepage
from streams.commands import recs
from streams.config import Settings
from tests.streams.fixtures import send_items


def run(*argv: str) -> int:
    """``homerec recs ARGV`` through the real entry point (errors: one line on stderr, exit 2)."""
    return main(["recs", *argv])


def command_lines(err: str) -> list[str]:
    """What the command itself wrote to stderr: without records that Kafka clients of
    other tests (the session producer's network thread) may log meanwhile."""
    return [line for line in err.splitlines() if not KAFKA_LOG_LINE.match(line)]


KAFKA_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \w+ +kafka[.\w]*: ")


def conn(settings: Settings) -> list[str]:
    return ["--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix]


def page(user: str, items: list[tuple[str, float]], ts: int) -> Homepage:
    return Homepage(user, tuple(items), ts=ts, event_ts=ts - 1_000, events=ts % 100)


@pytest.fixture
def published(settings: Settings, producer: KafkaProducer) -> Settings:
    """Two lists for alice (the second one is current), one for bob, a tombstone for carol."""
    topic = settings.topic("recommendations")
    for hp in (
        page("alice", [("m1", 0.9), ("m2", 0.5)], 1_700_000_000_000),
        page("bob", [("m3", 0.7)], 1_700_000_000_500),
        page("carol", [("m1", 0.1)], 1_700_000_000_600),
        page("alice", [("m4", 0.95), ("m1", 0.8), ("m9", 0.2)], 1_700_000_001_000),
    ):
        key, value = encode_homepage(hp)
        producer.send(topic, key=key, value=value)
    producer.send(topic, key=b"carol", value=None)
    producer.flush()
    send_items(producer, settings, [Item("m4", "Heat"), Item("m1", "Alien"), Item("m3", "")])
    return settings


@pytest.mark.kafka
def test_prints_the_latest_list_with_titles(
    published: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("alice", "bob", *conn(published)) == 0
    out = capsys.readouterr().out
    alice, bob = out.split("\n\n")
    assert alice.splitlines()[0].startswith("user alice: published 2023-11-14 22:13:21Z")
    rows = [line.split() for line in alice.splitlines()[2:]]
    assert rows == [["1", "m4", "0.9500", "Heat"], ["2", "m1", "0.8000", "Alien"],
                    ["3", "m9", "0.2000"]]  # fmt: skip
    assert "m2" not in alice  # the older list is superseded
    assert [line.split() for line in bob.splitlines()[2:]] == [["1", "m3", "0.7000"]]


@pytest.mark.kafka
def test_json_output_and_missing_users(
    published: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("alice", "carol", "nobody", "--json", *conn(published)) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert list(data) == ["alice", "carol", "nobody"]
    assert [e["item"] for e in data["alice"]["items"]] == ["m4", "m1", "m9"]
    assert data["alice"]["items"][0] == {
        "item": "m4",
        "score": 0.95,
        "explore": False,
        "p": 1.0,
        "title": "Heat",
    }
    assert "title" not in data["alice"]["items"][2]
    assert data["alice"]["ts"] == 1_700_000_001_000
    assert data["carol"] is None  # deleted by the tombstone
    assert data["nobody"] is None
    assert "no list yet for 2 user(s): carol, nobody" in captured.err


@pytest.mark.kafka
def test_no_titles_flag_skips_the_catalog(
    published: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("alice", "--no-titles", *conn(published)) == 0
    assert "Heat" not in capsys.readouterr().out


@pytest.mark.kafka
def test_titles_are_optional_when_the_catalog_topic_is_missing(
    bootstrap: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(f"{topic_prefix}.recommendations", 2, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    key, value = encode_homepage(page("dave", [("x1", 1.0)], 1_700_000_000_000))
    producer.send(f"{topic_prefix}.recommendations", key=key, value=value)
    producer.close()
    assert run("dave", "--bootstrap", bootstrap, "--topic-prefix", topic_prefix) == 0
    assert "x1" in capsys.readouterr().out


@pytest.mark.kafka
def test_missing_topic_is_a_one_line_error(
    bootstrap: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("alice", "--bootstrap", bootstrap, "--topic-prefix", topic_prefix) == 2
    assert command_lines(capsys.readouterr().err) == [
        f"homerec recs: error: topic {topic_prefix}.recommendations does not exist; "
        "run 'homerec topics create'"
    ]


@pytest.mark.kafka
def test_unreachable_broker_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("alice", "--bootstrap", "localhost:1") == 2
    lines = command_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("homerec recs: error: cannot reach Kafka at localhost:1")


def test_table_of_an_empty_list() -> None:
    text = recs.format_table("u", Homepage("u", (), ts=0, event_ts=0, events=0))
    assert text == "user u: published -, 0 events, newest event -\n  (empty list)"
