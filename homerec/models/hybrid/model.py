"""The :class:`Hybrid` model: hyperparameters, and the orchestration of its parts."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from homerec.candidates import AnnCandidates
from homerec.errors import ConfigError, StateError
from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.hiding import HidingRules
from homerec.items import Item
from homerec.models.hybrid.candidate_stage import candidate_scores
from homerec.models.hybrid.item_tables import ItemTables
from homerec.models.hybrid.learning import Eligible, Learner
from homerec.models.hybrid.planes import N_PLANES, Plane
from homerec.models.hybrid.reference import features as reference_features
from homerec.models.hybrid.scoring import Bookkeeping, Scorer
from homerec.models.hybrid.sharing import ItemReplica
from homerec.models.hybrid.tables import HybridTables, SharedTables
from homerec.models.hybrid.user_tables import GROUP_SLOTS, UserTables
from homerec.models.indexed import Candidates, IndexedRecommender
from homerec.profiles import UserProfile
from homerec.ranker import OnlineRanker
from homerec.sharing import ItemDelta
from homerec.typing import FloatArray, IndexArray, IntArray, ItemId, UserId

__all__ = ["AUTHOR_PREFIX", "Hybrid"]

#: The content feature of an item's author, among the tag ids (a NUL byte first: no real tag).
AUTHOR_PREFIX = "\x00author:"

_RATING_SHRINK = 5.0  # pseudo-ratings at the mean behind each user / item rating offset


class Hybrid(IndexedRecommender):
    """The default online hybrid recommender; see the package docstring for the signals.

    Hyperparameters (defaults tuned prequentially on ML-100K, see ``docs/quality.md``):
    ``n_factors``, ``lr``, ``reg``: embeddings and their BPR step; ``n_negatives``,
    ``popular_negatives``: sampled negatives per positive and the share drawn from recent
    events; ``negative_weight``: step size of negative feedback; ``weighted_positives``:
    scale positive steps by the feedback weight; ``history_length``, ``history_decay``,
    ``recent_decay``: the scored history and its two recency memories; ``cooc_window``,
    ``cooc_decay``, ``cooc_capacity``: co-occurrence updates and neighbours kept per item;
    ``history_min_weight``: feedback needed to enter history and counts;
    ``pop_half_life``, ``pop_slow_half_life``: popularity half-lives in events;
    ``tag_dims``, ``profile_groups``: content and demographic table sizes; ``cold_scale``:
    events after which a user or item counts as warm (e-folding); ``ranker_lr``,
    ``ranker_every``: Adam step size of the ranker and how often it steps (every n-th
    positive; raise it to trade ranker freshness for throughput);
    ``ranker_sample``: candidates in the ranker's softmax (all of them up to this many,
    a uniform sample of this many beyond: the step's cost stops growing with the catalog);
    ``sample_buffer``: recent events kept for popularity-sampled negatives;
    ``rate_prior``: pseudo-clicks at the overall click rate behind each item's click rate
    on the pages shown (the ``item_rate`` plane; > 0); ``page_negatives``: step size of the
    negative step for each item passed over above a click on a page (0: none);
    ``ann_candidates``, ``ann_rebuild_every``: the candidate stage (0: every item scored).

    Learned state is one :class:`~homerec.models.hybrid.tables.HybridTables`; the
    score is :class:`~homerec.models.hybrid.scoring.Scorer`'s and the per-event steps
    are :class:`~homerec.models.hybrid.learning.Learner`'s.
    """

    name = "hybrid"

    def __init__(
        self,
        *,
        n_factors: int = 32,
        lr: float = 0.05,
        reg: float = 0.01,
        n_negatives: int = 8,
        popular_negatives: float = 0.5,
        negative_weight: float = 0.5,
        weighted_positives: bool = True,
        history_length: int = 30,
        history_decay: float = 0.85,
        recent_decay: float = 0.5,
        cooc_window: int = 30,
        cooc_decay: float = 0.9,
        history_min_weight: float = 0.0,
        cooc_capacity: int = 200,
        pop_half_life: float = 1000.0,
        pop_slow_half_life: float = 20000.0,
        tag_dims: int = 64,
        profile_groups: int = 128,
        cold_scale: float = 5.0,
        ranker_lr: float = 0.01,
        ranker_every: int = 2,
        ranker_sample: int = 128,
        sample_buffer: int = 5000,
        rate_prior: float = 2.0,
        page_negatives: float = 0.5,
        candidates: Candidates = "seen",
        max_tag_share: float | None = None,
        ann_candidates: int = 0,
        ann_rebuild_every: int = 20_000,
        feedback: FeedbackWeights | None = None,
        explore: float = 0.0,
        hiding: HidingRules | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            candidates=candidates, max_tag_share=max_tag_share, feedback=feedback,
            explore=explore, hiding=hiding, seed=seed,
        )  # fmt: skip
        for name, value in (("n_factors", n_factors), ("n_negatives", n_negatives),
                            ("history_length", history_length), ("cooc_window", cooc_window),
                            ("cooc_capacity", cooc_capacity), ("tag_dims", tag_dims),
                            ("profile_groups", profile_groups), ("ranker_every", ranker_every),
                            ("ranker_sample", ranker_sample),
                            ("sample_buffer", sample_buffer)):  # fmt: skip
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if profile_groups > 32_767:  # group ids are int16 per user slot
            raise ConfigError(f"profile_groups must be at most 32767, got {profile_groups}")
        if page_negatives < 0:
            raise ConfigError(f"page_negatives must be >= 0, got {page_negatives}")
        if not rate_prior > 0:
            raise ConfigError(f"rate_prior must be > 0, got {rate_prior}")
        if ann_candidates < 0:
            raise ConfigError(f"ann_candidates must be >= 0 (0 = exact), got {ann_candidates}")
        self.n_factors = n_factors
        self.lr = lr
        self.reg = reg
        self.n_negatives = n_negatives
        self.popular_negatives = popular_negatives
        self.negative_weight = negative_weight
        self.weighted_positives = weighted_positives
        self.history_length = history_length
        self.history_decay = history_decay
        self.recent_decay = recent_decay
        self.cooc_window = cooc_window
        self.cooc_decay = cooc_decay
        self.history_min_weight = history_min_weight
        self.cooc_capacity = cooc_capacity
        self.pop_half_life = pop_half_life
        self.pop_slow_half_life = pop_slow_half_life
        self.tag_dims = tag_dims
        self.profile_groups = profile_groups
        self.cold_scale = cold_scale
        self.ranker_lr = ranker_lr
        self.ranker_every = ranker_every
        self.ranker_sample = ranker_sample
        self.sample_buffer = sample_buffer
        self.rate_prior = rate_prior
        self.page_negatives = page_negatives
        self.ann_candidates = ann_candidates
        self.ann_rebuild_every = ann_rebuild_every
        # the candidate stage in front of the re-rank (None: every item is scored)
        self._ann = (
            AnnCandidates(ann_candidates, rebuild_every=ann_rebuild_every)
            if ann_candidates
            else None
        )
        self._tables = HybridTables(
            UserTables.empty(n_factors),
            ItemTables.empty(
                n_factors=n_factors, tag_dims=tag_dims, cooc_capacity=cooc_capacity,
                pop_half_lives=(pop_half_life, pop_slow_half_life), max_groups=profile_groups,
            ),
            SharedTables.empty(
                OnlineRanker(N_PLANES + n_factors + tag_dims, lr=ranker_lr, init=self._init_w()),
                sample_buffer,
            ),
        )  # fmt: skip
        long_pows = (history_decay ** np.arange(history_length)).astype(np.float32)
        recent_pows = (recent_decay ** np.arange(history_length)).astype(np.float32)
        self._scorer = Scorer(
            n_factors=n_factors, cold_scale=cold_scale, long_pows=long_pows,
            recent_pows=recent_pows, rate_prior=rate_prior,
        )  # fmt: skip
        self._replica: ItemReplica | None = None  # set by share_items
        self._learner = Learner(
            lr=lr, reg=reg, n_negatives=n_negatives, popular_negatives=popular_negatives,
            negative_weight=negative_weight, weighted_positives=weighted_positives,
            history_length=history_length, history_min_weight=history_min_weight,
            cold_scale=cold_scale, ranker_every=ranker_every, ranker_sample=ranker_sample,
            rate_prior=rate_prior, long_pows=long_pows, recent_pows=recent_pows,
            cooc_pows=(cooc_decay ** np.arange(cooc_window)).astype(np.float32),
        )  # fmt: skip

    def _init_w(self) -> npt.NDArray[np.float64]:
        w = np.zeros(N_PLANES + self.n_factors + self.tag_dims)
        w[Plane.COOC] = 1.0
        w[Plane.POP_FAST] = 0.1
        return w

    @property
    def tables(self) -> HybridTables:
        """The learned state (read it; the model writes it)."""
        return self._tables

    def _book(self) -> Bookkeeping:
        """The base's bookkeeping as the parts read it, as of now."""
        return Bookkeeping(
            self._version,
            len(self._items),
            len(self._tags),
            self._item_count,
            self._user_events,
            self._rates,
        )

    # -- tables -----------------------------------------------------------
    def _grow_users(self, capacity: int) -> None:
        self._tables.users.grow(capacity)

    def _grow_items(self, capacity: int) -> None:
        self._tables.items.grow(capacity)

    def _init_user(self, row: int) -> None:
        d = self.n_factors
        self._tables.users.P[row] = self._rng.normal(0.0, 0.1 / math.sqrt(d), d)

    def _init_item(self, row: int) -> None:
        d = self.n_factors
        if self._replica is not None:
            # shared: every member must start an item from the same vector, whichever
            # order it meets the item in (its own events, the catalog, another member's
            # delta), and its generator's state differs from the others' by then; the
            # deltas then carry learning only (ItemReplica.take)
            self._tables.items.Q[row] = self._shared_item_init(self._items.ids[row])
            return
        self._tables.items.Q[row] = self._rng.normal(0.0, 0.1 / math.sqrt(d), d)

    def _shared_item_init(self, item: ItemId) -> npt.NDArray[np.float32]:
        """An item's initial vector while shared: drawn from the model's seed and a stable
        hash of the item's id (the same in every member and process)."""
        d = self.n_factors
        key = int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest(), "little")
        rng = np.random.default_rng((self.seed, 29, key))
        return rng.normal(0.0, 0.1 / math.sqrt(d), d).astype(np.float32)

    def _on_item(self, i: int, item: Item) -> None:
        # the author is one more content feature, outside the tags the page's cap counts
        content = self._item_tags[i]
        if item.author:
            content = (*content, self._tags.add(AUTHOR_PREFIX + item.author))
        self._tables.items.set_tags(i, content)

    def _on_profile(self, u: int, profile: UserProfile) -> None:
        slots = self._tables.items.demo.slots(profile.features)
        self._tables.users.groups[u] = -1
        self._tables.users.groups[u, : len(slots)] = slots

    def _forget_rows(self, rows: IntArray) -> None:
        self._tables.users.remove(rows)
        self._scorer.reset()

    # -- ranking ----------------------------------------------------------
    def _score(self, rows: IntArray) -> FloatArray:
        return self._scorer.scores(self._tables, self._book(), rows)

    def _candidate_scores(self, rows: IntArray) -> tuple[IndexArray, FloatArray] | None:
        """With ``ann_candidates``: the candidate stage's columns and scores
        (:func:`~homerec.models.hybrid.candidate_stage.candidate_scores`)."""
        if self._ann is None:
            return None
        # hidden items are excluded afterwards: fetch as many more as the block's users
        # have hidden (up to ann_candidates more)
        seen = max((self._n_excluded(u) for u in rows.tolist() if u >= 0), default=0)
        return candidate_scores(self._scorer, self._ann, self._tables, self._book(), rows, seen)

    def features(self, user_row: int, cols: IntArray | IndexArray) -> npt.NDArray[np.float64]:
        """The ranker's input rows ``x`` (one per item column) for one user (for inspection;
        :func:`~homerec.models.hybrid.reference.features`)."""
        return reference_features(
            self._tables, self._book(), user_row, cols, cold_scale=self.cold_scale,
            long_pows=self._scorer.long_pows, recent_pows=self._scorer.recent_pows,
            rate_prior=self.rate_prior,
        )  # fmt: skip

    def predict_one(self, user: UserId, item: ItemId) -> float | None:
        """A rating guess: the global mean plus shrunk user and item offsets (for MAE/RMSE only)."""
        fw = self._fw
        users, items, shared = self._tables.users, self._tables.items, self._tables.shared
        g_n = float(shared.ratings[1])
        mean = float(shared.ratings[0]) / g_n if g_n else fw.rating_neutral
        guess = mean
        u, i = self._users.get(user), self._items.get(item)
        if u is not None and u < len(users.ratings):
            n_u = float(users.ratings[u, 1])
            guess += (float(users.ratings[u, 0]) - n_u * mean) / (n_u + _RATING_SHRINK)
        if i is not None and i < len(items.ratings):
            n_i = float(items.ratings[i, 1])
            guess += (float(items.ratings[i, 0]) - n_i * mean) / (n_i + _RATING_SHRINK)
        return float(min(max(guess, fw.rating_min), fw.rating_max))

    # -- learning ---------------------------------------------------------
    def _learn(self, u: int, i: int, weight: float, event: Event) -> None:
        rating = None
        if event.type == "rating" and event.value is not None:
            rating = float(event.value)
        shown = self._shown.get(u)
        eligible = Eligible(
            self._item_seen, self._item_catalog, self._item_active,
            self.candidates == "catalog", self._user_items,
            shown if shown is not None and (shown == i).any() else None,
        )  # fmt: skip
        self._learner.learn(self._tables, self._book(), self._rng, eligible, u, i, weight, rating)
        if weight > 0 and eligible.shown is not None and self.page_negatives > 0:
            self._skipped_above(u, i, eligible.shown)

    def _skipped_above(self, u: int, i: int, page: IndexArray) -> None:
        """Items above a click on the page were looked at and passed over (a cascade of
        examination): each is pushed down by ``page_negatives`` in the embeddings."""
        at = int(np.flatnonzero(page == i)[0])
        for j in page[:at].tolist():
            if not self._interacted(u, j):
                self._learner.push_down(self._tables, u, j, self.page_negatives)

    def _impressed(self, u: int, i: int, weight: float) -> None:
        """Shown and not (yet) clicked: a logistic step pushing ``P[u]·Q[i] + b[i]`` down by
        the impression's weight (a click that follows lifts it again)."""
        if weight < 0 and self.negative_weight > 0:
            self._learner.push_down(self._tables, u, i, -weight * self.negative_weight)

    # -- state (each table writes and reads its own keys) ---------------
    def _extra_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        return self._tables.state(n_users, n_items)

    def _user_tables(self) -> dict[str, npt.NDArray[Any]]:
        users = self._tables.users
        return {**super()._user_tables(), "P": users.P, "groups": users.groups,
                "rat_u": users.ratings}  # fmt: skip

    def _user_lists(self) -> dict[tuple[str, str], list[bytearray]]:
        return {**super()._user_lists(), ("hist_offsets", "hist"): self._tables.users.hist}

    def _extra_common_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        # the item side (co-occurrence: the changed rows) and the shared tables, without
        # copying the user side
        return {**self._tables.items.delta_state(n_items), **self._tables.shared.state()}

    def _sparse_tables(self) -> dict[str, dict[str, float]]:
        return {"cooc": {"ids": -1, "counts": 0.0}}

    def _begin_deltas(self) -> None:
        self._tables.items.cooc.dirty[:] = False

    def _load_extra_state(self, state: Mapping[str, Any], n_users: int, n_items: int) -> None:
        self._tables = HybridTables.from_state(
            state, n_users, n_items, n_factors=self.n_factors, tag_dims=self.tag_dims,
            max_groups=self.profile_groups,
        )  # fmt: skip
        ranker = self._tables.shared.ranker
        missing = N_PLANES + self.n_factors + self.tag_dims - ranker.n_features
        if missing == 1:  # saved before the item_rate plane (the last plane) existed
            ranker.insert_features(Plane.ITEM_RATE)
        self._scorer.reset()

    def _extra_user_state(self, u: int) -> dict[str, Any]:
        return self._tables.users.record(u, self._items.ids, self._tables.items.demo.ids.ids)

    def _load_extra_user_state(self, u: int, state: Mapping[str, Any]) -> None:
        history = [self._item_row(item) for item in state["history"]]
        groups = self._tables.items.demo.rows_of(state["groups"][:GROUP_SLOTS])
        self._tables.users.load_record(u, state, history, groups)

    def _extra_item_state(self, i: int) -> dict[str, Any]:
        return self._tables.items.record(i)

    def _load_extra_item_state(self, i: int, state: Mapping[str, Any]) -> None:
        self._tables.items.load_record(i, state)

    # -- shared item side (homerec.sharing.ItemShared) -------------------
    def share_items(self, member: str) -> None:
        """Start tracking this member's item-side changes (see :mod:`homerec.sharing`)."""
        self._replica = ItemReplica(
            member, self._tables, self._item_count, len(self._items), self._shared_item_init
        )

    def take_item_delta(self) -> ItemDelta:
        """What this member's own learning changed on the item side since the last take."""
        if self._replica is None:
            raise StateError("share_items() first")
        return self._replica.take(self._tables, self._items.ids, self._item_count, len(self._items))

    def apply_item_deltas(self, deltas: Sequence[ItemDelta]) -> int:
        """Add other members' deltas (already applied ones skipped; own ones give their
        co-occurrence and popularity in their place in the order); returns how many of
        the others' were applied. Take this member's own delta first."""
        if self._replica is None:
            raise StateError("share_items() first")
        done = self._replica.apply(
            deltas, lambda: self._tables, lambda: self._item_count, lambda: self._item_seen,
            self._shared_item_row, lambda: len(self._items),
        )  # fmt: skip
        if self._replica.changed:  # own deltas back rebuild co-occurrence and popularity too
            self._version += 1
        return done

    def _shared_item_row(self, item: ItemId) -> tuple[int, bool]:
        """The row of ``item`` and whether it was added just now."""
        known = self._items.get(item)
        return (known, False) if known is not None else (self._item_row(item), True)
