"""One chaos run: a dedicated broker, a worker fleet, a steady load, kills, broker restarts, verdict.

The schedule is seeded: after the fleet first commits on every partition, the
harness waits a random gap, disrupts (SIGKILL of a random worker, restarted at
once with the same instance id; or, in the middle of the run, a controlled
broker stop and start), waits for the fleet to recover (see
:mod:`streams.chaos.progress` for the definition), and so on. Then the load
stops, the fleet drains the events topic, and the verdict compares per-user
counts (:mod:`streams.chaos.verdict`). Every process it started is stopped on
the way out, whatever happened.

``streams.chaos`` is a namespace package (like ``streams``), one concept per module:
:mod:`~streams.chaos.broker` (a dedicated local broker on free ports),
:mod:`~streams.chaos.fleet` (the worker processes), :mod:`~streams.chaos.load`
(the seeded event load), :mod:`~streams.chaos.progress` (committed offsets over
time, recovery times), :mod:`~streams.chaos.verdict` (lost and double-applied
events) and this module (the orchestration).
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streams.chaos.broker import DedicatedBroker
from streams.chaos.fleet import Fleet
from streams.chaos.load import SteadyLoad
from streams.chaos.progress import GroupProgress, Sample
from streams.chaos.verdict import Verdict, judge
from streams.config import Settings
from streams.topics import create_topics

__all__ = ["ChaosConfig", "ChaosReport", "Disruption", "run_chaos"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosConfig:
    """Settings of one run (see ``homerec chaos --help``)."""

    workers: int = 2
    kills: int = 10
    broker_restarts: int = 1
    #: how the broker goes away: "term" (controlled shutdown) or "kill" (SIGKILL, unclean)
    broker_stop: str = "term"
    processing_guarantee: str = "at-least-once"
    #: events per second offered by the load
    rate: float = 200.0
    #: the load runs at least this long (seconds), however quickly the disruptions are done
    duration_s: float = 0.0
    seed: int = 0
    #: client port of the dedicated broker (0 = a free one)
    port: int = 0
    partitions: int = 4
    n_users: int = 400
    n_items: int = 300
    #: random pause (seconds) between a recovery and the next disruption
    gap_s: tuple[float, float] = (1.0, 4.0)
    startup_timeout_s: float = 120.0
    recovery_timeout_s: float = 90.0
    drain_timeout_s: float = 180.0
    #: extra ``homerec worker`` arguments (e.g. ``--model popularity``)
    worker_args: Sequence[str] = ()
    #: how to run ``homerec`` (default: this interpreter, ``-m streams.cli``)
    worker_command: Sequence[str] | None = None
    #: keep the run directory (broker data, worker logs) even when the run passes
    keep_dir: bool = False


@dataclass(frozen=True, slots=True)
class Disruption:
    kind: str  # "kill" or "broker-restart"
    target: str  # worker instance id, or "broker"
    at_s: float  # seconds since the load started
    #: seconds until every partition committed again (None: not within the timeout)
    recovery_s: float | None
    #: broker restarts: seconds the broker was away (stop + start)
    down_s: float = 0.0
    #: seconds until the group was Stable again with every worker a member (None: timeout)
    rejoin_s: float | None = None


@dataclass(frozen=True, slots=True)
class ChaosReport:
    guarantee: str
    workers: int
    sent: int
    lost: int
    double_applied: int
    kills: int
    broker_restarts: int
    max_recovery_s: float | None
    duration_s: float
    acked: int
    send_failed: int
    acked_missing: int
    drained: bool
    users: int
    worker_exits: int
    startup_s: float
    #: the longest time until every worker was back in a stable group (None: one never was)
    max_rejoin_s: float | None = None
    disruptions: list[Disruption] = field(default_factory=list)
    wrong_users: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: events partition -> (lost, double_applied), only partitions with a difference
    wrong_partitions: dict[int, tuple[int, int]] = field(default_factory=dict)
    run_dir: str = ""

    def passed(self) -> bool:
        """lost == 0 (and double_applied == 0 with exactly-once), everything recovered."""
        ok = self.lost == 0 and self.drained and self.acked_missing == 0
        if self.guarantee == "exactly-once":
            ok = ok and self.double_applied == 0
        return ok and all(d.recovery_s is not None for d in self.disruptions)

    def summary(self) -> dict[str, Any]:
        """The headline figures first, then the details (JSON-able)."""
        head = {
            "sent": self.sent,
            "lost": self.lost,
            "double_applied": self.double_applied,
            "kills": self.kills,
            "broker_restarts": self.broker_restarts,
            "max_recovery_s": self.max_recovery_s,
        }
        rest = asdict(self)
        for key in head:
            rest.pop(key)
        rest["disruptions"] = [asdict(d) for d in self.disruptions]
        rest["wrong_users"] = dict(list(self.wrong_users.items())[:20])
        return {**head, **rest}


def _plan(config: ChaosConfig, rng: random.Random) -> list[tuple[str, int]]:
    """The disruptions in order: ``("kill", worker index)`` or ``("broker", 0)``.

    Broker restarts are spread evenly, the first one in the middle when there is one.

    >>> plan = _plan(ChaosConfig(kills=4, broker_restarts=1, workers=2), random.Random(1))
    >>> [kind for kind, _ in plan]
    ['kill', 'kill', 'broker', 'kill', 'kill']
    >>> [kind for kind, _ in _plan(ChaosConfig(kills=6, broker_restarts=2), random.Random(1))]
    ['kill', 'kill', 'broker', 'kill', 'kill', 'broker', 'kill', 'kill']
    """
    kills = [("kill", rng.randrange(config.workers)) for _ in range(config.kills)]
    plan: list[tuple[str, int]] = list(kills)
    n = config.broker_restarts
    for i in range(n):
        pos = round((i + 1) * config.kills / (n + 1)) + i
        plan.insert(pos, ("broker", 0))
    return plan


def run_chaos(
    config: ChaosConfig,
    *,
    progress_cb: Callable[[str], None] | None = None,
    broker: DedicatedBroker | None = None,
) -> ChaosReport:
    """Run the whole experiment; always cleans up the processes it started.

    ``broker``: a dedicated broker to use (and leave running) instead of starting one, e.g.
    shared by several runs in a test session; it must be nobody else's, since it is restarted.
    """
    say = progress_cb or (lambda msg: log.info("%s", msg))
    rng = random.Random(config.seed)  # noqa: S311 - a seeded schedule, not a secret
    run_dir = Path(tempfile.mkdtemp(prefix="homerec-chaos-"))
    own_broker = broker is None
    if broker is None:
        broker = DedicatedBroker(run_dir / "kafka", port=config.port)
    fleet: Fleet | None = None
    load: SteadyLoad | None = None
    progress: GroupProgress | None = None
    report: ChaosReport | None = None
    try:
        if own_broker or broker.pid() is None:
            say(f"starting a dedicated broker on port {broker.port} (data in {broker.home})")
            broker.start()
        settings = Settings(
            bootstrap=broker.bootstrap, topic_prefix=f"chaos{uuid.uuid4().hex[:10]}"
        )
        create_topics(settings, partitions=config.partitions)
        load = SteadyLoad(
            settings,
            rate=config.rate,
            seed=config.seed,
            n_users=config.n_users,
            n_items=config.n_items,
        )
        n_items = load.publish_catalog()
        say(f"topics {settings.topic_prefix}.*; catalog of {n_items} items published")
        progress = GroupProgress(settings)
        progress.start()
        fleet = Fleet(
            n=config.workers,
            bootstrap=settings.bootstrap,
            topic_prefix=settings.topic_prefix,
            log_dir=run_dir / "logs",
            guarantee=config.processing_guarantee,
            extra_args=config.worker_args,
            command=config.worker_command,
        )
        t_start = time.monotonic()
        fleet.start()
        load.start()
        stable = _wait_startup(fleet, progress, config, t_start)
        first = None
        if stable is not None:
            base = Sample(stable.t, {}, {})
            first = progress.wait_recovered(base, config.startup_timeout_s)
        if first is None:
            raise TimeoutError(
                f"the {config.workers} workers did not form a stable group and commit on every "
                f"partition within {config.startup_timeout_s:.0f}s (logs in {run_dir / 'logs'})"
            )
        startup_s = first.t - t_start
        say(f"{config.workers} workers processing after {startup_s:.1f}s; chaos begins")
        disruptions: list[Disruption] = []
        for kind, index in _plan(config, rng):
            time.sleep(rng.uniform(*config.gap_s))
            if kind == "kill":
                disruptions.append(_kill(fleet, progress, index, t_start, config))
            else:
                disruptions.append(_restart_broker(broker, progress, t_start, config))
            d = disruptions[-1]
            rec = "NOT RECOVERED" if d.recovery_s is None else f"recovered in {d.recovery_s:.1f}s"
            if d.kind == "broker-restart":
                rec = f"away {d.down_s:.1f}s, {rec} after it was back"
            rec += (
                "" if d.rejoin_s is None else f", all {config.workers} workers in {d.rejoin_s:.1f}s"
            )
            say(f"[{d.at_s:6.1f}s] {d.kind} {d.target}: {rec}")
        left = config.duration_s - (time.monotonic() - t_start)
        if left > 0:
            say(f"load continues for {left:.0f}s more (--duration)")
            time.sleep(left)
        load.stop()
        t_load_end = time.monotonic()
        say(
            f"load stopped: {load.attempted} offered, {load.n_acked} acked, {load.failed} failed;"
            " draining"
        )
        drained = _drain(progress, t_load_end, config.drain_timeout_s)
        duration = time.monotonic() - t_start
        say("reading the events and recommendations topics for the verdict")
        verdict: Verdict = judge(settings, dict(load.acked))
        max_recovery = _max_or_none([d.recovery_s for d in disruptions])
        report = ChaosReport(
            guarantee=config.processing_guarantee,
            workers=config.workers,
            sent=verdict.sent,
            lost=verdict.lost,
            double_applied=verdict.double_applied,
            kills=fleet.kills,
            broker_restarts=sum(1 for d in disruptions if d.kind == "broker-restart"),
            max_recovery_s=max_recovery,
            duration_s=round(duration, 1),
            acked=load.n_acked,
            send_failed=load.failed,
            acked_missing=verdict.acked_missing,
            drained=drained,
            users=verdict.users,
            worker_exits=len(fleet.exits),
            startup_s=round(startup_s, 2),
            max_rejoin_s=_max_or_none([d.rejoin_s for d in disruptions]),
            disruptions=disruptions,
            wrong_users=dict(verdict.wrong),
            wrong_partitions=dict(verdict.by_partition),
        )
        return report
    finally:
        if load is not None:
            load.close()
        if fleet is not None:
            fleet.stop()
        if progress is not None:
            progress.close()
        if own_broker:
            broker.close()
        keep = (
            config.keep_dir
            or report is None
            or not report.passed()
            or report.double_applied > 0  # allowed with at-least-once, but worth a look
        )
        if keep:
            say(f"run directory kept: {run_dir}")
            if report is not None:
                object.__setattr__(report, "run_dir", str(run_dir))
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def _wait_startup(
    fleet: Fleet, progress: GroupProgress, config: ChaosConfig, t_start: float
) -> Sample | None:
    """Wait for a stable group of every worker; fail fast when the workers keep dying."""
    deadline = t_start + config.startup_timeout_s
    while time.monotonic() < deadline:
        stable = progress.wait_stable(config.workers, t_start, 1.0)
        if stable is not None:
            return stable
        if len(fleet.exits) >= 3 * config.workers:
            last = fleet.exits[-1]
            raise RuntimeError(
                f"the workers keep exiting before the group forms ({len(fleet.exits)} exits; "
                f"last: {last.instance} with code {last.returncode}); end of its log:\n"
                + fleet.tail(last.instance)
            )
    return None


def _max_or_none(values: list[float | None]) -> float | None:
    """The largest value; None when any is None (something did not recover)."""
    if any(v is None for v in values):
        return None
    return round(max((v for v in values if v is not None), default=0.0), 2)


def _kill(
    fleet: Fleet, progress: GroupProgress, index: int, t_start: float, config: ChaosConfig
) -> Disruption:
    t0 = time.monotonic()
    instance = fleet.kill(index)
    # the first sample after the kill: the dead worker's partitions cannot commit past it
    base = progress.next_sample(time.monotonic(), config.recovery_timeout_s)
    done = None if base is None else progress.wait_recovered(base, config.recovery_timeout_s)
    recovery = None if done is None else round(done.t - t0, 2)
    rejoin = None if done is None else _rejoin(progress, config, t0, done.t)
    return Disruption("kill", instance, round(t0 - t_start, 1), recovery, rejoin_s=rejoin)


def _rejoin(
    progress: GroupProgress, config: ChaosConfig, t0: float, recovered_at: float
) -> float | None:
    """Seconds from ``t0`` until every worker is back in a stable group, looking from the
    recovery on (right after a kill the group still lists the dead member). The next
    disruption waits for it, so that each one hits a full fleet."""
    stable = progress.wait_stable(config.workers, recovered_at - 1e-6, config.recovery_timeout_s)
    return None if stable is None else round(stable.t - t0, 2)


def _restart_broker(
    broker: DedicatedBroker, progress: GroupProgress, t_start: float, config: ChaosConfig
) -> Disruption:
    t0 = time.monotonic()
    if config.broker_stop == "kill":
        broker.kill()
    else:
        broker.stop()
    # the last sample the monitor could take before the broker went away
    base = progress.latest()
    broker.start()
    t_ready = time.monotonic()
    done = None if base is None else progress.wait_recovered(base, config.recovery_timeout_s)
    if done is not None and done.t < t_ready:
        done = None  # cannot happen (no sample while the broker is down), but never report < 0
    recovery = None if done is None else round(done.t - t_ready, 2)
    rejoin = None if done is None else _rejoin(progress, config, t_ready, done.t)
    target = "broker" if config.broker_stop != "kill" else "broker(SIGKILL)"
    return Disruption(
        "broker-restart", target, round(t0 - t_start, 1), recovery, round(t_ready - t0, 2), rejoin
    )


def _drain(progress: GroupProgress, after: float, timeout_s: float) -> bool:
    """Wait until the group has committed every event (a sample taken after ``after``)."""
    deadline = time.monotonic() + timeout_s
    seen = after
    while True:
        sample = progress.next_sample(seen, max(0.0, deadline - time.monotonic()))
        if sample is None:
            return False
        if all(sample.committed.get(p, 0) >= end for p, end in sample.end.items()):
            return True
        seen = sample.t
