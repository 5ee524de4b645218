"""``homerec topics list`` asks the broker (uuid-named topics)."""

from __future__ import annotations

import pytest

from streams.cli import main
from streams.config import Settings
from streams.topics import ALL_TOPICS
from tests.streams.commands.test_recs import command_lines
from tests.streams.commands.test_worker_cli import closed_port


@pytest.mark.kafka
def test_list_shows_the_partitions_the_broker_has(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["topics", "list", "--bootstrap", settings.bootstrap,
                 "--topic-prefix", settings.topic_prefix]) == 0  # fmt: skip
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(rows) == {settings.topic(spec.name) for spec in ALL_TOPICS}
    assert "4 partitions" in rows[settings.topic("events")]
    assert "1 partition " in rows[settings.topic("items")]
    assert not any("missing" in row for row in rows.values())


@pytest.mark.kafka
def test_list_says_which_topics_are_missing(
    bootstrap: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["topics", "list", "--bootstrap", bootstrap, "--topic-prefix", topic_prefix]) == 0
    out, err = capsys.readouterr()
    assert out.count("missing") == len(ALL_TOPICS)
    assert "homerec topics create" in err


def test_list_against_an_unreachable_broker_is_one_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["topics", "list", "--bootstrap", f"127.0.0.1:{closed_port()}"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = command_lines(err)
    assert len(lines) == 1 and lines[0].startswith("homerec topics: error: cannot reach Kafka")
