"""``homerec bench``: the performance goals, measured in one run against a real broker.

Phases (each can be skipped with ``--skip``):

1. **passthrough** — the ceiling: a bare kafka-python consume → produce → commit loop,
   run before and after the pipeline (the machine may be shared): the better run counts;
2. **pipeline** — the real worker (decode, validate, learn, re-rank, publish, commit)
   on the same events, same broker, same client settings; ``ratio`` = pipeline / passthrough;
   **variants** — the bare loop with two sends per event and/or explicit partitions,
   to price the worker's send pattern; **sharing** — the one-worker pipeline with the
   item-updates exchange off and on, alternating, each run on topics of its own
   (``sharing.ratio`` = on / off; :mod:`streams.bench.sharing`); with ``--workers N`` (N > 1) the pipeline is N worker
   processes in one consumer group (the machine's capacity, still against one passthrough
   loop) and the freshness phase runs N workers too;
3. **freshness** — a warmed worker process at an offered load of half the pipeline's
   rate: event ts at produce time → refreshed list received, p50/p99; with
   ``--freshness-sweep``, also at each given load, and the highest load up to which
   both goals held (``freshness_capacity_eps``);
4. **memory** — RSS of the model state for 1M users × 100K items (child process);
   **checkpoints** — what a checkpoint costs the worker's loop and how many bytes it
   writes, at 100K and 1M users (:mod:`streams.bench.checkpoints`);
5. **scaling** — re-rank cost and learn + re-rank throughput for 1K/10K/100K items,
   and exact vs ANN (hnswlib) top-K cost and recall@K.

Progress goes to stderr; with ``--json`` the last stdout line is one JSON object
with ``passthrough_eps, pipeline_eps, ratio, freshness_ms_p50, freshness_ms_p99,
rss_mb_1m_users_100k_items, checkpoint_stall_ms_max, checkpoint_bytes_per_changed_user``
(at the largest ``--checkpoint-users``; ``null`` for skipped phases) and the details.
Topics are uuid-named (``bench-<uuid>-…``) and deleted afterwards unless ``--keep-topics``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homerec.models import DEFAULT_MODEL, MODELS
from streams import logs
from streams.commands.arguments import (
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from streams.config import Settings, add_connection_arguments, settings_from_args
from streams.worker import WorkerConfig

if TYPE_CHECKING:
    from homerec.models.base import Recommender
    from streams.bench.freshness import FreshnessResult
    from streams.bench.throughput import ThroughputResult
    from streams.bench.worker_group import MemberSpec
    from streams.bench.workload import Workload
    from streams.worker import Guarantee

__all__ = ["PHASES", "register", "run_bench"]

log = logging.getLogger("homerec.bench")

#: The worker's own defaults, which the bench's worker options start from.
WORKER = WorkerConfig()

PHASES: tuple[str, ...] = (
    "passthrough",
    "pipeline",
    "variants",
    "sharing",
    "freshness",
    "memory",
    "checkpoints",
    "scaling",
    "ann",
)


def _phases(text: str) -> frozenset[str]:
    names = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = names - set(PHASES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}"
        )
    return names


def _sizes(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return out


def _rates(text: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of events/s: {text!r}") from None
    if not out or min(out) <= 0:
        raise argparse.ArgumentTypeError("offered loads must be positive events/s")
    return sorted(out)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "bench",
        help="measure throughput vs the Kafka ceiling, freshness, memory and scaling",
        description=(
            "Benchmark homerec against the local broker in one run: passthrough (bare Kafka "
            "loop) and pipeline (full worker) throughput on the same events, freshness at half "
            "the pipeline's rate, model memory at 1M users x 100K items, and scaling by catalog "
            "size. Creates and deletes its own uuid-named topics. Prints numbers; asserts nothing."
        ),
    )
    parser.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, choices=sorted(MODELS), help=f"default {DEFAULT_MODEL}"
    )
    w = parser.add_argument_group("workload")
    w.add_argument("--users", type=positive_int, default=100_000, help="default 100000")
    w.add_argument(
        "--items", type=positive_int, default=10_000, help="catalog size (default 10000)"
    )
    w.add_argument(
        "--events", type=positive_int, default=100_000, help="measured events (default 100000)"
    )
    w.add_argument(
        "--warm-events",
        type=non_negative_int,
        default=2_000,
        help="learned before any clock (default 2000)",
    )
    w.add_argument("--seed", type=int, default=42, help="default 42")
    w.add_argument(
        "--partitions", type=positive_int, default=4, help="events partitions (default 4)"
    )
    w.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="worker processes in one consumer group for the pipeline and freshness phases "
        "(default 1: the pipeline runs in this process; N > 1 measures the machine's "
        "capacity with N processes, still against one passthrough loop; N <= --partitions)",
    )
    w.add_argument(
        "--max-batch",
        type=positive_int,
        default=WORKER.max_batch,
        help=f"worker batch (default {WORKER.max_batch})",
    )
    w.add_argument(
        "--no-changelog", action="store_true", help="run the worker without its state changelog"
    )
    w.add_argument(
        "--sync-delivery",
        action="store_true",
        help="the worker waits for each batch's acknowledgements and offset commit before its "
        "next poll, as 'homerec worker --sync-delivery' does",
    )
    w.add_argument(
        "--processing-guarantee",
        choices=("at-least-once", "exactly-once"),
        default=WORKER.processing_guarantee,
        help=f"the pipeline phase's worker guarantee (default {WORKER.processing_guarantee})",
    )
    p = parser.add_argument_group("phases")
    p.add_argument(
        "--skip",
        type=_phases,
        default=frozenset(),
        metavar="PHASE,...",
        help=f"phases to skip: {', '.join(PHASES)}",
    )
    p.add_argument(
        "--sharing-pairs",
        type=positive_int,
        default=2,
        help="sharing phase: pairs of pipeline runs without and with the item-updates "
        "exchange (default 2, i.e. off, on, on, off)",
    )
    p.add_argument(
        "--pipeline-seconds",
        type=positive_float,
        default=60.0,
        help="cut the pipeline phase off after this long (default 60)",
    )
    p.add_argument(
        "--freshness-seconds",
        type=positive_float,
        default=20.0,
        help="measured offered-load duration (default 20)",
    )
    p.add_argument(
        "--freshness-warmup",
        type=non_negative_float,
        default=3.0,
        metavar="SECONDS",
        help="load offered before the measured part, not counted (default 3)",
    )
    p.add_argument(
        "--freshness-rate",
        type=positive_float,
        default=None,
        metavar="EVENTS_PER_S",
        help="offered load (default: half the measured pipeline rate)",
    )
    p.add_argument(
        "--freshness-sweep",
        type=_rates,
        default=None,
        metavar="EVENTS_PER_S,...",
        help="also measure freshness at each of these offered loads (a fresh worker and "
        "topics each); reports freshness_sweep and freshness_capacity_eps, the highest "
        "load up to which every one met p50 <= 20 and p99 <= 100 ms",
    )
    p.add_argument(
        "--sweep-plot",
        default=None,
        metavar="PATH",
        help="write the freshness sweep as an SVG picture (p50 and p99 against the offered "
        "load, with the goals and the capacity)",
    )
    p.add_argument("--memory-users", type=positive_int, default=1_000_000, help="default 1000000")
    p.add_argument(
        "--checkpoint-users",
        type=_sizes,
        default=[100_000, 1_000_000],
        help="checkpoints phase: model sizes in users (default 100000,1000000)",
    )
    p.add_argument("--checkpoint-items", type=positive_int, default=10_000, help="default 10000")
    p.add_argument(
        "--checkpoint-changed",
        type=positive_int,
        default=5_000,
        help="checkpoints phase: users changed between two checkpoints (default 5000)",
    )
    p.add_argument("--memory-items", type=positive_int, default=100_000, help="default 100000")
    p.add_argument(
        "--memory-history", type=positive_int, default=20, help="items per user state (default 20)"
    )
    p.add_argument(
        "--scaling-items",
        type=_sizes,
        default=[1_000, 10_000, 100_000],
        metavar="N,...",
        help="catalog sizes (default 1000,10000,100000)",
    )
    p.add_argument(
        "--scaling-seconds", type=positive_float, default=20.0, help="budget per size (default 20)"
    )
    p.add_argument(
        "--ann-k", type=positive_int, default=100, help="candidates per user (default 100)"
    )
    p.add_argument(
        "--ann-stage-items",
        type=non_negative_int,
        default=100_000,
        metavar="N",
        help="catalog size for the hybrid's candidate stage against its exact re-rank, "
        "part of the ann phase (default 100000; 0 = skip)",
    )
    p.add_argument(
        "--ann-candidates",
        type=positive_int,
        default=200,
        metavar="N",
        help="the candidate stage's ann_candidates (default 200)",
    )
    p.add_argument("--keep-topics", action="store_true", help="do not delete the bench topics")
    add_connection_arguments(parser)
    logs.add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    logs.configure(args)
    settings = settings_from_args(args)
    report = run_bench(args, settings)
    if args.json:
        print(json.dumps(report, sort_keys=False))
    else:
        _print_text(report)
    sys.stdout.flush()
    return 0


def run_bench(args: argparse.Namespace, base: Settings) -> dict[str, Any]:
    """Run the phases not in ``args.skip``; return the report (see the module docstring)."""
    from streams.bench.workload import Workload, WorkloadSpec, delete_topics, new_settings, produce
    from streams.topics import EVENTS, ITEMS

    skip: frozenset[str] = args.skip
    if not 1 <= args.workers <= args.partitions:
        raise_config(
            f"--workers {args.workers}: give 1 to --partitions ({args.partitions}) worker "
            "processes (a consumer group gives each partition to one member; more would idle)"
        )
    if args.sweep_plot:
        if not args.freshness_sweep or "freshness" in skip:
            raise_config("--sweep-plot draws the freshness sweep: give --freshness-sweep too")
        if not Path(args.sweep_plot).resolve().parent.is_dir():
            raise_config(f"--sweep-plot: no directory for {args.sweep_plot!r}")
    spec = WorkloadSpec(
        n_users=args.users,
        n_items=args.items,
        n_events=args.events,
        warm_events=args.warm_events,
        seed=args.seed,
    )
    report: dict[str, Any] = {
        "passthrough_eps": None,
        "pipeline_eps": None,
        "ratio": None,
        "freshness_ms_p50": None,
        "freshness_ms_p99": None,
        "rss_mb_1m_users_100k_items": None,
        "checkpoint_stall_ms_max": None,
        "checkpoint_bytes_per_changed_user": None,
        "model": args.model,
        "workers": args.workers,
        "workload": spec.to_dict(),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    created: list[Settings] = []
    kafka_phases = {"passthrough", "pipeline", "variants", "sharing", "freshness"} - skip
    workload = None
    try:
        if kafka_phases:
            t0 = time.perf_counter()
            workload = Workload.build(spec)
            log.info("workload: %d users, %d items, %d measured events (%.1fs)",
                     spec.n_users, spec.n_items, len(workload.events),
                     time.perf_counter() - t0)  # fmt: skip
        if kafka_phases & {"passthrough", "pipeline", "variants"}:
            assert workload is not None
            settings = new_settings(base, "tp", partitions=args.partitions)
            created.append(settings)
            produce(settings, settings.topic(ITEMS.name), workload.encoded_items())
            t0 = time.perf_counter()
            produce(settings, settings.topic(EVENTS.name), workload.encoded())
            log.info("produced %d events to %s (%.1fs)", len(workload.events),
                     settings.topic(EVENTS.name), time.perf_counter() - t0)  # fmt: skip
            ceiling: list[dict[str, Any]] = []
            if "passthrough" not in skip:
                ceiling.append(_passthrough(settings, len(workload.events), args, 1))
            if "pipeline" not in skip:
                report["pipeline"], info = _pipeline(settings, workload, args)
                report["pipeline_eps"] = report["pipeline"]["eps"]
                if info is not None:
                    report["model_info"] = info
            if "passthrough" not in skip and "pipeline" not in skip:
                # again after the pipeline: the machine is shared, so the ceiling is the best of
                # two runs bracketing the pipeline (conservative for the ratio)
                ceiling.append(_passthrough(settings, len(workload.events), args, 2))
            if ceiling:
                best = max(ceiling, key=lambda r: float(r["eps"]))
                report["passthrough"] = {**best, "runs": ceiling}
                report["passthrough_eps"] = best["eps"]
            if "variants" not in skip:
                report["passthrough_variants"] = _variants(settings, len(workload.events), args)
        if "sharing" not in skip and args.workers == 1:
            assert workload is not None
            report["sharing"] = _sharing(base, workload, args, created)
        if report["passthrough_eps"] and report["pipeline_eps"] is not None:
            report["ratio"] = round(report["pipeline_eps"] / report["passthrough_eps"], 4)
        if "freshness" not in skip:
            from streams.bench.freshness import capacity

            assert workload is not None
            rate = args.freshness_rate
            if rate is None and report["pipeline_eps"]:
                rate = report["pipeline_eps"] / 2.0
            if rate is None and not args.freshness_sweep:
                raise_config(
                    "freshness needs --freshness-rate or --freshness-sweep when the pipeline "
                    "is skipped"
                )
            if rate is not None:
                fr = _freshness(base, workload, rate, args, created)
                report["freshness"] = fr.to_dict()
                report["freshness_ms_p50"] = round(fr.p50_ms, 2)
                report["freshness_ms_p99"] = round(fr.p99_ms, 2)
            if args.freshness_sweep:
                sweep = [_freshness(base, workload, r, args, created) for r in args.freshness_sweep]
                report["freshness_sweep"] = [r.to_dict() for r in sweep]
                report["freshness_capacity_eps"] = capacity(sweep)
                if args.sweep_plot:
                    _write_sweep_plot(args.sweep_plot, report)
    finally:
        if created and not args.keep_topics:
            delete_topics(created)
    if "memory" not in skip:
        from streams.bench.memory import measure_memory

        mem = measure_memory(
            args.model,
            n_users=args.memory_users,
            n_items=args.memory_items,
            history=args.memory_history,
            seed=args.seed,
        )
        report["memory"] = mem.to_dict()
        if (args.memory_users, args.memory_items) == (1_000_000, 100_000):
            report["rss_mb_1m_users_100k_items"] = round(mem.rss_mb, 1)
    if "checkpoints" not in skip:
        from streams.bench.checkpoints import measure_checkpoints

        rows = [
            measure_checkpoints(
                args.model,
                n_users=n,
                n_items=args.checkpoint_items,
                changed=args.checkpoint_changed,
                seed=args.seed,
            )
            for n in args.checkpoint_users
        ]
        report["checkpoints"] = [row.to_dict() for row in rows]
        if rows:
            report["checkpoint_stall_ms_max"] = round(rows[-1].stall_ms_max, 2)
            report["checkpoint_bytes_per_changed_user"] = round(rows[-1].bytes_per_changed_user, 1)
    if "scaling" not in skip:
        from streams.bench.scaling import scaling_row

        report["scaling"] = [
            scaling_row(
                args.model,
                n,
                n_users=args.users,
                max_seconds=args.scaling_seconds,
                seed=args.seed,
            ).to_dict()
            for n in args.scaling_items
        ]
    if "ann" not in skip:
        from streams.bench.scaling import ann_row

        report["ann"] = [
            ann_row(n, k=args.ann_k, seed=args.seed).to_dict() for n in args.scaling_items
        ]
        if args.ann_stage_items > 0:
            from streams.bench.ann_stage import ann_stage_row

            report["ann_stage"] = ann_stage_row(
                args.ann_stage_items,
                candidates=args.ann_candidates,
                n_users=args.users,
                seed=args.seed,
            ).to_dict()
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return report


def _write_sweep_plot(path: str, report: dict[str, Any]) -> None:
    from streams.bench.sweep_plot import sweep_svg

    svg = sweep_svg(
        report["freshness_sweep"],
        capacity_eps=report["freshness_capacity_eps"],
        title=f"homerec freshness, model {report['model']}, "
        + (f"{report['workers']} workers, " if report["workers"] > 1 else "")
        + report["started"],
    )
    Path(path).write_text(svg, encoding="utf-8")
    log.info("freshness sweep plot written to %s", path)


def _pipeline(
    settings: Settings, workload: Workload, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The pipeline phase: the worker in this process, or ``--workers`` processes; its report
    and the model's size parameters (``None`` when the model lives in the processes)."""
    if args.workers > 1:
        from streams.bench.worker_group import run_group_pipeline

        result = run_group_pipeline(
            settings,
            _member(workload, args, guarantee=args.processing_guarantee),
            members=args.workers,
            n_events=len(workload.events),
            max_seconds=args.pipeline_seconds,
        )
        return result.to_dict(), None
    from streams.bench.models import build_model, model_info, warm_model

    model = build_model(args.model)
    warm_s = warm_model(model, workload)
    log.info("model %s warmed in %.1fs", model.name, warm_s)
    pl = _one_worker(settings, model, workload, args)
    return {**pl.to_dict(), "warm_seconds": round(warm_s, 2), "workers": 1}, model_info(model)


def _one_worker(
    settings: Settings,
    model: Recommender,
    workload: Workload,
    args: argparse.Namespace,
    *,
    share_items: bool = True,
) -> ThroughputResult:
    """The one-worker pipeline over ``workload`` with the bench's worker options."""
    from streams.bench.pipeline import run_pipeline

    return run_pipeline(
        settings,
        model,
        n_events=len(workload.events),
        max_batch=args.max_batch,
        changelog=not args.no_changelog,
        sync_delivery=args.sync_delivery,
        max_seconds=args.pipeline_seconds,
        guarantee=args.processing_guarantee,
        share_items=share_items,
    )


def _sharing(
    base: Settings, workload: Workload, args: argparse.Namespace, created: list[Settings]
) -> dict[str, Any]:
    """The sharing phase: the one-worker pipeline with the item-updates exchange off and on."""
    from streams.bench.models import build_model, warm_model
    from streams.bench.sharing import measure_sharing
    from streams.bench.workload import new_settings, produce
    from streams.topics import EVENTS, ITEMS

    def run(share: bool) -> ThroughputResult:
        settings = new_settings(base, "sh", partitions=args.partitions)
        created.append(settings)
        produce(settings, settings.topic(ITEMS.name), workload.encoded_items())
        produce(settings, settings.topic(EVENTS.name), workload.encoded())
        model = build_model(args.model)
        warm_model(model, workload)
        return _one_worker(settings, model, workload, args, share_items=share)

    return measure_sharing(run, pairs=args.sharing_pairs).to_dict()


def _freshness(
    base: Settings,
    workload: Workload,
    rate: float,
    args: argparse.Namespace,
    created: list[Settings],
) -> FreshnessResult:
    """One freshness measurement at ``rate`` on topics of its own (added to ``created``)."""
    from streams.bench.freshness import TOPIC_OVERRIDES, run_freshness
    from streams.bench.workload import new_settings, produce
    from streams.topics import ITEMS

    fs = new_settings(base, "fr", partitions=args.partitions, overrides=TOPIC_OVERRIDES)
    created.append(fs)
    produce(fs, fs.topic(ITEMS.name), workload.encoded_items())
    return run_freshness(
        fs,
        workload,
        _member(workload, args),
        rate=rate,
        seconds=args.freshness_seconds,
        warmup_s=args.freshness_warmup,
        workers=args.workers,
    )


def _member(
    workload: Workload, args: argparse.Namespace, *, guarantee: Guarantee = "at-least-once"
) -> MemberSpec:
    """What each worker process of the pipeline or freshness phase runs, from the options."""
    from streams.bench.worker_group import MemberSpec

    return MemberSpec(
        model_name=args.model,
        workload=workload.spec.to_dict(),
        max_batch=args.max_batch,
        changelog=not args.no_changelog,
        sync_delivery=args.sync_delivery,
        guarantee=guarantee,
    )


def _passthrough(
    settings: Settings, n_events: int, args: argparse.Namespace, run: int
) -> dict[str, Any]:
    from streams.bench.passthrough import run_passthrough

    result = run_passthrough(
        settings, n_events=n_events, max_batch=args.max_batch, group=f"passthrough-{run}"
    )
    return result.to_dict()


def _variants(settings: Settings, n_events: int, args: argparse.Namespace) -> dict[str, Any]:
    """The bare loop with the worker's send pattern: what the sends alone cost."""
    from streams.bench.passthrough import run_passthrough

    out: dict[str, Any] = {}
    for name, fanout, explicit in (
        ("x2_sends", 2, False),
        ("explicit_partition", 1, True),
        ("x2_sends_explicit_partition", 2, True),
    ):
        result = run_passthrough(
            settings,
            n_events=n_events,
            max_batch=args.max_batch,
            fanout=fanout,
            explicit_partition=explicit,
            group=f"variant-{name}",
        )
        out[name] = result.to_dict()
    return out


def raise_config(message: str) -> None:
    from homerec.errors import ConfigError

    raise ConfigError(message)


def _cpus() -> int:
    import os

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def _print_text(report: dict[str, Any]) -> None:
    def fmt(key: str, v: Any) -> str:
        if v is None:
            return "n/a (skipped or other sizes)"
        return f"{v:.4f}" if key == "ratio" else f"{v:,.1f}"

    workers = report.get("workers", 1)
    print(f"homerec bench — model {report['model']}, {report['workload']}")
    if workers > 1:
        print(f"  {workers} worker processes in one consumer group: pipeline_eps and ratio are "
              "their sum against one passthrough loop (the machine's capacity)")  # fmt: skip
    for key in ("passthrough_eps", "pipeline_eps", "ratio", "freshness_ms_p50",
                "freshness_ms_p99", "rss_mb_1m_users_100k_items", "checkpoint_stall_ms_max",
                "checkpoint_bytes_per_changed_user"):  # fmt: skip
        print(f"  {key:<28} {fmt(key, report[key])}")
    for row in report.get("checkpoints", []):
        print(f"  checkpoints {row['n_users']:>9,} users: loop waits {row['stall_ms_max']:.1f} ms "
              f"max (first {row['first_stall_ms']:.1f} ms), "
              f"{row['bytes_per_changed_user']:,.0f} bytes per changed user")  # fmt: skip
    mem = report.get("memory")
    if mem:
        print(f"  memory {mem['n_users']:,} users x {mem['n_items']:,} items: "
              f"{mem['rss_mb']:,.1f} MiB resident ({mem['model_mb']:,.1f} MiB model)")  # fmt: skip
    sweep = report.get("freshness_sweep")
    if sweep:
        for row in sweep:
            print(f"  freshness at {row['offered_eps']:>8,.0f} events/s: p50 {row['p50_ms']:.0f} ms, "
                  f"p90 {row['p90_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms")  # fmt: skip
        cap = report.get("freshness_capacity_eps")
        met = "none of these loads" if cap is None else f"{cap:,.0f} events/s"
        print(f"  freshness goals met up to: {met}")
    for name, row in report.get("passthrough_variants", {}).items():
        print(f"  passthrough variant {name:<28} {row['eps']:,.1f} events/s")
    sharing = report.get("sharing")
    if sharing:
        ratio = sharing["ratio"]
        print(f"  sharing the item side: off {sharing['off_eps']}, on {sharing['on_eps']} "
              f"events/s, on/off {'n/a' if ratio is None else f'{ratio:.3f}'}")  # fmt: skip
    for row in report.get("scaling", []):
        print(f"  scaling {row['n_items']:>7} items: re-rank {row['rerank_ms_per_user']:.2f} ms/user, "
              f"learn {row['learn_ms_per_event']:.2f} ms/event, {row['eps']:,.0f} events/s")  # fmt: skip
    for row in report.get("ann", []):
        print(f"  ann {row['n_items']:>7} items: exact {row['exact_ms_per_user']:.3f} ms/user, "
              f"{row['method']} {row['ann_ms_per_user']:.3f} ms/user, "
              f"recall@{row['k']} {row['recall_at_k']:.3f}")  # fmt: skip
    stage = report.get("ann_stage")
    if stage:
        print(f"  ann stage {stage['n_items']:,} items, {stage['candidates']} candidates: "
              f"re-rank {stage['exact_ms_per_user']:.3f} -> {stage['ann_ms_per_user']:.3f} "
              f"ms/user, recall@{stage['k']} {stage['recall_at_k']:.3f} "
              f"({stage['recall_at_k_stale']:.3f} after {stage['stale_events']:,} events "
              f"without a rebuild), build {stage['build_s']:.1f}s")  # fmt: skip
