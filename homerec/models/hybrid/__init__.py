"""homerec's default model: an online hybrid of collaborative, sequential, popular and content signals.

Every event updates, in this order (numpy, with the two per-event steps compiled in
:mod:`homerec.kernels`; O(history + sampled items) per event; see
:mod:`~homerec.models.hybrid.learning`):

1. the **online ranker** (:class:`~homerec.ranker.OnlineRanker`): a sampled-softmax
   step that lifts the event's item above up to ``ranker_sample`` candidates, over
   the feature planes below computed with the state *before* the event — the
   same state the item was ranked with;
2. **collaborative embeddings** ``P[u]``, ``Q[i]``, ``b[i]``: a BPR step against
   ``n_negatives`` sampled items (negative feedback pushes ``P[u]·Q[i]`` down);
3. **co-occurrence** of the item with the user's recent history (bounded
   neighbour table, :class:`~homerec.cooccurrence.CooccurrenceTable`);
4. **time-decayed popularity** (two half-lives, on the event clock) and
   per-demographic-group counts.

A score is the ranker's linear form ``w·x + b`` over these planes (:class:`Plane`),
which is the seed's ``σ(W·[e_u; c_i; e_u⊙e_i] + b)`` before the (monotone) sigmoid:

======================  =====================================================
plane                   meaning
======================  =====================================================
``cooc``                Σ_h γ^age(h) C[h, i] / √((n_h + 1)(n_i + 1)): cosine co-occurrence
                        with the recent history h, newest weighing most
``cooc_log``            log1p Σ_h γ^age(h) C[h, i] / √(n_h + 1) (keeps popular neighbours)
``mf``                  P[u]·Q[i] + b[i]
``pop_fast/pop_slow``   log1p of decayed item counts (short / long half-life)
``content``             cosine of the user's recent tag profile and item tags
``demo``                log lift of the item among the user's profile groups
``*_cold``              ``pop_fast``, ``demo``, ``content`` × user coldness
``content_new``         ``content`` × item coldness (new catalog items)
``item_cold``           item coldness ``exp(-count_i / cold_scale)``
``cooc_recent``         ``cooc`` with a short memory (``recent_decay``): the current session
``item_rate``           the item's click rate on the pages shown over the overall rate, shrunk:
                        ``log((c_i + k) / (r·e_i + k))`` (:mod:`~homerec.models.click_rates`)
``e_u⊙e_i`` (d)         per-factor weights of the embedding product
``c_i`` (tags)          per-tag item bias
======================  =====================================================

The parts: :mod:`~homerec.models.hybrid.planes` (the planes by name, shared with the
compiled kernels); the learned tables, user side and item side apart
(:mod:`~homerec.models.hybrid.user_tables`, :mod:`~homerec.models.hybrid.item_tables`,
:mod:`~homerec.models.hybrid.demographics`, :mod:`~homerec.models.hybrid.tables`);
the score (:mod:`~homerec.models.hybrid.scoring`, checked against
:mod:`~homerec.models.hybrid.reference`) and its candidate stage
(:mod:`~homerec.models.hybrid.candidate_stage`); the per-event steps
(:mod:`~homerec.models.hybrid.learning`); and :class:`Hybrid`, which holds the
hyperparameters and calls them (:mod:`~homerec.models.hybrid.model`).

A user with no event yet is ranked by long-horizon popularity tilted towards their
profile groups by a validated share (:mod:`~homerec.models.hybrid.cold_start`), not by
the ranker's item-only terms.

Business rules come from :class:`~homerec.models.indexed.IndexedRecommender`:
consumed items and inactive items are never shown; ``max_tag_share`` caps one
tag's share of a page.

>>> from homerec.events import Event
>>> m = Hybrid(n_factors=4, seed=1)
>>> m.learn_many([Event("u1", "a", "click", 10**12), Event("u1", "b", "click", 10**12),
...               Event("u2", "a", "click", 10**12)])
>>> [item for item, _ in m.recommend("u2", 2)]
['b']
"""

from __future__ import annotations

from homerec.models.hybrid.model import Hybrid
from homerec.models.hybrid.planes import PLANES, Plane

__all__ = ["PLANES", "Hybrid", "Plane"]
