"""The simulated world: users with drifting tastes, a churning catalog, and how people click.

Everything is drawn from numpy generators seeded by ``(seed, stream)``, one stream
per concern, so two policies run on the same seed meet the same users in the same
order, the same catalog changes and the same random draws per page position
(common random numbers: their difference is the policies', not the dice's).

* **Users** have unit taste vectors mixed from the centroid of their age group and
  occupation (weight ``profile_signal``) and a direction of their own, so the
  profile (``age``, ``gender``, ``occupation``) carries signal; gender carries none.
  A taste rotates slowly in a plane of its own (``drift_rate``). Visits are
  Zipf-skewed (``activity_skew``).
* **Items** have latent vectors (``user·item`` has standard deviation
  ``affinity_scale``), a quality term, and 1–``max_tags_per_item`` tags nearest to
  their vector, so tags carry signal. The true relevance is
  ``sigmoid(user·item + quality + bias)``.
* **Catalog churn**: every ``churn_every`` sessions ``churn_add`` new items arrive
  and ``churn_retire`` active ones, chosen at random, are retired (sent to the
  policy as ``active: false``).
* **A page** of up to ``k`` items: position ``p`` (0-based) is examined with
  probability ``1 / (1 + p) ** eta``; an examined item is clicked with probability
  its relevance (→ ``click``), a click is followed by a ``share`` and a ``rating``
  (1–5 from the relevance) with fixed probabilities, an examined item not clicked is
  ``skip``-ped with probability ``skip_prob``. Retired and already consumed items
  draw no events.
* **Organic events**: with probability ``organic_rate`` a session also finds an
  item through search (a ``view``, sometimes a ``rating``): one of ``organic_pool``
  random unconsumed active items, chosen in proportion to its relevance, so the
  policy sees items it did not show.

>>> from homerec.simulation.config import SimulationConfig
>>> w = World(SimulationConfig(n_users=20, n_items=30, n_sessions=10, seed=3))
>>> len(w.catalog()), len(w.profiles()), w.n_known
(30, 20, 30)
>>> sorted(w.profiles()[0].features)
['age', 'gender', 'occupation']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile
from homerec.simulation.config import ChurnStep, SimulationConfig

__all__ = ["Outcome", "World"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_AGES: tuple[tuple[int, int], ...] = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 75))
_AGE_WEIGHTS: tuple[float, ...] = (0.2, 0.3, 0.22, 0.16, 0.12)
_OCCUPATIONS: tuple[str, ...] = (
    "student", "engineer", "teacher", "artist", "nurse", "lawyer", "retired", "writer",
    "sales", "scientist", "farmer", "homemaker",
)  # fmt: skip
_TAG_WORDS: tuple[str, ...] = (
    "action", "comedy", "drama", "thriller", "romance", "horror", "documentary", "sci-fi",
    "fantasy", "animation", "crime", "mystery", "family", "music", "history", "war", "western",
    "sports", "travel", "cooking", "tech", "science", "politics", "nature", "art", "fashion",
    "gaming", "finance", "health", "kids",
)  # fmt: skip

#: Generator streams: one per concern (see the module docstring).
_BUILD, _VISITS, _PAGES, _ORGANIC, _CHURN = range(5)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the users of a batch of sessions did: the events (in order) and the counts."""

    events: list[Event]
    #: Clicks on the page, per session of the batch.
    clicks: I64
    #: Organic events (search), in all.
    organic: int


class World:
    """The state of one simulated world; see the module docstring."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = cfg = config
        rng = np.random.default_rng([cfg.seed, _BUILD])
        f = cfg.n_factors
        self.steps: tuple[ChurnStep, ...] = cfg.churn_sessions()
        n_total = cfg.n_items + sum(add for _, add, _ in self.steps)
        #: Items that will ever exist (the initial catalog first, then arrivals in order).
        self.n_total = n_total
        # users
        self.user_age_group = rng.choice(len(_AGES), cfg.n_users, p=_norm(_AGE_WEIGHTS))
        lo = np.array([a for a, _ in _AGES])[self.user_age_group]
        hi = np.array([b for _, b in _AGES])[self.user_age_group]
        self.user_age = rng.integers(lo, hi + 1)
        self.user_gender = rng.integers(0, 2, cfg.n_users)
        self.user_occupation = rng.integers(0, len(_OCCUPATIONS), cfg.n_users)
        age_c = _unit(rng.standard_normal((len(_AGES), f)))
        occ_c = _unit(rng.standard_normal((len(_OCCUPATIONS), f)))
        group = _unit(0.6 * age_c[self.user_age_group] + 0.4 * occ_c[self.user_occupation])
        own = _unit(rng.standard_normal((cfg.n_users, f)))
        s = cfg.profile_signal
        self._taste0: F64 = _unit(s * group + (1.0 - s) * own)
        d = rng.standard_normal((cfg.n_users, f))
        d -= np.sum(d * self._taste0, axis=1, keepdims=True) * self._taste0
        self._drift_dir: F64 = _unit(d)
        self._drift_speed: F64 = cfg.drift_rate / 10_000 * rng.uniform(0.5, 1.5, cfg.n_users)
        # items (all that will ever exist, drawn up front)
        self.item_vectors: F64 = (
            cfg.affinity_scale * math.sqrt(f) * _unit(rng.standard_normal((n_total, f)))
        )
        self.item_quality: F64 = cfg.quality_scale * rng.standard_normal(n_total)
        tag_dirs = _unit(rng.standard_normal((cfg.n_tags, f)))
        scores = 10.0 * _unit(self.item_vectors) @ tag_dirs.T + rng.gumbel(
            size=(n_total, cfg.n_tags)
        )
        n_tags = rng.integers(1, cfg.max_tags_per_item + 1, n_total)
        order = np.argsort(-scores, axis=1)
        self.item_tags: list[tuple[int, ...]] = [
            tuple(order[i, : n_tags[i]].tolist()) for i in range(n_total)
        ]
        self.tag_names = [
            _TAG_WORDS[t] if t < len(_TAG_WORDS) else f"tag{t}" for t in range(cfg.n_tags)
        ]
        self.user_ids = [f"u{u}" for u in range(cfg.n_users)]
        self.item_ids = [f"i{i}" for i in range(n_total)]
        self.item_index = {item: i for i, item in enumerate(self.item_ids)}
        #: Session each item arrived in (0: initial catalog; -1: not yet).
        self.added_at: I64 = np.full(n_total, -1, np.int64)
        self.added_at[: cfg.n_items] = 0
        self.active: Bools = np.zeros(n_total, bool)
        self.active[: cfg.n_items] = True
        #: Items introduced so far (they are the first ``n_known`` indices).
        self.n_known = cfg.n_items
        #: The session being played (pages are ranked for it).
        self.now = 0
        #: Which items each user has had any event with (the models exclude the same).
        self.consumed: Bools = np.zeros((cfg.n_users, n_total), bool)
        # who visits, in order: the same for every policy
        visits = np.random.default_rng([cfg.seed, _VISITS])
        rank = np.arange(1, cfg.n_users + 1, dtype=np.float64)
        weight = np.empty(cfg.n_users)
        weight[visits.permutation(cfg.n_users)] = rank**-cfg.activity_skew
        #: The user of every session.
        self.session_users: I64 = visits.choice(cfg.n_users, cfg.n_sessions, p=_norm(weight))
        self._pages_rng = np.random.default_rng([cfg.seed, _PAGES])
        self._organic_rng = np.random.default_rng([cfg.seed, _ORGANIC])
        self._churn_rng = np.random.default_rng([cfg.seed, _CHURN])
        self._exam: F64 = 1.0 / (1.0 + np.arange(cfg.k, dtype=np.float64)) ** cfg.examination_eta

    # -- side information ------------------------------------------------
    def item_record(self, i: int, session: int) -> Item:
        """Item ``i``'s catalog record as of ``session``."""
        tags = tuple(self.tag_names[t] for t in self.item_tags[i])
        title = f"{' '.join(t.title() for t in tags)} #{i}"
        return Item(self.item_ids[i], title, tags, bool(self.active[i]), self.ts(session))

    def catalog(self) -> list[Item]:
        """The initial catalog."""
        return [self.item_record(i, 0) for i in range(self.config.n_items)]

    def profiles(self) -> list[UserProfile]:
        """One profile per user: ``age`` (years), ``gender`` and ``occupation``."""
        return [
            UserProfile(self.user_ids[u], {
                "age": int(self.user_age[u]),
                "gender": "FM"[int(self.user_gender[u])],
                "occupation": _OCCUPATIONS[int(self.user_occupation[u])],
            })
            for u in range(self.config.n_users)
        ]  # fmt: skip

    def ts(self, session: int) -> int:
        """Epoch milliseconds of ``session`` on the event clock."""
        return self.config.start_ts + session * self.config.session_ms

    # -- ground truth ----------------------------------------------------
    def tastes(self, users: I64, sessions: I64) -> F64:
        """Taste vectors of ``users`` at ``sessions`` (drift applied), one row each."""
        theta = self._drift_speed[users] * sessions
        out: F64 = (
            self._taste0[users] * np.cos(theta)[:, None]
            + self._drift_dir[users] * np.sin(theta)[:, None]
        )
        return out

    def relevance(self, users: I64, sessions: I64, items: I64) -> F64:
        """True click probability once examined, ``(B, m)``, of ``items`` ``(B, m)``."""
        taste = self.tastes(users, sessions)
        logit = np.einsum("bmf,bf->bm", self.item_vectors[items], taste)
        logit += self.item_quality[items] + self.config.bias
        out: F64 = 1.0 / (1.0 + np.exp(-logit))
        return out

    def relevance_all(self, users: I64, session: int) -> F64:
        """Relevance of every item known so far to ``users``, ``(B, n_known)``; ``-inf``
        where an item is inactive or consumed: what an oracle would rank."""
        n = self.n_known
        taste = self.tastes(users, np.full(len(users), session))
        logit = taste @ self.item_vectors[:n].T + self.item_quality[:n] + self.config.bias
        out: F64 = 1.0 / (1.0 + np.exp(-logit))
        out[self.consumed[users, :n] | ~self.active[None, :n]] = -np.inf
        return out

    def eligible(self, users: I64) -> I64:
        """Active items each user has not consumed: the candidates a page could hold."""
        n = self.n_known
        out: I64 = (self.active[None, :n] & ~self.consumed[users, :n]).sum(axis=1)
        return out

    # -- catalog churn ---------------------------------------------------
    def churn(self, step: ChurnStep) -> tuple[I64, I64]:
        """Apply one catalog change: ``(retired, added)`` item indices."""
        session, add, retire = step
        live = np.flatnonzero(self.active)
        retire = min(retire, max(0, len(live) - 1))
        retired = np.sort(self._churn_rng.choice(live, retire, replace=False)).astype(np.int64)
        self.active[retired] = False
        added = np.arange(self.n_known, self.n_known + add, dtype=np.int64)
        self.active[added] = True
        self.added_at[added] = session
        self.n_known += add
        return retired, added

    # -- sessions --------------------------------------------------------
    def play(self, sessions: I64, pages: Sequence[Sequence[int]]) -> Outcome:
        """The users of ``sessions`` look at their ``pages`` (item indices, best first)."""
        cfg, k = self.config, self.config.k
        b = len(sessions)
        users = self.session_users[sessions]
        grid = np.full((b, k), -1, np.int64)
        for r, page in enumerate(pages):
            grid[r, : min(k, len(page))] = page[:k]
        shown = grid >= 0
        at = np.where(shown, grid, 0)
        rel = self.relevance(users, sessions, at)
        # fixed-shape draws whatever the pages hold: the same dice for every policy
        draw = self._pages_rng.random((b, k, 5))
        noise = self._pages_rng.standard_normal((b, k))
        examined = shown & self.active[at] & (draw[..., 0] < self._exam[None, :])
        click = examined & (draw[..., 1] < rel)
        share = click & (draw[..., 2] < cfg.share_prob)
        rating = click & (draw[..., 3] < cfg.rating_prob)
        skip = examined & ~click & (draw[..., 4] < cfg.skip_prob)
        stars = np.clip(np.rint(1.0 + 4.0 * rel + cfg.rating_noise * noise), 1, 5)
        clicks = np.zeros(b, np.int64)
        events: list[Event] = []
        uid, iid = self.user_ids, self.item_ids
        o_rng = self._organic_rng
        o_go = o_rng.random(b) < cfg.organic_rate
        o_pick = o_rng.random(b)
        o_rate = o_rng.random(b)
        o_noise = o_rng.standard_normal(b)
        o_pool = o_rng.random((b, cfg.organic_pool))
        live = np.flatnonzero(self.active)
        report = examined if cfg.impressions else click | skip
        act = set(np.flatnonzero(report.any(axis=1)).tolist())
        for r in range(b):
            s, u = int(sessions[r]), int(users[r])
            ts = self.ts(s)
            user = uid[u]
            if r in act:
                for p in np.flatnonzero(report[r]).tolist():
                    i = int(grid[r, p])
                    if self.consumed[u, i]:  # a page of the batch's start, acted on already
                        continue
                    item = iid[i]
                    if cfg.impressions:
                        events.append(Event(user, item, "impression", ts, float(p)))
                    if not (click[r, p] or skip[r, p]):
                        continue
                    self.consumed[u, i] = True
                    if click[r, p]:
                        clicks[r] += 1
                        events.append(Event(user, item, "click", ts))
                        if share[r, p]:
                            events.append(Event(user, item, "share", ts))
                        if rating[r, p]:
                            events.append(Event(user, item, "rating", ts, float(stars[r, p])))
                    else:
                        events.append(Event(user, item, "skip", ts))
            if o_go[r] and len(live):
                events.extend(
                    self._organic(u, s, live, o_pool[r], o_pick[r], o_rate[r], o_noise[r])
                )
        organic = sum(1 for e in events if e.type == "view")
        return Outcome(events, clicks, organic)

    def _organic(
        self, u: int, s: int, live: I64, pool: F64, pick: float, rate: float, noise: float
    ) -> list[Event]:
        """One search: a random pool of active items, one opened in proportion to relevance."""
        cand = live[(pool * len(live)).astype(np.int64)]
        cand = cand[~self.consumed[u, cand]]
        if not len(cand):
            return []
        rel = self.relevance(np.array([u]), np.array([s]), cand[None, :])[0]
        cum = np.cumsum(rel)
        i = int(cand[min(int(np.searchsorted(cum, pick * cum[-1])), len(cand) - 1)])
        self.consumed[u, i] = True
        ts, user, item = self.ts(s), self.user_ids[u], self.item_ids[i]
        out = [Event(user, item, "view", ts)]
        if rate < self.config.rating_prob:
            r = float(
                np.clip(
                    np.rint(1.0 + 4.0 * rel[cand == i][0] + self.config.rating_noise * noise), 1, 5
                )
            )
            out.append(Event(user, item, "rating", ts, r))
        return out


def _norm(weights: object) -> F64:
    w = np.asarray(weights, dtype=np.float64)
    out: F64 = w / w.sum()
    return out


def _unit(x: npt.ArrayLike) -> F64:
    a = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    out: F64 = a / np.where(norm == 0, 1.0, norm)
    return out
