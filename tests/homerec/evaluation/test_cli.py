from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.cli import main

T0 = 1_700_000_000_000


def _data(tmp_path: Path) -> Path:
    lines = []
    for n in range(300):
        u, i = n % 17, (n * 7) % 23
        lines.append(json.dumps({"user": f"u{u}", "item": f"i{i}", "type": "click", "ts": T0 + n}))
    (tmp_path / "events.jsonl").write_text("\n".join(lines))
    return tmp_path


def test_eval_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data(tmp_path)
    png = tmp_path / "hr.png"
    code = main(
        [
            "eval",
            "--data",
            str(data),
            "--format",
            "events-jsonl",
            "--k",
            "5",
            "--model",
            "itemknn",
            "--json",
            "--plot",
            str(png),
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["model"] == "itemknn" and summary["events"] == 300
    assert set(summary["baselines"]) == {"popularity", "river-biasedmf"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_bad_param(tmp_path: Path) -> None:
    data = _data(tmp_path)
    assert (
        main(
            [
                "eval",
                "--data",
                str(data),
                "--format",
                "events-jsonl",
                "--model",
                "hybrid",
                "--param",
                "nope=1",
                "--no-progress",
            ]
        )
        == 2
    )
