"""Shared fixtures: the real local broker and uuid-named topics.

Integration tests talk to the broker at ``HOMEREC_TEST_BOOTSTRAP`` (default
``localhost:9092``; ``make test`` and ``.ci/run`` start it with
``deploy/kafka/local-kafka.sh start``). They fail, not skip, when it is down.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.streams.fixtures"]


def _reachable(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def bootstrap() -> str:
    """Bootstrap address of the real broker (fails the test if unreachable)."""
    addr = os.environ.get("HOMEREC_TEST_BOOTSTRAP", "localhost:9092")
    if not _reachable(addr):
        pytest.fail(
            f"no Kafka broker at {addr}: run 'deploy/kafka/local-kafka.sh start' "
            "(or set HOMEREC_TEST_BOOTSTRAP)"
        )
    return addr


@pytest.fixture
def topic_prefix() -> Iterator[str]:
    """A fresh uuid-based topic prefix, so tests never see each other's data."""
    yield f"t{uuid.uuid4().hex[:12]}"
