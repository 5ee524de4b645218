"""``homerec topics create|list``: the topics of the contract, created idempotently."""

from __future__ import annotations

import argparse
from typing import Any

from streams.config import add_connection_arguments, settings_from_args
from streams.topics import ALL_TOPICS, create_topics

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "topics",
        help="create or list homerec's topics",
        description="Create the topics of the homerec contract (idempotent) or list them.",
    )
    parser.add_argument("action", choices=("create", "list"), help="what to do")
    parser.add_argument(
        "--partitions",
        type=int,
        default=4,
        help="partitions of the events topic and of the topics co-partitioned with it "
        "(recommendations, changelog) and of the DLQ; default 4",
    )
    parser.add_argument("--replication", type=int, default=1, help="replication factor (default 1)")
    add_connection_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.action == "list":
        for spec in ALL_TOPICS:
            policy = "compact" if spec.compacted else "delete"
            print(f"{settings.topic(spec.name):40s} {policy:8s} {spec.description}")
        return 0
    result = create_topics(settings, partitions=args.partitions, replication=args.replication)
    for name, what in result.items():
        print(f"{name}: {what}")
    return 0
