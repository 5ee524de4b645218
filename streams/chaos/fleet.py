"""N ``homerec worker`` processes, each restarted whenever it dies.

Every worker has a stable ``--instance-id`` (``w0``, ``w1``, ...) that a
restart reuses, so with exactly-once the new process fences the old one's
transactional producer. A background thread restarts any worker that exits by
itself (counted as an *exit*, with its return code); :meth:`Fleet.kill` is the
chaos monkey's SIGKILL (counted as a *kill*), followed by an immediate restart.
Output of each worker goes to ``<log_dir>/<instance>.log`` (appended across
restarts).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["Fleet", "WorkerExit", "default_worker_command"]

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]


def default_worker_command() -> list[str]:
    """How to run ``homerec``: this interpreter with the CLI module of this checkout."""
    return [sys.executable, "-m", "streams.cli"]


@dataclass(frozen=True, slots=True)
class WorkerExit:
    """A worker that ended without being killed by the harness."""

    instance: str
    returncode: int
    at_s: float


@dataclass(slots=True)
class _Slot:
    instance: str
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    starts: int = 0
    recent_exits: list[float] = field(default_factory=list)
    #: monotonic time at which a worker that exited is started again
    restart_at: float | None = None


class Fleet:
    """Start, supervise, kill and stop the worker processes of one consumer group."""

    def __init__(
        self,
        *,
        n: int,
        bootstrap: str,
        topic_prefix: str,
        log_dir: Path,
        guarantee: str = "at-least-once",
        extra_args: Sequence[str] = (),
        command: Sequence[str] | None = None,
    ) -> None:
        if n < 1:
            raise ValueError("a fleet needs at least one worker")
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.log_dir = log_dir
        self.guarantee = guarantee
        self.extra_args = list(extra_args)
        self.command = list(command) if command else default_worker_command()
        self._slots = [_Slot(f"w{i}") for i in range(n)]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self.kills = 0
        self.exits: list[WorkerExit] = []

    @property
    def instances(self) -> list[str]:
        return [slot.instance for slot in self._slots]

    def _argv(self, instance: str) -> list[str]:
        return [
            *self.command,
            "worker",
            "--bootstrap",
            self.bootstrap,
            "--topic-prefix",
            self.topic_prefix,
            "--metrics-port",
            "0",
            "--instance-id",
            instance,
            "--processing-guarantee",
            self.guarantee,
            *self.extra_args,
        ]

    def _spawn(self, slot: _Slot) -> None:
        if slot.log is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            slot.log = (self.log_dir / f"{slot.instance}.log").open("ab")
        slot.log.write(f"\n===== start #{slot.starts + 1} of {slot.instance} =====\n".encode())
        slot.log.flush()
        env = {**os.environ, "PYTHONPATH": str(_REPO)}
        slot.proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            self._argv(slot.instance),
            cwd=_REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=slot.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the harness does not reach the workers
        )
        slot.starts += 1
        log.info("worker %s started (pid %d)", slot.instance, slot.proc.pid)

    def start(self) -> None:
        """Start every worker and the supervising thread."""
        with self._lock:
            for slot in self._slots:
                self._spawn(slot)
        self._thread = threading.Thread(target=self._supervise, name="fleet", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.1):
            with self._lock:
                if self._stopping.is_set():
                    return
                now = time.monotonic()
                for slot in self._slots:
                    if slot.restart_at is not None:
                        if now >= slot.restart_at:
                            slot.restart_at = None
                            self._spawn(slot)
                        continue
                    if slot.proc is None or slot.proc.poll() is None:
                        continue
                    code = int(slot.proc.returncode)
                    self.exits.append(WorkerExit(slot.instance, code, now - self._t0))
                    # back off (without holding the lock) when a worker keeps dying
                    slot.recent_exits = [t for t in slot.recent_exits if now - t < 10] + [now]
                    delay = (
                        0.0
                        if len(slot.recent_exits) < 2
                        else min(0.5 * len(slot.recent_exits), 3.0)
                    )
                    log.warning(
                        "worker %s exited with %d: restarting it in %.1fs",
                        slot.instance,
                        code,
                        delay,
                    )
                    slot.restart_at = now + delay

    def kill(self, index: int) -> str:
        """SIGKILL worker ``index`` and start it again at once (same instance id)."""
        with self._lock:
            slot = self._slots[index]
            proc = slot.proc
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            elif proc is not None and slot.restart_at is None:
                # it had died by itself and the supervisor has not seen it yet
                code = int(proc.returncode)
                self.exits.append(WorkerExit(slot.instance, code, time.monotonic() - self._t0))
            slot.restart_at = None  # restarted here, not by the supervisor
            self.kills += 1
            log.info("worker %s SIGKILLed", slot.instance)
            self._spawn(slot)
            return slot.instance

    def tail(self, instance: str, lines: int = 25) -> str:
        """The last ``lines`` lines of a worker's log (for error messages)."""
        try:
            text = (self.log_dir / f"{instance}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> int:
        with self._lock:
            return sum(1 for s in self._slots if s.proc is not None and s.proc.poll() is None)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every worker (a clean leave), SIGKILL what is left after ``timeout_s``."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            procs = [s.proc for s in self._slots if s.proc is not None]
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            for proc in procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("worker pid %d ignored SIGTERM: SIGKILL", proc.pid)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=10)
            for slot in self._slots:
                if slot.log is not None:
                    slot.log.close()
                    slot.log = None
