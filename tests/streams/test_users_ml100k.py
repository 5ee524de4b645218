"""MovieLens 100K through the topics, profiles included: the figures of ``homerec eval``.

The catalog and ``u.user`` are produced to ``<prefix>.items`` and ``<prefix>.users``
as ``homerec replay`` sends them, the ratings to ``<prefix>.events``; the worker's own
parts read them back (:class:`~streams.worker.catalog.Catalog`,
:class:`~streams.worker.users.Users`) into the model, and the prequential protocol
runs over the events decoded from the topic. One partition keeps the profiles in
``u.user`` order (user rows, and so the random initial embeddings, follow it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from homerec.datasets.base import Dataset
from homerec.datasets.movielens import load_ml100k
from homerec.evaluation.prequential import evaluate
from homerec.limits import Limits
from homerec.models import make_model
from homerec.profiles import ProfileSchema
from streams.codec import decode_event
from streams.commands.replay import Source, make_producer, replay
from streams.config import Settings
from streams.topics import create_topics, delete_topics
from streams.worker.catalog import Catalog
from streams.worker.users import Users
from tests.streams.fixtures import read_all

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ML100K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k"


@pytest.mark.skipif(not (ML100K / "u.data").is_file(), reason="no ../shared ML-100K")
def test_ml100k_through_the_topics_gives_evals_figures(bootstrap: str, topic_prefix: str) -> None:
    settings = Settings(bootstrap=bootstrap, topic_prefix=topic_prefix)
    create_topics(settings, partitions=1)
    try:
        ds = load_ml100k(ML100K)
        producer = make_producer(settings, None)
        try:
            source = Source(ds.name, ds.items, ds.events, len(ds.events), ds.profiles)
            sent = replay(settings, source, producer=producer)
        finally:
            producer.close(timeout=10)
        assert (sent.items, sent.profiles, sent.events, sent.failed) == (1682, 943, 100_000, 0)
        offline = evaluate(make_model("hybrid"), ds, 10)

        model = make_model("hybrid")
        catalog = Catalog(settings, settings.topic("items"), limits=Limits())
        users = Users(
            settings,
            settings.topic("users"),
            limits=Limits(),
            schema=ProfileSchema(),
            forgotten={},
        )
        catalog.open()
        users.open()
        try:
            catalog.reload(model)
            assert users.restore(model, [0], [0]) == 943
        finally:
            catalog.close()
            users.close()
        events = [decode_event(r.key, r.value) for r in read_all(settings, "events", 120.0)]
        streamed = evaluate(model, Dataset("ml-100k via Kafka", events), 10)
    finally:
        delete_topics([settings])
    assert streamed.cold_user_hr == offline.cold_user_hr
    assert streamed.hr == offline.hr
    assert round(streamed.cold_user_hr, 5) == 0.39351
