"""homerec's pure-Python partitioner places keys exactly where kafka-python's does."""

from __future__ import annotations

import random

from kafka.partitioner.default import murmur2 as kafka_murmur2

from homerec.partitioning import murmur2, partition_of


def _keys() -> list[bytes]:
    rng = random.Random(7)
    alphabet = "abcxyz0189-_é€😀"
    keys = [b"", b"a", b"ab", b"abc", b"abcd", b"user-1"]
    keys += [str(n).encode() for n in range(1000)]
    keys += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))).encode("utf-8")
        for _ in range(3000)
    ]
    keys += [bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) for _ in range(1000)]
    return keys


def test_murmur2_matches_kafka_python() -> None:
    for key in _keys():
        assert murmur2(key) == kafka_murmur2(key), key


def test_partition_of_matches_the_default_partitioner_rule() -> None:
    for key in _keys()[:2000]:
        text = key.decode("utf-8", errors="replace")
        raw = text.encode("utf-8")
        for n in (1, 2, 3, 4, 8, 12):
            assert partition_of(text, n) == (kafka_murmur2(raw) & 0x7FFFFFFF) % n
