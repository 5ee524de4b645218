"""Model checkpoints in the item-state topic: chunks plus a manifest (a base, then deltas).

Per-user changelog records restore users exactly, but a model also has state
that no single partition owns: item embeddings, co-occurrence, popularity, the
ranker's weights. A **checkpoint** is the model's whole ``state_dict`` (a base, or
a base plus the deltas taken after it, see below) taken between two batches, right after a commit, together with the *next* offset of
every events partition it covers and the idempotence window. A worker that
starts (or rolls back) loads the newest checkpoint and replays the events of
its partitions from the checkpoint's offsets up to the committed ones, so its
state is the one an uninterrupted worker would have: the same events, learned
once, in the same order within each partition (Flink's checkpoint-and-rewind,
on Kafka).

Records live in partition 0 of ``<prefix>.item-state`` (compacted) under keys
that no item id can take (they start with a NUL byte)::

    \\0ckpt\\0<name>\\0<s><n>   chunk n in slot s (a or b) of checkpoint <name>:
                              {"id", "n", "data"}
    \\0ckpt\\0<name>\\0d<id>-<n>  chunk n of the delta <id> (incremental checkpoints):
                              {"id", "n", "data"}
    \\0ckpt\\0<name>            manifest, written after its chunks:
                              {"id", "slot", "chunks", "offsets", "ids", "ts", "bytes",
                               "shared"?, "deltas"?: [{"id", "chunks", "bytes"}, ...]}

A manifest names a full **base** (``id``, ``slot``, ``chunks``: the model's whole
state) and, when the checkpoint is incremental, the **deltas** taken after it, oldest
first (:mod:`homerec.models.deltas`: the users changed since the previous one, the
users forgotten, the rest of the state whole); restore merges them into the base in
order. A delta's chunks are written under its own id, so the manifest in use never
points at chunks being rewritten; when a new base is written (compaction) the
deltas of the previous one are tombstoned after its manifest is acknowledged.

``shared`` (with a shared item side) says which item updates the state includes:
the next offset per item-updates partition, and the writer's member name and the
last ``seq`` of its own deltas (:mod:`streams.worker.sharing`).

A checkpoint writes its chunks into the slot its name's current manifest does
not use, so a write that dies between chunks and manifest leaves the previous
checkpoint whole (keys without a slot, from older versions, still read).

``<name>`` is the worker's ``--instance-id`` (a restarted worker finds its own
checkpoint) or, without one, ``p`` and the partitions it covers (``p0-1``: a
restart that gets the same partitions overwrites it, instead of leaving one
whole model per process behind in the compacted topic); a worker without a
checkpoint of its own takes the newest one. A manifest whose chunks do not all carry its id (a crash
between chunks and manifest, or compaction of a newer, shorter checkpoint) is
ignored.

>>> records = encode("w1", b"x" * 10, offsets={0: 7}, ids=["u\\x00e1"], ts=5, chunk_bytes=4)
>>> [k for k, _ in records][-2:]
[b'\\x00ckpt\\x00w1\\x00a2', b'\\x00ckpt\\x00w1']
>>> shelf = Shelf()
>>> for key, value in records:
...     shelf.add(key, value)
>>> cp = shelf.pick("w1")
>>> cp.data == b"x" * 10, cp.offsets, cp.ids
(True, {0: 7}, ['u\\x00e1'])
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from homerec.errors import StateError
from homerec.models.deltas import apply_delta
from homerec.state_io import packb, unpackb

__all__ = [
    "CHUNK_BYTES",
    "PREFIX",
    "SLOTS",
    "Checkpoint",
    "Shelf",
    "delta_keys",
    "encode",
    "encode_delta",
    "is_checkpoint_key",
    "next_slot",
]

PREFIX: Final = b"\x00ckpt\x00"
#: below the broker's default max.message.bytes (1 MiB) with room for the envelope
CHUNK_BYTES: Final = 512 * 1024
#: the two chunk slots a checkpoint name alternates between
SLOTS: Final = ("a", "b")


def next_slot(current: str | None) -> str:
    """The slot to write the next checkpoint of a name into (not the one in use).

    >>> next_slot(None), next_slot("a"), next_slot("b")
    ('a', 'b', 'a')
    """
    return "b" if current == "a" else "a"


def is_checkpoint_key(key: bytes | None) -> bool:
    """Whether a record of the item-state topic belongs to a checkpoint."""
    return key is not None and key.startswith(PREFIX)


def encode(
    name: str,
    data: bytes,
    *,
    offsets: Mapping[int, int],
    ids: Sequence[str],
    ts: int,
    slot: str = "a",
    chunk_bytes: int = CHUNK_BYTES,
    shared: Mapping[str, Any] | None = None,
) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` records of one checkpoint: the chunks (in ``slot``), then the manifest."""
    if "\x00" in name:
        raise StateError(f"checkpoint name {name!r} contains a NUL character")
    if slot not in SLOTS:
        raise StateError(f"checkpoint slot must be one of {SLOTS}, got {slot!r}")
    cid = uuid.uuid4().hex
    base = PREFIX + name.encode("utf-8")
    chunks = [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] or [b""]
    out = [
        (base + b"\x00" + f"{slot}{n}".encode(), packb({"id": cid, "n": n, "data": chunk}))
        for n, chunk in enumerate(chunks)
    ]
    manifest = {
        "id": cid,
        "slot": slot,
        "chunks": len(chunks),
        "offsets": {int(p): int(o) for p, o in offsets.items()},
        "ids": list(ids),
        "ts": ts,
        "bytes": len(data),
    }
    if shared:
        manifest["shared"] = dict(shared)
    out.append((base, packb(manifest)))
    return out


def _delta_key(name: str, did: str, n: int) -> bytes:
    return PREFIX + name.encode("utf-8") + b"\x00" + f"d{did}-{n}".encode()


def encode_delta(
    name: str,
    data: bytes,
    *,
    base: Mapping[str, Any],
    deltas: Sequence[Mapping[str, Any]],
    offsets: Mapping[int, int],
    ids: Sequence[str],
    ts: int,
    chunk_bytes: int = CHUNK_BYTES,
    shared: Mapping[str, Any] | None = None,
) -> tuple[list[tuple[bytes, bytes]], dict[str, Any]]:
    """Records of one incremental checkpoint: the chunks of the delta ``data``, then a
    manifest naming the base (``base``: the manifest of the full checkpoint it builds
    on), the earlier ``deltas`` and this one; and this delta's entry for the next.

    >>> full = encode("w1", b"base", offsets={0: 1}, ids=[], ts=1)
    >>> base = unpackb(full[-1][1])
    >>> records, d1 = encode_delta("w1", b"+1", base=base, deltas=[], offsets={0: 2}, ids=[], ts=2)
    >>> shelf = Shelf()
    >>> for key, value in full + records:
    ...     shelf.add(key, value)
    >>> cp = shelf.pick("w1")
    >>> cp.data, cp.deltas, cp.offsets
    (b'base', [b'+1'], {0: 2})
    """
    if "\x00" in name:
        raise StateError(f"checkpoint name {name!r} contains a NUL character")
    did = uuid.uuid4().hex
    chunks = [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] or [b""]
    out = [
        (_delta_key(name, did, n), packb({"id": did, "n": n, "data": chunk}))
        for n, chunk in enumerate(chunks)
    ]
    entry = {"id": did, "chunks": len(chunks), "bytes": len(data)}
    manifest = {
        "id": base["id"],
        "slot": base["slot"],
        "chunks": base["chunks"],
        "bytes": base["bytes"],
        "offsets": {int(p): int(o) for p, o in offsets.items()},
        "ids": list(ids),
        "ts": ts,
        "deltas": [*map(dict, deltas), entry],
    }
    if shared:
        manifest["shared"] = dict(shared)
    out.append((PREFIX + name.encode("utf-8"), packb(manifest)))
    return out, entry


def delta_keys(name: str, deltas: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """The chunk keys of ``deltas`` (to tombstone once a new base replaced them)."""
    return [_delta_key(name, str(d["id"]), n) for d in deltas for n in range(int(d["chunks"]))]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A complete checkpoint: the model state bytes and what they cover."""

    name: str
    data: bytes
    #: events partition -> next offset the state includes
    offsets: dict[int, int]
    #: the idempotence window (oldest first)
    ids: list[str]
    ts: int
    #: which item updates the state includes (see the module docstring); empty without
    shared: dict[str, Any] = field(default_factory=dict)
    #: the deltas to merge into ``data``, oldest first (:func:`homerec.models.deltas.apply_delta`)
    deltas: list[bytes] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return len(self.data) + sum(map(len, self.deltas))

    def model_state(self) -> dict[str, Any]:
        """The model's ``state_dict`` this checkpoint holds: its base with its deltas merged."""
        state: dict[str, Any] = unpackb(self.data)["state"]
        for delta in self.deltas:  # an incremental checkpoint: its deltas, oldest first
            state = apply_delta(state, unpackb(delta)["state"])
        return state


@dataclass(slots=True)
class Shelf:
    """Collects the checkpoint records read from the item-state topic (newest wins per key)."""

    _manifests: dict[str, dict[str, object]] = field(default_factory=dict)
    _chunks: dict[tuple[str, str, int], dict[str, object]] = field(default_factory=dict)
    #: delta chunks by (name, delta id, n)
    _deltas: dict[tuple[str, str, int], dict[str, object]] = field(default_factory=dict)

    def add(self, key: bytes, value: bytes | None) -> None:
        """One record with a checkpoint key (tombstones delete)."""
        parts = key[len(PREFIX) :].split(b"\x00")
        name = parts[0].decode("utf-8", "replace")
        if len(parts) == 1:
            if value is None:
                self._manifests.pop(name, None)
            else:
                self._manifests[name] = unpackb(value)
        elif len(parts) == 2:
            tail = parts[1].decode("ascii", "replace")
            if tail.startswith("d") and "-" in tail:
                did, _, n_text = tail[1:].partition("-")
                if not n_text.isdigit():
                    return
                if value is None:
                    self._deltas.pop((name, did, int(n_text)), None)
                else:
                    self._deltas[name, did, int(n_text)] = unpackb(value)
                return
            slot = tail[:1] if tail[:1] in SLOTS else ""
            if not tail[len(slot) :].isdigit():
                return
            n = int(tail[len(slot) :])
            if value is None:
                self._chunks.pop((name, slot, n), None)
            else:
                self._chunks[name, slot, n] = unpackb(value)

    def names(self) -> list[str]:
        return sorted(self._manifests)

    def slot(self, name: str) -> str | None:
        """The chunk slot the manifest of ``name`` points to (None: no manifest, or older)."""
        slot = self._manifests.get(name, {}).get("slot")
        return slot if isinstance(slot, str) and slot in SLOTS else None

    def delta_entries(self, name: str) -> list[dict[str, Any]]:
        """The deltas the manifest of ``name`` lists (``id``, ``chunks``, ``bytes``)."""
        entries = self._manifests.get(name, {}).get("deltas")
        return (
            [dict(e) for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
        )

    def pick(self, preferred: str | None = None) -> Checkpoint | None:
        """``preferred``'s checkpoint when complete, else the newest complete one."""
        complete = [c for c in (self._assemble(n) for n in self._manifests) if c is not None]
        for cp in complete:
            if cp.name == preferred:
                return cp
        return max(complete, key=lambda c: c.ts, default=None)

    def _assemble(self, name: str) -> Checkpoint | None:
        man = self._manifests[name]
        cid, n, slot = man.get("id"), man.get("chunks"), man.get("slot", "")
        if not isinstance(n, int) or not isinstance(slot, str):
            return None
        parts: list[bytes] = []
        for i in range(n):
            chunk = self._chunks.get((name, slot, i))
            if chunk is None or chunk.get("id") != cid or not isinstance(chunk.get("data"), bytes):
                return None
            parts.append(chunk["data"])  # type: ignore[arg-type]
        deltas: list[bytes] = []
        for entry in man.get("deltas", ()) or ():  # type: ignore[attr-defined]
            if not isinstance(entry, dict):
                return None
            did, count = entry.get("id"), entry.get("chunks")
            if not isinstance(did, str) or not isinstance(count, int):
                return None
            pieces: list[bytes] = []
            for i in range(count):
                chunk = self._deltas.get((name, did, i))
                if (
                    chunk is None
                    or chunk.get("id") != did
                    or not isinstance(chunk.get("data"), bytes)
                ):
                    return None
                pieces.append(chunk["data"])  # type: ignore[arg-type]
            deltas.append(b"".join(pieces))
        offsets = man.get("offsets")
        ids = man.get("ids")
        ts = man.get("ts")
        shared = man.get("shared", {})
        if not isinstance(offsets, dict) or not isinstance(ids, list) or not isinstance(ts, int):
            return None
        return Checkpoint(
            name=name,
            data=b"".join(parts),
            offsets={int(p): int(o) for p, o in offsets.items()},
            ids=[str(i) for i in ids],
            ts=ts,
            shared=dict(shared) if isinstance(shared, dict) else {},
            deltas=deltas,
        )
