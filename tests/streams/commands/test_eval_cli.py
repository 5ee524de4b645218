"""``homerec eval`` says where MovieLens comes from: in --help and when the path is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

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
