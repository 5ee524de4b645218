"""``homerec forget USER [USER...]``: ask the workers to erase users (tombstones on ``<prefix>.users``).

A tombstone (null value) keyed by the user id on the compacted users topic is a
deletion request. The worker that owns the user's partition erases every
per-user trace in its process, publishes tombstones for the user on
``<prefix>.recommendations`` and ``<prefix>.changelog`` and takes a checkpoint
soon after; events of the user older than the request are never learned again.
The command returns once the broker has acknowledged every request; the ids are
not printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kafka.errors import KafkaError

from homerec.errors import ConfigError
from homerec.events import check_id
from homerec.limits import Limits
from streams.config import Settings, add_connection_arguments, settings_from_args
from streams.errors import DeliveryFailed
from streams.topics import USERS

__all__ = ["forget", "register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "forget",
        help="erase users: send deletion requests (tombstones) to the users topic",
        description=(
            "Send a tombstone keyed by each USER to <prefix>.users. The owning worker erases "
            "the user's state, tombstones its list and changelog record, and checkpoints "
            "soon after (README 'Privacy'). Exits non-zero unless every request was "
            "acknowledged."
        ),
    )
    parser.add_argument("users", nargs="+", metavar="USER", help="user id(s)")
    add_connection_arguments(parser)
    parser.set_defaults(func=_run)


def forget(settings: Settings, users: list[str], *, producer: Any) -> int:
    """Send one tombstone per user to the users topic, keyed (and so partitioned) by the
    user id exactly as the producers of events are; returns how many were acknowledged."""
    limits = Limits()
    for user in users:
        check_id(user, "user", limits)
    topic = settings.topic(USERS.name)
    futures = [producer.send(topic, key=u.encode("utf-8"), value=None) for u in users]
    try:
        producer.flush(timeout=60)
        for fut in futures:
            fut.get(timeout=60)
    except KafkaError as exc:
        raise DeliveryFailed(f"deletion requests not acknowledged: {exc}", exc) from exc
    return len(futures)


def _run(args: argparse.Namespace) -> int:
    from homerec.errors import InvalidEvent
    from streams.commands.replay import check_topics, make_producer

    settings = settings_from_args(args)
    users = list(dict.fromkeys(args.users))
    check_topics(settings, [settings.topic(USERS.name)])
    producer = make_producer(settings, None)
    try:
        n = forget(settings, users, producer=producer)
    except InvalidEvent as exc:
        raise ConfigError(f"not a user id: {exc.detail}") from None
    finally:
        producer.close(timeout=10)
    print(f"sent {n} deletion requests to {settings.topic(USERS.name)}", file=sys.stdout)
    return 0
