"""MovieLens readers: the ML-100K layout (u.data, u.item, u.user) and ml-latest (CSV).

Ratings become ``rating`` events (epoch seconds → milliseconds), sorted by
time with ties in file order; movies become catalog :class:`Item` records
tagged with their genres; ML-100K users become :class:`UserProfile` records
(age, gender, occupation, and the zip code's first digit as ``location``: the
region, not the address).
"""

from __future__ import annotations

import csv
from pathlib import Path

from homerec.datasets.base import Dataset
from homerec.errors import ConfigError
from homerec.events import Event
from homerec.items import Item
from homerec.profiles import UserProfile

__all__ = ["ML100K_GENRES", "WHERE", "load_ml100k", "load_movielens_csv"]

ML100K_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


#: Where the data comes from: homerec ships none (GroupLens' terms allow research use; the
#: files are downloaded by the user and passed as a directory).
WHERE: str = (
    "MovieLens is published by GroupLens (https://grouplens.org/datasets/movielens/): "
    "download and unzip https://files.grouplens.org/datasets/movielens/ml-100k.zip "
    "(--format ml-100k) or ml-latest-small.zip (--format movielens-csv) and pass the "
    "unzipped directory"
)


def _need(path: Path) -> Path:
    """``path`` if it is a file; otherwise an error that says where MovieLens comes from.

    >>> _need(Path("/nonexistent/ml-100k/u.data"))
    Traceback (most recent call last):
    ...
    homerec.errors.ConfigError: missing data file /nonexistent/ml-100k/u.data (no such directory /nonexistent/ml-100k). MovieLens is published by GroupLens ...
    """
    if not path.is_file():
        where = "" if path.parent.is_dir() else f" (no such directory {path.parent})"
        raise ConfigError(f"missing data file {path}{where}. {WHERE}")
    return path


def _sorted(events: list[Event]) -> list[Event]:
    # ``sorted`` is stable: ties keep file order, as the evaluation protocol requires.
    return sorted(events, key=lambda e: e.ts)


def load_ml100k(directory: str | Path) -> Dataset:
    """Read MovieLens 100K from ``directory`` (``u.data``, ``u.item``, ``u.user``)."""
    d = Path(directory)
    events: list[Event] = []
    with _need(d / "u.data").open(encoding="latin-1") as fh:
        for line in fh:
            parts = line.split("\t")
            if len(parts) < 4:
                continue
            user, item, rating, ts = parts[:4]
            events.append(Event(user, item, "rating", int(ts) * 1000, float(rating)))
    items: list[Item] = []
    with _need(d / "u.item").open(encoding="latin-1") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("|")
            if len(parts) < 5 + len(ML100K_GENRES):
                continue
            flags = parts[5 : 5 + len(ML100K_GENRES)]
            tags = tuple(g for g, f in zip(ML100K_GENRES, flags, strict=True) if f == "1")
            items.append(Item(parts[0], parts[1], tags))
    profiles: list[UserProfile] = []
    user_file = d / "u.user"
    if user_file.is_file():
        with user_file.open(encoding="latin-1") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("|")
                if len(parts) < 5:
                    continue
                uid, age, gender, occupation, zipcode = parts[:5]
                features: dict[str, str | float] = {
                    "age": float(age),
                    "gender": gender,
                    "occupation": occupation,
                    "location": zipcode[:1],
                }
                profiles.append(UserProfile(uid, features))
    return Dataset("ml-100k", _sorted(events), tuple(items), tuple(profiles))


def load_movielens_csv(directory: str | Path) -> Dataset:
    """Read the ml-latest layout: ``ratings.csv`` (userId,movieId,rating,timestamp), ``movies.csv``."""
    d = Path(directory)
    events: list[Event] = []
    with _need(d / "ratings.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            events.append(
                Event(
                    row["userId"],
                    row["movieId"],
                    "rating",
                    int(row["timestamp"]) * 1000,
                    float(row["rating"]),
                )
            )
    items: list[Item] = []
    movies = d / "movies.csv"
    if movies.is_file():
        with movies.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                genres = row.get("genres") or ""
                tags = tuple(g for g in genres.split("|") if g and g != "(no genres listed)")
                items.append(Item(row["movieId"], row.get("title") or "", tags))
    return Dataset("movielens-csv", _sorted(events), tuple(items), ())
