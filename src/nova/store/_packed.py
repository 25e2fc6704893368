"""Packed request rows (migration ``0006``): what a request row holds that no query filters on,
with the grades of its answer, is one deflate stream in ``requests.packed``.

The rows of one run differ in little: the case's own turn and id, the timings, the server's
request id, the grades' details. So each row's stream is compressed against a dictionary, the
first row a writer packed for the run, stored once in ``request_dicts``. The values of a row
are JSON text (key order kept, as ``_parts.part_text`` writes them): a body, a response or a
grade reads back exactly as it was written.

What stays a column is what a query needs: run, candidate, case and repeat (the unique key,
what ``--resume`` skips), ``error_type`` (what a resumed run deletes and tries again) and the
answer text. Parts of 256 bytes or more (the system prompt, the tool specs) are still stored
once per run in ``request_parts`` (``_parts.py``); a deflate window is 32 KB, a part has no
limit.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from nova.errors import StoreError
from nova.store import _schema
from nova.store._parts import join_request, pack_times, unpack_times

__all__ = [
    "PACKED_FIELDS",
    "RowReader",
    "grade_fields",
    "pack",
    "packed_doc",
    "unpack",
    "unpacked_fields",
]

PACKED_FIELDS = (
    "request",
    "response",
    "finish_reason",
    "model_reported",
    "prompt_tokens",
    "completion_tokens",
    "usage_source",
    "sent_at",
    "t_send_ns",
    "t_first_byte_ns",
    "t_first_token_ns",
    "t_last_token_ns",
    "chunk_times_ns",
    "error_message",
)
"""Fields of a ``RequestRecord`` that a packed row keeps in its stream (None ones left out)."""

_GRADE_FIELDS = ("grader", "passed", "score", "detail")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LEVEL = 6
"""zlib's default level: a row of the eval runner packs in ~17 µs here; level 9 gives the same
bytes, level 1 5% more."""
_WBITS = -15
"""A raw deflate stream: no zlib header and checksum (6 bytes a row); the JSON inside would
not parse if a row were damaged."""


def packed_doc(
    row: Mapping[str, Any], parts: str | None, grades: Iterable[Mapping[str, Any]]
) -> bytes:
    """The JSON text of a row's packed fields: ``row`` as ``RequestRecord.model_dump`` gives
    it, ``parts`` the sha256 of its parts map (``_parts.py``), ``grades`` as
    ``GradeRecord.model_dump`` gives them (of this row's candidate, case and repeat)."""
    doc: dict[str, Any] = {}
    for name in PACKED_FIELDS:
        value = row[name]
        if value is None:
            continue
        if name == "sent_at":  # integer microseconds: exact, and a third of the ISO text
            value = _micros(value)
        elif name == "chunk_times_ns":  # gaps: 4-7 digits where a time has 13-16
            value = pack_times(value)
        doc[name] = value
    if parts is not None:
        doc["parts"] = parts
    packed_grades = [[g[k] for k in _GRADE_FIELDS] for g in grades]
    if packed_grades:
        doc["grades"] = packed_grades
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _micros(value: dt.datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def pack(doc: bytes, zdict: bytes) -> bytes:
    """``doc`` deflated against the run's dictionary."""
    c = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
    return c.compress(doc) + c.flush()


def unpack(blob: bytes, zdict: bytes) -> dict[str, Any]:
    """The packed fields of a row (as ``packed_doc`` wrote them)."""
    d = zlib.decompressobj(_WBITS, zdict)
    doc: dict[str, Any] = json.loads(d.decompress(blob) + d.flush())
    return doc


def unpacked_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The ``RequestRecord`` fields of an unpacked row (the body still without its parts)."""
    out = {name: doc.get(name) for name in PACKED_FIELDS}
    if out["sent_at"] is not None:
        out["sent_at"] = _EPOCH + dt.timedelta(microseconds=out["sent_at"])
    out["chunk_times_ns"] = unpack_times(out["chunk_times_ns"])
    return out


def grade_fields(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The grades of an unpacked row: ``GradeRecord`` fields without the row's keys."""
    return [dict(zip(_GRADE_FIELDS, g, strict=True)) for g in doc.get("grades", [])]


_CACHE = 4096
"""Parts and dictionaries a reader keeps in memory (a run has a handful; a cap keeps a
pathological one flat)."""


class RowReader:
    """Reads the request rows of one run on one connection: looks up (and caches) the parts
    and dictionaries they refer to."""

    def __init__(self, conn: sa.Connection, run_id: str) -> None:
        self.conn, self.run_id = conn, run_id
        self._parts: dict[str, str] = {}
        self._dicts: dict[int, bytes] = {}

    def part(self, sha: str) -> Any:
        """The value of the run's part ``sha``."""
        if sha not in self._parts:
            if len(self._parts) >= _CACHE:
                self._parts.clear()
            p = _schema.request_parts
            text = self.conn.execute(
                sa.select(p.c.body).where(p.c.run_id == self.run_id, p.c.sha256 == sha)
            ).scalar_one_or_none()
            if text is None:
                raise StoreError(
                    f"run {self.run_id}: a stored request refers to part {sha[:12]}, which is "
                    "missing from request_parts; the store was edited by hand"
                )
            self._parts[sha] = text
        return json.loads(self._parts[sha])

    def doc(self, packed: bytes, dict_id: int) -> dict[str, Any]:
        """The packed fields of a row."""
        if dict_id not in self._dicts:
            if len(self._dicts) >= _CACHE:
                self._dicts.clear()
            d = _schema.request_dicts
            text = self.conn.execute(
                sa.select(d.c.body).where(d.c.id == dict_id, d.c.run_id == self.run_id)
            ).scalar_one_or_none()
            if text is None:
                raise StoreError(
                    f"run {self.run_id}: a stored request was packed with dictionary {dict_id}, "
                    "which is missing from request_dicts; the store was edited by hand"
                )
            self._dicts[dict_id] = text.encode("utf-8")
        try:
            return unpack(packed, self._dicts[dict_id])
        except (zlib.error, ValueError) as exc:
            raise StoreError(
                f"run {self.run_id}: a packed request row does not unpack ({exc}); the store "
                "was damaged or edited by hand"
            ) from None

    def record_fields(self, row: sa.RowMapping) -> dict[str, Any]:
        """``RequestRecord`` fields of a row read with every column but id, run_id and
        created_at (``packed`` and ``request_parts`` where the store has them)."""
        data = dict(row)
        packed, dict_id = data.pop("packed", None), data.pop("dict_id", None)
        refs = data.pop("request_parts", None)
        if packed is not None:
            doc = self.doc(packed, dict_id)
            data.update(unpacked_fields(doc))
            refs = doc.get("parts")
        else:
            if data["sent_at"] is not None and data["sent_at"].tzinfo is None:
                data["sent_at"] = data["sent_at"].replace(tzinfo=dt.UTC)  # SQLite: naive UTC
            data["chunk_times_ns"] = unpack_times(data["chunk_times_ns"])
        if isinstance(refs, str):  # the map of where the parts go is a part itself
            refs = self.part(refs)
        if refs:
            data["request"] = join_request(data["request"], refs, self.part)
        return data
