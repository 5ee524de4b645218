from __future__ import annotations

from homerec.datasets.base import Dataset
from homerec.evaluation.prequential import evaluate
from homerec.events import Event
from homerec.models import make_model

T0 = 1_700_000_000_000


def test_protocol_counts_and_cold_cases() -> None:
    ev = [
        Event("u1", "a", "rating", T0, 5.0),  # item unseen: not a test case
        Event("u2", "a", "rating", T0 + 1, 5.0),  # hit at rank 0
        Event("u2", "b", "rating", T0 + 2, 2.0),  # not positive
        Event("u3", "b", "rating", T0 + 3, 4.0),  # candidates a, b: a first (2 events)
    ]
    r = evaluate(make_model("popularity"), Dataset("t", ev), k=1)
    assert r.test_cases == 2 and r.hits == 1
    assert r.cold_user_cases == 2 and r.cold_item_cases == 2
    assert r.events == 4 and 0 < r.coverage <= 1
    d = r.as_dict()
    assert {
        "hr",
        "ndcg",
        "coverage",
        "events",
        "events_per_s",
        "model",
        "cold_user_hr",
        "cold_item_hr",
    } <= set(d)


def test_rating_models_report_mae() -> None:
    ev = [Event(f"u{n % 3}", f"i{n % 4}", "rating", T0 + n, float(1 + n % 5)) for n in range(40)]
    r = evaluate(make_model("river-biasedmf"), Dataset("t", ev), k=2, curve_every=10)
    assert r.mae is not None and r.rmse is not None and r.rmse >= r.mae
    assert len(r.curve) == 4
