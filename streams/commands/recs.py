"""``homerec recs USER [USER...]``: print users' latest lists from ``<prefix>.recommendations``.

Reads the compacted recommendations topic from the beginning to its current
end with a group-less consumer (nothing is committed, no group is joined),
keeps the newest record per requested user and prints it as a table, with
titles from the ``<prefix>.items`` catalog when that topic has them, or as
JSON (``--json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from homerec.errors import HomerecError, InvalidEvent
from homerec.homepage import Homepage
from streams.codec import decode_homepage, decode_item
from streams.commands.arguments import positive_float
from streams.config import Settings, add_connection_arguments, settings_from_args
from streams.errors import BrokerUnavailable, TopicMissing
from streams.topics import ITEMS, RECOMMENDATIONS

__all__ = ["format_table", "latest_homepages", "load_titles", "register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "recs",
        help="print users' latest recommendation lists",
        description=(
            "Read <prefix>.recommendations from the beginning (no consumer group, nothing "
            "committed) and print the newest list of each USER, with titles from "
            "<prefix>.items. Exits 1 if some user has no list yet."
        ),
    )
    parser.add_argument("users", nargs="+", metavar="USER", help="user id(s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--no-titles", action="store_true", help="do not read the catalog for titles"
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="give up reading a topic to its end after this long (default 30)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=_run)


def _reader(settings: Settings, topic: str, timeout_s: float) -> tuple[Any, list[int]]:
    from kafka.errors import KafkaError

    from streams.partition_reader import PartitionReader

    try:
        reader = PartitionReader(settings, topic, client_id="homerec-recs")
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot reach Kafka at {settings.bootstrap}: {exc}", exc) from exc
    try:
        return reader, reader.partitions(timeout_s)
    except BaseException:
        reader.close()
        raise


def latest_homepages(
    settings: Settings, users: Iterable[str], *, timeout_s: float = 30.0
) -> dict[str, Homepage]:
    """The newest homepage of each of ``users`` that has one (a tombstone deletes it)."""
    from kafka.errors import KafkaError

    wanted = {u.encode("utf-8"): u for u in users}
    topic = settings.topic(RECOMMENDATIONS.name)
    reader, partitions = _reader(settings, topic, min(timeout_s, 5.0))
    found: dict[str, Homepage] = {}
    try:
        for rec in reader.read_to_end(partitions, timeout_s):
            user = wanted.get(rec.key)
            if user is None:
                continue
            if rec.value is None:
                found.pop(user, None)
                continue
            found[user] = decode_homepage(rec.value)
    except KafkaError as exc:
        raise BrokerUnavailable(f"reading {topic} failed: {exc}", exc) from exc
    finally:
        reader.close()
    return found


def load_titles(
    settings: Settings, items: Iterable[str], *, timeout_s: float = 30.0
) -> dict[str, str]:
    """Titles of ``items`` from the catalog topic (empty if it is missing or has none)."""
    from kafka.errors import KafkaError

    wanted = {i.encode("utf-8") for i in items}
    if not wanted:
        return {}
    try:
        reader, partitions = _reader(settings, settings.topic(ITEMS.name), min(timeout_s, 2.0))
    except TopicMissing:
        return {}
    titles: dict[str, str] = {}
    try:
        for rec in reader.read_to_end(partitions, timeout_s):
            if rec.key not in wanted or rec.value is None:
                continue
            try:
                item = decode_item(rec.key, rec.value)
            except InvalidEvent:
                continue
            if item.title:
                titles[item.item] = item.title
    except KafkaError as exc:
        raise BrokerUnavailable(f"reading the catalog failed: {exc}", exc) from exc
    finally:
        reader.close()
    return titles


def _when(ms: int) -> str:
    if ms <= 0:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_table(user: str, page: Homepage | None, titles: Mapping[str, str] | None = None) -> str:
    """One user's list as text.

    >>> page = Homepage("u1", (("i3", 0.91234), ("i7", 0.5)), ts=1_700_000_060_000,
    ...                 event_ts=1_700_000_000_000, events=12)
    >>> print(format_table("u1", page, {"i3": "Heat"}))
    user u1: published 2023-11-14 22:14:20Z, 12 events, newest event 2023-11-14 22:13:20Z
      rank  item  score   title
         1  i3    0.9123  Heat
         2  i7    0.5000
    >>> print(format_table("u9", None))
    user u9: no recommendations yet
    """
    if page is None:
        return f"user {user}: no recommendations yet"
    titles = titles or {}
    head = (
        f"user {user}: published {_when(page.ts)}, {page.events} events, "
        f"newest event {_when(page.event_ts)}"
    )
    if not page.items:
        return head + "\n  (empty list)"
    width = max(4, *(len(item) for item, _ in page.items))
    lines = [head, f"  rank  {'item':{width}}  score   title"]
    for rank, (item, score) in enumerate(page.items, 1):
        title = titles.get(item, "")
        lines.append(f"  {rank:4d}  {item:{width}}  {score:.4f}  {title}".rstrip())
    return "\n".join(lines)


def _as_json(users: Sequence[str], pages: Mapping[str, Homepage], titles: Mapping[str, str]) -> str:
    out: dict[str, Any] = {}
    for user in users:
        page = pages.get(user)
        if page is None:
            out[user] = None
            continue
        record = page.to_dict()
        for entry in record["items"]:
            if entry["item"] in titles:
                entry["title"] = titles[entry["item"]]
        out[user] = record
    return json.dumps(out, indent=2, ensure_ascii=False)


def show(
    settings: Settings,
    users: Sequence[str],
    *,
    as_json: bool = False,
    titles: bool = True,
    timeout_s: float = 30.0,
    out: TextIO | None = None,
) -> int:
    """Print the lists of ``users``; 0 if every user has one, 1 otherwise."""
    out = out or sys.stdout
    users = list(dict.fromkeys(users))  # keep order, drop repeats
    pages = latest_homepages(settings, users, timeout_s=timeout_s)
    shown = {item for page in pages.values() for item, _ in page.items}
    names = load_titles(settings, shown, timeout_s=timeout_s) if titles else {}
    if as_json:
        print(_as_json(users, pages, names), file=out)
    else:
        print("\n\n".join(format_table(u, pages.get(u), names) for u in users), file=out)
    missing = [u for u in users if u not in pages]
    if missing:
        print(
            f"homerec recs: no list yet for {len(missing)} user(s): {', '.join(missing[:10])}",
            file=sys.stderr,
        )
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    # fail fast on an unreachable broker (kafka-python waits 30 s by default)
    options = {"bootstrap_timeout_ms": 10_000, **settings.kafka_options}
    settings = dataclasses.replace(settings, kafka_options=options)
    if args.timeout <= 0:
        raise HomerecError("--timeout must be positive")
    return show(
        settings,
        args.users,
        as_json=args.json,
        titles=not args.no_titles,
        timeout_s=args.timeout,
    )
