"""Chaos against a real, dedicated broker: SIGKILLed workers and a broker restart under load.

Each test runs ``homerec worker`` processes (``--model popularity``: the Kafka shell is under
test, not the model) against a broker of its own (started once for this module by
``deploy/kafka/local-kafka.sh`` on free ports, never the shared development broker), kills a
worker three times, restarts the broker once, and compares per-user event counts. Set
``HOMEREC_CHAOS_WORKER_COMMAND`` to run the workers with another ``homerec`` command.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from collections.abc import Iterator

import pytest

from streams.chaos.broker import DedicatedBroker
from streams.chaos.harness import ChaosConfig, ChaosReport, Disruption, run_chaos
from streams.cli import build_parser

# -- the report (no broker) -------------------------------------------------------------


def _report(guarantee: str = "exactly-once", **changes: object) -> ChaosReport:
    base = ChaosReport(
        guarantee=guarantee,
        workers=2,
        sent=100,
        lost=0,
        double_applied=0,
        kills=1,
        broker_restarts=0,
        max_recovery_s=3.0,
        duration_s=10.0,
        acked=100,
        send_failed=0,
        acked_missing=0,
        drained=True,
        users=5,
        worker_exits=0,
        startup_s=2.0,
        disruptions=[Disruption("kill", "w0", 1.0, 3.0, rejoin_s=3.0)],
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_summary_leads_with_the_issue_fields_and_is_json() -> None:
    summary = _report().summary()
    head = ["sent", "lost", "double_applied", "kills", "broker_restarts", "max_recovery_s"]
    assert list(summary)[:6] == head
    assert json.loads(json.dumps(summary))["disruptions"][0]["kind"] == "kill"


def test_pass_rules_per_guarantee() -> None:
    assert _report().passed()
    assert not _report(lost=1).passed()
    assert not _report(double_applied=1).passed()
    assert _report("at-least-once", double_applied=1).passed()  # allowed: lost is what counts
    assert not _report(drained=False).passed()
    assert not _report(disruptions=[Disruption("kill", "w0", 1.0, None)]).passed()


def test_cli_has_the_chaos_command() -> None:
    args = build_parser().parse_args(
        ["chaos", "--kills", "3", "--processing-guarantee", "exactly-once", "--json"]
    )
    assert args.command == "chaos" and args.kills == 3 and args.json and args.workers == 2


# -- against a dedicated broker -----------------------------------------------------------


@pytest.fixture(scope="module")
def chaos_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DedicatedBroker]:
    broker = DedicatedBroker(tmp_path_factory.mktemp("chaos-kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


def _config(guarantee: str, seed: int) -> ChaosConfig:
    command = os.environ.get("HOMEREC_CHAOS_WORKER_COMMAND")
    return ChaosConfig(
        workers=2,
        kills=3,
        broker_restarts=1,
        processing_guarantee=guarantee,
        rate=100.0,
        seed=seed,
        n_users=150,
        gap_s=(0.2, 0.8),
        recovery_timeout_s=60.0,
        drain_timeout_s=90.0,
        worker_args=("--model", "popularity"),
        worker_command=shlex.split(command) if command else None,
    )


def _check_run(report: ChaosReport) -> None:
    summary = report.summary()
    assert report.kills == 3 and report.broker_restarts == 1, summary
    assert report.drained, f"the workers did not drain the events topic: {summary}"
    assert report.sent >= 1000 and report.acked_missing == 0, summary
    assert all(d.recovery_s is not None for d in report.disruptions), summary
    assert report.lost == 0, f"events lost: {summary}"


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_at_least_once_loses_no_event(chaos_broker: DedicatedBroker) -> None:
    report = run_chaos(_config("at-least-once", 11), broker=chaos_broker)
    _check_run(report)


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_exactly_once_loses_and_repeats_no_event(chaos_broker: DedicatedBroker) -> None:
    report = run_chaos(_config("exactly-once", 12), broker=chaos_broker)
    _check_run(report)
    assert report.double_applied == 0, f"events applied twice: {report.summary()}"
    assert report.passed()
