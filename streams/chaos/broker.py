"""A dedicated single-node broker for one chaos run, via ``deploy/kafka/local-kafka.sh``.

It lives in its own ``KAFKA_HOME_DIR`` (a temporary directory) on free ports,
so the shared development broker is never touched; the jar cache is shared
through ``KAFKA_LIBS_DIR``, so nothing is downloaded again. Stopping is by the
pid the script recorded, never by process name.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from streams.errors import StreamsError

__all__ = ["DedicatedBroker", "free_port_pair"]

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]
SCRIPT = _REPO / "deploy" / "kafka" / "local-kafka.sh"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair(attempts: int = 50) -> int:
    """A port ``p`` such that ``p`` and ``p + 1`` are both free (client and controller)."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65535 and _port_free(port + 1):
            return port
    raise StreamsError("no pair of free TCP ports found for the dedicated broker")


def _default_libs_dir() -> Path:
    version = ""
    for line in (SCRIPT.parent / "pom.xml").read_text().splitlines():
        if "<kafka.version>" in line:
            version = line.split("<kafka.version>")[1].split("</kafka.version>")[0]
            break
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "homerec" / "kafka" / f"libs-{version}"


class DedicatedBroker:
    """Start, stop and restart one broker that nobody else uses.

    ``home`` holds its data and log; ``port`` 0 picks free ports.
    """

    def __init__(
        self,
        home: Path,
        *,
        port: int = 0,
        libs_dir: Path | None = None,
        heap: str = "-Xms128m -Xmx512m",
        start_timeout_s: float = 90.0,
    ) -> None:
        self.home = home
        self.port = port or free_port_pair()
        self.libs_dir = libs_dir or Path(os.environ.get("KAFKA_LIBS_DIR") or _default_libs_dir())
        self.heap = heap
        self.start_timeout_s = start_timeout_s
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.home / f"node-{self.port}" / "kafka.pid"

    @property
    def logfile(self) -> Path:
        return self.home / f"node-{self.port}" / "kafka.out"

    def _script(self, action: str, timeout_s: float) -> None:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.port + 1),
            "KAFKA_HOME_DIR": str(self.home),
            "KAFKA_LIBS_DIR": str(self.libs_dir),
            "KAFKA_HEAP_OPTS": self.heap,
            "KAFKA_START_TIMEOUT": str(int(self.start_timeout_s)),
        }
        env.pop("KAFKA_EXTRA_PROPERTIES", None)
        try:
            done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
                # "bash" from PATH, like the Makefile and .ci/run do
                ["bash", str(SCRIPT), action],  # noqa: S607
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StreamsError(
                f"local-kafka.sh {action} did not finish in {timeout_s:.0f}s"
            ) from exc
        if done.returncode != 0:
            raise StreamsError(
                f"local-kafka.sh {action} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            )

    def pid(self) -> int | None:
        """The broker's pid as recorded by the script (None when not running)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def start(self) -> float:
        """Start (formatting storage on first start) and wait for the port; returns seconds."""
        if not _port_free(self.port):
            raise StreamsError(f"port {self.port} is taken: it would not be a dedicated broker")
        started = time.monotonic()
        self._script("start", self.start_timeout_s + 30)
        if self.pid() is None:
            raise StreamsError(f"the dedicated broker on port {self.port} did not start")
        self.starts += 1
        elapsed = time.monotonic() - started
        log.info("dedicated broker ready on %s in %.1fs", self.bootstrap, elapsed)
        return elapsed

    def stop(self) -> float:
        """Controlled shutdown (SIGTERM, SIGKILL after 30 s); returns seconds."""
        started = time.monotonic()
        try:
            self._script("stop", 45)
        finally:
            self._kill_leftover()
        return time.monotonic() - started

    def kill(self) -> float:
        """SIGKILL the broker (an unclean stop: log recovery on the next start); seconds."""
        started = time.monotonic()
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            deadline = time.monotonic() + 15
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.05)
        return time.monotonic() - started

    def _kill_leftover(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        log.warning("broker pid %d still alive after stop: SIGKILL", pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            return
        deadline = time.monotonic() + 10
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        """Stop if running (idempotent; never raises)."""
        if self.pid() is None:
            return
        try:
            self.stop()
        except StreamsError:
            log.exception("stopping the dedicated broker")
            self._kill_leftover()
