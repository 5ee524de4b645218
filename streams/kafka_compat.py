"""A work-around for a consumer-group race in kafka-python 3.0.x (seen with 3.0.12).

``ConsumerCoordinator.join_group_async`` leaves its JoinGroup/SyncGroup task in
flight when ``poll(timeout_ms)`` expires mid-rebalance, and re-awaits it on the
next poll *only if* ``need_rejoin()`` is still true. For a rebalance that was
triggered by a metadata change (which always happens once right after the first
join: the assignment snapshot is taken before the subscribed topic's metadata
arrives), the leader's ``_perform_assignment`` makes the snapshots equal while
the task is in flight, so ``need_rejoin()`` turns false, the finished task is
never consumed, and the member keeps no partitions while believing it is
stable: the worker silently stops consuming. Measured here: 1 start in ~5 with
a 100 ms poll timeout.

The patch makes ``need_rejoin()`` true while such a task exists, so the next poll
goes back into the join loop. It only touches the class when the private
attribute it relies on exists, and is applied once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply"]

_applied = False


def apply() -> None:
    """Install the patch (idempotent)."""
    global _applied
    if _applied:
        return
    from kafka.coordinator.consumer import ConsumerCoordinator

    original = ConsumerCoordinator.need_rejoin

    def need_rejoin(self: Any) -> bool:
        if getattr(self, "_join_task", None) is not None:
            return True
        result: bool = original(self)
        return result

    if hasattr(ConsumerCoordinator, "need_rejoin"):
        ConsumerCoordinator.need_rejoin = need_rejoin
    _applied = True
