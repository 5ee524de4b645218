"""Resident memory of the model state at scale (default 1,000,000 users × 100,000 items).

Measured in a fresh child process (so nothing else of the benchmark is
resident): the model gets the whole catalog (``update_item``) and the profiles of
the synthetic world's first 10,000 users (``update_user``), learns
``warm_events`` events (so every learned table exists), then receives the state of
every user through its changelog API (``load_user_state``, the path a worker
takes when it restores partitions), each user with ``history`` distinct items
drawn from the catalog. RSS is read with psutil before the model exists
(interpreter + numpy + homerec imported) and after, with the difference
reported too.

Models without per-user state hooks get their users through ``learn_many``
(one event per user), which is slower but model-agnostic.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.bench.rows import rounded_fields
from streams.errors import StreamsError

__all__ = ["MemoryResult", "item_list_keys", "measure_memory", "resample_state"]

log = logging.getLogger(__name__)

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MemoryResult:
    """RSS in MiB of a process holding the model state for ``n_users`` × ``n_items``."""

    model: str
    n_users: int
    n_items: int
    rss_mb: float
    baseline_mb: float
    model_mb: float
    seconds: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return rounded_fields(self, 1)


def item_list_keys(template: Mapping[str, Any], known: set[str]) -> frozenset[str]:
    """Keys of ``template`` whose values are non-empty lists of item ids (in ``known``)."""
    return frozenset(
        key
        for key, value in template.items()
        if isinstance(value, list)
        and value
        and all(isinstance(v, str) and v in known for v in value)
    )


def resample_state(
    template: Mapping[str, Any],
    keys: frozenset[str],
    item_ids: list[str],
    rng: np.random.Generator,
    history: int,
) -> dict[str, Any]:
    """A user state shaped like ``template`` whose item-id lists (``keys``) hold ``history`` random items.

    The changelog stores item ids, not rows; other values are copied as they are.

    >>> t = {"events": 3, "items": ["a"], "embedding": [0.1, 0.2]}
    >>> keys = item_list_keys(t, {"a", "x", "y", "z"})
    >>> s = resample_state(t, keys, ["x", "y", "z"], np.random.default_rng(0), 2)
    >>> len(s["items"]), s["events"], s["embedding"]
    (2, 2, [0.1, 0.2])
    """
    rows = rng.choice(len(item_ids), size=min(history, len(item_ids)), replace=False)
    picked = [item_ids[r] for r in rows.tolist()]
    out = dict(template)
    for key in keys:
        out[key] = picked
    if "events" in out:
        out["events"] = history
    return out


def _child(
    model_name: str,
    n_users: int,
    n_items: int,
    history: int,
    warm_events: int,
    seed: int,
    queue: Any,
) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    try:
        queue.put(_build_and_measure(model_name, n_users, n_items, history, warm_events, seed))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _build_and_measure(
    model_name: str, n_users: int, n_items: int, history: int, warm_events: int, seed: int
) -> dict[str, Any]:
    import psutil

    from homerec.datasets.synthetic import SyntheticConfig, SyntheticStream
    from streams.bench.models import build_model

    proc = psutil.Process()
    gc.collect()
    baseline = proc.memory_info().rss
    started = time.perf_counter()
    stream = SyntheticStream(
        SyntheticConfig(
            n_users=min(n_users, 10_000), n_items=n_items, n_events=warm_events, seed=seed
        )
    )
    model = build_model(model_name)
    for item in stream.items():
        model.update_item(item)
    for profile in stream.profiles():  # the world's demographic groups (15) exist too
        model.update_user(profile)
    warm = list(stream.events())
    model.learn_many(warm)
    item_ids = [stream.item_id(i) for i in range(n_items)]
    del stream
    rng = np.random.default_rng(seed)
    user_state = getattr(model, "user_state", None)
    load = getattr(model, "load_user_state", None)
    template = user_state(warm[-1].user) if callable(user_state) else None
    method = "load_user_state"
    if callable(load) and isinstance(template, Mapping):
        keys = item_list_keys(template, set(item_ids))
        for u in range(n_users):
            load(f"m{u}", resample_state(template, keys, item_ids, rng, history))
            if u % 200_000 == 199_999:
                log.info(
                    "memory: %d user states loaded (%.0fs)", u + 1, time.perf_counter() - started
                )
    else:
        method = "learn_many"
        from homerec.events import Event

        ts = warm[-1].ts
        for start in range(0, n_users, 10_000):
            users = range(start, min(n_users, start + 10_000))
            items = rng.integers(0, n_items, len(users)).tolist()
            model.learn_many(
                [
                    Event(f"m{u}", item_ids[i], "click", ts)
                    for u, i in zip(users, items, strict=True)
                ]
            )
    seconds = time.perf_counter() - started
    del warm, template, item_ids
    gc.collect()
    rss = proc.memory_info().rss
    return {
        "model": model.name,
        "n_users": n_users,
        "n_items": n_items,
        "rss_mb": rss / _MB,
        "baseline_mb": baseline / _MB,
        "model_mb": (rss - baseline) / _MB,
        "seconds": seconds,
        "method": method,
    }


def measure_memory(
    model_name: str,
    *,
    n_users: int = 1_000_000,
    n_items: int = 100_000,
    history: int = 20,
    warm_events: int = 200,
    seed: int = 42,
    timeout_s: float = 1800.0,
) -> MemoryResult:
    """Build the state in a child process and return its resident memory."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_child,
        args=(model_name, n_users, n_items, history, warm_events, seed, queue),
        name="homerec-bench-memory",
    )
    proc.start()
    try:
        out = queue.get(timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - queue.Empty or a dead child
        raise StreamsError(f"memory measurement did not finish in {timeout_s:.0f}s") from exc
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join(10)
    if "error" in out:
        raise StreamsError(f"memory measurement failed: {out['error']}")
    result = MemoryResult(**out)
    log.info("memory: %s with %d users × %d items: %.0f MiB resident (%.0f MiB model)",
             result.model, n_users, n_items, result.rss_mb, result.model_mb)  # fmt: skip
    return result
