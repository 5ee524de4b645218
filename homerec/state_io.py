"""Save and restore whole model state: msgpack with numpy arrays as ext type 1 (never pickle).

An array travels as ext type 1 whose payload is itself msgpack:
``[dtype.str, shape, raw bytes]`` (C order, explicit byte order). Everything
else in a state dict is a plain msgpack value. The envelope records the
format version, the model name and its constructor parameters, so
:func:`loads_state` can rebuild the model without knowing it in advance.

>>> from homerec.models import make_model
>>> from homerec.events import Event
>>> m = make_model("popularity")
>>> m.learn_one(Event("u", "a", "click", 10**12))
>>> m2 = loads_state(dumps_state(m))
>>> m2.recommend("v", 1)
[('a', 1.0)]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgpack
import numpy as np

from homerec.errors import StateError
from homerec.feedback import FeedbackWeights
from homerec.hiding import HidingRules
from homerec.models.base import Recommender

__all__ = ["FORMAT_VERSION", "dumps_state", "iter_packb_map", "loads_state", "packb", "unpackb"]

FORMAT_VERSION = 1
_EXT_NDARRAY = 1


def _default(obj: object) -> object:
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        if arr.dtype.hasobject:
            raise StateError("object arrays cannot be saved")
        payload = msgpack.packb([arr.dtype.str, list(arr.shape), arr.tobytes()], use_bin_type=True)
        return msgpack.ExtType(_EXT_NDARRAY, payload)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise StateError(f"cannot serialise {type(obj).__name__} in model state")


def _ext_hook(code: int, data: bytes) -> object:
    if code != _EXT_NDARRAY:
        raise StateError(f"unknown msgpack extension type {code}")
    dtype, shape, raw = msgpack.unpackb(data, raw=False)
    return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()


def packb(value: object) -> bytes:
    """msgpack with numpy arrays (for per-user / per-item changelog records too)."""
    out: bytes = msgpack.packb(value, default=_default, use_bin_type=True, strict_types=False)
    return out


def iter_packb_map(value: Mapping[str, object], depth: int = 1) -> Iterator[bytes]:
    """:func:`packb` of a mapping in pieces (the map header, then each key and value;
    values that are mappings themselves in pieces too, ``depth`` levels down): joined,
    the same bytes. Lets a caller pause between big values.

    >>> state = {"a": np.arange(3), "b": [1, "x"]}
    >>> b"".join(iter_packb_map(state)) == packb(state)
    True
    >>> b"".join(iter_packb_map({"state": state}, depth=2)) == packb({"state": state})
    True
    """
    yield msgpack.Packer(use_bin_type=True).pack_map_header(len(value))
    for key, item in value.items():
        yield packb(key)
        if depth > 1 and isinstance(item, Mapping):
            yield from iter_packb_map(item, depth - 1)
        else:
            yield packb(item)


def unpackb(data: bytes) -> Any:
    """Inverse of :func:`packb`."""
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except (ValueError, msgpack.exceptions.ExtraData, msgpack.exceptions.FormatError) as exc:
        raise StateError(f"corrupt state: {exc}") from exc


def dumps_state(model: Recommender) -> bytes:
    """The whole learned state of ``model`` (with its name and parameters) as bytes."""
    return packb({"format": FORMAT_VERSION, "model": model.name, "state": model.state_dict()})


def loads_state(data: bytes) -> Recommender:
    """Rebuild a model from :func:`dumps_state` bytes."""
    from homerec.models import make_model

    envelope = unpackb(data)
    if not isinstance(envelope, Mapping) or envelope.get("format") != FORMAT_VERSION:
        raise StateError("not a homerec model state (or an unsupported format version)")
    state = envelope["state"]
    params = dict(state.get("params", {}))
    if isinstance(params.get("feedback"), Mapping):
        params["feedback"] = FeedbackWeights(**params["feedback"])
    if isinstance(params.get("hiding"), Mapping):
        params["hiding"] = HidingRules.from_dict(params["hiding"])
    model = make_model(str(envelope["model"]), **params)
    model.load_state_dict(state)
    return model
