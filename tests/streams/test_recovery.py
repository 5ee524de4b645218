"""Recovery's bookkeeping without a broker: assignment and coverage.

Restores against the real broker are in test_checkpoint_restore.py and test_durability.py.
"""

from __future__ import annotations

from kafka.structs import TopicPartition

from streams.worker.intake import Restored
from streams.worker.recovery import Assignment, Coverage

TOPIC = "t.events"


def _tp(p: int) -> TopicPartition:
    return TopicPartition(TOPIC, p)


def test_assignment_tracks_owned_and_pending_partitions() -> None:
    a = Assignment()
    a.add([_tp(2), _tp(0)])
    assert len(a) == 2 and _tp(2) in a and _tp(1) not in a
    assert a.take_pending() == [_tp(0), _tp(2)] and not a.pending
    a.add([_tp(1)])
    a.remove([_tp(1), _tp(2)])  # revoked before it was restored
    assert a.sorted() == [_tp(0)] and not a.pending


def test_settled_batches_advance_coverage_and_retire_restored_users() -> None:
    c = Coverage()
    c.restore_user("ahead", Restored(0, 9, 111), committed=5)
    c.restore_user("behind", Restored(0, 3, 222), committed=5)
    assert list(c.restored) == ["ahead"]
    assert c.newest_ts == {"ahead": 111, "behind": 222}
    c.settled({_tp(0): 6, _tp(1): 0})
    assert c.covered == {0: 7, 1: 1} and list(c.restored) == ["ahead"]
    c.settled({_tp(0): 9})
    assert c.covered[0] == 10 and not c.restored


def test_a_revoked_partition_with_users_restored_ahead_is_no_longer_covered() -> None:
    c = Coverage()
    c.restored_to([0, 1], {0: 5, 1: 8})
    c.restore_user("u", Restored(1, 12, 0), committed=8)
    c.revoke([0, 1])
    # partition 1 lost its skip list: only a changelog restore may claim it again
    assert c.covered == {0: 5} and c.uncovered == {1} and not c.restored
    c.settled({_tp(1): 20})  # the batch in flight, settled after the revocation
    assert 1 not in c.covered
    c.restored_to([1], {1: 21})
    assert c.covered[1] == 21 and not c.uncovered


def test_checkpoint_offsets_and_reset() -> None:
    c = Coverage()
    c.from_checkpoint({0: 4, 3: 9})
    assert c.seen == {0, 3}
    assert c.offsets([_tp(0), _tp(1)]) == {0: 4}
    c.reset()
    assert not (c.covered or c.seen or c.restored or c.newest_ts or c.uncovered)
