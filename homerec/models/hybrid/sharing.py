"""The hybrid's item-side replica: its own changes as :class:`~homerec.sharing.ItemDelta`
records, and the other members' records applied.

:class:`ItemReplica` keeps a copy of the item side as it was after the last take or
apply (the *snapshot*). A take is the difference between the tables and that copy —
so the learning code needs no change tracking, and everything the per-event steps
write (the BPR kernel's negatives too) is caught. Applying others' deltas refreshes
the copy, so they are never sent on: own learning is the only thing a take holds.
Hence the one rule: take your own delta before applying others'.

Two parts depend on the order of their increments: a bounded co-occurrence row (a
new pair evicts the weakest) and decayed popularity (an increment decays by the events
ticked after it). Each member sees its own increments at once and the others' later,
so for those the replica keeps a canonical state — every delta applied in the order
given to :meth:`ItemReplica.apply` (the topic's), its own included when they come
back — and the own steps not yet back lie on top of it. Members that have read the
same deltas hold the same tables. A member that has met no other member's delta yet
keeps its own steps as it made them (a worker alone holds the state of one model, and
its restart replays to exactly that state), and its own deltas that came back; the
first other member's delta rebuilds the canonical state from them, in their order.

Cost: a take compares the item tables with the copy (``O(items · (factors + cooc
capacity))``, well under a millisecond per thousand items), and an apply re-copies
them once per call (give it all the deltas that arrived). For catalogs of millions
of items, dirty-row tracking in the steps would replace the comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.errors import StateError
from homerec.models.hybrid.tables import HybridTables
from homerec.sharing import ItemDelta

__all__ = ["SOLO_ENTRIES", "ItemReplica"]

#: co-occurrence and popularity entries of own deltas a member alone keeps (about 12
#: bytes each), to rebuild the group's order when another member's first delta arrives
SOLO_ENTRIES = 2_000_000

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]


def _pad(a: npt.NDArray[Any], n: int, fill: float = 0) -> npt.NDArray[Any]:
    """``a`` with rows up to ``n`` (new ones ``fill``)."""
    if a.shape[0] >= n:
        return a[:n]
    out = np.full((n, *a.shape[1:]), fill, a.dtype)
    out[: a.shape[0]] = a
    return out


@dataclass(slots=True)
class _Snapshot:
    """The item side as of the last take or apply (first ``n`` item rows)."""

    n: int
    Q: npt.NDArray[np.float32]
    b: npt.NDArray[np.float32]
    ratings: _F64
    count: npt.NDArray[np.float32]
    pop: _F64
    pop_slow: _F64
    cooc_ids: npt.NDArray[np.int32]
    cooc_counts: npt.NDArray[np.float32]
    logD: npt.NDArray[np.float32]
    w: _F64
    adam_v: _F64
    adam_t: int
    rating_sum: _F64
    buf_n: int

    @classmethod
    def of(cls, tables: HybridTables, count: npt.NDArray[np.float32], n: int) -> _Snapshot:
        items, shared = tables.items, tables.shared
        return cls(
            n, items.Q[:n].copy(), items.b[:n].copy(), items.ratings[:n].copy(),
            count[:n].copy(), items.pop.values(n).copy(), items.pop_slow.values(n).copy(),
            items.cooc.ids[:n].copy(), items.cooc.counts[:n].copy(),
            items.demo.logD[:, :n].copy(), shared.ranker.w.copy(), *shared.ranker.moments()[1:],
            shared.ratings.copy(), shared.buf_n,
        )  # fmt: skip


@dataclass(slots=True)
class _Canon:
    """The parts whose result depends on the order of their increments — the bounded
    co-occurrence rows (a new pair evicts the weakest) and the decayed popularity (an
    increment decays by the events ticked after it) — as every member holds them: all
    deltas applied in the item-updates order, this member's own included."""

    cooc_ids: npt.NDArray[np.int32]
    cooc_counts: npt.NDArray[np.float32]
    pop: _F64
    pop_clock: float
    pop_slow: _F64
    pop_slow_clock: float

    @classmethod
    def of(cls, tables: HybridTables, n: int) -> _Canon:
        items = tables.items
        return cls(
            items.cooc.ids[:n].copy(), items.cooc.counts[:n].copy(),
            items.pop.raw()[0][:n].copy(), items.pop.clock,
            items.pop_slow.raw()[0][:n].copy(), items.pop_slow.clock,
        )  # fmt: skip

    def restore(self, tables: HybridTables) -> None:
        """Put the tables' order-dependent parts back to this state (rows added since hold
        nothing in it: what they hold is this member's own, re-applied on top)."""
        cooc, m = tables.items.cooc, len(self.cooc_ids)
        # a checkpoint delta carries the rows written since the last one: these too
        changed = (cooc.ids[:m] != self.cooc_ids).any(axis=1)
        changed |= (cooc.counts[:m] != self.cooc_counts).any(axis=1)
        cooc.dirty[:m] |= changed
        cooc.dirty[m:] |= (cooc.ids[m:] >= 0).any(axis=1)
        cooc.ids[:m], cooc.ids[m:] = self.cooc_ids, -1
        cooc.counts[:m], cooc.counts[m:] = self.cooc_counts, 0.0
        tables.items.pop.set_raw(self.pop, self.pop_clock)
        tables.items.pop_slow.set_raw(self.pop_slow, self.pop_slow_clock)


class ItemReplica:
    """One member's view of the shared item side (see the module docstring).

    ``member`` names this member's deltas; ``applied`` holds the last ``seq`` applied
    per source (a redelivered or own delta is skipped). ``q_resid``/``w_resid``: what
    float16/float32 rounding left out of the deltas sent so far (sent next time).
    """

    __slots__ = (
        "member", "seq", "applied", "init", "changed", "_snap", "_canon", "_pending", "_alone",
        "_solo", "_solo_entries",
        "_q_resid", "_w_resid",
    )  # fmt: skip

    def __init__(self, member: str, tables: HybridTables, count: npt.NDArray[np.float32],
                 n: int, init: Callable[[str], npt.NDArray[np.float32]]) -> None:  # fmt: skip
        self.member = member
        #: an item's initial vector by id, the same in every member: rows added since the
        #: snapshot are compared with it, so a delta holds learning only
        self.init = init
        self.seq = 0
        self.applied: dict[str, int] = {}
        self._snap = _Snapshot.of(tables, count, n)
        #: the order-dependent parts in item-updates order, and this member's deltas taken
        #: but not yet back from the topic (applied on top of it, until they are back)
        self._canon = _Canon.of(tables, n)
        self._pending: list[ItemDelta] = []
        #: own deltas back before any other member's was met (None: too many were kept).
        #: Alone, a member keeps its own steps as they were made, so that its state is
        #: the one of a model that learned the same events (a restart's replay learns
        #: them so); when the first other member's delta arrives, the canonical state is
        #: rebuilt from these in their order, as the other members applied them
        self._alone = True
        self._solo: list[ItemDelta] | None = []
        self._solo_entries = 0
        #: the last apply changed the tables (other members' deltas or own ones back)
        self.changed = False
        self._q_resid = np.zeros((0, tables.items.Q.shape[1]), np.float32)
        self._w_resid = np.zeros_like(tables.shared.ranker.w)

    def own_events(self, count: npt.NDArray[np.float32], n: int) -> int:
        """Events learned since the snapshot (each adds one to its item's count)."""
        return int(round(float((count[:n] - _pad(self._snap.count, n)).sum(dtype=np.float64))))

    # -- take ---------------------------------------------------------------
    def take(
        self, tables: HybridTables, ids: Sequence[str], count: npt.NDArray[np.float32], n: int
    ) -> ItemDelta:
        """This member's changes since the snapshot, as one delta; the snapshot moves on.
        ``ids``: item id per row; ``count``: events per item row; ``n``: items known."""
        s, items, shared = self._snap, tables.items, tables.shared
        count_inc = count[:n].astype(np.float64) - _pad(s.count, n)
        events = int(round(float(count_inc.sum())))
        ev_rows = np.flatnonzero(count_inc > 0)
        # embeddings and biases: summed steps of the rows that moved, plus earlier rounding
        dq = items.Q[:n] - self._base_q(ids, n)
        db = items.b[:n] - _pad(s.b, n)
        q_rows = np.flatnonzero(np.any(dq != 0, axis=1) | (db != 0))
        self._q_resid = _pad(self._q_resid, n)
        dq_rows = dq[q_rows] + self._q_resid[q_rows]
        q16 = dq_rows.astype(np.float16)
        self._q_resid[q_rows] = dq_rows - q16.astype(np.float32)
        # popularity: values now minus the snapshot's values decayed by the own events
        pop = items.pop.values(n)[ev_rows] - _pad(s.pop, n)[ev_rows] * 2.0 ** (
            -events / items.pop.half_life
        )
        pop_slow = items.pop_slow.values(n)[ev_rows] - _pad(s.pop_slow, n)[ev_rows] * 2.0 ** (
            -events / items.pop_slow.half_life
        )
        src, dst, cw = self._cooc_increments(tables, n)
        g_idx, d_items, d_n = self._demo_increments(tables, n, ev_rows)
        dr = items.ratings[:n] - _pad(s.ratings, n)
        r_rows = np.flatnonzero(dr[:, 1] != 0)
        dw = shared.ranker.w - s.w + self._w_resid
        w32 = dw.astype(np.float32)
        self._w_resid = dw - w32.astype(np.float64)
        # the own Adam steps' share of the second moment (beyond the snapshot's decay)
        _, adam_v, adam_t = shared.ranker.moments()
        steps = adam_t - s.adam_t
        opt_v = adam_v - s.adam_v * shared.ranker.beta_2**steps
        k = min(shared.buf_n - s.buf_n, len(shared.buffer))
        recent = shared.buffer[(shared.buf_n - k + np.arange(k)) % len(shared.buffer)]
        # every row named once, in the delta's own numbering
        uniq = np.unique(np.concatenate([
            ev_rows, q_rows, src, dst, d_items, r_rows, recent.astype(np.int64)
        ]))  # fmt: skip
        groups_used, g_local = np.unique(g_idx, return_inverse=True)
        labels = tables.items.demo.ids.ids
        delta = ItemDelta(
            source=self.member, seq=self.seq + 1, events=events,
            items=tuple(ids[r] for r in uniq.tolist()),
            counts=count_inc[uniq].astype(np.float32),
            q_idx=np.searchsorted(uniq, q_rows), q=q16, b=db[q_rows].astype(np.float32),
            pop_idx=np.searchsorted(uniq, ev_rows), pop=pop.astype(np.float32),
            pop_slow=pop_slow.astype(np.float32),
            cooc_src=np.searchsorted(uniq, src), cooc_dst=np.searchsorted(uniq, dst),
            cooc_w=cw,
            groups=tuple(labels[g] for g in groups_used.tolist()),
            demo_g=g_local.astype(np.int64).ravel(), demo_i=np.searchsorted(uniq, d_items),
            demo_n=d_n,
            ranker=w32, rating_idx=np.searchsorted(uniq, r_rows), ratings=dr[r_rows],
            rating_sum=shared.ratings - s.rating_sum,
            recent=np.searchsorted(uniq, recent.astype(np.int64)),
            ranker_v=opt_v.astype(np.float32), ranker_steps=steps,
        )  # fmt: skip
        self.seq += 1
        self._snap = _Snapshot.of(tables, count, n)
        if len(delta.cooc_src) or len(delta.pop_idx) or delta.events:
            self._pending.append(delta)
        return delta

    def _base_q(self, ids: Sequence[str], n: int) -> npt.NDArray[np.float32]:
        """The snapshot's embeddings, rows added since then at their initial vectors
        (every member starts them there: :attr:`init`)."""
        base = _pad(self._snap.Q, n)
        for r in range(self._snap.n, n):
            base[r] = self.init(ids[r])
        return base

    def _cooc_increments(
        self, tables: HybridTables, n: int
    ) -> tuple[_I64, _I64, npt.NDArray[np.float32]]:
        """``(src, dst, weight)`` that the co-occurrence table gained since the snapshot
        (pairs evicted meanwhile are not sent: the receivers evict on their own)."""
        s, cooc = self._snap, tables.items.cooc
        ids, counts = cooc.ids[:n], cooc.counts[:n]
        sids, scounts = _pad(s.cooc_ids, n, -1), _pad(s.cooc_counts, n)
        rows = np.flatnonzero(np.any((ids != sids) | (counts != scounts), axis=1))
        span = n + 1
        now_ids, now_c = ids[rows], counts[rows]
        ok = now_ids >= 0
        key_now = (rows[:, None].astype(np.int64) * span + now_ids)[ok]
        c_now = now_c[ok]
        old_ids = sids[rows]
        ok_old = old_ids >= 0
        key_old = (rows[:, None].astype(np.int64) * span + old_ids)[ok_old]
        c_old = scounts[rows][ok_old]
        order = np.argsort(key_old)
        key_old, c_old = key_old[order], c_old[order]
        pos = np.minimum(np.searchsorted(key_old, key_now), max(len(key_old) - 1, 0))
        found = (key_old[pos] == key_now) if len(key_old) else np.zeros(len(key_now), bool)
        prev = np.where(found, c_old[pos] if len(c_old) else 0.0, 0.0).astype(np.float32)
        inc = c_now - prev
        keep = inc > 0
        key = key_now[keep]
        return key // span, key % span, inc[keep].astype(np.float32)

    def _demo_increments(
        self, tables: HybridTables, n: int, ev_rows: _I64
    ) -> tuple[_I64, _I64, npt.NDArray[np.int32]]:
        """``(group row, item row, positives)`` added since the snapshot (only items
        with events can have any)."""
        demo = tables.items.demo
        n_groups = len(demo.ids)
        if not n_groups or not len(ev_rows):
            no = np.zeros(0, np.int64)
            return no, no, np.zeros(0, np.int32)
        now = demo.logD[:n_groups][:, ev_rows].astype(np.float64)
        old_full = np.zeros((n_groups, n), np.float32)  # log(prior) = 0: no positives
        g0 = min(n_groups, self._snap.logD.shape[0])
        old_full[:g0, : self._snap.n] = self._snap.logD[:g0, : min(self._snap.n, n)]
        old = old_full[:, ev_rows].astype(np.float64)
        inc = np.rint(np.expm1(now) - np.expm1(old)).astype(np.int32)
        g, j = np.nonzero(inc > 0)
        return g.astype(np.int64), ev_rows[j], inc[g, j]

    # -- apply --------------------------------------------------------------
    def apply(
        self, deltas: Sequence[ItemDelta], tables: Callable[[], HybridTables],
        count: Callable[[], npt.NDArray[np.float32]], seen: Callable[[], npt.NDArray[np.bool_]],
        row_of: Callable[[str], tuple[int, bool]], n: Callable[[], int],
    ) -> int:  # fmt: skip
        """Add the deltas of other members (already applied ones are skipped), then move
        the snapshot; returns how many. The model's parts are passed as getters: adding
        an item (``row_of`` returns its row and whether it is new) may reallocate them.

        ``deltas`` are in item-updates order, this member's own among them. The
        order-dependent parts (:class:`_Canon`) are rebuilt in that order: back to their
        canonical state, every new delta's increments (own ones too, as the others apply
        them, rather than as the own steps made them), then the own deltas not yet back
        on top. So every member that has read the topic to the same offset holds the
        same co-occurrence and popularity, whatever order it learned and received in."""
        if self.own_events(count(), n()) or bool(np.any(tables().shared.ranker.w != self._snap.w)):
            raise StateError("take_item_delta() before applying other members' deltas")
        todo: list[ItemDelta] = []
        waiting = {d.seq for d in self._pending}
        applied = dict(self.applied)
        for delta in deltas:
            if delta.source == self.member:
                if delta.seq in waiting:
                    todo.append(delta)
                    waiting.discard(delta.seq)
            elif delta.seq > applied.get(delta.source, 0):
                applied[delta.source] = delta.seq
                todo.append(delta)
        if not todo:
            self.changed = False
            return 0
        if self._alone and all(d.source == self.member for d in todo):
            self._keep_solo(todo)  # alone: the tables hold them as learned
            todo = []
        elif self._alone:  # the first other member's delta
            self._alone = False
            if self._solo is not None:  # own history first, in its order
                todo = self._solo + todo
            else:  # kept too long to keep it: the own steps as made are the start
                self._canon = _Canon.of(tables(), n())
                self._pending = []
                todo = [d for d in todo if d.source != self.member]
            self._solo = None
        self.changed = bool(todo)
        if not todo:
            return 0
        self._canon.restore(tables())
        done = 0
        for delta in todo:
            if delta.source == self.member:
                self._apply_ordered(delta, tables(), self._rows(delta, row_of))
                # one partition, one producer: an own delta older than one back never comes
                self._pending = [d for d in self._pending if d.seq > delta.seq]
            else:
                self._apply_one(delta, tables, count, seen, row_of)
                self.applied[delta.source] = delta.seq
                done += 1
        self._canon = _Canon.of(tables(), n())
        for delta in self._pending:
            self._apply_ordered(delta, tables(), self._rows(delta, row_of))
        self._snap = _Snapshot.of(tables(), count(), n())
        return done

    def _keep_solo(self, back: list[ItemDelta]) -> None:
        """Own deltas back while alone: kept (the tables hold them as learned), up to
        :data:`SOLO_ENTRIES` entries; beyond that the own steps as made become the
        canonical state when another member's delta arrives (what that member applied
        differs by the row evictions of this member's deltas)."""
        last = back[-1].seq
        self._pending = [d for d in self._pending if d.seq > last]
        if self._solo is None:
            return
        self._solo.extend(back)
        self._solo_entries += sum(len(d.cooc_src) + len(d.pop_idx) for d in back)
        if self._solo_entries > SOLO_ENTRIES:
            self._solo = None

    @staticmethod
    def _rows(delta: ItemDelta, row_of: Callable[[str], tuple[int, bool]]) -> _I64:
        """The rows of the delta's items here (an item new here is added, at its initial
        vector, as it was at the sender)."""
        return np.array([row_of(item)[0] for item in delta.items], np.int64)

    @staticmethod
    def _apply_ordered(delta: ItemDelta, tables: HybridTables, rows: _I64) -> None:
        """The order-dependent increments: the popularity clocks tick by the delta's
        events (a shared event clock), its popularity and co-occurrence are added."""
        items = tables.items
        items.pop.tick(delta.events)
        items.pop_slow.tick(delta.events)
        items.pop.add_many(rows[delta.pop_idx], delta.pop)
        items.pop_slow.add_many(rows[delta.pop_idx], delta.pop_slow)
        items.cooc.add_many(rows[delta.cooc_src], rows[delta.cooc_dst], delta.cooc_w)

    def _apply_one(
        self, delta: ItemDelta, tables_of: Callable[[], HybridTables],
        count_of: Callable[[], npt.NDArray[np.float32]],
        seen_of: Callable[[], npt.NDArray[np.bool_]], row_of: Callable[[str], tuple[int, bool]],
    ) -> None:  # fmt: skip
        rows = self._rows(delta, row_of)
        tables, count, seen = tables_of(), count_of(), seen_of()
        items, shared = tables.items, tables.shared
        count[rows] += delta.counts
        seen[rows[delta.counts > 0]] = True
        self._apply_ordered(delta, tables, rows)
        q_rows = rows[delta.q_idx]
        items.Q[q_rows] += delta.q.astype(np.float32)
        items.b[q_rows] += delta.b
        if len(delta.demo_g):
            demo = items.demo
            g_rows = np.array(demo.rows_of(delta.groups), np.int64)
            g = g_rows[delta.demo_g]
            placed = g >= 0
            item_rows, inv = np.unique(rows[delta.demo_i], return_inverse=True)
            item_n = np.bincount(
                inv.ravel(), weights=delta.demo_n.astype(np.float64), minlength=len(item_rows)
            ).astype(np.float64)
            demo.add_counts(
                g[placed], rows[delta.demo_i][placed], delta.demo_n[placed], item_rows, item_n
            )
        if len(delta.ranker) == len(shared.ranker.w):
            shared.ranker.w += delta.ranker
        if len(delta.ranker_v) == len(shared.ranker.w):
            shared.ranker.merge_moments(delta.ranker_v.astype(np.float64), delta.ranker_steps)
        items.ratings[rows[delta.rating_idx]] += delta.ratings
        shared.ratings += delta.rating_sum
        recent = rows[delta.recent]
        k = min(len(recent), len(shared.buffer))
        if k:
            pos = (shared.buf_n + np.arange(k)) % len(shared.buffer)
            shared.buffer[pos] = recent[len(recent) - k :]
            shared.buf_n += len(recent)
