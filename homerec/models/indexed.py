"""The common machinery of homerec's models: id maps, candidates, exclusions, top-K, state.

:class:`IndexedRecommender` does the bookkeeping that every model needs and
that must behave identically in the worker and in ``homerec eval``:

* string ids → dense rows (:class:`~homerec.models.storage.IdIndex`);
* which items are candidates: ``candidates="seen"`` (items that appeared in
  an event — the evaluation protocol) or ``"catalog"`` (also active catalog
  items never interacted with, so brand-new items can be shown); inactive
  items are never candidates;
* per-user exclusions: the items the user's events hide, for good or until some later
  events of the user, by event type (:class:`~homerec.hiding.HidingRules`; by default
  any event but an impression hides its item for good);
* one vectorised top-K per block of users, then the tag-share cap
  (:mod:`homerec.ranking`), then, with ``explore``, a share of every page drawn by
  :mod:`homerec.exploration` (items the model knows least about, brand-new ones first),
  each published item with its ``explore`` flag and propensity;
* state: ``state_dict`` / ``user_state`` / ``item_state`` for the base part;
* forgetting: :meth:`IndexedRecommender.forget_users` removes users' rows (the
  rows after them move up), so no table and no id list keeps a trace of them.

Subclasses implement :meth:`_learn` (one event, rows already assigned) and
:meth:`_score` (a ``(users, items)`` float32 block).
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from homerec.errors import ConfigError, StateError
from homerec.events import Event
from homerec.exploration import (
    DEFAULT_BONUS,
    draw,
    examination,
    exposure_bonus,
    page_examination,
    slots,
)
from homerec.feedback import FeedbackWeights
from homerec.hiding import HidingRules
from homerec.items import Item
from homerec.models.base import Recommender
from homerec.models.click_rates import ClickRates
from homerec.models.deltas import DELTA_KEY, HIDDEN_KEYS
from homerec.models.storage import (
    IdIndex,
    append_row,
    as_rows,
    contains_row,
    grow,
    pack_lists,
    unpack_lists,
)
from homerec.profiles import UserProfile
from homerec.ranking import tag_cap, tag_matrix, top_k
from homerec.typing import FloatArray, IndexArray, IntArray, ItemId, Scored, Shown, UserId

__all__ = ["Candidates", "IndexedRecommender"]

Candidates = Literal["seen", "catalog"]

#: Users ranked per vectorised block (bounds the (users × items) score matrix).
_BLOCK = 128


class IndexedRecommender(Recommender):
    """Base of homerec's models; see the module docstring."""

    name = "indexed"

    def __init__(
        self,
        *,
        candidates: Candidates = "seen",
        max_tag_share: float | None = None,
        feedback: FeedbackWeights | None = None,
        explore: float = 0.0,
        hiding: HidingRules | None = None,
        seed: int = 0,
    ) -> None:
        if candidates not in ("seen", "catalog"):
            raise ConfigError(f"candidates must be 'seen' or 'catalog', got {candidates!r}")
        if max_tag_share is not None and not 0.0 < max_tag_share <= 1.0:
            raise ConfigError("max_tag_share must be in (0, 1]")
        if not 0.0 <= explore < 1.0:
            raise ConfigError(f"explore must be in [0, 1), got {explore}")
        self.candidates: Candidates = candidates
        self.max_tag_share = max_tag_share
        self.feedback = feedback
        self.explore = explore
        self.hiding = hiding
        self.seed = seed
        self._fw = feedback or FeedbackWeights()
        self._hiding = hiding or HidingRules()
        self._rng = np.random.default_rng(seed)
        # the exploration's own draws: turning it on leaves the learning's draws as they were
        self._explore_rng = np.random.default_rng((seed, 17))
        self._users = IdIndex()
        self._items = IdIndex()
        self._tags = IdIndex()
        self._user_events = np.zeros(0, np.int64)
        # per user row: the items hidden for good (int32 rows; "interacted with" under the
        # default rules), and, for users with some, the items hidden for a while: int32
        # pairs (item row, the user's event count at which the item shows again)
        self._user_items: list[bytearray] = []
        self._hidden: dict[int, bytearray] = {}
        self._item_seen = np.zeros(0, bool)
        self._item_catalog = np.zeros(0, bool)
        self._item_active = np.zeros(0, bool)
        self._item_count = np.zeros(0, np.float32)
        # per item: examination-weighted times shown (see homerec.exploration): the
        # pages this model published, or impression events once any arrived; and the
        # clicks taken from those pages (homerec.models.click_rates)
        self._rates = ClickRates.empty()
        self._impressions = False
        # per user row: the items of the page last shown, in order (what the ranker may
        # learn from): the pages published when exploring (a model that explores publishes
        # pages to be shown; ``homerec eval`` ranks without showing, exploration off), or
        # the impressions reported. Not saved: after a restore, until the next page,
        # models learn as they would without it
        self._shown: dict[int, IndexArray] = {}
        self._item_tags: list[tuple[int, ...]] = []
        # bumped whenever an item's tags are set; the forms of _item_tags derived from them
        # (the padded array for top_k, the packed lists for state_dict) are keyed by it
        self._tags_set = 0
        self._tag_matrix: tuple[int, IndexArray] | None = None
        # per tag, which items carry it (the exploration's tag cap), keyed like _tag_matrix
        self._tag_items: tuple[tuple[int, int], dict[int, npt.NDArray[np.bool_]]] | None = None
        self._packed_tags: tuple[tuple[int, int], tuple[Any, Any]] | None = None
        #: Bumped on every change of learned state (models may cache derived values by it).
        self._version = 0
        # delta tracking (see state_delta): the user rows touched, and the ids forgotten,
        # since begin_deltas() or the last delta; off until begin_deltas()
        self._user_dirty = np.zeros(0, bool)
        self._user_gone: list[UserId] = []
        self._tracking = False

    # -- rows -------------------------------------------------------------
    def _user_row(self, user: UserId) -> int:
        row = self._users.add(user)
        if row >= len(self._user_items):  # a new user (rows are handed out in order)
            self._user_events = grow(self._user_events, row + 1)
            while len(self._user_items) <= row:
                self._user_items.append(bytearray())
            self._grow_users(len(self._user_events))
            self._init_user(row)
            self._user_dirty = grow(self._user_dirty, len(self._user_events))
        # every change of a user's rows goes through here (events, profiles, restores)
        self._user_dirty[row] = True
        return row

    def _item_row(self, item: ItemId) -> int:
        row = self._items.add(item)
        if row >= len(self._item_tags):
            n = row + 1
            self._item_seen = grow(self._item_seen, n)
            self._item_catalog = grow(self._item_catalog, n)
            self._item_active = grow(self._item_active, n, fill=True)
            self._item_count = grow(self._item_count, n)
            self._rates.grow(n)
            while len(self._item_tags) <= row:
                self._item_tags.append(())
            self._grow_items(len(self._item_seen))
            self._init_item(row)
        return row

    def _grow_users(self, capacity: int) -> None:  # noqa: B027 - optional hook
        """Make per-user tables at least ``capacity`` rows long."""

    def _grow_items(self, capacity: int) -> None:  # noqa: B027 - optional hook
        """Make per-item tables at least ``capacity`` rows long."""

    def _init_user(self, row: int) -> None:  # noqa: B027 - optional hook
        """Initialise a new user's row. Random draws belong here, one row at a time, not in
        :meth:`_grow_users`: then the generator's sequence does not depend on how much
        capacity happens to be allocated, and a model restored from :meth:`state_dict`
        draws exactly what the original would have (replay after a checkpoint is exact)."""

    def _init_item(self, row: int) -> None:  # noqa: B027 - optional hook
        """Initialise a new item's row (see :meth:`_init_user`)."""

    # -- learning ---------------------------------------------------------
    def learn_one(self, event: Event) -> None:
        self.learn_many((event,))

    def learn_many(self, events: Iterable[Event]) -> None:
        for event in events:
            u = self._user_row(event.user)
            i = self._item_row(event.item)
            weight = self._fw.weight(event)
            if event.type == "impression":
                self._learn_impression(u, i, weight, event)
                continue
            taken = weight > 0 and self._taken_from_page(u, i)
            self._learn(u, i, weight, event)
            if taken:
                self._rates.add_click(i)
            self._user_events[u] += 1
            self._item_seen[i] = True
            self._item_count[i] += 1.0
            self._hide(u, i, self._hiding.events(event.type))
            self._version += 1

    @abc.abstractmethod
    def _learn(self, u: int, i: int, weight: float, event: Event) -> None:
        """Learn one event; ``u``/``i`` are rows, ``weight`` the signed feedback.

        Called before the base bookkeeping (seen flag, counts, exclusions), so
        the model sees the state as it was when the event was ranked.
        """

    def _learn_impression(self, u: int, i: int, weight: float, event: Event) -> None:
        """The front end showed item row ``i`` to user row ``u`` at position ``event.value``:
        the item's exposure grows by the position's examination prior, and from now on
        exposure comes from impressions only (no longer from the pages this model
        publishes). An impression neither hides the item from the user nor counts as an
        event of the user or the item. Models learn shown-and-not-clicked in
        :meth:`_impressed` (``weight``: the signed, examination-scaled feedback)."""
        if not self._impressions:  # the front end reports what it showed: trust it alone
            self._impressions = True
            self._shown.clear()
        # the user's recent impressions (the page as reported, newest last)
        page = self._shown.get(u)
        page = np.array([i], np.intp) if page is None else np.append(page[-31:], i)
        self._shown[u] = page
        position = np.array([max(0, int(event.value or 0))])
        self._rates.add_shown(np.array([i]), examination(position))
        self._impressed(u, i, weight)
        self._version += 1

    def _impressed(self, u: int, i: int, weight: float) -> None:  # noqa: B027 - optional hook
        """Learn that the user was shown item ``i`` (``weight``: signed, scaled)."""

    def _taken_from_page(self, u: int, i: int) -> bool:
        """A positive event of user row ``u`` on item row ``i`` is a click on a page: the
        item is on the page last shown to the user (see ``_shown``) and not yet hidden from
        them for good (under the default hiding rules, a share or a rating after the click
        is the same click)."""
        page = self._shown.get(u)
        return page is not None and bool((page == i).any()) and not self._interacted(u, i)

    def _interacted(self, u: int, i: int) -> bool:
        """Whether item row ``i`` is hidden from user row ``u`` for good."""
        buf = self._user_items[u]
        return contains_row(buf, i)

    def _hide(self, u: int, i: int, events: int | None) -> None:
        """Hide item row ``i`` from user row ``u`` for good (``events`` None) or for the
        user's next ``events`` events (0: not at all); called once the event is counted.
        A hide never shortens another; expired ones are dropped here, so a user keeps at
        most as many as the longest rule's events."""
        count = int(self._user_events[u])
        if u in self._hidden:
            self._expire(u, count)
        if events == 0 or self._interacted(u, i):
            return
        if events is None:
            append_row(self._user_items[u], i)
            return
        until = count + events
        buf = self._hidden.setdefault(u, bytearray())
        pairs = np.frombuffer(buf, "<i4").reshape(-1, 2)  # a view: writes go to buf
        at = np.flatnonzero(pairs[:, 0] == i)
        if len(at):
            pairs[at[0], 1] = max(int(pairs[at[0], 1]), until)
            return
        del pairs, at  # no view of buf may remain while it grows
        append_row(buf, i)
        append_row(buf, until)

    def _expire(self, u: int, count: int) -> None:
        """Drop user row ``u``'s hides that end at or before its event ``count``."""
        pairs = np.frombuffer(bytes(self._hidden[u]), "<i4").reshape(-1, 2)
        live = pairs[:, 1] > count
        if live.all():
            return
        if live.any():
            self._hidden[u] = bytearray(pairs[live].tobytes())
        else:
            del self._hidden[u]

    def _excluded(self, u: int) -> IntArray | None:
        """The item rows hidden from user row ``u`` now (None: none)."""
        forever = self._user_items[u]
        temp = self._hidden.get(u)
        if temp is None:
            return as_rows(forever) if forever else None
        pairs = as_rows(temp).reshape(-1, 2)
        rows = pairs[pairs[:, 1] > self._user_events[u], 0]
        return np.concatenate((as_rows(forever), rows)) if forever else rows

    def _n_excluded(self, u: int) -> int:
        """How many items are hidden from user row ``u`` (an upper bound)."""
        temp = self._hidden.get(u)
        return (len(self._user_items[u]) + (len(temp) // 2 if temp else 0)) // 4

    def update_item(self, item: Item) -> None:
        self._version += 1
        i = self._item_row(item.item)
        self._item_catalog[i] = True
        self._item_active[i] = item.active
        self._item_tags[i] = tuple(self._tags.add(t) for t in item.tags)
        self._tags_set += 1
        self._on_item(i, item)

    def _on_item(self, i: int, item: Item) -> None:  # noqa: B027 - optional hook
        """React to a catalog record (content features)."""

    def update_user(self, profile: UserProfile) -> None:
        self._version += 1
        u = self._user_row(profile.user)
        self._on_profile(u, profile)

    def _on_profile(self, u: int, profile: UserProfile) -> None:  # noqa: B027 - optional hook
        """React to a user profile (demographic features)."""

    # -- forgetting ---------------------------------------------------------
    def forget_user(self, user: UserId) -> bool:
        """Erase every per-user trace of ``user``; False if the model did not know it."""
        return bool(self.forget_users((user,)))

    def forget_users(self, users: Iterable[UserId]) -> list[UserId]:
        """Erase every per-user trace of ``users`` (id, event count, exclusions and the
        subclass's user rows); returns those that were known.

        The rows are removed and the rows after them move up (one pass for the whole
        batch): ``state_dict`` then holds what it would hold had the users never had a
        row, except the item side, which keeps their anonymous contribution (counts,
        co-occurrence, popularity, ranker weights). A later event of the same id starts
        a fresh user.
        """
        rows = sorted({r for u in users if (r := self._users.get(u)) is not None})
        if not rows:
            return []
        self._version += 1
        ids = self._users.ids
        forgotten = [ids[r] for r in rows]
        n = len(ids)
        keep = np.ones(n, bool)
        keep[rows] = False
        self._users = IdIndex([u for u, k in zip(ids, keep.tolist(), strict=True) if k])
        self._user_events = self._user_events[:n][keep]
        self._user_items = [b for b, k in zip(self._user_items, keep.tolist(), strict=True) if k]
        self._user_dirty = self._user_dirty[:n][keep]
        if self._tracking:
            self._user_gone.extend(forgotten)
        # the rows keyed in dicts move up too (and the forgotten users' entries go)
        self._hidden = _shift_rows(self._hidden, rows)
        self._shown = _shift_rows(self._shown, rows)
        self._forget_rows(np.asarray(rows, np.int64))
        return forgotten

    def _forget_rows(self, rows: IntArray) -> None:  # noqa: B027 - optional hook
        """Remove user ``rows`` (sorted) from the subclass's per-user tables: rows after
        them move up, as in the id index."""

    @property
    def n_users(self) -> int:
        """Users held in the state (the worker's ``homerec_state_users``)."""
        return len(self._users)

    @property
    def n_items(self) -> int:
        """Items held in the state (the worker's ``homerec_state_items``)."""
        return len(self._items)

    # -- ranking ----------------------------------------------------------
    def n_events(self, user: UserId) -> int:
        row = self._users.get(user)
        return 0 if row is None else int(self._user_events[row])

    def candidate_mask(self) -> npt.NDArray[np.bool_]:
        """Items that may be recommended to anyone (before per-user exclusions): seen (or
        in the catalog, with ``candidates="catalog"``) and active. The ranker's compiled
        column draw (:func:`homerec.kernels.ranker_columns`) applies the same rule."""
        n = len(self._items)
        base = self._item_seen[:n]
        if self.candidates == "catalog":
            base = base | self._item_catalog[:n]
        mask: npt.NDArray[np.bool_] = base & self._item_active[:n]
        return mask

    def _candidate_scores(self, rows: IntArray) -> tuple[IndexArray, FloatArray] | None:
        """A candidate stage's ``(columns, scores)`` for user ``rows``, both ``(B, C)``;
        columns sorted within a row, padding (``n_items``) last. None (the default)
        scores every item."""
        return None

    def _exclude_seen(
        self, rows: IntArray, columns: IndexArray, scores: FloatArray, n: int
    ) -> None:
        """``-inf`` where ``columns`` (sorted rows, see :meth:`_candidate_scores`) hold an
        item the row's user has interacted with: one search over the whole block."""
        who: list[int] = []
        seen: list[IntArray] = []
        for b, u in enumerate(rows.tolist()):
            if u >= 0 and (hidden := self._excluded(u)) is not None and len(hidden):
                who.append(b)
                seen.append(np.unique(hidden))
        if not seen:
            return
        span = n + 1
        flat = (np.arange(len(columns))[:, None] * span + columns).ravel()  # sorted
        owner = np.repeat(np.array(who, np.int64), [len(x) for x in seen])
        keys = owner * span + np.concatenate(seen)
        pos = np.minimum(np.searchsorted(flat, keys), flat.size - 1)
        hit = flat[pos] == keys
        np.put(scores, pos[hit], -np.inf)  # flat positions, in place

    @abc.abstractmethod
    def _score(self, rows: IntArray) -> FloatArray:
        """Scores of all items (``len(items)`` columns) for user rows (``-1`` = unknown user)."""

    def recommend_many(self, users: Sequence[UserId], k: int) -> list[list[Scored]]:
        return [
            [(item, score) for item, score, _, _ in page]
            for page in self.recommend_logged(users, k)
        ]

    def recommend_logged(self, users: Sequence[UserId], k: int) -> list[list[Shown]]:
        n = len(self._items)
        if n == 0 or k <= 0:
            return [[] for _ in users]
        get = self._users.get
        rows = np.array([(-1 if (r := get(u)) is None else r) for u in users], dtype=np.int32)
        blocked = ~self.candidate_mask()
        ids = self._items.ids
        out: list[list[Shown]] = []
        # the exploration's per-item terms, kept up to date below as pages are shown
        exposure = exposure_bonus(self._rates.shown[:n], DEFAULT_BONUS) if self.explore else None
        for start in range(0, len(rows), _BLOCK):
            block = rows[start : start + _BLOCK]
            columns = None
            found = self._candidate_scores(block)
            if found is None:
                scores = self._score(block)
                scores[:, blocked] = -np.inf
                for b, u in enumerate(block.tolist()):
                    if u >= 0 and (hidden := self._excluded(u)) is not None:
                        scores[b, hidden] = -np.inf
            else:  # scores of a few candidate columns per user (padding: column n)
                columns, scores = found
                pad = columns >= n
                scores[pad | blocked[np.where(pad, 0, columns)]] = -np.inf
                self._exclude_seen(block, columns, scores, n)
            ranked = top_k(
                scores,
                k,
                item_tags=self._item_tags,
                max_tag_share=self.max_tag_share,
                tags=self._item_tag_matrix() if self.max_tag_share is not None else None,
                columns=columns,
            )
            for b, (cols, vals) in enumerate(ranked):
                page: list[tuple[int, float, bool, float]] = [
                    (c, v, False, 1.0) for c, v in zip(cols.tolist(), vals.tolist(), strict=True)
                ]
                m = slots(k, self.explore, self._explore_rng) if self.explore else 0
                if m and exposure is not None:
                    page = self._explored(
                        page, cols, k, m, scores[b], None if columns is None else columns[b],
                        exposure,
                    )  # fmt: skip
                if not self._impressions:  # the front end does not say what it showed
                    at = np.array([c for c, _, _, _ in page], np.intp)
                    self._rates.add_shown(at, page_examination(len(at)))
                    if exposure is not None:
                        bonus, never = exposure_bonus(self._rates.shown[at], DEFAULT_BONUS)
                        exposure[0][at], exposure[1][at] = bonus, never
                    if self.explore and block[b] >= 0:  # pages that explore are shown
                        self._shown[int(block[b])] = at
                out.append([(ids[c], float(v), e, p) for c, v, e, p in page])
        return out

    def _explored(
        self,
        page: list[tuple[int, float, bool, float]],
        items: IndexArray,
        k: int,
        m: int,
        row: FloatArray,
        columns: npt.NDArray[np.integer[Any]] | None,
        exposure: tuple[FloatArray, npt.NDArray[np.bool_]],
    ) -> list[tuple[int, float, bool, float]]:
        """``page`` (the model's best, as ``(item row, score, explore, p)``; ``items``: its
        item rows as an array) with ``m`` of its ``k`` slots given to items drawn by
        :func:`~homerec.exploration.explore_probabilities` among the user's other candidates
        (``row``: their scores, ``-inf`` for none; at ``columns``' items if given), each at a
        position drawn uniformly. A drawn item
        keeps the tag cap with the kept ones while the candidates allow it. ``exposure``:
        every item's :func:`~homerec.exploration.exposure_bonus`.

        Whole-catalog work is done by arrays over ``row``: a page draws over every
        candidate, once per explored slot (:func:`~homerec.exploration.draw`)."""
        rng = self._explore_rng
        kept = page[: max(0, min(len(page), k - m))]
        taken = items[: len(kept)]
        free = np.isfinite(row)  # positions in ``row`` still to draw from
        if columns is None:
            free[taken] = False
        else:
            free &= ~np.isin(columns, taken)
        left = int(np.count_nonzero(free))
        if not left:
            return page
        cap = tag_cap(k, self.max_tag_share)
        full: set[int] = set()
        counts: Counter[int] = Counter()
        if cap is not None:
            tags = self._item_tags
            counts.update(t for c in taken.tolist() for t in tags[c])
            full = {t for t, n_t in counts.items() if n_t >= cap}
        bonus, never = exposure
        out = list(kept)
        for _ in range(min(m, k - len(kept), left)):
            pool = free
            if full:
                allowed = free & ~self._tagged(full, columns)
                if allowed.any():  # else the cap gives way rather than leave the slot empty
                    pool = allowed
            j, p = draw(row, bonus, never, float(rng.random()), pool=pool, columns=columns)
            item = j if columns is None else int(columns[j])
            out.insert(int(rng.integers(0, len(out) + 1)), (item, float(row[j]), True, p))
            free[j] = False
            left -= 1
            if cap is not None:
                for t in self._item_tags[item]:
                    counts[t] += 1
                    if counts[t] >= cap:
                        full.add(t)
            if not left:
                break
        return out

    def _tagged(
        self, tags: set[int], columns: npt.NDArray[np.integer[Any]] | None
    ) -> npt.NDArray[np.bool_]:
        """Which items (or ``columns``' items) carry any of ``tags``; per tag kept until
        the items' tags change."""
        key = (self._tags_set, len(self._items))
        if self._tag_items is None or self._tag_items[0] != key:
            self._tag_items = (key, {})
        cache = self._tag_items[1]
        n = len(self._items)
        out = np.zeros(n + 1, bool)  # the last one: padding columns
        for t in tags:
            mask = cache.get(t)
            if mask is None:
                matrix = self._item_tag_matrix()[:n]
                mask = np.zeros(n + 1, bool)
                mask[: len(matrix)] = (matrix == t).any(axis=1)
                cache[t] = mask
            out |= mask
        return out[:n] if columns is None else out[np.minimum(columns, n)]

    def _item_tag_matrix(self) -> IndexArray:
        """:func:`homerec.ranking.tag_matrix` of the items' tags, kept until one changes."""
        if self._tag_matrix is None or self._tag_matrix[0] != self._tags_set:
            self._tag_matrix = (self._tags_set, tag_matrix(self._item_tags))
        return self._tag_matrix[1]

    # -- whole-model state ------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        nu, ni = len(self._users), len(self._items)
        u_off, u_dat = pack_lists(self._user_items[:nu])
        state: dict[str, Any] = {
            **self._common_state(ni),
            "users": list(self._users.ids),
            "user_events": self._user_events[:nu].copy(),
            "user_items_offsets": u_off,
            "user_items": u_dat,
            **self._hidden_state(),
        }
        state.update(self._extra_state(nu, ni))
        return state

    def _common_state(self, ni: int) -> dict[str, Any]:
        """The part of ``state_dict`` that is not per user (whole in a delta too)."""
        # the items' tags change only with the catalog: packed once per change (8 ms of a
        # 100K-user snapshot taken on the loop); the cached arrays are never written to
        key = (self._tags_set, ni)
        if self._packed_tags is None or self._packed_tags[0] != key:
            tags = pack_lists([np.asarray(t, "<i4").tobytes() for t in self._item_tags[:ni]])
            self._packed_tags = (key, tags)
        t_off, t_dat = self._packed_tags[1]
        return {
            "model": self.name,
            "params": _plain_params(self.get_params()),
            "items": list(self._items.ids),
            "tags": list(self._tags.ids),
            "item_seen": self._item_seen[:ni].copy(),
            "item_catalog": self._item_catalog[:ni].copy(),
            "item_active": self._item_active[:ni].copy(),
            "item_count": self._item_count[:ni].copy(),
            **self._rates.state(ni),
            "impressions": self._impressions,
            "explore_rng": _rng_state(self._explore_rng),
            "item_tags_offsets": t_off,
            "item_tags": t_dat,
            "rng": _rng_state(self._rng),
        }

    # -- deltas (homerec.models.deltas) -------------------------------------
    def begin_deltas(self) -> None:
        """The state as of now is saved in full: :meth:`state_delta` tracks from here."""
        self._user_dirty[:] = False
        self._user_gone = []
        self._tracking = True
        self._begin_deltas()

    def _begin_deltas(self) -> None:  # noqa: B027 - optional hook
        """Start tracking the subclass's own changes (:meth:`_sparse_tables`)."""

    def _sparse_tables(self) -> dict[str, dict[str, float]]:
        """Keys of :meth:`_extra_common_state` that a delta gives as changed rows only
        (``{"n", "rows", <array>: rows...}``), with the fill of each array's rows not given
        and new (:func:`homerec.models.deltas.apply_delta`)."""
        return {}

    def state_delta(self) -> dict[str, Any] | None:
        """What changed since :meth:`begin_deltas` or the last delta (None: not tracking):
        the changed users' rows, the users forgotten, the rest whole. Costs the changed
        users' rows plus the item side, not the whole user side."""
        if not self._tracking:
            return None
        nu, ni = len(self._users), len(self._items)
        rows = np.flatnonzero(self._user_dirty[:nu])
        picked = rows.tolist()
        ids = self._users.ids
        arrays = {key: a[rows] for key, a in self._user_tables().items()}  # copies
        lists: dict[str, Any] = {}
        for (off_key, dat_key), table in self._user_lists().items():
            lists[off_key], lists[dat_key] = pack_lists([table[r] for r in picked])
        hidden = {r for r in picked if r in self._hidden}
        at = {r: j for j, r in enumerate(picked)}
        pairs = [(at[r], as_rows(self._hidden[r]).reshape(-1, 2)) for r in sorted(hidden)]
        flat = np.concatenate([p for _, p in pairs]) if pairs else np.zeros((0, 2), np.int32)
        delta: dict[str, Any] = {
            DELTA_KEY: 1,
            "n_users": nu,
            "gone": list(self._user_gone),
            "user_ids": [ids[r] for r in picked],
            "row_keys": list(arrays),
            "list_keys": [list(k) for k in self._user_lists()],
            "sparse_keys": self._sparse_tables(),
            **arrays,
            **lists,
            HIDDEN_KEYS[0]: np.repeat(
                np.asarray([j for j, _ in pairs], np.int32), [len(p) for _, p in pairs]
            ),
            HIDDEN_KEYS[1]: flat[:, 0].astype(np.int32),
            HIDDEN_KEYS[2]: flat[:, 1].astype(np.int32),
            **self._common_state(ni),
            **self._extra_common_state(nu, ni),
        }
        self._user_dirty[:] = False
        self._user_gone = []
        return delta

    def _user_tables(self) -> dict[str, npt.NDArray[Any]]:
        """The ``state_dict`` keys holding one row per user, and their live arrays
        (capacity may exceed the users)."""
        return {"user_events": self._user_events}

    def _user_lists(self) -> dict[tuple[str, str], list[bytearray]]:
        """The ``state_dict`` keys ``(offsets, data)`` of packed per-user lists, and the lists."""
        return {("user_items_offsets", "user_items"): self._user_items}

    def _extra_common_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        """The part of :meth:`_extra_state` that is not per user (subclasses with big user
        tables override this: here the whole of it is computed, then the user keys dropped)."""
        user_keys = set(self._user_tables())
        for pair in self._user_lists():
            user_keys.update(pair)
        return {k: v for k, v in self._extra_state(n_users, n_items).items() if k not in user_keys}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._version += 1
        # a new state: deltas start again from a full one
        self._tracking = False
        self._user_gone = []
        if state.get("model") != self.name:
            raise StateError(f"state is for model {state.get('model')!r}, not {self.name!r}")
        try:
            self._users = IdIndex(state["users"])
            self._items = IdIndex(state["items"])
            self._tags = IdIndex(state["tags"])
            nu, ni = len(self._users), len(self._items)
            self._user_events = np.array(state["user_events"], np.int64)
            self._user_items = unpack_lists(state["user_items_offsets"], state["user_items"])
            self._load_hidden_state(state)
            self._item_seen = np.array(state["item_seen"], bool)
            self._item_catalog = np.array(state["item_catalog"], bool)
            self._item_active = np.array(state["item_active"], bool)
            self._item_count = np.array(state["item_count"], np.float32)
            # (states written before exploration, or before clicks were counted: zeros)
            self._rates = ClickRates.from_state(state, ni)
            self._impressions = bool(state.get("impressions", False))
            if "explore_rng" in state:
                self._explore_rng.bit_generator.state = _rng_from_state(state["explore_rng"])
            self._item_tags = [
                tuple(np.frombuffer(b, "<i4").tolist())
                for b in unpack_lists(state["item_tags_offsets"], state["item_tags"])
            ]
            self._tags_set += 1
            self._rng.bit_generator.state = _rng_from_state(state["rng"])
            if len(self._user_events) != nu or len(self._item_seen) != ni:
                raise StateError("state tables do not match the id lists")
            self._user_dirty = np.zeros(nu, bool)
            self._load_extra_state(state, nu, ni)
        except (KeyError, ValueError, TypeError) as exc:
            raise StateError(f"cannot restore {self.name} state: {exc!r}") from exc

    def _hidden_state(self) -> dict[str, IntArray]:
        """The hides for a while as three flat arrays, by user row (then as kept)."""
        users = sorted(self._hidden)
        pairs = [as_rows(self._hidden[u]).reshape(-1, 2) for u in users]
        lengths = [len(p) for p in pairs]
        flat = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int32)
        return {
            "hidden_users": np.repeat(np.asarray(users, np.int32), lengths),
            "hidden_items": flat[:, 0].astype(np.int32),
            "hidden_until": flat[:, 1].astype(np.int32),
        }

    def _load_hidden_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`_hidden_state` (states written before it: none)."""
        users = np.asarray(state.get("hidden_users", ()), np.int32)
        items = np.asarray(state.get("hidden_items", ()), np.int32)
        until = np.asarray(state.get("hidden_until", ()), np.int32)
        if not len(users) == len(items) == len(until):
            raise StateError("hidden_users, hidden_items and hidden_until differ in length")
        self._hidden = {}
        pairs = np.stack((items, until), axis=1).astype("<i4")
        for u in np.unique(users).tolist():
            self._hidden[int(u)] = bytearray(pairs[users == u].tobytes())

    def _extra_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        """Model-specific learned state (arrays trimmed to the used rows)."""
        return {}

    def _load_extra_state(self, state: Mapping[str, Any], n_users: int, n_items: int) -> None:  # noqa: B027
        """Inverse of :meth:`_extra_state`."""

    # -- per-user / per-item state (changelog) ----------------------------
    def user_state(self, user: UserId) -> dict[str, Any] | None:
        """The state of one user, msgpack-able, with item ids (not rows): ``None`` if unknown."""
        u = self._users.get(user)
        if u is None:
            return None
        ids = self._items.ids
        state: dict[str, Any] = {
            "events": int(self._user_events[u]),
            "items": [ids[i] for i in as_rows(self._user_items[u]).tolist()],
        }
        if u in self._hidden:  # [item, the user's event count at which it shows again]
            pairs = as_rows(self._hidden[u]).reshape(-1, 2).tolist()
            state["hidden"] = [[ids[i], until] for i, until in pairs]
        state.update(self._extra_user_state(u))
        return state

    def load_user_state(self, user: UserId, state: Mapping[str, Any]) -> None:
        """Install one user's state from :meth:`user_state` (items are created as needed)."""
        self._version += 1
        u = self._user_row(user)
        try:
            self._user_events[u] = int(state["events"])
            buf = bytearray()
            for item in state["items"]:
                append_row(buf, self._item_row(item))
            self._user_items[u] = buf
            self._hidden.pop(u, None)
            if state.get("hidden"):
                temp = bytearray()
                for item, until in state["hidden"]:
                    append_row(temp, self._item_row(item))
                    append_row(temp, int(until))
                self._hidden[u] = temp
            self._load_extra_user_state(u, state)
        except (KeyError, ValueError, TypeError) as exc:
            # no user id in the message: errors end up in logs
            raise StateError(f"cannot restore the state of a user: {exc!r}") from exc

    def _extra_user_state(self, u: int) -> dict[str, Any]:
        return {}

    def _load_extra_user_state(self, u: int, state: Mapping[str, Any]) -> None:  # noqa: B027
        pass

    def item_state_many(self, items: Sequence[ItemId]) -> list[dict[str, Any] | None]:
        """Per-item state (flags, counts, model extras), ``None`` for unknown items."""
        out: list[dict[str, Any] | None] = []
        tag_ids = self._tags.ids
        for item in items:
            i = self._items.get(item)
            if i is None:
                out.append(None)
                continue
            state: dict[str, Any] = {
                "seen": bool(self._item_seen[i]),
                "catalog": bool(self._item_catalog[i]),
                "active": bool(self._item_active[i]),
                "count": float(self._item_count[i]),
                "shown": float(self._rates.shown[i]),
                "clicks": float(self._rates.clicks[i]),
                "tags": [tag_ids[t] for t in self._item_tags[i]],
            }
            state.update(self._extra_item_state(i))
            out.append(state)
        return out

    def load_item_state(self, item: ItemId, state: Mapping[str, Any]) -> None:
        """Install one item's state from :meth:`item_state_many`."""
        self._version += 1
        i = self._item_row(item)
        try:
            self._item_seen[i] = bool(state["seen"])
            self._item_catalog[i] = bool(state["catalog"])
            self._item_active[i] = bool(state["active"])
            self._item_count[i] = float(state["count"])
            self._rates.set_row(i, float(state.get("shown", 0.0)), float(state.get("clicks", 0.0)))
            self._item_tags[i] = tuple(self._tags.add(t) for t in state["tags"])
            self._tags_set += 1
            self._load_extra_item_state(i, state)
        except (KeyError, ValueError, TypeError) as exc:
            raise StateError(f"cannot restore state of item {item!r}: {exc!r}") from exc

    def _extra_item_state(self, i: int) -> dict[str, Any]:
        return {}

    def _load_extra_item_state(self, i: int, state: Mapping[str, Any]) -> None:  # noqa: B027
        pass


def _plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, FeedbackWeights | HidingRules):
            out[key] = dict(value.as_dict())
        else:
            out[key] = value
    return out


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    # PCG64 state words are 128-bit: msgpack ints stop at 64, so keep them as decimal strings.
    st = dict(rng.bit_generator.state)
    st["state"] = {k: str(int(v)) for k, v in st["state"].items()}
    return st


def _rng_from_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    st = dict(raw)
    st["state"] = {k: int(v) for k, v in dict(st["state"]).items()}
    return st


def _shift_rows(table: dict[int, Any], removed: list[int]) -> dict[int, Any]:
    """``table`` keyed by user row once the sorted rows ``removed`` are gone: their entries
    dropped, the rows after them moved up as :meth:`IndexedRecommender.forget_users` moves
    them.

    >>> _shift_rows({0: "a", 2: "b", 5: "c"}, [1, 2])
    {0: 'a', 3: 'c'}
    """
    gone, order = set(removed), np.asarray(removed, np.int64)
    return {u - int(np.searchsorted(order, u)): v for u, v in table.items() if u not in gone}
