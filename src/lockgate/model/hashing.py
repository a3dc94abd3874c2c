"""Content hashes of definitions: canonical JSON (sorted keys, no whitespace), SHA-256, hex.

Two definitions that mean the same hash the same, whatever key order or formatting their YAML had; any change of
meaning changes the hash. Used by releases and plans to tell what changed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterable
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace; dates as ISO text, sets sorted."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def hash_value(value: Any) -> str:
    return hash_bytes(canonical_json(value).encode("utf-8"))


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def combine_hashes(parts: Iterable[str]) -> str:
    """One hash for an ordered collection of hashes (order matters: sort first when it should not)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    raise TypeError(f"cannot hash a {type(value).__name__}")
