"""The ML-100K benchmark as one slow test (deselect with ``-m 'not slow'``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from homerec.datasets.movielens import load_ml100k
from homerec.evaluation.prequential import evaluate
from homerec.models import make_model

DATA = Path(
    os.environ.get(
        "HOMEREC_ML100K", Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "ml-100k"
    )
)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not (DATA / "u.data").is_file(), reason=f"ML-100K not found at {DATA}")
def test_hybrid_beats_popularity_on_ml100k() -> None:
    ds = load_ml100k(DATA)
    hybrid = evaluate(make_model("hybrid"), ds, 10)
    pop = evaluate(make_model("popularity"), ds, 10)
    print(f"\nhybrid {hybrid.as_dict()}\npopularity {pop.as_dict()}")
    assert hybrid.hr >= 0.22
    assert hybrid.ndcg > pop.ndcg and hybrid.hr > pop.hr
    assert hybrid.cold_user_hr > pop.cold_user_hr and hybrid.cold_item_hr > pop.cold_item_hr
