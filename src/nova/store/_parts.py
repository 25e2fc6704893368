"""Content-addressed request parts: what every request of a run repeats is stored once.

A request body sent thousands of times carries the same system prompt and tool specs each
time (most of the ~3.8 KB a starter-workspace case stored before). Before a request row is
written, every message and every other top-level value whose JSON is at least
``PART_MIN_BYTES`` long is moved to ``request_parts`` (keyed by run and the sha256 of its JSON
text) and left as ``null`` in the row. Where each went,
``{"keys": {key: sha256}, "messages": {index: sha256}}``, is the same for most requests of a
run, so it is a part too: the row's ``request_parts`` column holds its sha256. Reading puts
each part back at its place, so the body comes back exactly as it was written: same keys, same
order, same values. A value repeated only by repeats or candidates (a long user turn) is shared too.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

__all__ = [
    "PART_MIN_BYTES",
    "Refs",
    "join_request",
    "pack_times",
    "part_text",
    "split_request",
    "unpack_times",
]

PART_MIN_BYTES = 256
"""Smallest JSON text moved to a part. A reference costs about 80 bytes in the row plus the
part row once per run, so a value shorter than this is cheaper inline even when repeated."""

_MESSAGES = "messages"


def part_text(value: Any) -> str:
    """The JSON text a part is stored and hashed as (key order kept, no spaces)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


Refs = dict[str, dict[str, str]]


def split_request(body: Mapping[str, Any]) -> tuple[dict[str, Any], Refs, dict[str, str]]:
    """``(rest, refs, parts)``: the body with long values nulled, where they went (see the
    module docstring), and ``{sha256: json text}`` of the parts. ``refs`` is empty when
    nothing was moved."""
    rest: dict[str, Any] = {}
    refs: Refs = {}
    parts: dict[str, str] = {}

    def take(where: str, name: str, value: Any) -> Any:
        if not isinstance(value, dict | list):
            return value
        text = part_text(value)
        if len(text.encode("utf-8")) < PART_MIN_BYTES:
            return value
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        parts[sha] = text
        refs.setdefault(where, {})[name] = sha
        return None

    for key, value in body.items():
        if key == _MESSAGES and isinstance(value, list):
            rest[key] = [take(_MESSAGES, str(i), m) for i, m in enumerate(value)]
        else:
            rest[key] = take("keys", key, value)
    return rest, refs, parts


def join_request(
    rest: Mapping[str, Any], refs: Mapping[str, Mapping[str, str]], part: Callable[[str], Any]
) -> dict[str, Any]:
    """The original body: ``rest`` with each referenced part (``part(sha256)``) in its place."""
    body = dict(rest)
    for key, sha in refs.get("keys", {}).items():
        body[key] = part(sha)
    moved = refs.get(_MESSAGES, {})
    if moved:
        messages = list(body[_MESSAGES])
        for index, sha in moved.items():
            messages[int(index)] = part(sha)
        body[_MESSAGES] = messages
    return body


def pack_times(times: list[int] | None) -> Any:
    """Chunk times as ``{"delta": [first, gap, gap, ...]}``: a gap of a few milliseconds has
    7 digits where a perf_counter_ns value has 13 to 16 (200 bytes less for 24 chunks)."""
    if not times or len(times) < 2:
        return times
    return {"delta": [times[0], *(b - a for a, b in itertools.pairwise(times))]}


def unpack_times(stored: Any) -> list[int] | None:
    """The chunk times as they were written (rows before ``0005`` hold the plain list)."""
    if not isinstance(stored, dict):
        return cast("list[int] | None", stored)
    out: list[int] = list(itertools.accumulate(stored["delta"]))
    return out
