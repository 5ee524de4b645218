from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile
from homerec.simulation import SimulationConfig, World, compare, make_policy, simulate
from homerec.simulation.policies import Policy
from homerec.typing import ItemId, UserId


def _figures(report: object) -> dict[str, object]:
    out = report.as_dict()  # type: ignore[attr-defined]
    out.pop("seconds")
    return out  # type: ignore[no-any-return]


@pytest.mark.parametrize("policy", ["hybrid", "random", "oracle"])
def test_same_seed_same_report(policy: str, small_config: Callable[..., SimulationConfig]) -> None:
    cfg = small_config(n_sessions=300)
    assert _figures(simulate(policy, cfg)) == _figures(simulate(policy, cfg))
    assert _figures(simulate(policy, cfg)) != _figures(
        simulate(policy, small_config(n_sessions=300, seed=1))
    )


def test_oracle_beats_random_by_far(small_config: Callable[..., SimulationConfig]) -> None:
    main, others = compare("oracle", small_config(), baselines=("random",))
    assert main.ctr_last_quarter > 2.5 * others["random"].ctr_last_quarter
    assert main.relative_last_quarter["random"] > 2.5
    assert others["random"].coverage > 0.95  # random shows nearly everything


class _Spy:
    """Records every page of the wrapped policy and the catalog's state at that moment."""

    def __init__(self, inner: Policy, world: World) -> None:
        self.inner, self.world, self.name = inner, world, inner.name
        self.inactive_pages = 0
        self.retired_seen = 0

    def recommend(self, users: Sequence[UserId], k: int) -> list[list[ItemId]]:
        pages = self.inner.recommend(users, k)
        w = self.world
        self.retired_seen = int((~w.active[: w.n_known]).sum())
        self.inactive_pages += sum(
            any(not w.active[w.item_index[i]] for i in page) for page in pages
        )
        return pages

    def learn(self, events: Sequence[Event]) -> None:
        self.inner.learn(events)

    def update_item(self, item: Item) -> None:
        self.inner.update_item(item)

    def update_user(self, profile: UserProfile) -> None:
        self.inner.update_user(profile)


@pytest.mark.parametrize("policy", ["oracle", "popularity"])
def test_retired_items_never_shown(
    policy: str, small_config: Callable[..., SimulationConfig]
) -> None:
    spies: list[_Spy] = []

    def make(name: str, world: World) -> Policy:
        spies.append(_Spy(make_policy(name, world), world))
        return spies[-1]

    report = simulate(policy, small_config(churn_retire=30), make=make)
    assert spies[0].retired_seen > 0  # items were retired...
    assert spies[0].inactive_pages == 0 and report.inactive_shown == 0  # ...and never shown


class _Stubborn:
    """Shows the same first items forever, retired or not (to test the counter)."""

    name = "stubborn"

    def __init__(self, world: World) -> None:
        self.world = world

    def recommend(self, users: Sequence[UserId], k: int) -> list[list[ItemId]]:
        return [self.world.item_ids[:k] for _ in users]

    def learn(self, events: Sequence[Event]) -> None:
        pass

    def update_item(self, item: Item) -> None:
        pass

    def update_user(self, profile: UserProfile) -> None:
        pass


def test_inactive_counter_counts(small_config: Callable[..., SimulationConfig]) -> None:
    cfg = small_config(n_items=12, n_sessions=40, batch=10, k=10, schedule=((20, 0, 11),))
    world_seen: list[World] = []

    def make(name: str, world: World) -> Policy:
        world_seen.append(world)
        return _Stubborn(world)

    report = simulate("stubborn", cfg, make=make)
    retired_in_page = int((~world_seen[0].active[:10]).sum())
    assert retired_in_page >= 9
    assert report.inactive_shown == 20 * retired_in_page  # 20 sessions after the retirement


def test_new_items_on_a_hand_made_schedule(small_config: Callable[..., SimulationConfig]) -> None:
    cfg = small_config(n_sessions=400, schedule=((100, 5, 0), (390, 4, 0)))
    report = simulate("random", cfg)
    assert report.new_items == 9
    # random pages show 10 of ~120 items: the first five are shown within the run, the
    # last four (10 sessions before the end) at most partly
    assert 0 < report.new_never_shown <= 4 / 9
    assert report.new_first_median is not None and report.new_first_median < 100
    early = simulate("oracle", small_config(n_sessions=400, schedule=((399, 3, 0),)))
    assert early.new_items == 3


def test_short_pages_counted_when_candidates_remain(
    small_config: Callable[..., SimulationConfig],
) -> None:
    class _Short(_Stubborn):
        def recommend(self, users: Sequence[UserId], k: int) -> list[list[ItemId]]:
            return [self.world.item_ids[: k - 1] for _ in users]

    report = simulate("short", small_config(n_sessions=50, batch=10, churn_every=0),
                      make=lambda name, world: _Short(world))  # fmt: skip
    assert report.short_pages == report.pages == 50
    assert report.short_page_share == 1.0


def test_report_json_round_trip(small_config: Callable[..., SimulationConfig]) -> None:
    import json

    main, others = compare("popularity", small_config(n_sessions=200), baselines=("random",))
    data = json.loads(main.to_json())
    assert data["policy"] == "popularity" and data["sessions"] == 200
    assert set(data["relative_last_quarter"]) == {"random"}
    assert len(data["windows"]) == 6 and data["windows"][-1]["sessions"] == 200
    assert data["config"]["n_users"] == 60
