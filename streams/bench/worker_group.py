"""The bench's worker processes: one, or several in one consumer group as in production.

Each member is a spawned child (its own interpreter) that builds the bench's world,
warms its model like the pipeline phase and reports *warmed*; only when every member
is warmed does the group get *go*, so no member consumes while another still warms.
Then each runs the real :class:`streams.worker.Worker` (``homerec worker``'s settings,
:func:`streams.bench.pipeline.worker_config`) until *stop*. :meth:`WorkerGroup.start`
can also wait until every member's health is ready (partitions assigned, lag
measured): the freshness phase offers load only then.

With ``counting``, the members add their batches to one shared clock, kept like
:class:`streams.bench.throughput.BatchClock` but for the group: it starts when the
last member to begin has finished its first non-empty batch (the group has formed
and every member works; joining and the first rebalances are not measured) and
stops at the last batch done by any member; ``eps`` = events done after the start /
seconds between. A rebalance hands a member's uncommitted events to another, which
processes them again: such events count twice, as the work was done twice.

Several members on one machine measure its capacity, not one worker's: the worker's
loop is one core of Python (the GIL), so a second process can use the second core.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from streams.bench.throughput import ThroughputResult
from streams.config import Settings
from streams.errors import StreamsError
from streams.worker import Guarantee

__all__ = ["GroupResult", "MemberSpec", "WorkerGroup", "run_group_pipeline"]

log = logging.getLogger(__name__)

# slots of the shared clock; then one per member: the events it processed
_STARTED, _START, _BASE, _BASE_BATCHES, _TOTAL, _BATCHES, _LAST = range(7)
_MEMBER = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberSpec:
    """What every member runs: the model, the world it warms on, the worker's settings."""

    model_name: str
    workload: dict[str, int]
    max_batch: int = 2000
    changelog: bool = True
    sync_delivery: bool = False
    guarantee: Guarantee = "at-least-once"


def _member_main(
    settings: Settings,
    spec: MemberSpec,
    index: int,
    members: int,
    warmed: Any,
    ready: Any,
    go: Any,
    stop: Any,
    clock: Any,
) -> None:
    """Child process: build and warm the model, wait for *go*, run the worker until *stop*
    (or until the bench process is gone: a killed bench leaves no worker behind)."""
    parent = os.getppid()
    logging.basicConfig(level=logging.WARNING)
    from streams.bench.models import build_model, warm_model
    from streams.bench.pipeline import worker_config
    from streams.bench.workload import Workload, WorkloadSpec
    from streams.http import Health
    from streams.worker import Worker

    workload = Workload.build(WorkloadSpec(**spec.workload))
    model = build_model(spec.model_name)
    warm_model(model, workload)
    del workload
    health = Health()
    worker = Worker(
        settings,
        model,
        worker_config(
            max_batch=spec.max_batch,
            changelog=spec.changelog,
            guarantee=spec.guarantee,
            sync_delivery=spec.sync_delivery,
        ),
        health=health,
    )
    warmed.set()
    while not go.wait(0.2):
        if stop.is_set() or os.getppid() != parent:
            return
    worker.open()
    first = True
    try:
        while not stop.is_set() and os.getppid() == parent:
            n = worker.step()
            if clock is not None and n > 0:
                now = time.monotonic()
                with clock.get_lock():
                    clock[_TOTAL] += n
                    clock[_MEMBER + index] += n
                    clock[_BATCHES] += 1
                    clock[_LAST] = now
                    if first:
                        clock[_STARTED] += 1
                        if int(clock[_STARTED]) == members:
                            clock[_START] = now
                            clock[_BASE] = clock[_TOTAL]
                            clock[_BASE_BATCHES] = clock[_BATCHES]
                first = False
            if not ready.is_set() and health.ready()[0]:
                ready.set()
    finally:
        worker.close()


class WorkerGroup:
    """``members`` worker processes in the consumer group of ``settings``; a context manager
    (leaving it stops and joins them)."""

    def __init__(
        self, settings: Settings, spec: MemberSpec, members: int = 1, *, counting: bool = False
    ) -> None:
        if members < 1:
            raise StreamsError(f"a worker group needs at least one member, got {members}")
        ctx = mp.get_context("spawn")
        self.members = members
        self._go, self._stop = ctx.Event(), ctx.Event()
        self._warmed = [ctx.Event() for _ in range(members)]
        self._ready = [ctx.Event() for _ in range(members)]
        self._clock: Any = ctx.Array("d", _MEMBER + members) if counting else None
        self._procs = [
            ctx.Process(
                target=_member_main,
                args=(
                    settings,
                    spec,
                    i,
                    members,
                    self._warmed[i],
                    self._ready[i],
                    self._go,
                    self._stop,
                    self._clock,
                ),  # fmt: skip
                name=f"homerec-bench-worker-{i}",
            )
            for i in range(members)
        ]

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self, *, wait_ready: bool = True, timeout_s: float = 600.0) -> None:
        """Start the members; *go* once all are warmed; with ``wait_ready``, return only when
        every member's health is ready. Raises :class:`StreamsError` if a member exits or
        ``timeout_s`` passes first."""
        for proc in self._procs:
            proc.start()
        deadline = time.monotonic() + timeout_s
        self._wait(self._warmed, "warmed", deadline)
        log.info("%d worker process(es) warmed; go", self.members)
        self._go.set()
        if wait_ready:
            self._wait(self._ready, "ready", deadline)

    def _wait(self, events: list[Any], what: str, deadline: float) -> None:
        for event in events:
            while not event.wait(0.5):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise StreamsError(f"worker process(es) not {what} before the timeout")

    def check_alive(self) -> None:
        """Raise :class:`StreamsError` if a member has exited (they run until stopped)."""
        for proc in self._procs:
            if not proc.is_alive():
                raise StreamsError(f"{proc.name} exited with code {proc.exitcode}")

    def _counts(self) -> list[float]:
        """A consistent copy of the shared clock (a counting group's only)."""
        if self._clock is None:
            raise StreamsError("this worker group does not count its events")
        with self._clock.get_lock():
            return list(self._clock)

    def clock(self) -> tuple[bool, float, ThroughputResult]:
        """``(started, seconds since the last batch, result so far)`` of a counting group."""
        c = self._counts()
        if not c[_STARTED] >= self.members:
            return False, 0.0, ThroughputResult(0, 0.0, 0)
        result = ThroughputResult(
            events=int(c[_TOTAL] - c[_BASE]),
            seconds=c[_LAST] - c[_START],
            batches=int(c[_BATCHES] - c[_BASE_BATCHES]),
        )
        return True, time.monotonic() - c[_LAST], result

    def total(self) -> int:
        """Events processed by all members so far, before the clock started included."""
        return int(self._counts()[_TOTAL])

    def member_events(self) -> list[int]:
        """Events processed by each member so far (how evenly the partitions spread)."""
        return [int(x) for x in self._counts()[_MEMBER:]]

    def close(self) -> None:
        self._stop.set()
        for proc in self._procs:
            if proc.pid is not None:
                proc.join(60)
                if proc.is_alive():
                    proc.kill()
                    proc.join(10)


@dataclass(frozen=True, slots=True)
class GroupResult:
    """The group's clocked throughput and the events each member processed in the whole run
    (before the clock started included)."""

    throughput: ThroughputResult
    member_events: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.throughput.to_dict(),
            "workers": len(self.member_events),
            "member_events": list(self.member_events),
        }


def run_group_pipeline(
    settings: Settings,
    spec: MemberSpec,
    *,
    members: int,
    n_events: int,
    max_seconds: float = 60.0,
    idle_s: float = 5.0,
    start_timeout_s: float = 600.0,
    join_timeout_s: float = 60.0,
) -> GroupResult:
    """Run ``members`` workers on the events already in the topic until ``n_events`` were
    processed (by all, counted once per processing), ``max_seconds`` after the clock
    started, or ``idle_s`` without a batch."""
    with WorkerGroup(settings, spec, members, counting=True) as group:
        group.start(wait_ready=False, timeout_s=start_timeout_s)
        go = time.monotonic()
        while True:
            time.sleep(0.05)
            group.check_alive()
            started, idle, result = group.clock()
            if group.total() >= n_events:
                break
            if not started:
                if time.monotonic() - go > join_timeout_s:
                    raise StreamsError(
                        f"not every one of {members} workers processed a batch within "
                        f"{join_timeout_s:.0f}s (are there fewer partitions than workers?)"
                    )
                continue
            if result.seconds > max_seconds:
                log.info("pipeline: stopped after %.0fs (%d events)", result.seconds, group.total())
                break
            if idle > idle_s:
                log.info("pipeline: no batch for %.0fs; stopped (%d events)", idle, group.total())
                break
        started, _, result = group.clock()
        member_events = tuple(group.member_events())
    if not started:
        raise StreamsError(
            f"all {n_events} events were processed before every one of {members} workers had "
            "started: give more events (--events) for the clock to measure the group"
        )
    log.info("pipeline: %d workers, %d events in %.2fs = %.0f events/s",
             members, result.events, result.seconds, result.eps)  # fmt: skip
    return GroupResult(result, member_events)
