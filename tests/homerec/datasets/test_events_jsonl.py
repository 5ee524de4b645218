from __future__ import annotations

import json
from pathlib import Path

import pytest

from homerec.datasets.events_jsonl import load_events_jsonl
from homerec.errors import InvalidEvent


def test_directory_with_catalog_and_profiles(tmp_path: Path) -> None:
    ev = [
        {"user": "u", "item": "b", "type": "click", "ts": 1_700_000_000_001},
        {"user": "u", "item": "a", "type": "rating", "value": 5, "ts": 1_700_000_000_000},
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in ev) + "\n\n")
    (tmp_path / "items.jsonl").write_text(json.dumps({"item": "a", "tags": ["x"]}) + "\n")
    (tmp_path / "profiles.jsonl").write_text(json.dumps({"user": "u", "features": {"age": 30}}))
    ds = load_events_jsonl(tmp_path)
    assert [e.item for e in ds.events] == ["a", "b"]
    assert ds.items[0].tags == ("x",) and ds.profiles[0].features == {"age": 30}


def test_bad_line_names_its_number(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text('{"user": "u", "item": "a", "type": "click", "ts": 1700000000000}\n{"user": 1}\n')
    with pytest.raises(InvalidEvent, match="e.jsonl:2"):
        load_events_jsonl(f)
    f.write_text("not json\n")
    with pytest.raises(InvalidEvent, match="bad_json"):
        load_events_jsonl(f)
