"""Which member owns a user: the producers' partitioner, without importing Kafka.

Events are keyed by user id (UTF-8) and kafka-python's default partitioner places
a key on ``(murmur2(key) & 0x7fffffff) % partitions`` — the same placement as
Java's client. :func:`partition_of` is that rule, so ``homerec eval --workers N``
splits the users the way ``N`` partitions would (a test in ``tests/streams``
checks it against kafka-python's own ``murmur2`` for many keys).

>>> murmur2(b"user-1"), partition_of("user-1", 8)
(1404122828, 4)
"""

from __future__ import annotations

__all__ = ["murmur2", "partition_of"]

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 with Kafka's seed (``0x9747b28c``), as an unsigned int."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    end = length & ~3
    for i in range(0, end, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length & 3
    if extra >= 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of(key: str, partitions: int) -> int:
    """The partition (of ``partitions``) that kafka-python's default partitioner gives ``key``."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
