"""``homerec chaos``: kill workers and restart the broker under load, then count every event."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any, get_args

from streams import logs
from streams.commands.arguments import (
    non_negative_float,
    non_negative_int,
    port,
    positive_float,
    positive_int,
)
from streams.errors import StreamsError
from streams.worker import Guarantee, WorkerConfig

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "chaos",
        help="durability check: SIGKILL workers and restart a broker under load, count events",
        description=(
            "Start a dedicated local broker (deploy/kafka/local-kafka.sh, free ports, temporary "
            "data directory), N 'homerec worker' processes and a steady synthetic load; SIGKILL "
            "a random worker at random moments (it is restarted at once with the same instance "
            "id), stop and start the broker in the middle of the run, then drain and compare, per "
            "user, the final 'events' count in the recommendations topic with the events sent. "
            "Exit 0 when nothing was lost (and, with exactly-once, nothing applied twice) and "
            "every disruption recovered; 1 otherwise; 2 when the run itself failed (no broker, "
            "workers that never form a group). See docs/durability.md."
        ),
    )
    parser.add_argument(
        "--workers", type=positive_int, default=2, help="worker processes (default 2)"
    )
    parser.add_argument("--kills", type=non_negative_int, default=10, help="SIGKILLs (default 10)")
    parser.add_argument(
        "--broker-restarts",
        type=non_negative_int,
        default=1,
        help="broker stop/start cycles (default 1)",
    )
    parser.add_argument(
        "--broker-stop",
        choices=("term", "kill"),
        default="term",
        help="how the broker goes away: term = controlled shutdown (default), kill = SIGKILL "
        "(unclean: log and transaction recovery on restart)",
    )
    parser.add_argument(
        "--processing-guarantee",
        choices=get_args(Guarantee),
        default=WorkerConfig().processing_guarantee,
        help=f"passed to every worker (default {WorkerConfig().processing_guarantee})",
    )
    parser.add_argument(
        "--rate", type=positive_float, default=200.0, help="events per second offered (default 200)"
    )
    parser.add_argument(
        "--duration",
        type=non_negative_float,
        default=0.0,
        help="keep the load running at least this many seconds (default 0: as long as the "
        "disruptions take)",
    )
    parser.add_argument(
        "--gap",
        type=non_negative_float,
        nargs=2,
        default=(1.0, 4.0),
        metavar=("MIN", "MAX"),
        help="random pause in seconds between a recovery and the next disruption (default 1 4)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds load and schedule (default 0)")
    parser.add_argument(
        "--port", type=port, default=0, help="dedicated broker's client port (default: a free one)"
    )
    parser.add_argument(
        "--partitions",
        type=positive_int,
        default=4,
        help="partitions of the events topic (default 4)",
    )
    parser.add_argument(
        "--users", type=positive_int, default=400, help="synthetic users (default 400)"
    )
    parser.add_argument("--model", default="", help="worker --model (default: the worker's)")
    parser.add_argument(
        "--worker-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for every worker (repeatable), e.g. --worker-arg=--max-batch=500",
    )
    parser.add_argument(
        "--worker-command",
        default="",
        metavar="CMD",
        help="command that runs homerec for the workers (default: this Python -m streams.cli)",
    )
    parser.add_argument(
        "--recovery-timeout",
        type=positive_float,
        default=90.0,
        help="give up waiting for a recovery after this many seconds (default 90)",
    )
    parser.add_argument(
        "--keep-dir",
        action="store_true",
        help="keep the run directory (broker data, worker logs); it is always kept on failure",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report as one JSON object (last line)"
    )
    logs.add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from streams.chaos.harness import ChaosConfig, run_chaos

    logs.configure(args)
    for name in ("workers", "partitions", "users"):
        if getattr(args, name) < 1:
            raise SystemExit(f"homerec chaos: --{name} must be at least 1")
    if args.kills < 0 or args.broker_restarts < 0 or args.rate <= 0:
        raise SystemExit("homerec chaos: --kills/--broker-restarts >= 0 and --rate > 0")
    worker_args = list(args.worker_arg)
    if args.model:
        worker_args += ["--model", args.model]
    config = ChaosConfig(
        workers=args.workers,
        kills=args.kills,
        broker_restarts=args.broker_restarts,
        broker_stop=args.broker_stop,
        processing_guarantee=args.processing_guarantee,
        rate=args.rate,
        duration_s=args.duration,
        seed=args.seed,
        port=args.port,
        partitions=args.partitions,
        n_users=args.users,
        gap_s=(min(args.gap), max(args.gap)),
        recovery_timeout_s=args.recovery_timeout,
        worker_args=tuple(worker_args),
        worker_command=shlex.split(args.worker_command) if args.worker_command else None,
        keep_dir=args.keep_dir,
    )

    def say(msg: str) -> None:
        print(f"chaos: {msg}", file=sys.stderr, flush=True)

    try:
        report = run_chaos(config, progress_cb=say)
    except (RuntimeError, OSError, StreamsError) as exc:
        # the harness itself could not run the experiment (no broker, workers that never start)
        print(f"homerec chaos: error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc).splitlines()[0]}))
        return 2
    summary = report.summary()
    if args.json:
        print(json.dumps(summary, sort_keys=False))
    else:
        for key, value in summary.items():
            if key not in ("disruptions", "wrong_users"):
                print(f"{key:>16}: {value}")
        for d in report.disruptions:
            rec = "not recovered" if d.recovery_s is None else f"{d.recovery_s:.2f}s"
            print(f"{'':>16}  {d.at_s:7.1f}s {d.kind:<15} {d.target:<7} recovery {rec}")
    return 0 if report.passed() else 1
