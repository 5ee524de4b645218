"""``homerec topics create|list``: the topics of the contract, created idempotently or
listed as the broker has them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from streams.commands.arguments import positive_int
from streams.config import Settings, add_connection_arguments, settings_from_args
from streams.topics import ALL_TOPICS, create_topics, describe_topics

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "topics",
        help="create or list homerec's topics",
        description="Create the topics of the homerec contract (idempotent), or list them as "
        "the broker has them: partitions, or 'missing'.",
    )
    parser.add_argument("action", choices=("create", "list"), help="what to do")
    parser.add_argument(
        "--partitions",
        type=positive_int,
        default=4,
        help="partitions of the events topic and of the topics co-partitioned with it "
        "(recommendations, changelog) and of the DLQ; default 4",
    )
    parser.add_argument(
        "--replication", type=positive_int, default=1, help="replication factor (default 1)"
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.action == "list":
        return _list(settings)
    result = create_topics(settings, partitions=args.partitions, replication=args.replication)
    for name, what in result.items():
        print(f"{name}: {what}")
    return 0


def _list(settings: Settings) -> int:
    """The contract's topics as the broker has them, then any other topic under the prefix."""
    found = describe_topics(settings)
    missing = 0
    for spec in ALL_TOPICS:
        name = settings.topic(spec.name)
        policy = "compact" if spec.compacted else "delete"
        if name in found:
            where = _partitions(found.pop(name))
        else:
            where, missing = "missing", missing + 1
        print(f"{name:40s} {where:14s} {policy:8s} {spec.description}")
    for name, partitions in sorted(found.items()):
        print(f"{name:40s} {_partitions(partitions):14s} {'':8s} (not part of the contract)")
    if missing:
        print(
            f"{missing} of {len(ALL_TOPICS)} topics missing on {settings.bootstrap}: "
            f"'homerec topics create --topic-prefix {settings.topic_prefix}' creates them",
            file=sys.stderr,
        )
    return 0


def _partitions(n: int) -> str:
    return f"{n} partition" if n == 1 else f"{n} partitions"
