"""Factory fixtures of the hybrid's tests."""

from __future__ import annotations

import pytest

from tests.homerec.models.hybrid.fixtures import Trained, train


@pytest.fixture
def trained() -> Trained:
    """:func:`~tests.homerec.models.hybrid.fixtures.train` (call it with the sizes and
    hyperparameters wanted)."""
    return train
