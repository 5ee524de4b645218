"""Smoke tests of ``homerec bench`` at tiny sizes: structure and sane numbers, never timing."""

from __future__ import annotations

import argparse
import json
import math
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from homerec.errors import ConfigError
from homerec.models.popularity import Popularity
from streams.bench.ann_stage import ann_stage_row
from streams.bench.memory import item_list_keys, measure_memory, resample_state
from streams.bench.models import build_model, model_info, warm_model
from streams.bench.passthrough import run_passthrough
from streams.bench.pipeline import run_pipeline
from streams.bench.scaling import ann_row, scaling_row
from streams.bench.throughput import BatchClock, ThroughputResult
from streams.bench.workload import Workload, WorkloadSpec, delete_topics, new_settings, produce
from streams.commands import bench as bench_cmd
from streams.config import Settings
from streams.topics import EVENTS, ITEMS
from tests.streams.fixtures import read_all

TINY = WorkloadSpec(n_users=200, n_items=60, n_events=900, warm_events=100, seed=3)


def test_batch_clock_ignores_the_first_batch() -> None:
    clock = BatchClock()
    clock.batch_done(0)
    assert clock.result() == ThroughputResult(0, 0.0, 0)
    clock.batch_done(100)
    before = time.perf_counter()
    time.sleep(0.01)
    clock.batch_done(50)
    clock.batch_done(25)
    after = time.perf_counter()
    result = clock.result()
    assert clock.total == 175
    assert result.events == 75 and result.batches == 2
    # from the first batch's end to the last one's: the sleep, within the time measured around
    assert 0.01 <= result.seconds <= after - before + 1e-6
    assert result.eps == pytest.approx(75 / result.seconds)


def test_workload_is_deterministic_and_split() -> None:
    a, b = Workload.build(TINY), Workload.build(TINY)
    assert len(a.warm) == 100 and len(a.events) == 900
    assert a.events == b.events and len(a.items) == 60 and len(a.profiles) == 200
    key, value = a.encoded()[0]
    assert key == a.events[0].user.encode()


def test_models_build_and_warm() -> None:
    model = build_model("popularity")
    workload = Workload.build(TINY)
    before = time.perf_counter()
    seconds = warm_model(model, workload)
    assert 0 < seconds <= time.perf_counter() - before
    # every warm-up event learned, each once, and nothing else
    users = {profile.user for profile in workload.profiles}
    assert sum(model.n_events(user) for user in users) == len(workload.warm) == TINY.warm_events
    assert model_info(model)["model"] == "popularity"
    assert model.recommend_many([workload.events[0].user], 5)[0]


def test_resample_state_replaces_only_item_lists() -> None:
    template = {"events": 4, "items": ["i1", "i2"], "groups": ["age=20"], "embedding": [0.5]}
    keys = item_list_keys(template, {"i1", "i2", "i3"})
    assert keys == {"items"}
    state = resample_state(template, keys, ["i1", "i2", "i3", "i4"], np.random.default_rng(1), 3)
    assert len(set(state["items"])) == 3 and state["groups"] == ["age=20"]
    assert state["events"] == 3 and state["embedding"] == [0.5]


@pytest.mark.parametrize("model", ["hybrid", "popularity"])
def test_checkpoints_phase_reports_stalls_and_bytes(model: str) -> None:
    from streams.bench.checkpoints import measure_checkpoints

    result = measure_checkpoints(model, n_users=400, n_items=50, changed=30, rounds=3).to_dict()
    assert result["n_users"] == 400 and len(result["stall_ms"]) == 2 and len(result["bytes"]) == 3
    assert all(b > 0 for b in result["bytes"]) and result["bytes_per_changed_user"] > 0
    assert result["stall_ms_max"] == max(result["stall_ms"])


def test_memory_in_a_child_process() -> None:
    result = measure_memory("popularity", n_users=3000, n_items=300, history=5)
    assert result.n_users == 3000 and result.method == "load_user_state"
    assert 10 < result.rss_mb < 4096 and result.baseline_mb > 0
    assert math.isfinite(result.model_mb)


def test_ann_stage_with_every_item_a_candidate_recalls_the_exact_lists() -> None:
    row = ann_stage_row(200, candidates=200, n_users=300, users=40, stale_events=300)
    assert row.users == 40 and row.build_s > 0
    assert row.recall_at_k == 1.0 and row.recall_at_k_stale == 1.0
    small = ann_stage_row(200, candidates=5, n_users=300, users=40, stale_events=300)
    assert 0.0 < small.recall_at_k < 1.0  # a few candidates miss some of the exact lists


def test_scaling_and_ann_rows() -> None:
    row = scaling_row("popularity", 80, n_users=300, warm_events=50, batch=100, max_seconds=5)
    assert row.n_items == 80 and row.events > 0 and row.eps > 0
    assert row.rerank_ms_per_user > 0 and row.learn_ms_per_event > 0
    ann = ann_row(300, dim=8, k=10, n_queries=50, method="exact")
    assert ann.recall_at_k == 1.0 and ann.exact_ms_per_user > 0


@pytest.mark.kafka
def test_passthrough_and_pipeline_on_the_same_events(bootstrap: str) -> None:
    settings = new_settings(Settings(bootstrap=bootstrap), "test", partitions=2)
    try:
        workload = Workload.build(TINY)
        produce(settings, settings.topic(ITEMS.name), workload.encoded_items())
        assert produce(settings, settings.topic(EVENTS.name), workload.encoded()) == 900
        pt = run_passthrough(settings, n_events=900, max_batch=200, timeout_s=60)
        assert pt.events > 0 and pt.eps > 0 and pt.batches >= 1
        x2 = run_passthrough(
            settings, n_events=900, max_batch=200, fanout=2, explicit_partition=True, group="x2"
        )
        assert x2.events > 0 and x2.eps > 0
        model = Popularity()
        warm_model(model, workload)
        pl = run_pipeline(settings, model, n_events=900, max_batch=200, max_seconds=60)
        assert pl.events > 0 and pl.eps > 0
        assert model.n_events(workload.events[-1].user) >= 1
    finally:
        delete_topics([settings])


@pytest.mark.kafka
def test_the_sharing_phase_runs_the_worker_with_and_without_the_exchange(bootstrap: str) -> None:
    workload = Workload.build(TINY)
    created: list[Settings] = []
    args = _parse("--bootstrap", bootstrap, "--model", "hybrid", "--max-batch", "200",
                  "--partitions", "2", "--sharing-pairs", "1", "--pipeline-seconds", "60")  # fmt: skip
    try:
        report = bench_cmd._sharing(Settings(bootstrap=bootstrap), workload, args, created)
        # off, then on: each run on its own topics, and only the second shares
        assert len(created) == 2
        sent = [len(read_all(s, "item-updates")) for s in created]
    finally:
        delete_topics(created)
    assert sent[0] == 0 and sent[1] > 0
    assert len(report["off_eps"]) == len(report["on_eps"]) == 1
    assert report["ratio"] == pytest.approx(report["on_eps"][0] / report["off_eps"][0], rel=1e-3)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_cmd.register(parser.add_subparsers())
    return parser.parse_args(["bench", *argv])


def test_cli_rejects_unknown_phases() -> None:
    with pytest.raises(SystemExit):
        _parse("--skip", "warp")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "give --freshness-sweep too"),
        (("--freshness-sweep", "100", "--skip", "freshness"), "give --freshness-sweep too"),
        (("--freshness-sweep", "100", "--sweep-plot", "/no/such/dir/sweep.svg"), "no directory"),
    ],
)
def test_sweep_plot_needs_a_sweep_and_a_directory_before_anything_runs(
    extra: tuple[str, ...], message: str
) -> None:
    argv = ("--sweep-plot", "sweep.svg", *extra) if "--sweep-plot" not in extra else extra
    args = _parse(*argv)
    with pytest.raises(ConfigError, match=message):
        bench_cmd.run_bench(args, Settings(bootstrap="localhost:1"))  # fails before connecting


def test_cli_freshness_sweep_takes_positive_rates_in_order() -> None:
    assert _parse("--freshness-sweep", "3000,500,1000.5").freshness_sweep == [500.0, 1000.5, 3000.0]
    assert _parse().freshness_sweep is None
    for bad in ("0,100", "fast", ""):
        with pytest.raises(SystemExit):
            _parse("--freshness-sweep", bad)


@pytest.mark.kafka
@pytest.mark.slow
def test_bench_json_report(
    bootstrap: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plot = tmp_path / "sweep.svg"
    args = _parse(
        "--json", "--model", "popularity", "--bootstrap", bootstrap,
        "--users", "300", "--items", "80", "--events", "1500", "--warm-events", "100",
        "--max-batch", "300", "--freshness-seconds", "3", "--freshness-rate", "150",
        "--freshness-sweep", "100,50", "--freshness-warmup", "1", "--sweep-plot", str(plot),
        "--memory-users", "2000", "--memory-items", "200",
        "--scaling-items", "50,100", "--scaling-seconds", "2", "--ann-k", "10",
        "--ann-stage-items", "200", "--ann-candidates", "30", "--sharing-pairs", "1",
        "--checkpoint-users", "300,600", "--checkpoint-items", "50", "--checkpoint-changed", "40",
    )  # fmt: skip
    assert args.func(args) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(last)
    for key in ("passthrough_eps", "pipeline_eps", "ratio", "freshness_ms_p50",
                "freshness_ms_p99", "rss_mb_1m_users_100k_items"):  # fmt: skip
        assert key in report
    assert report["passthrough_eps"] > 0 and report["pipeline_eps"] > 0
    runs = report["passthrough"]["runs"]
    assert len(runs) == 2 and report["passthrough_eps"] == max(r["eps"] for r in runs)
    assert report["ratio"] == pytest.approx(
        report["pipeline_eps"] / report["passthrough_eps"], rel=1e-2
    )
    assert 0 <= report["freshness_ms_p50"] <= report["freshness_ms_p99"]
    assert report["freshness"]["lists"] > 0
    sweep = report["freshness_sweep"]
    assert [r["offered_eps"] for r in sweep] == [50.0, 100.0] and all(r["lists"] > 0 for r in sweep)
    met = [r["offered_eps"] for r in sweep if r["p50_ms"] <= 20 and r["p99_ms"] <= 100]
    cap = report["freshness_capacity_eps"]
    assert cap is None or (cap in met and sweep[0]["offered_eps"] in met)
    drawn = ET.parse(plot).getroot().findall("{http://www.w3.org/2000/svg}polyline")
    assert [len(line.attrib["points"].split()) for line in drawn] == [2, 2]
    assert report["rss_mb_1m_users_100k_items"] is None  # not the goal's sizes
    assert report["memory"]["n_users"] == 2000
    assert [r["n_users"] for r in report["checkpoints"]] == [300, 600]
    assert report["checkpoint_stall_ms_max"] == report["checkpoints"][-1]["stall_ms_max"] >= 0
    assert report["checkpoint_bytes_per_changed_user"] > 0
    assert [r["n_items"] for r in report["scaling"]] == [50, 100]
    assert set(report["passthrough_variants"]) == {
        "x2_sends",
        "explicit_partition",
        "x2_sends_explicit_partition",
    }
    assert all(v["eps"] > 0 for v in report["passthrough_variants"].values())
    assert len(report["sharing"]["on_eps"]) == len(report["sharing"]["off_eps"]) == 1
    assert all(0.0 <= r["recall_at_k"] <= 1.0 for r in report["ann"])
    stage = report["ann_stage"]
    assert stage["n_items"] == 200 and stage["candidates"] == 30
    assert 0.0 <= stage["recall_at_k_stale"] <= 1.0 and stage["ann_ms_per_user"] > 0
