"""Quality after a crash: HR@10 of the final lists vs an uninterrupted run (real broker).

Issue 4 asks for HR@10 after recovery within 1 % of an uninterrupted run. The restarted
worker loads the last whole-model checkpoint and replays the events since, so its state
is the uninterrupted one (tests/streams/test_checkpoint_restore.py compares it array by
array); here the same is shown end to end, with ``kill -9`` of a worker process.

Exploration is off in both runs: its draws depend on serving-side exposure counts that a
restart does not replay (README, Guarantees), so an explored slot may differ after a kill,
and one hit among the ~350 cases moves the hit rate by 0.003, twice the tolerance (1 % of
a 0.14 hit rate). What the issue asks about is the learned model, which this compares.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable
from subprocess import Popen
from typing import Any

import pytest

from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
from homerec.events import Event
from homerec.feedback import FeedbackWeights
from streams.config import Settings
from streams.topics import create_topics
from tests.streams.fixtures import (
    committed_events,
    final_counts,
    latest_pages,
    send_events,
    send_items,
    wait_for,
)

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
]

N_TRAIN = 3000


def _world() -> tuple[SyntheticStream, list[Event]]:
    world = SyntheticStream(SyntheticConfig(n_users=150, n_items=300, n_events=6000, seed=3))
    return world, list(world.events())


def _hit_rate(settings: Settings, heldout: list[Event]) -> float:
    """Share of held-out positive events whose item is on the user's final list."""
    pages = latest_pages(settings)
    fw = FeedbackWeights()
    cases = [e for e in heldout if fw.is_positive(e) and e.user in pages]
    hits = sum(e.item in {i for i, _ in pages[e.user].items} for e in cases)
    assert len(cases) > 300
    return hits / len(cases)


def _run(
    bootstrap: str, start: Callable[..., Popen[str]], producer: Any, *, kill_at: int | None
) -> float:
    world, events = _world()
    train, heldout = events[:N_TRAIN], events[N_TRAIN:]
    # one partition: the learning order is the event order in both runs
    settings = Settings(bootstrap=bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:12]}")
    create_topics(settings, partitions=1)
    send_items(producer, settings, world.items())
    args = ("--bootstrap", bootstrap, "--topic-prefix", settings.topic_prefix)
    args += ("--max-batch", "100", "--checkpoint-interval", "1", "--explore", "0")
    if kill_at is None:
        send_events(producer, settings, train)
    else:
        send_events(producer, settings, train[:kill_at])
    proc = start(*args)
    if kill_at is not None:
        wait_for(lambda: committed_events(settings) >= kill_at // 2, 90, "half of the first part")
        proc.send_signal(signal.SIGKILL)  # mid-stream: no flush, no commit, no last snapshot
        proc.wait(10)
        send_events(producer, settings, train[kill_at:])
        proc = start(*args)
    expected: dict[str, int] = {}
    for e in train:
        expected[e.user] = expected.get(e.user, 0) + 1
    wait_for(lambda: final_counts(settings) == expected, 120, "every event applied once")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    return _hit_rate(settings, heldout)


def test_hr_after_recovery_within_one_percent_of_an_uninterrupted_run(
    bootstrap: str, producer: Any, worker_process: Callable[..., Popen[str]]
) -> None:
    uninterrupted = _run(bootstrap, worker_process, producer, kill_at=None)
    recovered = _run(bootstrap, worker_process, producer, kill_at=2000)
    print(f"HR@10 uninterrupted {uninterrupted:.4f}, after a kill -9 {recovered:.4f}")
    assert uninterrupted > 0.05, "the model should have learned something"
    assert abs(recovered - uninterrupted) <= 0.01 * uninterrupted
