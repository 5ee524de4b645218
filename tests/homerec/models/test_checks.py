"""The shared check suite over every registered model."""

from __future__ import annotations

import pytest

from homerec.checks import yield_checks
from homerec.models import MODELS, make_model

SMALL = {"hybrid": {"n_factors": 8}, "river-biasedmf": {"n_factors": 4, "lr": 0.1}}


def _cases() -> list[tuple[str, str]]:
    out = []
    for name in MODELS:
        for check in yield_checks(make_model(name, **SMALL.get(name, {}))):
            out.append((name, check.__name__))
    return out


@pytest.mark.parametrize(("name", "check_name"), _cases())
def test_check(name: str, check_name: str) -> None:
    model = make_model(name, **SMALL.get(name, {}))
    for check in yield_checks(model):
        if check.__name__ == check_name:
            check(make_model(name, **SMALL.get(name, {})))
