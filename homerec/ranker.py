"""The online ranker: a linear scorer trained by sampled softmax, stepped by River's Adam.

The weights are one contiguous numpy vector; the gradient of the listwise loss
``-log softmax(x·w)[0]`` (row 0 is the positive, the others sampled negatives)
is handed to :class:`river.optim.Adam`, whose vector path updates the numpy
weights in place — River's optimizer without per-feature dict overhead.

>>> import numpy as np
>>> r = OnlineRanker(2, lr=0.1)
>>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> for _ in range(20):
...     r.learn_softmax(x)
>>> bool(r.w[0] > r.w[1])
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from river import optim

__all__ = ["OnlineRanker"]

#: the weights, features and gradients: float64 (Adam's moments are accumulated in it)
_Vector = npt.NDArray[np.float64]


class OnlineRanker:
    """``score(x) = x·w + bias``; ``learn_softmax`` lifts row 0 above the other rows."""

    def __init__(self, n_features: int, *, lr: float = 0.01, init: _Vector | None = None) -> None:
        self.n_features = n_features
        self.lr = lr
        self.w: _Vector = np.zeros(n_features) if init is None else np.array(init, np.float64)
        self.bias = 0.0  # a shared bias does not change a ranking; kept for σ(·) calibration
        self._opt = optim.Adam(lr=lr)

    def scores(self, x: _Vector) -> _Vector:
        out: _Vector = x @ self.w + self.bias
        return out

    def learn_softmax(self, x: _Vector, weight: float = 1.0) -> None:
        """One step on ``-log softmax(x·w)[0]``, scaled by ``weight``."""
        s = x @ self.w
        s -= s.max()
        p = np.exp(s)
        p /= p.sum()
        p[0] -= 1.0
        self.step(weight * (p @ x))

    @property
    def beta_1(self) -> float:
        """Adam's decay of the first moment per step."""
        return float(self._opt.beta_1)

    @property
    def beta_2(self) -> float:
        """Adam's decay of the second moment per step."""
        return float(self._opt.beta_2)

    @property
    def steps(self) -> int:
        """Optimizer steps taken so far."""
        return int(self._opt.n_iterations)

    def step(self, grad: _Vector) -> None:
        """One optimizer step with a precomputed loss gradient (River's Adam, vector path)."""
        self._opt.step(self.w, grad)

    def moments(self) -> tuple[_Vector, _Vector, int]:
        """Adam's first and second moments (copies; zeros before the first step) and steps."""
        if self._opt.m is None:
            zero = np.zeros_like(self.w)
            return zero, zero.copy(), self.steps
        return np.array(self._opt.m, np.float64), np.array(self._opt.v, np.float64), self.steps

    def merge_moments(self, v: _Vector, steps: int) -> None:
        """Fold another replica's ``steps`` Adam steps into the second moment and the step
        count: the own ``v`` decays as if those steps had been taken here, then gains
        their contribution ``v`` (what they added to the other replica's). The first
        moment stays this replica's own: its steps already moved the other replicas'
        weights, and a momentum that carried them too would step along them again."""
        if steps <= 0:
            return
        own_m, own_v, _ = self.moments()
        self._opt.m = own_m
        self._opt.v = own_v * self.beta_2**steps + v
        self._opt.n_iterations += steps

    def insert_features(self, at: int, count: int = 1) -> None:
        """Make room for ``count`` new features before feature ``at``: zero weights and zero
        Adam moments (a state saved before the features existed)."""
        self.w = np.insert(self.w, at, np.zeros(count))
        if self._opt.m is not None:
            self._opt.m = np.insert(np.asarray(self._opt.m, np.float64), at, np.zeros(count))
            self._opt.v = np.insert(np.asarray(self._opt.v, np.float64), at, np.zeros(count))
        self.n_features += count

    def state(self) -> dict[str, Any]:
        return {
            "n_features": self.n_features,
            "lr": self.lr,
            "w": self.w.copy(),
            "bias": self.bias,
            "adam_m": None if self._opt.m is None else np.asarray(self._opt.m).copy(),
            "adam_v": None if self._opt.v is None else np.asarray(self._opt.v).copy(),
            "adam_t": int(self._opt.n_iterations),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OnlineRanker:
        r = cls(int(state["n_features"]), lr=float(state["lr"]), init=np.asarray(state["w"]))
        r.bias = float(state["bias"])
        if state["adam_m"] is not None:
            r._opt.m = np.array(state["adam_m"], np.float64)
            r._opt.v = np.array(state["adam_v"], np.float64)
        r._opt.n_iterations = int(state["adam_t"])
        return r
