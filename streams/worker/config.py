"""The worker's processing settings (``homerec worker --help`` builds them from flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from homerec.feedback import FeedbackWeights
from homerec.hiding import HidingRules
from homerec.limits import Limits
from homerec.profiles import ProfileSchema

__all__ = ["Guarantee", "WorkerConfig"]

Guarantee = Literal["at-least-once", "exactly-once"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """Processing settings of one worker (see ``homerec worker --help``)."""

    k: int = 10
    max_batch: int = 2000
    poll_timeout_ms: int = 100
    processing_guarantee: Guarantee = "at-least-once"
    limits: Limits = field(default_factory=Limits)
    feedback: FeedbackWeights = field(default_factory=FeedbackWeights)
    #: Which events hide their item from the user's lists, and for how long (the model
    #: applies them; kept here for the worker's info metric and logs).
    hiding: HidingRules = field(default_factory=HidingRules)
    dedup_window: int = 100_000
    #: Which profile fields form the model's demographic groups, and the age buckets.
    profile_schema: ProfileSchema = field(default_factory=ProfileSchema)
    quality_window: int = 1000
    #: Write per-user state to the changelog topic and restore it on assignment.
    changelog: bool = True
    #: Seconds between progress log lines (none when nothing happened).
    log_every_s: float = 10.0
    #: Stable identity of this worker (transactional id suffix); random when empty.
    instance_id: str = ""
    #: Seconds between snapshots of the items that changed to the item-state topic.
    item_state_every_s: float = 5.0
    #: Share the item side with the other members through ``<prefix>.item-updates`` when the
    #: model can (``homerec.sharing.ItemShared``): the group learns it from all users.
    share_items: bool = True
    #: Seconds between whole-model checkpoints (0: never; restore is then per user and item);
    #: at least 20 times the last checkpoint's duration.
    checkpoint_every_s: float = 15.0
    #: Most events replayed from a checkpoint on restore; beyond, the changelog is used.
    max_replay: int = 50_000
    #: How long to keep retrying a failed offset commit before rebuilding from the changelog.
    commit_retry_s: float = 30.0
    #: at-least-once: send each batch's offset commit without waiting for the answer (it is
    #: checked at the next commit); False waits for it before the next poll.
    async_commit: bool = True
    #: with ``async_commit``: send the offsets of acknowledged batches at most this often
    #: (seconds; 0 = after every batch). A crash replays at most this much more, harmlessly.
    commit_interval_s: float = 0.1
    #: at-least-once: check a batch's acknowledgements (then commit) after the next batch is
    #: sent, instead of before the next poll; False waits for them first.
    overlap_acks: bool = True
    #: after start-up and after each restore, collect garbage once and move every object
    #: alive to the collector's permanent generation (``gc.freeze``): the later full
    #: collections then scan only what was created since, not the model, the libraries and
    #: what was loaded (docs/performance.md has the measurements)
    freeze_heap: bool = True
