"""The worker's progress line: periodic, and only when something happened."""

from __future__ import annotations

import logging

import pytest

from streams.worker.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_idle_worker_logs_no_progress_line(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = Progress(10.0, clock=clock)
    caplog.set_level(logging.INFO, logger="streams.worker")
    for _ in range(5):
        clock.now += 10.0
        progress.maybe_log(lag=0, k=10, hit_rate=0.0)
    assert [r for r in caplog.records if "processed" in r.getMessage()] == []


def test_a_line_per_interval_in_which_something_happened(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    progress = Progress(10.0, clock=clock)
    caplog.set_level(logging.INFO, logger="streams.worker")
    clock.now = 30.0  # idle until now: the quiet time does not dilute the rate
    progress.maybe_log(lag=0, k=10, hit_rate=0.0)
    progress.consumed(events=200, dlq=1)
    progress.published(lists=50)
    clock.now = 35.0
    progress.maybe_log(lag=7, k=10, hit_rate=0.25)  # not yet: 5 s
    clock.now = 40.0
    progress.maybe_log(lag=7, k=10, hit_rate=0.25)
    clock.now = 50.0
    progress.maybe_log(lag=7, k=10, hit_rate=0.25)  # nothing since the last line
    clock.now = 60.0
    progress.consumed(events=0, dlq=3)  # dead letters alone are news
    progress.maybe_log(lag=7, k=10, hit_rate=0.25)
    lines = [r for r in caplog.records if "processed" in r.getMessage()]
    assert [r.getMessage() for r in lines] == [
        "processed 200 events (20/s), 50 lists published, 1 to DLQ, lag 7, live HR@10 0.250",
        "processed 0 events (0/s), 0 lists published, 3 to DLQ, lag 7, live HR@10 0.250",
    ]
    assert lines[0].__dict__["events"] == 200 and lines[0].__dict__["lag"] == 7
