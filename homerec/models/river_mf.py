"""Baseline: River's ``reco.BiasedMF`` trained on ratings, ranked by predicted rating.

River learns from ``(user, item, rating)``; a numpy mirror of the learned
biases and latent vectors (updated for the one user and one item that each
event touches) lets one vectorised product rank every item. Events that are
not ratings are mapped onto the rating scale through their feedback weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from river import optim, reco

from homerec.events import Event
from homerec.feedback import FeedbackWeights
from homerec.hiding import HidingRules
from homerec.models.indexed import Candidates, IndexedRecommender
from homerec.models.storage import grow
from homerec.typing import FloatArray, IntArray, ItemId, UserId

__all__ = ["RiverBiasedMF"]


class RiverBiasedMF(IndexedRecommender):
    """River ``BiasedMF`` (SGD on squared error) as a ranking baseline.

    >>> from homerec.events import Event
    >>> m = RiverBiasedMF(n_factors=2)
    >>> m.learn_many([Event("u1", "a", "rating", 10**12, 5.0), Event("u2", "b", "rating", 10**12, 1.0)])
    >>> [i for i, _ in m.recommend("u3", 2)]
    ['a', 'b']
    """

    name = "river-biasedmf"

    def __init__(
        self,
        *,
        n_factors: int = 10,
        lr: float = 0.01,
        l2: float = 0.02,
        candidates: Candidates = "seen",
        max_tag_share: float | None = None,
        feedback: FeedbackWeights | None = None,
        explore: float = 0.0,
        hiding: HidingRules | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            candidates=candidates, max_tag_share=max_tag_share, feedback=feedback,
            explore=explore, hiding=hiding, seed=seed,
        )  # fmt: skip
        self.n_factors = n_factors
        self.lr = lr
        self.l2 = l2
        self._mf = self._new_mf()
        self._P = np.zeros((0, n_factors), np.float64)
        self._Q = np.zeros((0, n_factors), np.float64)
        self._bu = np.zeros(0, np.float64)
        self._bi = np.zeros(0, np.float64)

    def _new_mf(self) -> Any:
        return reco.BiasedMF(
            n_factors=self.n_factors,
            bias_optimizer=optim.SGD(self.lr),
            latent_optimizer=optim.SGD(self.lr),
            l2_bias=self.l2,
            l2_latent=self.l2,
            latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=self.seed),
            seed=self.seed,
        )

    def _grow_users(self, capacity: int) -> None:
        self._P = grow(self._P, capacity)
        self._bu = grow(self._bu, capacity)

    def forget_users(self, users: Iterable[UserId]) -> list[UserId]:
        forgotten = super().forget_users(users)
        for user in forgotten:  # River's own per-user tables
            self._mf.u_latents.pop(user, None)
            self._mf.u_biases.pop(user, None)
        return forgotten

    def _forget_rows(self, rows: IntArray) -> None:
        self._P = np.delete(self._P, rows, axis=0)
        self._bu = np.delete(self._bu, rows, axis=0)

    def _grow_items(self, capacity: int) -> None:
        self._Q = grow(self._Q, capacity)
        self._bi = grow(self._bi, capacity)

    def _rating(self, event: Event, weight: float) -> float:
        if event.type == "rating" and event.value is not None:
            return event.value
        fw = self._fw
        return fw.rating_neutral + weight * (fw.rating_max - fw.rating_neutral)

    def _learn(self, u: int, i: int, weight: float, event: Event) -> None:
        mf = self._mf
        mf.learn_one(event.user, event.item, self._rating(event, weight))
        self._P[u] = mf.u_latents[event.user]
        self._Q[i] = mf.i_latents[event.item]
        self._bu[u] = mf.u_biases[event.user]
        self._bi[i] = mf.i_biases[event.item]

    def predict_one(self, user: UserId, item: ItemId) -> float | None:
        u, i = self._users.get(user), self._items.get(item)
        mean = float(self._mf.global_mean.get())
        if u is None or i is None or not self._item_seen[i] or not self._user_events[u]:
            return mean + (0.0 if i is None else float(self._bi[i]))
        return mean + float(self._bu[u] + self._bi[i] + self._P[u] @ self._Q[i])

    def _score(self, rows: IntArray) -> FloatArray:
        n = len(self._items)
        known = rows >= 0
        P = self._P[np.where(known, rows, 0)] * known[:, None]
        out: FloatArray = (P @ self._Q[:n].T + self._bi[:n][None, :]).astype(np.float32)
        return out

    def _extra_state(self, n_users: int, n_items: int) -> dict[str, Any]:
        mean = self._mf.global_mean
        rng_state = self._mf.latent_initializer._rng.get_state()
        return {
            "P": self._P[:n_users].copy(),
            "Q": self._Q[:n_items].copy(),
            "bu": self._bu[:n_users].copy(),
            "bi": self._bi[:n_items].copy(),
            "mean_n": float(mean.n),
            "mean": float(mean.get()),
            "init_rng": [rng_state[0], np.asarray(rng_state[1]), *map(float, rng_state[2:])],
        }

    def _load_extra_state(self, state: Mapping[str, Any], n_users: int, n_items: int) -> None:
        d = self.n_factors
        self._P = np.array(state["P"], np.float64).reshape(n_users, d)
        self._Q = np.array(state["Q"], np.float64).reshape(n_items, d)
        self._bu = np.array(state["bu"], np.float64)
        self._bi = np.array(state["bi"], np.float64)
        mf = self._new_mf()
        mf.global_mean.n = float(state["mean_n"])
        mf.global_mean._mean = float(state["mean"])
        users, items = self._users.ids, self._items.ids
        for u in range(n_users):
            if self._user_events[u]:
                mf.u_latents[users[u]] = self._P[u].copy()
                mf.u_biases[users[u]] = float(self._bu[u])
        for i in range(n_items):
            if self._item_seen[i]:
                mf.i_latents[items[i]] = self._Q[i].copy()
                mf.i_biases[items[i]] = float(self._bi[i])
        name, keys, pos, has_gauss, cached = state["init_rng"]
        mf.latent_initializer._rng.set_state(
            (name, np.asarray(keys, np.uint32), int(pos), int(has_gauss), float(cached))
        )
        self._mf = mf

    def _extra_user_state(self, u: int) -> dict[str, Any]:
        return {"embedding": self._P[u].copy(), "bias": float(self._bu[u])}

    def _load_extra_user_state(self, u: int, state: Mapping[str, Any]) -> None:
        self._P[u] = np.asarray(state["embedding"], np.float64)
        self._bu[u] = float(state["bias"])
        user = self._users.id(u)
        self._mf.u_latents[user] = self._P[u].copy()
        self._mf.u_biases[user] = float(self._bu[u])

    def _extra_item_state(self, i: int) -> dict[str, Any]:
        return {"embedding": self._Q[i].copy(), "bias": float(self._bi[i])}

    def _load_extra_item_state(self, i: int, state: Mapping[str, Any]) -> None:
        self._Q[i] = np.asarray(state["embedding"], np.float64)
        self._bi[i] = float(state["bias"])
        item = self._items.id(i)
        self._mf.i_latents[item] = self._Q[i].copy()
        self._mf.i_biases[item] = float(self._bi[i])
