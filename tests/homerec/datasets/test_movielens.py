from __future__ import annotations

from pathlib import Path

import pytest

from homerec.datasets.loaders import load_dataset
from homerec.errors import ConfigError


def _ml100k(d: Path) -> Path:
    (d / "u.data").write_text("1\t10\t5\t881250949\n2\t20\t1\t881250940\n1\t20\t4\t881250949\n")
    genres = "|".join(["0"] * 19)
    (d / "u.item").write_text(
        f"10|Heat (1995)|01-Jan-1995||url|0|1|{'|'.join(['0'] * 17)}\n20|Babe (1995)|x||u|{genres}\n",
        encoding="latin-1",
    )
    (d / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    return d


def test_ml100k_sorted_stable_with_catalog_and_profiles(tmp_path: Path) -> None:
    ds = load_dataset(_ml100k(tmp_path), "ml-100k")
    assert [(e.user, e.item, e.value) for e in ds.events] == [
        ("2", "20", 1.0),
        ("1", "10", 5.0),
        ("1", "20", 4.0),
    ]
    assert ds.events[1].ts == 881250949000
    assert ds.items[0].tags == ("Action",) and ds.items[1].tags == ()
    assert ds.profiles[0].features["occupation"] == "technician"


def test_movielens_csv(tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,5,3.5,100000000\n")
    (tmp_path / "movies.csv").write_text('movieId,title,genres\n5,"A, B (1990)",Drama|War\n')
    ds = load_dataset(tmp_path, "movielens-csv")
    assert ds.events[0].value == 3.5 and ds.items[0].tags == ("Drama", "War")


def test_missing_files_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_dataset(tmp_path, "ml-100k")
    with pytest.raises(ConfigError):
        load_dataset(tmp_path, "parquet")
