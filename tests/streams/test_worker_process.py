"""``homerec worker`` as a real process: graceful SIGTERM and crash-restart (real broker)."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from subprocess import Popen
from typing import Any

import pytest

from homerec.events import Event
from streams.config import Settings
from tests.streams.fixtures import (
    counts_per_user,
    final_counts,
    latest_pages,
    send_events,
    wait_for,
)

pytestmark = pytest.mark.kafka

TS = 1_700_000_000_000


def _events(n: int, seed: int, start: int = 0) -> list[Event]:
    rng = random.Random(seed)
    return [
        Event(f"u{rng.randrange(30)}", f"i{rng.randrange(80)}", "click", TS + start + i)
        for i in range(n)
    ]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_drains_commits_and_exits_zero(
    settings: Settings,
    producer: Any,
    worker_process: Callable[..., Popen[str]],
    sig: signal.Signals,
) -> None:
    events = _events(3000, seed=1)
    proc = worker_process("--max-batch", "200")
    send_events(producer, settings, events)
    wait_for(lambda: len(latest_pages(settings)) > 0, 60, "the first lists")
    started = time.monotonic()
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, out
    assert elapsed < 10, f"took {elapsed:.1f}s to stop"
    assert "worker stopped cleanly" in out
    # whatever it had processed is committed: a second worker finishes exactly the rest
    proc2 = worker_process()
    wait_for(
        lambda: final_counts(settings) == counts_per_user(events),
        60,
        "every event applied once",
    )
    proc2.send_signal(signal.SIGTERM)
    assert proc2.wait(20) == 0


def test_kill_9_mid_stream_then_restart_loses_nothing(
    settings: Settings, producer: Any, worker_process: Callable[..., Popen[str]]
) -> None:
    events = _events(6000, seed=2)
    proc = worker_process("--max-batch", "100")
    send_events(producer, settings, events[:3000])
    wait_for(lambda: len(latest_pages(settings)) >= 10, 60, "some lists")
    proc.send_signal(signal.SIGKILL)  # no chance to commit or flush anything
    proc.wait(10)
    send_events(producer, settings, events[3000:])
    proc2 = worker_process("--max-batch", "100")
    wait_for(
        lambda: final_counts(settings) == counts_per_user(events),
        90,
        "every event applied once",
    )
    proc2.send_signal(signal.SIGTERM)
    assert proc2.wait(20) == 0


def test_ann_candidate_stage_in_a_worker_process(
    settings: Settings, producer: Any, worker_process: Callable[..., Popen[str]]
) -> None:
    # --ann-candidates: the index is built in the background after the first batch, later
    # batches re-rank from it; nothing is lost and the lists stay valid
    events = _events(3000, seed=5)
    proc = worker_process("--max-batch", "100", "--ann-candidates", "20")
    send_events(producer, settings, events)
    wait_for(
        lambda: final_counts(settings) == counts_per_user(events),
        90,
        "every event applied once",
    )
    pages = latest_pages(settings)
    assert len(pages) == 30
    items = {e.item for e in events}
    for page in pages.values():
        listed = [item for item, _ in page.items]
        assert 0 < len(listed) <= 10 and len(set(listed)) == len(listed)
        assert set(listed) <= items
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "candidate index built:" in out
