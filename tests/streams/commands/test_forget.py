"""``homerec forget``: tombstones on the users topic, partitioned like the user's events."""

from __future__ import annotations

import pytest
from kafka import KafkaProducer

from homerec.events import Event
from streams.cli import main
from streams.config import Settings
from tests.streams.fixtures import read_all, send_events

pytestmark = pytest.mark.kafka

USERS = ["ann", "bob", "u17", "zoë"]


def test_forget_sends_tombstones_to_the_users_partitions(
    settings: Settings, producer: KafkaProducer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix]
    assert main(["forget", *USERS, "ann", *argv]) == 0
    out = capsys.readouterr().out
    assert "sent 4 deletion requests" in out
    assert not any(u in out for u in USERS)  # ids are not printed
    send_events(producer, settings, [Event(u, "i1", "click", 1_700_000_000_000) for u in USERS])
    events = {r.key: r.partition for r in read_all(settings, "events")}
    tombstones = read_all(settings, "users")
    assert sorted(r.key for r in tombstones) == sorted(u.encode() for u in USERS)
    assert all(r.value is None for r in tombstones)
    # co-partitioned: the worker owning a user's events reads its deletion request
    assert {r.key: r.partition for r in tombstones} == events
    assert len(set(events.values())) > 1


def test_forget_refuses_a_bad_id(settings: Settings) -> None:
    argv = ["--bootstrap", settings.bootstrap, "--topic-prefix", settings.topic_prefix]
    assert main(["forget", "x" * 300, *argv]) != 0
    assert read_all(settings, "users") == []
