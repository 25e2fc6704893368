"""The hash-chained audit log: each entry holds the hash of the one before it.

``hash = sha256(prev_hash || canonical JSON of the entry)``; the first entry's ``prev_hash`` is
64 zeros. Changing, deleting or reordering an entry breaks the chain at that entry, and
``verify`` names it.

Deleting the *last* entries leaves a shorter chain that is still consistent in itself, so the
newest ``(seq, hash)`` is also anchored outside the table: a small head file, rewritten
after every committed append as one fixed-size record with a checksum (a single small write:
all or nothing when the process is killed), under an exclusive ``flock`` so that several
writer processes only ever move it forward. ``verify`` reads the head
first, then the table: the table must reach the head's entry and that entry must carry the
head's hash. Because the head is written only after the commit, a crash between the two leaves
the head one batch behind (never ahead), which ``verify`` accepts; a deleted or rewritten tail
is reported. The head is not fsynced: a killed process cannot tear it, but after an OS crash or
power loss it may be older than the table (accepted) or unreadable (reported).
Appends of many entries (``append_audit_many``) share one transaction: a batch is stored whole
or not at all.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from nova._secrets import redact
from nova.errors import StoreError
from nova.store import _schema

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditHead",
    "AuditIssue",
    "AuditItem",
    "SqliteAuditAppender",
    "append_audit",
    "append_audit_many",
    "read_audit",
    "read_head",
    "verify_audit",
]

GENESIS = "0" * 64


class AuditEntry(BaseModel):
    """One action recorded in the audit log."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    """Position in the chain, from 1."""
    at: dt.datetime
    """When, UTC."""
    actor: str
    """Who acted (a name, or ``nova`` for automatic actions)."""
    action: str
    """What was done, e.g. ``review.approve``."""
    subject: str | None = None
    """What it was done to, e.g. a candidate id."""
    payload: dict[str, Any]
    """Details (role, comment, evidence links)."""
    prev_hash: str
    """Hash of the previous entry."""
    hash: str
    """Hash of this entry."""


class AuditIssue(BaseModel):
    """A break in the chain found by ``verify_audit``."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    """Entry where the chain breaks."""
    problem: str
    """What is wrong."""


# Encoders made once: json.dumps with other than its default settings builds a new
# JSONEncoder on every call (about 0.7 us, several times per gateway request).
_dumps = json.JSONEncoder(ensure_ascii=False).encode
_canonical_text = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode


def _digest(
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    payload: dict[str, Any],
) -> str:
    at_iso = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return _record_hash(prev_hash, seq, at_iso, actor, action, subject, _canonical_text(payload))


def _record_hash(
    prev_hash: str,
    seq: int,
    at_iso: str,
    actor: str,
    action: str,
    subject: str | None,
    payload_text: str,
) -> str:
    """SHA-256 of ``prev_hash`` + the entry as ``json.dumps({"seq", "at", "actor", "action",
    "subject", "payload"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` (the
    stored chain's format), written out with the payload's canonical text in place."""
    body = (
        f'{{"action":{_dumps(action)},"actor":{_dumps(actor)},"at":{_dumps(at_iso)},'
        f'"payload":{payload_text},"seq":{int(seq)},"subject":{_dumps(subject)}}}'
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


class AuditItem(NamedTuple):
    """An entry to append: who did what to what, with details."""

    actor: str
    action: str
    subject: str | None = None
    payload: dict[str, Any] | None = None


class AuditHead(NamedTuple):
    """The newest entry as anchored outside the table."""

    seq: int
    hash: str


_HEAD_SIZE = 192


def _check(seq: int, hash_: str) -> str:
    return hashlib.sha256(f"{seq}:{hash_}".encode()).hexdigest()[:16]


def _parse_head(raw: bytes) -> AuditHead:
    try:
        data = json.loads(raw.decode("utf-8"))
        head = AuditHead(int(data["seq"]), str(data["hash"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return AuditHead(-1, "")
    if data.get("check") != _check(*head):
        return AuditHead(-1, "")
    return head


def read_head(path: Path) -> AuditHead | None:
    """The anchored head, or None when the file does not exist; an unreadable or corrupted
    file is a head at seq -1 (``verify`` reports it)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return AuditHead(-1, "")
    return _parse_head(raw)


_HEAD_FDS: dict[str, int] = {}
_HEAD_CHECKED: dict[str, float] = {}
_HEAD_RECHECK_S = 1.0
"""How often the gateway's appender checks that its open head file is still the one at the
path (deleted or replaced meanwhile: reopened), instead of two stat calls per commit. For up
to this long after the file is deleted or replaced, the appender goes on writing the old one;
the next check reopens the path and writes the head there. Other writers check before every
write."""
_LAST_WRITTEN: dict[str, tuple[bytes, AuditHead]] = {}
_THREAD_LOCK = threading.Lock()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _advance_head(path: Path, head: AuditHead, *, recheck_s: float = 0.0) -> None:
    """Rewrite the head file with ``head`` unless it already names a later entry; whether the
    open file is still the one at ``path`` is checked when ``recheck_s`` seconds have passed
    since the last check.

    The record is one fixed-size write at offset 0 with a checksum, under an exclusive
    ``flock`` of the file (so several processes only move it forward). A write of one small
    block either happens or not when the process is killed; a rename-based replace cost
    0.7 ms per batch on this machine's filesystem, this about 20 us.
    """
    with _THREAD_LOCK:
        key = str(path)
        fd = _HEAD_FDS.get(key)
        now = time.monotonic()
        if fd is not None and now - _HEAD_CHECKED.get(key, 0.0) >= recheck_s:
            _HEAD_CHECKED[key] = now
            if not _same_file(fd, path):  # deleted or replaced meanwhile
                os.close(fd)
                fd = None
        if fd is None:
            _HEAD_CHECKED[key] = now
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = _HEAD_FDS[key] = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(fd, _HEAD_SIZE, 0)
            mine = _LAST_WRITTEN.get(key)
            # Unchanged since this process wrote it: no need to parse and check it again.
            current = (
                mine[1] if mine and mine[0] == raw else _parse_head(raw) if raw.strip() else None
            )
            if current is not None and current.seq >= head.seq:
                return
            # json.dumps of {"seq", "hash", "check"}: an int and two hex strings need no escaping
            rec = f'{{"seq": {int(head.seq)}, "hash": "{head.hash}", "check": "{_check(*head)}"}}'
            data = rec.encode().ljust(_HEAD_SIZE - 1) + b"\n"
            os.pwrite(fd, data, 0)
            _LAST_WRITTEN[key] = (data, head)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _clean(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The payload with secrets masked, round-tripped through JSON so that what is hashed
    now is what reads back (non-string keys become strings, tuples lists)."""
    out: dict[str, Any] = json.loads(
        json.dumps(redact(payload or {}), ensure_ascii=False, default=str)
    )
    return out


# Statements built once (their cache keys are then memoised): building them per batch was a
# tenth of the CPU of a one-record batch, which is what the gateway commits at low load.
_TAIL = (
    sa.select(_schema.audit_log.c.seq, _schema.audit_log.c.hash)
    .order_by(_schema.audit_log.c.seq.desc())
    .limit(1)
)
_INSERT = sa.insert(_schema.audit_log)


_Cleaned = tuple[str, str, "str | None", dict[str, Any]]


def _links(
    tail: tuple[int, str], at_iso: str, entries: Sequence[tuple[str, str, str | None, str]]
) -> list[tuple[int, str, str]]:
    """(seq, prev_hash, hash) of each entry (actor, action, subject, payload text) that
    continues the chain after ``tail`` (seq, hash), all at ``at_iso``."""
    seq, prev = tail
    out: list[tuple[int, str, str]] = []
    for actor, action, subject, text in entries:
        seq += 1
        h = _record_hash(prev, seq, at_iso, actor, action, subject, text)
        out.append((seq, prev, h))
        prev = h
    return out


def _chain(last: tuple[Any, Any] | None, cleaned: Sequence[_Cleaned]) -> list[dict[str, Any]]:
    """The rows that continue the chain after ``last`` (seq, hash; None for an empty log),
    one timestamp for the batch."""
    tail = (0, GENESIS) if last is None else (int(last[0]), str(last[1]))
    at = dt.datetime.now(dt.UTC)
    texts = [(a, b, c, _canonical_text(p)) for a, b, c, p in cleaned]
    links = _links(tail, at.isoformat(timespec="microseconds"), texts)
    return [
        {"seq": seq, "at": at, "actor": actor, "action": action,
         "subject": subject, "payload": payload, "prev_hash": prev, "hash": h}
        for (actor, action, subject, payload), (seq, prev, h) in zip(cleaned, links, strict=True)
    ]  # fmt: skip


def append_audit_many(
    engine: sa.Engine,
    items: Sequence[AuditItem],
    *,
    head: Path | None = None,
    also: Callable[[sa.Connection], None] | None = None,
) -> list[AuditEntry]:
    """Append ``items`` in order, in ONE transaction (all or none), then advance the head file.
    ``also`` runs inside the same transaction (the gateway adds the keys' token usage there,
    so usage is stored exactly when its audit records are).

    Concurrent writers (threads or processes) are serialised by the primary key on ``seq``:
    the loser of a race reads the new tail and tries again.
    """
    if not items:
        return []
    t = _schema.audit_log
    cleaned = [(i.actor, i.action, i.subject, _clean(i.payload)) for i in items]
    for _attempt in range(50):
        last = None
        try:
            rows: list[dict[str, Any]] = []
            with engine.begin() as conn:
                last = conn.execute(_TAIL).first()
                rows = _chain(None if last is None else tuple(last), cleaned)
                conn.execute(_INSERT, rows)
                if also is not None:
                    also(conn)
        except sa.exc.IntegrityError:
            with engine.connect() as conn:
                now_last = conn.execute(sa.select(sa.func.max(t.c.seq))).scalar()
            if (now_last or 0) != (0 if last is None else int(last[0])):
                continue  # another writer took this seq; read the new tail and retry
            raise  # refused for another reason (a constraint, a trigger): not a race
        except sa.exc.OperationalError as exc:
            # SQLite in WAL mode: a read transaction cannot be upgraded after another
            # process wrote (SQLITE_BUSY_SNAPSHOT): start over from the new tail.
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig).lower():
                raise
            time.sleep(0.001 * (_attempt + 1))
            continue
        if head is not None:
            _advance_head(head, AuditHead(rows[-1]["seq"], rows[-1]["hash"]))
        # Built from values computed here, so not validated again (the gateway's hot path).
        return [AuditEntry.model_construct(**r) for r in rows]
    raise StoreError(
        "could not append to the audit log after 50 attempts (other writers kept it locked); "
        "try again, and check that no process holds the database open in a long transaction"
    )


def append_audit(
    engine: sa.Engine,
    actor: str,
    action: str,
    subject: str | None = None,
    payload: dict[str, Any] | None = None,
    *,
    head: Path | None = None,
) -> AuditEntry:
    """Append one entry (see ``append_audit_many``)."""
    return append_audit_many(engine, [AuditItem(actor, action, subject, payload)], head=head)[0]


def read_audit(engine: sa.Engine, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
    """Entries in chain order (those after seq ``after``, at most ``limit`` of them)."""
    t = _schema.audit_log
    q = sa.select(t).where(t.c.seq > after).order_by(t.c.seq)
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    out = []
    for r in rows:
        data = dict(r)
        if data["at"].tzinfo is None:
            data["at"] = data["at"].replace(tzinfo=dt.UTC)
        out.append(AuditEntry.model_validate(data))
    return out


def verify_audit(engine: sa.Engine, *, head: Path | None = None) -> list[AuditIssue]:
    """Every break in the chain: changed, deleted, inserted or reordered entries, and, with a
    ``head`` file, a deleted or rewritten tail."""
    anchored = read_head(head) if head is not None else None  # the head first, then the table
    issues: list[AuditIssue] = []
    prev_hash = GENESIS
    expected_seq = 1
    entries = read_audit(engine)
    for e in entries:
        if e.seq != expected_seq:
            issues.append(
                AuditIssue(
                    seq=e.seq,
                    problem=f"expected entry {expected_seq} here: "
                    f"entries {expected_seq}..{e.seq - 1} were deleted",
                )
            )
        if e.prev_hash != prev_hash:
            issues.append(
                AuditIssue(
                    seq=e.seq,
                    problem="does not follow the entry before it "
                    "(an entry before it was changed, removed or reordered)",
                )
            )
        recomputed = _digest(e.prev_hash, e.seq, e.at, e.actor, e.action, e.subject, e.payload)
        if recomputed != e.hash:
            issues.append(
                AuditIssue(
                    seq=e.seq, problem="content was changed after it was written (hash mismatch)"
                )
            )
        prev_hash = e.hash
        expected_seq = e.seq + 1
    if head is not None:
        issues += _check_head(head, anchored, entries)
    return issues


def _check_head(
    path: Path, anchored: AuditHead | None, entries: list[AuditEntry]
) -> list[AuditIssue]:
    last = entries[-1].seq if entries else 0
    if anchored is None:
        if not entries:
            return []
        return [
            AuditIssue(
                seq=last,
                problem=f"the head anchor {path} is missing, so a deleted tail cannot be ruled "
                "out (a log written before nova anchored its head gets one with its next entry)",
            )
        ]
    if anchored.seq < 0:
        return [AuditIssue(seq=last, problem=f"the head anchor {path} is unreadable")]
    if last < anchored.seq:
        return [
            AuditIssue(
                seq=last + 1,
                problem=f"entries {last + 1}..{anchored.seq} were deleted from the end "
                f"(the head anchor {path} records entry {anchored.seq})",
            )
        ]
    by_seq = {e.seq: e for e in entries}
    at_head = by_seq.get(anchored.seq)
    if anchored.seq > 0 and (at_head is None or at_head.hash != anchored.hash):
        return [
            AuditIssue(
                seq=anchored.seq,
                problem=f"does not match the head anchor {path}: the chain was rewritten "
                "from here on",
            )
        ]
    return []


_SQLITE_INSERT = (
    "INSERT INTO audit_log (seq, at, actor, action, subject, payload, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_USAGE = "UPDATE gateway_keys SET tokens_used = tokens_used + ? WHERE id = ?"


class SqliteAuditAppender:
    """Appends audit batches on one dedicated SQLite connection, never waiting for SQLite's
    write lock (the head file's ``flock`` is held by any writer only for one small read and
    write).

    The gateway's hot path: a batch is committed in the caller's thread when the database's
    write lock is free at that instant (``BEGIN IMMEDIATE`` with no busy timeout), else
    ``try_append`` returns None and the caller hands the batch to a thread that may wait.
    The rows have the columns, timestamp text (SQLAlchemy's SQLite ``DATETIME``) and hash
    that ``append_audit_many`` writes; the payload is stored as the canonical text it is
    hashed as (sorted keys, compact), where SQLAlchemy stores ``json.dumps`` of it: both read
    back as the same value, so ``verify_audit`` and every reader see no difference. The
    connection does not checkpoint the WAL by itself (a checkpoint syncs the file,
    milliseconds the caller should not wait for): ``commits`` counts the commits so the
    caller can run ``RunStore.checkpoint`` elsewhere every few hundred.

    Cheaper than ``append_audit_many`` per record (what a lone gateway request pays): each
    payload is serialised once, sorted and compact, and that one text is both stored and
    hashed (``append_audit_many`` round-trips every payload through JSON first, so that it
    hashes as it reads back; here only a payload with non-string keys takes that round trip).
    The chain's tail is remembered from this connection's last commit: another writer's
    commit in between makes the insert collide on ``seq`` and the tail is read again, in the
    same transaction.
    """

    def __init__(self, path: str, *, head: Path | None) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=0",
            "PRAGMA wal_autocheckpoint=0",
        ):
            self._conn.execute(pragma)
        self._head = head
        self._tail: tuple[int, str] | None = None
        self.commits = 0
        """Transactions committed on this connection."""

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def try_append(
        self, items: Sequence[AuditItem], key_usage: Mapping[str, int] | None = None
    ) -> list[tuple[int, str]] | None:
        """Append ``items`` (and add ``key_usage``) in one transaction, or return None at once
        when another connection holds the write lock. Returns each record's (seq, hash).
        Other errors raise ``sqlite3.Error``."""
        if not items:
            return []
        texts = [_canonical(i.payload) for i in items]
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc).lower():
                return None
            raise
        try:
            # Under BEGIN IMMEDIATE no other writer can move the tail until the commit.
            tail = self._tail
            while True:
                if tail is None:
                    row = conn.execute(
                        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                    ).fetchone()
                    tail = (0, GENESIS) if row is None else (int(row[0]), str(row[1]))
                rows, out = self._rows(tail, items, texts)
                try:
                    conn.executemany(_SQLITE_INSERT, rows)
                except sqlite3.IntegrityError:
                    if self._tail is None:
                        raise  # the tail was just read: not another writer's commit
                    self._tail = tail = None  # another writer appended since: read it
                    continue
                break
            if key_usage:
                conn.executemany(_SQLITE_USAGE, [(n, k) for k, n in key_usage.items() if n])
            conn.execute("COMMIT")
        except BaseException:
            self._tail = None
            conn.execute("ROLLBACK")
            raise
        self._tail = out[-1]
        self.commits += 1
        if self._head is not None:
            _advance_head(self._head, AuditHead(*out[-1]), recheck_s=_HEAD_RECHECK_S)
        return out

    @staticmethod
    def _rows(
        tail: tuple[int, str], items: Sequence[AuditItem], texts: list[str]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
        at_iso = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        at_text = f"{at_iso[:10]} {at_iso[11:26]}"  # SQLAlchemy's SQLite DATETIME text
        entries = [(i.actor, i.action, i.subject, t) for i, t in zip(items, texts, strict=True)]
        links = _links(tail, at_iso, entries)
        rows = [
            (seq, at_text, actor, action, subject, text, prev, h)
            for (actor, action, subject, text), (seq, prev, h) in zip(entries, links, strict=True)
        ]
        return rows, [(seq, h) for seq, _, h in links]


def _canonical(payload: dict[str, Any] | None) -> str:
    """The payload (secrets masked) as the one JSON text that is stored and hashed: sorted,
    compact, as ``_digest`` writes it. A payload with keys that are not strings (JSON would
    turn them into strings, sorted differently) takes the round trip through JSON first."""
    obj = redact(payload or {})
    return _canonical_text(obj if _string_keys(obj) else _clean(payload))


_NESTED = (dict, list, tuple)
_SEQUENCES = (list, tuple)


def _string_keys(obj: Any) -> bool:
    """Whether every dict key in ``obj`` (dicts and lists, recursively) is a ``str``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.__class__ is not str and not isinstance(k, str):
                return False
            if isinstance(v, _NESTED) and not _string_keys(v):
                return False
        return True
    if isinstance(obj, _SEQUENCES):
        return all(_string_keys(v) for v in obj if isinstance(v, _NESTED))
    return True
