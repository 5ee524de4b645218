from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.cli import main

TINY = ["simulate", "--users", "40", "--items", "60", "--sessions", "200", "--batch", "20",
        "--no-progress"]  # fmt: skip


def test_simulate_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "sim.png"
    assert main([*TINY, "--policy", "hybrid", "--json", "--plot", str(png)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["policy"] == "hybrid" and summary["sessions"] == 200
    assert set(summary["baselines"]) == {"popularity", "random", "oracle"}
    assert set(summary["relative_last_quarter"]) == {"popularity", "random", "oracle"}
    assert summary["inactive_shown"] == 0
    assert summary["config"]["n_users"] == 40 and summary["config"]["batch"] == 20
    assert any(line.startswith("oracle ") for line in out)  # the text table
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_without_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TINY, "--policy", "random", "--no-baselines", "--json", "--seed", "3"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["policy"] == "random" and summary["seed"] == 3
    assert summary["baselines"] == {} and summary["relative_last_quarter"] == {}


def test_simulate_hiding_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """The simulated users never act on an item again: one that comes back is a lost slot."""
    argv = [*TINY, "--policy", "popularity", "--no-baselines", "--json"]
    assert main([*argv, "--sessions", "400"]) == 0
    once = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert once["hiding"].endswith("skip=forever")
    assert main([*argv, "--sessions", "400", "--hiding", "click=1,skip=1"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["hiding"] == "view=forever,click=1,share=forever,rating=forever,skip=1"
    assert again["clicks"] < once["clicks"]


def test_simulate_bad_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TINY, "--k", "0"]) == 2
    assert "k must be a positive integer" in capsys.readouterr().err


def test_simulate_plot_without_matplotlib_fails_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert main([*TINY, "--plot", str(tmp_path / "x.png")]) == 2
    captured = capsys.readouterr()
    assert "--plot needs matplotlib" in captured.err
    assert captured.out == ""  # nothing was simulated
