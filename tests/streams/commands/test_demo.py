"""``homerec demo`` run twice on the same topics (real broker, uuid-named topics)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from streams.cli import main
from streams.commands import demo
from streams.config import Settings
from streams.topics import delete_topics
from tests.streams.commands.test_recs import command_lines
from tests.streams.commands.test_worker_cli import closed_port

SMALL = [
    "--users",
    "60",
    "--items",
    "40",
    "--events",
    "400",
    "--show",
    "2",
    "--model",
    "popularity",
]


def run_demo(settings: Settings, capsys: pytest.CaptureFixture[str]) -> str:
    argv = [
        "demo",
        *SMALL,
        "--bootstrap",
        settings.bootstrap,
        "--topic-prefix",
        settings.topic_prefix,
    ]
    assert main(argv) == 0
    return capsys.readouterr().out


def shown(out: str) -> list[tuple[int, int, int]]:
    """(events this run, events the page was built on, ms after the newest event) per user."""
    users = [int(n) for n in re.findall(r"^== u\d+: (\d+) events", out, re.M)]
    pages = re.findall(r"homepage after (\d+) events.*published (\d+) ms after", out)
    assert len(users) == len(pages) == 2, out
    return [(u, int(n), int(ms)) for u, (n, ms) in zip(users, pages, strict=True)]


@pytest.fixture
def demo_settings(bootstrap: str, topic_prefix: str) -> Iterator[Settings]:
    """Settings whose topics the demo creates itself, deleted afterwards."""
    settings = Settings(bootstrap=bootstrap, topic_prefix=topic_prefix)
    yield settings
    delete_topics([settings])


@pytest.mark.kafka
@pytest.mark.slow
def test_a_second_run_learns_its_events_and_shows_fresh_pages(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_demo(demo_settings, capsys)
    assert "already holds" not in first and "skipped" not in first
    second = run_demo(demo_settings, capsys)
    assert "already holds 400 events from before this run" in second
    assert "skipped" not in second
    for (mine_1, page_1, ms_1), (mine_2, page_2, ms_2) in zip(
        shown(first), shown(second), strict=True
    ):
        assert mine_1 == mine_2 == page_1  # the same world; the first page counts this run's
        assert page_2 == page_1 + mine_2  # the second learned its own events on top
        assert 0 <= ms_1 < 120_000 and 0 <= ms_2 < 120_000  # sane freshness figures


@pytest.mark.kafka
@pytest.mark.slow
def test_events_dropped_as_duplicates_are_reported(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "_run_id", lambda _run_ms: "same-ids")
    run_demo(demo_settings, capsys)
    second = run_demo(demo_settings, capsys)
    assert "the worker skipped 400 of the 400 events as duplicates" in second
    assert second.count("(no homepage published in this run)") == 2


def test_without_a_broker_the_demo_fails_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", *SMALL, "--bootstrap", f"127.0.0.1:{closed_port()}"]) == 2
    out, err = capsys.readouterr()
    lines = command_lines(err)
    assert len(lines) == 1 and lines[0].startswith("homerec demo: error: cannot reach Kafka")
