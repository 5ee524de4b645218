"""``homerec eval``: where MovieLens comes from (--help, a missing path) and the protocols'
command line (--protocol, --train-share, --no-profiles, --json) on a tiny events-jsonl file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from homerec.hiding import HidingRules
from streams.cli import build_parser, main


def test_help_says_where_movielens_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "grouplens.org" in text and "ml-100k.zip" in text


@pytest.mark.parametrize(("fmt", "file"), [("ml-100k", "u.data"), ("movielens-csv", "ratings.csv")])
def test_a_missing_dataset_names_the_file_and_where_to_get_it(
    fmt: str, file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ml-100k"
    assert main(["eval", "--data", str(missing), "--format", fmt, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"homerec eval: error: missing data file {missing / file}")
    assert f"no such directory {missing}" in err
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in err


def test_k_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--data", "x", "--k", "0"])
    assert "argument --k: must be a positive integer, got 0" in capsys.readouterr().err


T0 = 1_700_000_000_000


def _tiny(tmp_path: Path) -> Path:
    """10 ratings (8 learned at --train-share 0.8) and two profiles, in events-jsonl."""
    rows = [("u1", "a", 5), ("u2", "a", 4), ("u2", "b", 2), ("u3", "c", 5), ("u1", "b", 3),
            ("u3", "a", 5), ("u4", "a", 1), ("u1", "c", 4),
            ("u5", "a", 5),  # cold, hit for popularity (a is the most frequent)
            ("u2", "c", 5)]  # warm, c is u2's only candidate left: a hit  # fmt: skip
    events = [
        json.dumps({"user": u, "item": i, "type": "rating", "ts": T0 + n, "value": v})
        for n, (u, i, v) in enumerate(rows)
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(events) + "\n")
    profiles = [{"user": "u5", "features": {"gender": "F"}}, {"user": "u1", "features": {}}]
    (tmp_path / "profiles.jsonl").write_text("\n".join(json.dumps(p) for p in profiles))
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return out


def test_split_protocol_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _tiny(tmp_path)
    argv = ["eval", "--data", str(data), "--format", "events-jsonl", "--protocol", "split",
            "--model", "popularity", "--k", "1", "--json", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summary = _json(capsys)
    assert summary["protocol"] == "split" and summary["model"] == "popularity"
    assert (summary["train_events"], summary["test_events"], summary["profiles"]) == (8, 2, 2)
    assert summary["train_share"] == 0.8 and summary["k"] == 1
    assert summary["cold"] == {"users": 1, "hits": 1, "hr": 1.0, "ndcg": 1.0,
                               "relevant_items": 1, "coverage": round(1 / 3, 5)}  # fmt: skip
    assert summary["warm"]["users"] == 1 and summary["warm"]["hr"] == 1.0
    assert "baselines" not in summary
    assert main([*argv, "--no-profiles"]) == 0
    assert _json(capsys)["profiles"] == 0


def test_split_protocol_baselines_and_train_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _tiny(tmp_path)
    argv = ["eval", "--data", str(data), "--format", "events-jsonl", "--protocol", "split",
            "--train-share", "0.5", "--baselines", "--json", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summary = _json(capsys)
    assert summary["model"] == "hybrid" and summary["train_events"] == 5
    assert set(summary["baselines"]) == {"popularity", "river-biasedmf", "itemknn"}
    assert all(b["protocol"] == "split" for b in summary["baselines"].values())


def test_prequential_stays_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _tiny(tmp_path)
    argv = ["eval", "--data", str(data), "--format", "events-jsonl", "--model", "popularity",
            "--json", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    summary = _json(capsys)
    assert summary["protocol"] == "prequential" and summary["events"] == 10
    assert "hr" in summary and "cold" not in summary


@pytest.mark.parametrize("share", ["0", "1", "1.5", "nan"])
def test_train_share_must_leave_a_test_part(share: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--data", "x", "--protocol", "split",
                                   "--train-share", share])  # fmt: skip
    assert "argument --train-share" in capsys.readouterr().err


def test_plot_is_for_the_prequential_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _tiny(tmp_path)
    argv = ["eval", "--data", str(data), "--format", "events-jsonl", "--protocol", "split",
            "--plot", str(tmp_path / "x.png"), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    assert "--plot" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_workers_in_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _tiny(tmp_path)
    argv = ["eval", "--data", str(data), "--format", "events-jsonl", "--json", "--no-progress"]
    assert main(argv) == 0
    one = _json(capsys)
    assert (one["workers"], one["exchange_lag"], one["shared"]) == (1, None, None)
    assert main([*argv, "--workers", "3", "--exchange-lag", "2"]) == 0
    three = _json(capsys)
    assert (three["workers"], three["exchange_lag"], three["shared"]) == (3, 2, True)
    assert three["exchange"]["deltas"] == 3 * (10 // 2)
    assert three["test_cases"] == one["test_cases"]
    assert main([*argv, "--workers", "3", "--no-share"]) == 0
    alone = _json(capsys)
    assert alone["shared"] is False and "exchange" not in alone


def test_hiding_rules_in_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _tiny(tmp_path)
    argv = ["eval", "--data", str(data), "--format", "events-jsonl", "--json", "--no-progress",
            "--model", "popularity", "--k", "1"]  # fmt: skip
    assert main(argv) == 0
    once = _json(capsys)
    assert once["hiding"] == HidingRules().spec()
    # ratings hide nothing: u1 and u2 are offered "a" again, which they already rated
    assert main([*argv, "--hiding", "rating=0"]) == 0
    again = _json(capsys)
    assert again["hiding"].endswith("rating=0,skip=forever")
    assert again["hr"] < once["hr"]


def test_workers_are_for_the_prequential_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--data", str(_tiny(tmp_path)), "--format", "events-jsonl",
            "--protocol", "split", "--workers", "2", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    assert "prequential" in capsys.readouterr().err
