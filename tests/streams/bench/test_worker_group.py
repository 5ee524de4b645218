"""``homerec bench --workers N``: worker processes in one consumer group (real broker)."""

from __future__ import annotations

import argparse
import json

import pytest

from homerec.errors import ConfigError
from streams.bench.worker_group import MemberSpec, WorkerGroup, run_group_pipeline
from streams.bench.workload import Workload, WorkloadSpec, delete_topics, new_settings, produce
from streams.commands import bench as bench_cmd
from streams.config import Settings
from streams.errors import StreamsError
from streams.topics import EVENTS, ITEMS


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_cmd.register(parser.add_subparsers())
    return parser.parse_args(["bench", *argv])


def test_workers_must_fit_the_partitions_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match="--workers"):
        args = _parse("--workers", "3", "--partitions", "2")
        bench_cmd.run_bench(args, Settings(bootstrap="localhost:1"))


def test_no_workers_is_rejected_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse("--workers", "0")
    assert exited.value.code == 2
    assert "--workers: must be a positive integer, got 0" in capsys.readouterr().err


def test_a_group_needs_a_member_and_a_clock_to_be_read() -> None:
    spec = MemberSpec(model_name="popularity", workload=WorkloadSpec().to_dict())
    with pytest.raises(StreamsError, match="at least one member"):
        WorkerGroup(Settings(), spec, 0)
    with WorkerGroup(Settings(), spec, 1) as group:  # never started: closing is a no-op
        with pytest.raises(StreamsError, match="does not count"):
            group.clock()


@pytest.mark.kafka
@pytest.mark.slow
def test_two_workers_share_the_events_and_the_clock(bootstrap: str) -> None:
    spec = WorkloadSpec(n_users=400, n_items=60, n_events=30_000, warm_events=100, seed=5)
    settings = new_settings(Settings(bootstrap=bootstrap), "test", partitions=2)
    try:
        workload = Workload.build(spec)
        produce(settings, settings.topic(ITEMS.name), workload.encoded_items())
        produce(settings, settings.topic(EVENTS.name), workload.encoded())
        member = MemberSpec(model_name="popularity", workload=spec.to_dict(), max_batch=100)
        run = run_group_pipeline(settings, member, members=2, n_events=30_000)
    finally:
        delete_topics([settings])
    # both took part (one partition each), all events were processed (a rebalance may hand
    # a few uncommitted batches to the other member: those are processed twice)
    assert len(run.member_events) == 2 and min(run.member_events) > 0
    assert 30_000 <= sum(run.member_events) <= 31_000
    # the clock counts what was done after both had finished a batch, so less than all
    result = run.throughput
    assert 0 < result.events < sum(run.member_events)
    assert result.seconds > 0 and result.batches >= 2
    assert run.to_dict()["member_events"] == list(run.member_events)


@pytest.mark.kafka
@pytest.mark.slow
def test_bench_with_two_workers_reports_them(
    bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(
        "--json", "--model", "popularity", "--bootstrap", bootstrap, "--workers", "2",
        "--partitions", "2", "--users", "400", "--items", "60", "--events", "30000",
        "--warm-events", "100", "--max-batch", "100", "--freshness-seconds", "3",
        "--freshness-rate", "200", "--freshness-warmup", "1",
        "--skip", "passthrough,variants,memory,checkpoints,scaling,ann",
    )  # fmt: skip
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["workers"] == 2 and report["pipeline"]["workers"] == 2
    assert min(report["pipeline"]["member_events"]) > 0
    assert report["pipeline_eps"] > 0 and report["ratio"] is None  # no passthrough: no ratio
    assert report["freshness"]["lists"] > 0
    assert 0 <= report["freshness_ms_p50"] <= report["freshness_ms_p99"]
