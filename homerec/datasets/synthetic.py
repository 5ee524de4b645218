"""A seeded synthetic event stream with planted structure, for the demo, tests and benchmarks.

No real data ships with homerec; this generator stands in for it. The world it
simulates:

* **Users** have latent taste vectors (unit norm, ``n_factors`` dimensions),
  drawn around the centroid of their age group, so profile features carry
  signal for cold users. Each taste vector **drifts**: it rotates at
  ``drift_rate`` radians per day (±50 % per user) in a plane of its own, so
  old interests fade and new ones grow. User activity is skewed
  (``activity_skew``): a few users produce many events.
* **Items** have latent vectors, a small quality bias, a Zipf popularity
  (exponent ``popularity_skew``) and 1–``max_tags_per_item`` tags drawn from
  the tags closest to the item's latent vector, so content features carry
  signal for cold items. A fraction ``inactive_fraction`` of the catalog is
  marked inactive (retired; their past events remain).
* **Authors** (``n_authors`` > 0; none by default, which leaves the stream as it
  was): each item has one, drawn with a Zipf skew, and each user a favourite
  author, whose items get ``author_boost`` more affinity with that user; the
  catalog's ``author`` field then carries signal.
* **Events**: each event picks a user by activity, then ``n_candidates`` items
  by popularity (what the user is shown), and the user engages with one of
  them with probability ``∝ exp(affinity_strength · affinity)`` (Gumbel-max).
  So the item distribution is popularity × taste, as on a real homepage. The
  event type is drawn from ``type_mix`` re-weighted by the affinity: liked
  items are clicked and shared, disliked ones skipped. Ratings (1..5) are the
  rounded affinity plus noise.

Timestamps are epoch milliseconds from ``start_ts`` with exponential gaps of
mean ``mean_gap_ms``, in non-decreasing order. Everything is drawn from
generators seeded by ``(seed, chunk)``: the same config yields the same stream,
and a stream of any length is generated lazily, ``chunk_size`` events at a
time, in vectorised numpy.

>>> gen = SyntheticStream(SyntheticConfig(n_users=50, n_items=40, n_events=200, seed=7))
>>> events = list(gen)
>>> len(events), events[0].user[0], events[0].item[0]
(200, 'u', 'i')
>>> all(a.ts <= b.ts for a, b in zip(events, events[1:]))
True
>>> events == list(SyntheticStream(SyntheticConfig(n_users=50, n_items=40, n_events=200, seed=7)))
True
>>> ds = dataset(SyntheticConfig(n_users=50, n_items=40, n_events=200, seed=7))
>>> len(ds.events), len(ds.items), len(ds.profiles)
(200, 40, 50)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from homerec.datasets.base import Dataset
from homerec.errors import ConfigError
from homerec.events import Event
from homerec.items import Item
from homerec.limits import Limits
from homerec.profiles import UserProfile
from homerec.typing import EVENT_TYPES, EventType

__all__ = ["DEMO_WORLD", "EventBatch", "SyntheticConfig", "SyntheticStream", "dataset"]

_MS_PER_DAY = 86_400_000.0

#: Default mix of event types at neutral affinity (re-weighted per event by affinity).
_DEFAULT_MIX: Mapping[str, float] = MappingProxyType(
    {"view": 0.40, "click": 0.25, "share": 0.05, "rating": 0.15, "skip": 0.15}
)

_AGE_GROUPS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55+")
_AGE_WEIGHTS: tuple[float, ...] = (0.22, 0.30, 0.22, 0.15, 0.11)
_COUNTRIES: tuple[str, ...] = ("US", "DE", "GB", "FR", "IN", "BR", "JP", "ES", "IT", "CA")

_TAG_WORDS: tuple[str, ...] = (
    "action", "comedy", "drama", "thriller", "romance", "horror", "documentary", "sci-fi",
    "fantasy", "animation", "crime", "mystery", "family", "music", "history", "war", "western",
    "sports", "travel", "cooking", "tech", "science", "politics", "nature", "art", "fashion",
    "gaming", "finance", "health", "kids", "adventure", "biography", "noir", "indie", "classic",
    "satire", "anime", "space", "retro", "true-crime",
)  # fmt: skip
_TITLE_ADJ: tuple[str, ...] = (
    "Silent", "Golden", "Last", "Hidden", "Broken", "Crimson", "Endless", "Distant", "Wild",
    "Frozen", "Electric", "Secret", "Midnight", "Lost", "Bright", "Hollow",
)  # fmt: skip
_TITLE_NOUN: tuple[str, ...] = (
    "River", "Empire", "Garden", "Signal", "Harbor", "Machine", "Summer", "Frontier", "Letter",
    "Orbit", "Kingdom", "Echo", "Voyage", "Island", "Circuit", "Horizon",
)  # fmt: skip

_F = np.float32
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticConfig:
    """Shape of the synthetic world and stream. Frozen, keyword-only, validated.

    >>> SyntheticConfig(n_users=10, n_items=5, events_per_user=3).total_events
    30
    >>> SyntheticConfig(n_users=10, n_items=5, n_events=7).total_events
    7
    >>> SyntheticConfig(popularity_skew=-1)
    Traceback (most recent call last):
    ...
    homerec.errors.ConfigError: popularity_skew must be >= 0, got -1
    """

    n_users: int = 1_000
    n_items: int = 500
    n_tags: int = 30
    n_factors: int = 16
    #: Mean events per user; ignored when ``n_events`` is given.
    events_per_user: float = 20.0
    #: Total events of the stream (overrides ``events_per_user``).
    n_events: int | None = None
    #: Zipf exponent of item popularity (0 = uniform exposure).
    popularity_skew: float = 0.8
    #: Zipf exponent of user activity (0 = every user equally active).
    activity_skew: float = 0.5
    #: How strongly taste (vs. exposure by popularity) decides what a user engages with.
    affinity_strength: float = 3.0
    #: Items shown to the user per event, among which one is engaged with.
    n_candidates: int = 24
    #: Radians per day by which each user's taste vector rotates (0 = static tastes).
    drift_rate: float = 0.1
    #: Weight of the age-group centroid in a user's taste (0 = profiles carry no signal).
    profile_signal: float = 0.6
    #: Relative frequency of each event type at neutral affinity.
    type_mix: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_MIX)
    #: Rating = round(3 + rating_scale * (affinity - neutral) + noise), clipped to 1..5.
    rating_scale: float = 1.2
    rating_noise: float = 0.6
    max_tags_per_item: int = 3
    inactive_fraction: float = 0.0
    #: Item authors (0 = none); each user likes the items of a favourite one more.
    n_authors: int = 0
    #: Affinity added to an item of the user's favourite author.
    author_boost: float = 1.0
    start_ts: int = 1_700_000_000_000
    mean_gap_ms: float = 100.0
    #: Give every event a stable id (``<id_prefix>.<n>``) so consumers can de-duplicate replays.
    event_ids: bool = True
    #: What event ids start with; empty = ``e<seed>``, the same for every replay of a seed.
    #: A run-unique prefix makes a replay's events new to a consumer that saw an earlier one.
    id_prefix: str = ""
    #: Events generated per vectorised step (part of the seed: changing it changes the stream).
    chunk_size: int = 8_192
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("n_users", "n_items", "n_tags", "n_factors", "n_candidates", "chunk_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.n_events is not None and (
            isinstance(self.n_events, bool)
            or not isinstance(self.n_events, int)
            or self.n_events < 0
        ):
            raise ConfigError(f"n_events must be a non-negative integer, got {self.n_events!r}")
        for name in (
            "popularity_skew", "activity_skew", "affinity_strength", "drift_rate",
            "rating_noise", "events_per_user", "mean_gap_ms", "profile_signal", "author_boost",
        ):  # fmt: skip
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value:g}")
        if (
            isinstance(self.n_authors, bool)
            or not isinstance(self.n_authors, int)
            or (self.n_authors < 0)
        ):
            raise ConfigError(f"n_authors must be a non-negative integer, got {self.n_authors!r}")
        if len(self.id_prefix) > 64:
            raise ConfigError("id_prefix must be at most 64 characters")
        if not 0.0 <= self.profile_signal <= 1.0:
            raise ConfigError(f"profile_signal must be in [0, 1], got {self.profile_signal:g}")
        if not math.isfinite(self.rating_scale):
            raise ConfigError("rating_scale must be finite")
        if not 0.0 <= self.inactive_fraction < 1.0:
            raise ConfigError(
                f"inactive_fraction must be in [0, 1), got {self.inactive_fraction:g}"
            )
        if not 1 <= self.max_tags_per_item <= self.n_tags:
            raise ConfigError("max_tags_per_item must be in [1, n_tags]")
        # A private read-only copy, so the caller's dict cannot change a frozen config.
        object.__setattr__(self, "type_mix", MappingProxyType(dict(self.type_mix)))
        unknown = set(self.type_mix) - set(EVENT_TYPES)
        if unknown:
            raise ConfigError(f"type_mix has unknown event type(s) {sorted(unknown)}")
        weights = list(self.type_mix.values())
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError("type_mix weights must be finite, >= 0 and not all zero")
        lim = Limits()
        span = self.mean_gap_ms * self.total_events * 2 + _MS_PER_DAY
        if not lim.ts_min <= self.start_ts or self.start_ts + span > lim.ts_max:
            raise ConfigError(
                "start_ts (plus the stream's span) must lie within the valid ts range"
            )

    @property
    def total_events(self) -> int:
        """Length of the stream."""
        if self.n_events is not None:
            return self.n_events
        return round(self.n_users * self.events_per_user)


#: The world of ``homerec demo``, and what ``homerec replay --source synthetic`` replays by
#: default: a replay after the demo continues in the demo's catalog (same seed and shape, so
#: the same item ids carry the same titles and tags).
DEMO_WORLD = SyntheticConfig(
    n_users=2_000, n_items=1_000, n_events=20_000, mean_gap_ms=50.0, seed=7
)


class EventBatch(NamedTuple):
    """One chunk of the stream as arrays (indices, not ids): the fast path for benchmarks.

    ``types`` index :data:`homerec.typing.EVENT_TYPES`; ``values`` is NaN except
    for ratings; ``affinity`` is the true (oracle) affinity of user and item at
    the event's time.
    """

    users: IntArray
    items: IntArray
    types: npt.NDArray[np.int8]
    ts: IntArray
    values: FloatArray
    affinity: FloatArray


class SyntheticStream:
    """The world (users, items, tastes) of a :class:`SyntheticConfig` and its event stream.

    Iterating yields :class:`homerec.Event` lazily; :meth:`batches` yields the
    same stream as numpy arrays. The latent factors are public so tests and
    benchmarks can check what a model learned against the truth.
    """

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = cfg = config or SyntheticConfig()
        rng = np.random.default_rng([cfg.seed, 0])
        f = cfg.n_factors
        # Users: taste = mix of age-group centroid and individual direction, unit norm.
        self.user_age = rng.choice(len(_AGE_GROUPS), size=cfg.n_users, p=_normalise(_AGE_WEIGHTS))
        country_w = _normalise([1.0 / (r + 1) for r in range(len(_COUNTRIES))])
        self.user_country = rng.choice(len(_COUNTRIES), size=cfg.n_users, p=country_w)
        centroids = _unit(rng.standard_normal((len(_AGE_GROUPS), f)))
        own = _unit(rng.standard_normal((cfg.n_users, f)))
        s = cfg.profile_signal
        #: Taste vectors at ``start_ts`` (n_users × n_factors, unit rows).
        self.user_factors: FloatArray = _unit(s * centroids[self.user_age] + (1 - s) * own)
        # Drift: rotate in the plane of the taste and a random orthogonal direction.
        d = rng.standard_normal((cfg.n_users, f))
        d -= np.sum(d * self.user_factors, axis=1, keepdims=True) * self.user_factors
        self._drift_dir: FloatArray = _unit(d)
        self._drift_speed = (
            cfg.drift_rate * rng.uniform(0.5, 1.5, cfg.n_users) / _MS_PER_DAY
        ).astype(np.float64)
        self._user_zipf = _Zipf(cfg.n_users, cfg.activity_skew, rng)
        # Items: latent vector of norm sqrt(f), so affinity ~ N(0, 1); quality bias; popularity.
        #: Item vectors (n_items × n_factors).
        self.item_factors: FloatArray = math.sqrt(f) * _unit(rng.standard_normal((cfg.n_items, f)))
        #: Item quality bias added to every user's affinity.
        self.item_bias: FloatArray = (0.3 * rng.standard_normal(cfg.n_items)).astype(_F)
        self._item_zipf = _Zipf(cfg.n_items, cfg.popularity_skew, rng)
        #: Exposure probability of each item (sums to 1).
        self.item_popularity = self._item_zipf.probabilities()
        # Tags: each tag has a direction; an item takes the tags nearest to its vector.
        tag_dirs = _unit(rng.standard_normal((cfg.n_tags, f)))
        tag_scores = 10.0 * _unit(self.item_factors) @ tag_dirs.T
        tag_scores += rng.gumbel(size=tag_scores.shape).astype(_F)
        n_tags = rng.integers(1, cfg.max_tags_per_item + 1, size=cfg.n_items)
        order = np.argsort(-tag_scores, axis=1)
        #: Tag indices of each item, best-matching first.
        self.item_tags: list[tuple[int, ...]] = [
            tuple(order[i, : n_tags[i]].tolist()) for i in range(cfg.n_items)
        ]
        self.item_active = rng.random(cfg.n_items) >= cfg.inactive_fraction
        # Authors: a generator of their own, so that a world without them is the one of
        # before (same draws); an item's author, a user's favourite (-1: none)
        self.item_author = np.full(cfg.n_items, -1, np.int64)
        self.user_author = np.full(cfg.n_users, -2, np.int64)
        if cfg.n_authors:
            arng = np.random.default_rng([cfg.seed, 2])
            zipf = _Zipf(cfg.n_authors, 1.0, arng)
            self.item_author = zipf.sample(arng, cfg.n_items)
            self.user_author = zipf.sample(arng, cfg.n_users)
        self._title_words = rng.integers(0, len(_TITLE_ADJ) * len(_TITLE_NOUN), cfg.n_items)
        # Event-type mix and the ids, precomputed once.
        self._mix = np.array([cfg.type_mix.get(t, 0.0) for t in EVENT_TYPES], dtype=np.float64)
        self._user_ids = [f"u{u}" for u in range(cfg.n_users)]
        self._item_ids = [f"i{i}" for i in range(cfg.n_items)]
        #: Affinity that counts as neutral: the mean affinity of an engaged item, roughly.
        self.neutral_affinity = 1.3

    # -- side information --------------------------------------------------
    @property
    def tag_names(self) -> list[str]:
        """Name of each tag index."""
        n = self.config.n_tags
        return [_TAG_WORDS[t] if t < len(_TAG_WORDS) else f"tag{t}" for t in range(n)]

    def items(self) -> list[Item]:
        """The catalog, one :class:`homerec.Item` per item, known from ``start_ts``."""
        names = self.tag_names
        n_noun = len(_TITLE_NOUN)
        ts = self.config.start_ts
        out = []
        for i in range(self.config.n_items):
            w = int(self._title_words[i])
            title = f"The {_TITLE_ADJ[w // n_noun]} {_TITLE_NOUN[w % n_noun]} #{i}"
            tags = tuple(names[t] for t in self.item_tags[i])
            a = int(self.item_author[i])
            author = f"author{a}" if a >= 0 else ""
            out.append(Item(self._item_ids[i], title, tags, bool(self.item_active[i]), ts, author))
        return out

    def profiles(self) -> list[UserProfile]:
        """One :class:`homerec.UserProfile` per user: ``age`` (the youngest of the user's
        age group) and ``location`` (a country)."""
        return [
            UserProfile(
                self._user_ids[u],
                {"age": float(_AGE_GROUPS[a][:2]), "location": _COUNTRIES[c]},
            )
            for u, (a, c) in enumerate(
                zip(self.user_age.tolist(), self.user_country.tolist(), strict=True)
            )
        ]

    def user_id(self, index: int) -> str:
        return self._user_ids[index]

    def item_id(self, index: int) -> str:
        return self._item_ids[index]

    # -- ground truth --------------------------------------------------------
    def tastes(self, users: IntArray, ts: npt.ArrayLike) -> FloatArray:
        """Taste vectors of ``users`` at epoch-ms ``ts`` (broadcast), after drift."""
        theta = self._drift_speed[users] * (np.asarray(ts, dtype=np.float64) - self.config.start_ts)
        cos = np.cos(theta).astype(_F)[..., None]
        sin = np.sin(theta).astype(_F)[..., None]
        out: FloatArray = self.user_factors[users] * cos + self._drift_dir[users] * sin
        return out

    def affinity(self, users: npt.ArrayLike, items: npt.ArrayLike, ts: npt.ArrayLike) -> FloatArray:
        """True affinity of each (user, item) index pair at ``ts``: taste · item + quality.

        >>> gen = SyntheticStream(SyntheticConfig(n_users=3, n_items=4, n_events=0))
        >>> gen.affinity([0, 1], [2, 2], 1_700_000_000_000).shape
        (2,)
        """
        u = np.asarray(users, dtype=np.int64)
        i = np.asarray(items, dtype=np.int64)
        taste = self.tastes(u, ts)
        out: FloatArray = np.einsum("nf,nf->n", taste, self.item_factors[i]) + self.item_bias[i]
        if self.config.n_authors:
            fav = self.item_author[i] == self.user_author[u]
            out = (out + np.float32(self.config.author_boost) * fav).astype(_F)
        return out

    # -- the stream ------------------------------------------------------------
    def batches(self) -> Iterator[EventBatch]:
        """The stream as :class:`EventBatch` chunks (no Python objects per event)."""
        cfg = self.config
        total = cfg.total_events
        clock = 0.0  # ms since start_ts, carried across chunks
        for k, start in enumerate(range(0, total, cfg.chunk_size)):
            size = min(cfg.chunk_size, total - start)
            batch, clock = self._chunk(k, size, clock)
            yield batch

    def _chunk(self, k: int, size: int, clock: float) -> tuple[EventBatch, float]:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 1, k])
        t = clock + np.cumsum(rng.exponential(cfg.mean_gap_ms, size))
        ts = cfg.start_ts + np.floor(t).astype(np.int64)
        users = self._user_zipf.sample(rng, size)
        cand = self._item_zipf.sample(rng, (size, cfg.n_candidates))
        taste = self.tastes(users, ts)  # (size, f)
        aff = np.matmul(self.item_factors[cand], taste[:, :, None])[..., 0] + self.item_bias[cand]
        if cfg.n_authors:  # the favourite author's items are liked more
            fav = self.item_author[cand] == self.user_author[users][:, None]
            aff = (aff + np.float32(cfg.author_boost) * fav).astype(_F)
        gumbel = -np.log(-np.log(rng.random(aff.shape, dtype=np.float32) + _F(1e-12)))
        pick = np.argmax(cfg.affinity_strength * aff + gumbel, axis=1)
        rows = np.arange(size)
        items = cand[rows, pick]
        a = aff[rows, pick].astype(_F)
        # Event type: the mix re-weighted by how much the user likes the item.
        like = 1.0 / (1.0 + np.exp(-2.0 * (a.astype(np.float64) - self.neutral_affinity)))
        w = np.empty((size, len(EVENT_TYPES)), dtype=np.float64)
        w[:] = self._mix
        w[:, 1] *= 2.0 * like  # click
        w[:, 2] *= 4.0 * like * like  # share
        w[:, 4] *= 2.0 * (1.0 - like)  # skip
        cum = np.cumsum(w, axis=1)
        r = rng.random(size) * cum[:, -1]
        types = np.minimum((cum < r[:, None]).sum(axis=1), len(EVENT_TYPES) - 1).astype(np.int8)
        noise = rng.normal(0.0, cfg.rating_noise, size) if cfg.rating_noise else 0.0
        stars = np.clip(np.rint(3.0 + cfg.rating_scale * (a - self.neutral_affinity) + noise), 1, 5)
        values = np.where(types == EVENT_TYPES.index("rating"), stars, np.nan).astype(_F)
        last = float(t[-1]) if size else clock
        return EventBatch(users, items, types, ts, values, a), last

    def events(self, limit: int | None = None) -> Iterator[Event]:
        """The stream as :class:`homerec.Event`, lazily, at most ``limit`` of them."""
        cfg = self.config
        uid, iid = self._user_ids, self._item_ids
        names: tuple[EventType, ...] = EVENT_TYPES
        remaining = cfg.total_events if limit is None else min(limit, cfg.total_events)
        n = 0
        for batch in self.batches():
            if remaining <= 0:
                return
            m = min(remaining, len(batch.ts))
            users = [uid[u] for u in batch.users[:m].tolist()]
            items = [iid[i] for i in batch.items[:m].tolist()]
            types = [names[t] for t in batch.types[:m].tolist()]
            values = [None if v != v else v for v in batch.values[:m].tolist()]  # NaN -> None
            ts = batch.ts[:m].tolist()
            if cfg.event_ids:
                prefix = cfg.id_prefix or f"e{cfg.seed}"
                ids: list[str | None] = [f"{prefix}.{j}" for j in range(n, n + m)]
            else:
                ids = [None] * m
            yield from map(Event, users, items, types, ts, values, ids)
            n += m
            remaining -= m

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def __len__(self) -> int:
        return self.config.total_events

    def dataset(self, *, max_events: int = 2_000_000) -> Dataset:
        """Materialise events, catalog and profiles as a :class:`Dataset` (small streams only)."""
        if self.config.total_events > max_events:
            raise ConfigError(
                f"{self.config.total_events} events is too many to hold in memory "
                f"(max_events={max_events}); iterate the stream instead"
            )
        cfg = self.config
        name = f"synthetic(users={cfg.n_users},items={cfg.n_items},seed={cfg.seed})"
        return Dataset(name, tuple(self.events()), tuple(self.items()), tuple(self.profiles()))


def dataset(config: SyntheticConfig | None = None, *, max_events: int = 2_000_000) -> Dataset:
    """The synthetic stream of ``config`` as an in-memory :class:`Dataset`."""
    return SyntheticStream(config).dataset(max_events=max_events)


def _normalise(weights: object) -> npt.NDArray[np.float64]:
    w = np.asarray(weights, dtype=np.float64)
    out: npt.NDArray[np.float64] = w / w.sum()
    return out


class _Zipf:
    """O(1) sampling of ``n`` indices with Zipf-like weights, in a random order.

    Rank ``r`` (1-based) gets the mass of ``x**-s`` over ``[r, r + 1)``, so a
    draw is ``floor`` of the continuous inverse CDF: no table search.
    """

    def __init__(self, n: int, s: float, rng: np.random.Generator) -> None:
        self.n, self.s = n, s
        self.order = rng.permutation(n)  # rank -> index
        self._total = self._g(float(n + 1))

    def _g(self, x: float | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Integral of t**-s over [1, x]."""
        lx = np.log(x)
        if abs(1.0 - self.s) < 1e-9:
            return np.asarray(lx, dtype=np.float64)
        out: npt.NDArray[np.float64] = np.expm1((1.0 - self.s) * lx) / (1.0 - self.s)
        return out

    def _g_inv(self, y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if abs(1.0 - self.s) < 1e-9:
            return np.exp(y)
        out: npt.NDArray[np.float64] = np.exp(np.log1p((1.0 - self.s) * y) / (1.0 - self.s))
        return out

    def probabilities(self) -> npt.NDArray[np.float64]:
        """Probability of each index (sums to 1)."""
        edges = self._g(np.arange(1, self.n + 2, dtype=np.float64))
        p = np.diff(edges) / self._total
        out = np.empty(self.n, dtype=np.float64)
        out[self.order] = p / p.sum()
        return out

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> IntArray:
        x = self._g_inv(rng.random(size) * self._total)
        rank = np.minimum(x.astype(np.int64), self.n) - 1
        out: IntArray = self.order[np.maximum(rank, 0)]
        return out


def _unit(x: npt.ArrayLike) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    out: FloatArray = (a / np.where(norm == 0, 1.0, norm)).astype(_F)
    return out
