"""Prometheus metrics of the worker: module-level objects, bounded label sets.

Every name is ``homerec_<area>_<name>``. Label values are bounded: event
``type`` (6 values), ``outcome`` (4), list ``slot`` (2), DLQ ``reason`` (the fixed reason codes of
:mod:`homerec.errors` callers plus codec reasons), ``partition`` (the number of
partitions of the events topic).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

__all__ = [
    "BATCH_DURATION",
    "BATCH_SIZE",
    "CONSUMER_ASSIGNED",
    "CONSUMER_LAG",
    "DLQ_MESSAGES",
    "EVENTS_CONSUMED",
    "FRESHNESS",
    "ITEM_UPDATES_APPLIED",
    "ITEM_UPDATES_BYTES",
    "ITEM_UPDATES_LAG_RECORDS",
    "ITEM_UPDATES_LAG_SECONDS",
    "ITEM_UPDATES_SENT",
    "ITEMS_CONSUMED",
    "PROFILES_CONSUMED",
    "QUALITY_CASES",
    "QUALITY_HITS",
    "QUALITY_HIT_RATE",
    "RECS_PUBLISHED",
    "RECS_SLOTS",
    "USERS_FORGOTTEN",
    "STATE_ITEMS",
    "MODEL_CHECKPOINT_BYTES",
    "MODEL_CHECKPOINT_SECONDS",
    "MODEL_CHECKPOINT_SNAPSHOT_SECONDS",
    "OFFSET_COMMIT_AGE",
    "STATE_REPLAYED",
    "STATE_RESTORE",
    "STATE_USERS",
    "WORKER_INFO",
]

EVENTS_CONSUMED = Counter(
    "homerec_events_consumed_total",
    "Events read from the events topic, by event type and outcome "
    "(applied, duplicate = same id seen within the dedup window, invalid = sent to the DLQ, "
    "forgotten = older than its user's deletion request).",
    ["type", "outcome"],
)
ITEMS_CONSUMED = Counter(
    "homerec_items_consumed_total",
    "Catalog records read from the items topic, by outcome (applied, invalid).",
    ["outcome"],
)
PROFILES_CONSUMED = Counter(  # no user label: user ids never become label values
    "homerec_profiles_consumed_total",
    "Records read from the users topic, by outcome (applied, invalid, tombstone).",
    ["outcome"],
)
USERS_FORGOTTEN = Counter(
    "homerec_users_forgotten_total",
    "Users erased after a deletion request (a tombstone on the users topic); no user label.",
)
DLQ_MESSAGES = Counter(
    "homerec_dlq_messages_total",
    "Messages written to the dead-letter topic, by reason code.",
    ["reason"],
)
BATCH_SIZE = Histogram(
    "homerec_batch_size",
    "Events per processed batch.",
    buckets=(1, 5, 10, 50, 100, 500, 1000, 2000, 5000, 10000),
)
BATCH_DURATION = Histogram(
    "homerec_batch_duration_seconds",
    "Wall time to process one batch: decode, learn, re-rank, publish, then check the acknowledgements and commit the offsets of the batch before it (of this one with --sync-delivery or exactly-once).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
FRESHNESS = Histogram(
    "homerec_freshness_seconds",
    "Event timestamp to the moment its user's refreshed list was acknowledged by the broker.",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
CONSUMER_LAG = Gauge(
    "homerec_consumer_lag",
    "Messages in the events topic not yet processed by this worker, per assigned partition.",
    ["partition"],
)
CONSUMER_ASSIGNED = Gauge(
    "homerec_consumer_assigned_partitions",
    "Partitions of the events topic currently assigned to this worker.",
)
STATE_USERS = Gauge("homerec_state_users", "Users held in this worker's model state.")
STATE_ITEMS = Gauge("homerec_state_items", "Items held in this worker's model state.")
QUALITY_HIT_RATE = Gauge(
    "homerec_quality_hit_rate",
    "Prequential HR@K over a sliding window of live positive events: was the item in the "
    "user's list before the event was learned.",
)
QUALITY_CASES = Counter(
    "homerec_quality_cases_total", "Live positive events used as prequential test cases."
)
QUALITY_HITS = Counter(
    "homerec_quality_hits_total", "Prequential test cases whose item was in the user's top K."
)
RECS_PUBLISHED = Counter(
    "homerec_recs_published_total", "Recommendation lists published to the recommendations topic."
)
RECS_SLOTS = Counter(
    "homerec_recs_slots_total",
    "Items in the published lists, by how their slot was filled: ranked (the model's best) "
    "or explored (drawn by exploration, --explore).",
    ["slot"],
)
OFFSET_COMMIT_AGE = Gauge(
    "homerec_offset_commit_age_seconds",
    "Seconds since this worker last committed the offsets of an acknowledged batch (an "
    "asynchronous commit is held back at most commit_interval_s). Not a model checkpoint's age.",
)
STATE_RESTORE = Histogram(
    "homerec_state_restore_seconds",
    "Time to restore model state on start-up or partition assignment.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
STATE_REPLAYED = Counter(
    "homerec_state_replayed_events_total",
    "Events learned again on restore, from the model checkpoint's offsets to the committed ones.",
)
MODEL_CHECKPOINT_SECONDS = Histogram(
    "homerec_model_checkpoint_seconds",
    "Time to encode and send one checkpoint (a base or a delta; a compaction merges first) "
    "and have it acknowledged (writer thread).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
)
MODEL_CHECKPOINT_SNAPSHOT_SECONDS = Histogram(
    "homerec_model_checkpoint_snapshot_seconds",
    "Time the worker's loop stops for a checkpoint's snapshot (a delta: the changed rows; a "
    "base: state_dict, a copy of all tables).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
MODEL_CHECKPOINT_BYTES = Gauge(
    "homerec_model_checkpoint_bytes",
    "Size of this worker's latest checkpoint write (a base, or one delta).",
)
ITEM_UPDATES_SENT = Counter(
    "homerec_item_updates_sent_total",
    "Item-side deltas this member published to the item-updates topic (one per batch that "
    "changed the item side).",
)
ITEM_UPDATES_APPLIED = Counter(
    "homerec_item_updates_applied_total",
    "Other members' item-side deltas applied by this member (own ones and repeats skipped).",
)
ITEM_UPDATES_BYTES = Counter(
    "homerec_item_updates_bytes_total",
    "Bytes of item-updates records, by direction (sent, received); rate() gives bytes/s.",
    ["direction"],
)
ITEM_UPDATES_LAG_RECORDS = Gauge(
    "homerec_item_updates_lag_records",
    "Records of the item-updates topic this member has not applied yet (its own included).",
)
ITEM_UPDATES_LAG_SECONDS = Gauge(
    "homerec_item_updates_lag_seconds",
    "How far this member's item side may be behind the group's: while item-updates records "
    "wait to be applied, the seconds since the newest applied one was published (an upper "
    "bound of the oldest waiting record's age); 0 when caught up.",
)
WORKER_INFO = Info("homerec_worker", "Version and settings of this worker.")
