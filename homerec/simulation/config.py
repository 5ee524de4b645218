"""The shape of a simulated world and of the run over it: one frozen, validated object.

>>> SimulationConfig(n_sessions=100, batch=50).churn_sessions()
()
>>> SimulationConfig(n_sessions=5000).churn_sessions()
((2000, 20, 15), (4000, 20, 15))
>>> SimulationConfig(k=0)
Traceback (most recent call last):
...
homerec.errors.ConfigError: k must be a positive integer, got 0
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from homerec.errors import ConfigError

__all__ = ["ChurnStep", "SimulationConfig"]

#: One catalog change: ``(session, items added, items retired)``, applied before ``session``.
ChurnStep = tuple[int, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    """The world (users, items, tastes, clicks) and the run (sessions, page size, batching).

    Defaults are the issue's setting: 2,000 users, 1,000 items growing by 20 and losing
    15 every 2,000 sessions, pages of 10, the policy learning every 50 sessions.
    """

    n_users: int = 2_000
    n_items: int = 1_000
    n_sessions: int = 40_000
    #: Items on a page.
    k: int = 10
    #: Sessions between two learning steps of the policy (the worker's batching).
    batch: int = 50
    seed: int = 0
    n_factors: int = 16
    n_tags: int = 30
    max_tags_per_item: int = 3
    #: Standard deviation of the taste term ``user·item`` of the relevance logit.
    affinity_scale: float = 2.0
    #: Standard deviation of an item's appeal to everyone (its quality).
    quality_scale: float = 1.5
    #: Constant of the relevance logit: ``relevance = sigmoid(user·item + quality + bias)``.
    bias: float = -3.0
    #: Zipf exponent of user activity (0: every user equally likely to visit).
    activity_skew: float = 0.5
    #: Weight of the age-group and occupation centroids in a taste (the rest is the user's own).
    profile_signal: float = 0.5
    #: Radians by which a user's taste rotates per 10,000 sessions (±50 % per user).
    drift_rate: float = 0.25
    #: Sessions between catalog changes (0: a fixed catalog).
    churn_every: int = 2_000
    churn_add: int = 20
    churn_retire: int = 15
    #: A hand-made catalog schedule instead of the regular one (``churn_*`` are then ignored).
    schedule: tuple[ChurnStep, ...] | None = None
    #: Examination probability of page position ``p`` (0-based) is ``1 / (1 + p) ** eta``.
    examination_eta: float = 1.0
    #: After a click: probability of a share, and of a rating.
    share_prob: float = 0.1
    rating_prob: float = 0.2
    rating_noise: float = 0.5
    #: Probability that an examined item not clicked is skipped explicitly.
    skip_prob: float = 0.3
    #: The front end reports what it showed: an ``impression`` event (``value``: the
    #: position) for every examined position of a page, before that position's click or
    #: skip. Off by default (the world of the issue's figures); it draws no random number.
    impressions: bool = False
    #: Probability per session that the user also finds an item through search (a ``view``).
    organic_rate: float = 0.3
    #: Items a search offers (random, active, not consumed); one is opened ∝ its relevance.
    organic_pool: int = 50
    #: Points of the time series along the run.
    windows: int = 40
    start_ts: int = 1_700_000_000_000
    #: Milliseconds between two sessions on the event clock.
    session_ms: int = 1_000

    def __post_init__(self) -> None:
        for name in ("n_users", "n_items", "n_sessions", "k", "batch", "n_factors", "n_tags",
                     "max_tags_per_item", "organic_pool", "windows", "session_ms"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("churn_every", "churn_add", "churn_retire"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        for name in ("affinity_scale", "quality_scale", "activity_skew", "drift_rate",
                     "examination_eta", "rating_noise"):  # fmt: skip
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value:g}")
        for name in ("profile_signal", "share_prob", "rating_prob", "skip_prob", "organic_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value:g}")
        if not math.isfinite(self.bias):
            raise ConfigError("bias must be finite")
        if self.max_tags_per_item > self.n_tags:
            raise ConfigError("max_tags_per_item must be at most n_tags")
        if self.schedule is not None:
            steps = tuple(tuple(int(v) for v in step) for step in self.schedule)
            for step in steps:
                if len(step) != 3 or step[0] < 1 or step[1] < 0 or step[2] < 0:
                    raise ConfigError(
                        f"a schedule step is (session >= 1, add >= 0, retire >= 0), got {step}"
                    )
            if [s[0] for s in steps] != sorted({s[0] for s in steps}):
                raise ConfigError("schedule sessions must be strictly increasing")
            object.__setattr__(self, "schedule", steps)

    def churn_sessions(self) -> tuple[ChurnStep, ...]:
        """The catalog changes within the run, in order."""
        if self.schedule is not None:
            return tuple(s for s in self.schedule if s[0] < self.n_sessions)
        if not self.churn_every or not (self.churn_add or self.churn_retire):
            return ()
        return tuple(
            (s, self.churn_add, self.churn_retire)
            for s in range(self.churn_every, self.n_sessions, self.churn_every)
        )

    @property
    def last_quarter_start(self) -> int:
        """First session of the run's last quarter."""
        return self.n_sessions - max(1, self.n_sessions // 4)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (the JSON report's ``config``)."""
        out = asdict(self)
        if self.schedule is not None:
            out["schedule"] = [list(s) for s in self.schedule]
        return out
