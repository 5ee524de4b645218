"""Connection settings shared by every Kafka-facing command.

Built once at the edge (CLI flags over environment variables over defaults)
into a frozen :class:`Settings`; raw kafka-python options are merged over the
defaults of each client. Secrets are never part of ``repr``.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homerec.errors import ConfigError
from streams import security

__all__ = ["Settings", "add_connection_arguments", "settings_from_args"]

_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where the broker is and how topics are named.

    >>> s = Settings(topic_prefix="shop")
    >>> s.topic("events"), s.group
    ('shop.events', 'shop.worker')
    >>> Settings(topic_prefix="bad prefix")
    Traceback (most recent call last):
    ...
    homerec.errors.ConfigError: topic prefix 'bad prefix' may use only letters, digits, '.', '_' and '-'
    """

    bootstrap: str = "localhost:9092"
    topic_prefix: str = "homerec"
    #: Extra kafka-python options (security, timeouts) merged into every client.
    kafka_options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.topic_prefix):
            raise ConfigError(
                f"topic prefix {self.topic_prefix!r} may use only letters, digits, '.', '_' and '-'"
            )
        if not self.bootstrap.strip():
            raise ConfigError("bootstrap servers must not be empty")

    def topic(self, name: str) -> str:
        """Full topic name for a short ``name`` such as ``"events"``."""
        return f"{self.topic_prefix}.{name}"

    @property
    def group(self) -> str:
        """Consumer group of the workers."""
        return f"{self.topic_prefix}.worker"

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """kafka-python keyword arguments: bootstrap + extra options + ``overrides``."""
        return {
            "bootstrap_servers": self.bootstrap.split(","),
            # reconnect within a second once a restarted broker is back (kafka-python's default
            # backs off up to 30 s, leaving workers idle long after the broker returned)
            "reconnect_backoff_max_ms": 1000,
            **self.kafka_options,
            **overrides,
        }


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap`` and ``--topic-prefix`` (with their environment fallbacks)."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--bootstrap",
        default=None,
        metavar="HOST:PORT[,...]",
        help="Kafka bootstrap servers (env HOMEREC_BOOTSTRAP; default localhost:9092)",
    )
    group.add_argument(
        "--topic-prefix",
        default=None,
        metavar="PREFIX",
        help="topics are named PREFIX.events, PREFIX.items, ... "
        "(env HOMEREC_TOPIC_PREFIX; default homerec)",
    )
    security.add_arguments(parser)


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Flags win over ``HOMEREC_*`` environment variables, which win over defaults."""
    env = os.environ if env is None else env
    return Settings(
        bootstrap=args.bootstrap or env.get("HOMEREC_BOOTSTRAP") or "localhost:9092",
        topic_prefix=args.topic_prefix or env.get("HOMEREC_TOPIC_PREFIX") or "homerec",
        kafka_options=security.kafka_options(args, env),
    )
