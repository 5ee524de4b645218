"""MovieLens 100K through three worker processes: every member ends with one item side.

``u.item`` is the catalog, ``u.user`` the profiles, the ratings the events; three
``homerec worker`` processes (the default model, sharing on) split four partitions.
Once the stream has drained, each worker is stopped: it reads item-updates to its end
and writes its final checkpoint; the three checkpoints' item sides are compared and
the largest difference per part printed.

Tolerances (``TOLERANCES``): event, demographic and rating counts identical; rating
sums to float64 rounding (``rel 1e-12``); co-occurrence rows with the same neighbours
and weights to float32 rounding (``rel 1e-6``); decayed popularity ``rel 1e-9`` (both
are applied in the topic's order by every member, own deltas included: the same
operations in the same order); embeddings and biases within ``atol 1e-4`` (steps travel
as float16 with the rounding error sent next time: what stays out is the last
delta's rounding, about 5e-4 of one step); ranker weights ``atol 1e-6`` (float32
steps, same error feedback).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen
from typing import Any

import numpy as np
import pytest

from homerec.datasets.movielens import load_ml100k
from homerec.models import WORKER_PARAMS, make_model
from homerec.models.hybrid import Hybrid
from streams import checkpoint as ckpt
from streams.codec import decode_item_update
from streams.commands.replay import Source, make_producer, replay
from streams.config import Settings
from tests.streams.fixtures import counts_per_user, final_counts, read_all, wait_for
from tests.streams.test_item_sharing import _item_side

# three worker processes on a shared 2-core machine: minutes, more under load (a limit,
# not a measurement)
pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(1500)]

ML100K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k"


def _checkpoints(settings: Settings) -> list[ckpt.Checkpoint]:
    shelf = ckpt.Shelf()
    for rec in read_all(settings, "item-state", 60.0):
        if rec.key.startswith(ckpt.PREFIX):
            shelf.add(rec.key, rec.value)
    out = [shelf.pick(name) for name in shelf.names()]
    return [c for c in out if c is not None]


def _last_offsets(records: list[Any]) -> dict[int, int]:
    out: dict[int, int] = {}
    for rec in records:
        out[rec.partition] = max(out.get(rec.partition, -1), rec.offset)
    return out


def _covered(settings: Settings) -> dict[int, int]:
    """The last events offset per partition that some item delta was learned from."""
    out: dict[int, int] = {}
    for rec in read_all(settings, "item-updates", 60.0):
        for p, (_, hi) in decode_item_update(rec.value).events.items():
            out[p] = max(out.get(p, -1), hi)
    return out


def _drained(proc: Popen[str]) -> list[str]:
    """The lines ``proc`` prints, read by a thread as they come."""
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _holds_partitions(lines: list[str]) -> bool:
    """The worker's last assignment of events partitions is not empty."""
    assigned = [line for line in list(lines) if "partitions assigned: [" in line]
    return bool(assigned) and "partitions assigned: []" not in assigned[-1]


@pytest.mark.skipif(not (ML100K / "u.data").is_file(), reason="no ../shared ML-100K")
def test_three_worker_processes_hold_the_same_item_side_after_ml100k(
    settings: Settings, worker_process: Callable[..., Popen[str]]
) -> None:
    ds = load_ml100k(ML100K)
    workers = [
        worker_process("--instance-id", f"m{k}", "--checkpoint-interval", "3600") for k in range(3)
    ]
    # read the workers' output as it comes: a full pipe would stop a worker mid-stream
    outputs = [_drained(proc) for proc in workers]
    # the stream starts once every member holds partitions: a member alone for long keeps
    # its own co-occurrence order (ItemReplica's SOLO_ENTRIES), which the group's differs
    # from by evictions (a rebalance during the stream is allowed anyway)
    wait_for(lambda: all(_holds_partitions(out) for out in outputs), 120, "the group formed")
    producer = make_producer(settings, None)
    try:
        sent = replay(
            settings, Source(ds.name, ds.items, ds.events, len(ds.events), ds.profiles),
            producer=producer,
        )  # fmt: skip
    finally:
        producer.close(timeout=10)
    assert sent.failed == 0
    expected = counts_per_user(ds.events)
    wait_for(lambda: final_counts(settings) == expected, 600, "ML-100K drained")
    # the lists can be out before their batch's delta (at-least-once): wait until the
    # deltas cover every event, then stop; a stopping worker reads item-updates to its end
    last = _last_offsets(read_all(settings, "events", 120.0))
    wait_for(lambda: _covered(settings) == last, 120, "deltas of every event")
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    assert all(proc.wait(60) == 0 for proc in workers)

    end = len(read_all(settings, "item-updates", 60.0))
    cps = _checkpoints(settings)
    assert len(cps) == 3
    models: list[Hybrid] = []
    for cp in cps:
        assert cp.shared["offsets"] == {0: end}  # every delta of the group is in its state
        model = make_model("hybrid", **WORKER_PARAMS)
        assert isinstance(model, Hybrid)
        model.load_state_dict(cp.model_state())
        models.append(model)
    sides = [_item_side(m) for m in models]
    for side in sides:
        assert sum(v["count"] for v in side.values()) == len(ds.events)
    report: dict[str, float] = {}
    for side in sides[1:]:
        _compare(sides[0], side, report)
    w0 = models[0].tables.shared.ranker.w
    for model in models[1:]:
        note(report, "ranker w", float(np.max(np.abs(model.tables.shared.ranker.w - w0))))
    # printed before the asserts: the figures of a failing run too
    print("largest differences between members:", {k: f"{v:.3g}" for k, v in report.items()})
    for key, tol in TOLERANCES.items():
        assert report.get(key, 0.0) <= tol, (key, report.get(key), tol)


#: largest difference allowed between two members, per part (see the module docstring)
TOLERANCES = {
    "count": 0.0,
    "demo": 0.0,
    "rating count": 0.0,
    "rating sum (relative)": 1e-12,
    "cooc keys not shared (rows)": 0.0,
    "cooc w (relative)": 1e-6,
    "pop (relative)": 1e-9,
    "pop_slow (relative)": 1e-9,
    "q": 1e-4,
    "b": 1e-4,
    "ranker w": 1e-6,
}


def note(report: dict[str, float], key: str, value: float) -> None:
    report[key] = max(report.get(key, 0.0), value)


def _compare(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], report: dict[str, float]
) -> None:
    assert a.keys() == b.keys()
    for item in a:
        x, y = a[item], b[item]
        note(report, "count", abs(x["count"] - y["count"]))
        note(report, "demo", float(x["demo"] != y["demo"]))
        note(report, "rating count", abs(x["ratings"][1] - y["ratings"][1]))
        scale = max(abs(x["ratings"][0]), abs(y["ratings"][0]), 1e-9)
        note(report, "rating sum (relative)", abs(x["ratings"][0] - y["ratings"][0]) / scale)
        cx, cy = x["cooc"], y["cooc"]
        note(report, "cooc keys not shared (rows)", float(cx.keys() != cy.keys()))
        for d in cx.keys() & cy.keys():
            w = max(cx[d], cy[d], 1e-9)
            note(report, "cooc w (relative)", abs(cx[d] - cy[d]) / w)
        for key in ("pop", "pop_slow"):
            scale = max(abs(x[key]), abs(y[key]), 1e-12)
            note(report, f"{key} (relative)", abs(x[key] - y[key]) / scale)
        note(report, "q", float(np.max(np.abs(x["q"] - y["q"]))))
        note(report, "b", abs(x["b"] - y["b"]))
