"""Hiding rules: presets, specs and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from homerec.errors import ConfigError
from homerec.hiding import DEFAULT_PRESET, HIDING_TYPES, PRESETS, HidingRules


def test_the_default_hides_every_type_for_good() -> None:
    rules = HidingRules()
    assert PRESETS[DEFAULT_PRESET] == rules
    assert all(rules.events(t) is None for t in HIDING_TYPES)
    assert not rules.temporary


def test_an_impression_never_hides() -> None:
    assert HidingRules().events("impression") == 0
    assert "impression" not in HIDING_TYPES


def test_a_spec_starts_from_a_preset_and_overrides_types() -> None:
    rules = HidingRules.parse("video, skip=forever ,view=7")
    assert rules.view == 7 and rules.skip == "forever"
    assert rules.click == PRESETS["video"].click and rules.share == 0
    assert rules.temporary
    assert HidingRules.parse("skip=0") == HidingRules(skip=0)  # no preset: "once"'s rules
    assert HidingRules.parse("") == HidingRules()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_spec_and_dict_round_trip(name: str) -> None:
    rules = PRESETS[name]
    assert HidingRules.parse(rules.spec()) == rules
    assert HidingRules.from_dict(rules.as_dict()) == rules


def test_the_presets_fit_their_sites() -> None:
    news, video = PRESETS["news"], PRESETS["video"]
    assert news.events("view") is None and news.events("skip") == 30  # read: gone for good
    assert video.events("view") == 200 and video.events("share") == 0  # re-watch later


@pytest.mark.parametrize(
    "spec",
    ["sports", "news,sports", "skip=-1", "skip=1.5", "skip=soon", "impression=forever",
     "skip", "news,skip=2000000"],
)  # fmt: skip
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ConfigError):
        HidingRules.parse(spec)


def test_bad_values_are_refused() -> None:
    with pytest.raises(ConfigError):
        HidingRules(view=True)
    with pytest.raises(ConfigError):
        HidingRules(view="later")  # type: ignore[arg-type]


def test_the_readme_table_shows_the_presets() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = {
        cells[0].strip("` ").removesuffix("` (default)"): cells[1:6]
        for line in readme.splitlines()
        if line.startswith("| `") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    for name, rules in PRESETS.items():
        assert rows[name] == [str(getattr(rules, t)) for t in HIDING_TYPES], name
    assert f"| `{DEFAULT_PRESET}` (default) |" in readme
