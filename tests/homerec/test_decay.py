from __future__ import annotations

import pytest

from homerec.decay import DecayedCounts
from homerec.errors import ConfigError


def test_half_life_and_rebase() -> None:
    c = DecayedCounts(half_life=1.0)
    c.ensure(1)
    c.add(0, 8.0)
    c.tick(3)
    assert c.values(1)[0] == pytest.approx(1.0)
    c.tick(100)  # forces a rebase; values stay consistent
    c.add(0, 1.0)
    assert c.values(1)[0] == pytest.approx(1.0 + 2.0**-100)


def test_rejects_bad_half_life() -> None:
    with pytest.raises(ConfigError):
        DecayedCounts(0)
