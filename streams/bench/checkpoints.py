"""What checkpointing costs the worker's loop, and how many bytes it writes, at N users.

The model gets a catalog and then ``n_users`` user states through its changelog API
(as in the memory phase), then goes through ``rounds`` rounds of: one event each for
``changed`` random users (``learn_many``, between two checkpoints), then
:meth:`CheckpointSchedule.take <streams.worker.checkpointing.CheckpointSchedule.take>`
as the worker calls it after a commit. The writer thread sends to an in-memory
producer (no broker: the figure is the loop's wait, not the broker's speed).

``stall_ms_max`` is the longest ``take`` (what the loop waits for: the snapshot and
any blocking) over the rounds after the first, compaction included (the schedule
compacts after ``max_deltas`` deltas: 3 here, so that a compaction falls within the
rounds); the first checkpoint of a process (a base: nothing to build on) is reported
apart as ``first_stall_ms``. ``bytes`` is the encoded size of each checkpoint and
``kinds`` what it was (base, delta, compaction); ``bytes_per_changed_user`` is the
largest delta divided by ``changed`` (with whole-model checkpoints only: the largest
later checkpoint). Between rounds the writer is waited for outside the clock (the
real worker skips a checkpoint while one is in flight).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.bench.memory import item_list_keys, resample_state

__all__ = ["CheckpointResult", "MemoryProducer", "measure_checkpoints"]

log = logging.getLogger(__name__)


class _Sent:
    """An acknowledged send (kafka-python's future has ``get``)."""

    def get(self, timeout: float | None = None) -> None:
        return None


class MemoryProducer:
    """A producer that keeps what it is sent (the checkpoint writer's, in the bench)."""

    def __init__(self, *, keep: bool = False) -> None:
        self.sent = 0
        self.bytes = 0
        #: the records sent, with ``keep`` (tests read them back)
        self.records: list[tuple[bytes, bytes | None]] = []
        self._keep = keep

    def send(self, topic: str, *, key: bytes, value: bytes | None, partition: int) -> _Sent:
        self.sent += 1
        self.bytes += len(key) + (len(value) if value else 0)
        if self._keep:
            self.records.append((key, value))
        return _Sent()

    def flush(self, timeout: float | None = None) -> None:
        return None


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    """The checkpoints of one model size."""

    model: str
    n_users: int
    n_items: int
    changed: int
    first_stall_ms: float
    stall_ms: list[float] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    build_seconds: float = 0.0

    @property
    def stall_ms_max(self) -> float:
        return max(self.stall_ms, default=self.first_stall_ms)

    @property
    def bytes_per_changed_user(self) -> float:
        deltas = [b for b, k in zip(self.bytes, self.kinds, strict=False) if k == "delta"]
        return max(deltas or self.bytes[1:] or self.bytes, default=0) / max(1, self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "changed": self.changed,
            "first_stall_ms": round(self.first_stall_ms, 2),
            "stall_ms": [round(s, 2) for s in self.stall_ms],
            "stall_ms_max": round(self.stall_ms_max, 2),
            "bytes": list(self.bytes),
            "kinds": list(self.kinds),
            "bytes_per_changed_user": round(self.bytes_per_changed_user, 1),
            "build_seconds": round(self.build_seconds, 1),
        }


def _build(model_name: str, n_users: int, n_items: int, history: int, seed: int) -> Any:
    from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
    from streams.bench.models import build_model

    stream = SyntheticStream(
        SyntheticConfig(n_users=min(n_users, 2_000), n_items=n_items, n_events=200, seed=seed)
    )
    model = build_model(model_name)
    for item in stream.items():
        model.update_item(item)
    for profile in stream.profiles():
        model.update_user(profile)
    warm = list(stream.events())
    model.learn_many(warm)
    item_ids = [stream.item_id(i) for i in range(n_items)]
    rng = np.random.default_rng(seed)
    user_state = getattr(model, "user_state", None)
    load = getattr(model, "load_user_state", None)
    template = user_state(warm[-1].user) if callable(user_state) else None
    if callable(load) and isinstance(template, dict):
        keys = item_list_keys(template, set(item_ids))
        for u in range(n_users):
            load(f"m{u}", resample_state(template, keys, item_ids, rng, history))
    else:  # a model without per-user state hooks: one event per user
        from homerec.events import Event

        ts = warm[-1].ts
        items = rng.integers(0, n_items, n_users).tolist()
        model.learn_many([Event(f"m{u}", item_ids[i], "click", ts) for u, i in enumerate(items)])
    return model, item_ids


def measure_checkpoints(
    model_name: str,
    *,
    n_users: int,
    n_items: int = 10_000,
    changed: int = 5_000,
    rounds: int = 6,
    max_deltas: int = 3,
    history: int = 20,
    seed: int = 42,
) -> CheckpointResult:
    """Checkpoint a model of ``n_users`` users ``rounds`` times, ``changed`` users apart."""
    from homerec.events import Event
    from streams.worker.checkpointing import CheckpointSchedule

    started = time.perf_counter()
    model, item_ids = _build(model_name, n_users, n_items, history, seed)
    build_s = time.perf_counter() - started
    log.info("checkpoints: %d users built in %.0fs", n_users, build_s)
    schedule = CheckpointSchedule(
        "bench-item-state", every_s=1.0, instance_id="bench", max_deltas=max_deltas
    )
    schedule.open(MemoryProducer())
    rng = np.random.default_rng(seed + 1)
    stalls: list[float] = []
    sizes: list[int] = []
    kinds: list[str] = []
    ts = 2_000_000_000_000
    offset = 0
    for r in range(rounds):
        if r:
            users = rng.choice(n_users, size=min(changed, n_users), replace=False)
            items = rng.integers(0, n_items, len(users))
            events = [
                Event(f"m{u}", item_ids[i], "click", ts + k)
                for k, (u, i) in enumerate(zip(users.tolist(), items.tolist(), strict=True))
            ]
            ts += len(events)
            offset += len(events)
            model.learn_many(events)
        gc.collect()
        t0 = time.perf_counter()
        schedule.take(model, {0: offset + 1}, _ids(r), force=False)
        stalls.append((time.perf_counter() - t0) * 1000.0)
        schedule.wait()
        last = schedule.last
        sizes.append(last.nbytes if last is not None and last.ok else 0)
        kinds.append(schedule.kind or "whole")
        log.info("checkpoints: %d users, round %d (%s): loop waited %.1f ms, %d bytes",
                 n_users, r, kinds[-1], stalls[-1], sizes[-1])  # fmt: skip
    return CheckpointResult(
        model=model.name,
        n_users=n_users,
        n_items=n_items,
        changed=changed,
        first_stall_ms=stalls[0],
        stall_ms=stalls[1:],
        bytes=sizes,
        kinds=kinds,
        build_seconds=build_s,
    )


def _ids(r: int) -> Sequence[str]:
    return [f"bench\x00{r}"]
