"""The worker's HTTP side door: Prometheus metrics, liveness and readiness.

One small threaded HTTP server on the metrics port serves

- ``GET /metrics`` — the default prometheus-client registry (text format, or
  OpenMetrics when the scraper asks for it);
- ``GET /healthz`` — liveness: ``200 ok`` while the poll loop has beaten within
  ``liveness_timeout_s``, else ``503`` (a wedged loop gets the pod restarted);
- ``GET /readyz`` — readiness: ``200`` when the worker owns at least one
  partition of the events topic, its lag is at most ``ready_max_lag`` and it is
  not shutting down; else ``503``. The body is JSON with the reason either way.

The worker owns a :class:`Health` and reports into it from its loop; the HTTP
threads only read it. Nothing here blocks the poll loop.

>>> h = Health(liveness_timeout_s=60, ready_max_lag=100)
>>> h.ready()
(False, 'no partitions assigned')
>>> h.set_assigned(2); h.set_lag(5); h.beat()
>>> h.ready()
(True, 'ready')
>>> h.set_lag(500); h.ready()
(False, 'lag 500 > 100')
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from homerec.errors import ConfigError

__all__ = ["Health", "MetricsServer", "serve"]

log = logging.getLogger(__name__)


class Health:
    """Thread-safe liveness and readiness state of one worker.

    ``clock`` is injectable for tests (monotonic seconds). Before the first
    :meth:`beat`, start-up counts as a beat, so a worker that is still
    restoring state is live (but not ready) for ``liveness_timeout_s``.
    """

    def __init__(
        self,
        *,
        liveness_timeout_s: float = 60.0,
        ready_max_lag: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if liveness_timeout_s <= 0:
            raise ConfigError(f"liveness_timeout_s must be > 0, got {liveness_timeout_s}")
        if ready_max_lag < 0:
            raise ConfigError(f"ready_max_lag must be >= 0, got {ready_max_lag}")
        self.liveness_timeout_s = float(liveness_timeout_s)
        self.ready_max_lag = int(ready_max_lag)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()
        self._assigned = 0
        self._lag: int | None = None
        self._stopping = False

    # -- written by the worker -------------------------------------------------

    def set_assigned(self, n_partitions: int) -> None:
        """Partitions of the events topic this worker currently owns."""
        with self._lock:
            self._assigned = max(0, int(n_partitions))

    def set_lag(self, total_messages: int) -> None:
        """Messages not yet processed, summed over the assigned partitions."""
        with self._lock:
            self._lag = max(0, int(total_messages))

    def beat(self) -> None:
        """Called once per poll-loop iteration: the loop is alive."""
        now = self._clock()
        with self._lock:
            self._last_beat = now

    def set_stopping(self) -> None:
        """The worker is shutting down: stop sending it traffic (not ready)."""
        with self._lock:
            self._stopping = True

    # -- read by the HTTP threads ----------------------------------------------

    def live(self) -> tuple[bool, str]:
        """``(alive, reason)``: has the loop beaten within the timeout?"""
        with self._lock:
            age = self._clock() - self._last_beat
        if age > self.liveness_timeout_s:
            return False, f"no loop beat for {age:.1f}s > {self.liveness_timeout_s:g}s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        """``(ready, reason)``: assigned, caught up within the bound, not stopping."""
        with self._lock:
            stopping, assigned, lag = self._stopping, self._assigned, self._lag
        if stopping:
            return False, "stopping"
        alive, why = self.live()
        if not alive:
            return False, why
        if assigned < 1:
            return False, "no partitions assigned"
        if lag is None:
            return False, "lag not measured yet"
        if lag > self.ready_max_lag:
            return False, f"lag {lag} > {self.ready_max_lag}"
        return True, "ready"

    def snapshot(self) -> dict[str, Any]:
        """Everything the readiness body reports, as JSON-ready values."""
        ready, reason = self.ready()
        with self._lock:
            return {
                "ready": ready,
                "reason": reason,
                "assigned_partitions": self._assigned,
                "lag": self._lag,
                "ready_max_lag": self.ready_max_lag,
                "stopping": self._stopping,
                "seconds_since_beat": round(self._clock() - self._last_beat, 3),
            }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "homerec"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        path = self.path.split("?", 1)[0]
        health = self.server.health
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, content_type, encoder(REGISTRY))
        elif path == "/healthz":
            alive, reason = health.live()
            self._send(200 if alive else 503, "text/plain; charset=utf-8", (reason + "\n").encode())
        elif path == "/readyz":
            body = health.snapshot()
            self._send(
                200 if body["ready"] else 503, "application/json", json.dumps(body).encode() + b"\n"
            )
        elif path == "/":
            self._send(
                200, "text/plain; charset=utf-8", b"homerec worker: /metrics /healthz /readyz\n"
            )
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # one debug line per request, never on stderr: scrapes come every few seconds
        log.debug("http %s", format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], health: Health) -> None:
        self.health = health
        super().__init__(address, _Handler)


class MetricsServer:
    """A running metrics/health server; :meth:`close` stops it."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host: str = str(server.server_address[0])
        self.port: int = int(server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(port: int, health: Health, host: str = "0.0.0.0") -> MetricsServer:  # noqa: S104
    """Serve /metrics, /healthz and /readyz on ``host:port`` from a daemon thread.

    ``port=0`` picks a free port; read it back from :attr:`MetricsServer.port`.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"metrics port must be in 0..65535, got {port}")
    try:
        server = _Server((host, port), health)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} for metrics: {exc}") from exc
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name=f"homerec-metrics-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    running = MetricsServer(server, thread)
    log.info("metrics and health endpoints on %s:%d", host, running.port)
    return running
