"""The run store: runs and every request of them, in SQLite (default) or PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from nova.__about__ import __version__
from nova._secrets import redact
from nova.errors import MissingDependencyError, StoreError
from nova.store import _schema
from nova.store._audit import (
    AuditEntry,
    AuditHead,
    AuditIssue,
    AuditItem,
    SqliteAuditAppender,
    append_audit_many,
    read_audit,
    read_head,
    verify_audit,
)
from nova.store._cases import RunCase, insert_run_cases, iter_run_cases, meta_of_cases
from nova.store._keys import (
    ApiKeyRecord,
    add_key_usage,
    add_key_usage_in,
    insert_key,
    list_keys,
    revoke_key,
)
from nova.store._migrations import applied_migrations, migrate
from nova.store._packed import RowReader, grade_fields, pack, packed_doc
from nova.store._parts import pack_times, part_text, split_request
from nova.store._ratelimit import RateCount, RateSync, sync_rate_counters
from nova.store._records import GradeRecord, RequestRecord, RunRecord, RunStatus

__all__ = ["RunStore", "new_run_id"]

_PARTS_MIGRATION = "0005_request_parts"
_PACKED_MIGRATION = "0006_packed_requests"
_PACKED_COLUMNS = ("run_id", "candidate", "case_id", "repeat", "text", "error_type")
"""Fields a packed request row keeps as columns (``_packed.py``): what queries filter on."""


def new_run_id(now: dt.datetime | None = None) -> str:
    """Time-sortable, human-readable run id: ``20261127-032100-ab12cd``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns naive datetimes; everything nova stores is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; with synchronous=NORMAL a committed transaction
    # survives a crash of the process (kill -9 included). An OS crash or power loss may lose
    # the last commits, never corrupt the file.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class RunStore:
    """Runs and requests. Opening the store applies pending migrations.

    >>> store = RunStore("sqlite://")          # in memory
    >>> run = store.start_run("quality", profile="llm-core")
    >>> store.finish_run(run.id, "completed")
    >>> store.get_run(run.id).status
    'completed'
    """

    def __init__(
        self, url: str, *, auto_migrate: bool = True, audit_head: Path | None = None
    ) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"invalid database URL {url!r}: {exc}") from None
        self._is_sqlite = parsed.get_backend_name() == "sqlite"
        in_memory = parsed.database in (None, "", ":memory:")
        self._sqlite_path = str(parsed.database) if self._is_sqlite and not in_memory else None
        """The SQLite database file (None for PostgreSQL or an in-memory database)."""
        kwargs: dict[str, Any] = {}
        self.audit_head = audit_head
        """File anchoring the audit chain's head (default: ``<sqlite file>.audit.head``)."""
        if self._sqlite_path is not None:
            Path(self._sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            if audit_head is None:
                self.audit_head = Path(f"{self._sqlite_path}.audit.head")
        self.in_memory = self._is_sqlite and in_memory
        """An in-memory SQLite database: nothing outside this process can share it."""
        if self.in_memory:
            # One shared in-memory database; writers may run in worker threads.
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        try:
            self.engine = sa.create_engine(parsed, **kwargs)
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(
                f"the run store at {parsed.render_as_string(hide_password=True)}",
                "postgres",
                exc.name or "psycopg",
            ) from None
        if self._is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._compact = False
        """Whether rows are written compactly: request bodies split into parts, chunk times
        as deltas (the store has ``0005``; an older nova refuses such a store)."""
        self._packed = False
        """Whether rows are packed (``_packed.py``; the store has ``0006``)."""
        self._parts_written: set[tuple[str, str]] = set()
        self._dicts: dict[str, tuple[int, bytes]] = {}
        """Per run: the committed dictionary (id, text) this store packs its rows with."""
        if auto_migrate:
            self.migrate()
        else:
            try:
                self._note_format()
            except sa.exc.OperationalError as exc:
                raise StoreError(f"cannot open the run store {self!r}: {exc.orig}") from None

    def __repr__(self) -> str:
        return f"RunStore({make_url(self.url).render_as_string(hide_password=True)!r})"

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied now.

        Shards of one run open a fresh store at the same moment: a migration that another
        process applied meanwhile fails here ("already exists"), or SQLite refuses while the
        other process migrates ("database is locked"); either is looked at again."""
        done: list[str] = []
        for attempt in range(10):
            try:
                done = migrate(self.engine)
                break
            except sa.exc.DBAPIError as exc:
                if attempt == 9 or not self._migrated_elsewhere(exc):
                    raise StoreError(f"cannot open the run store {self!r}: {exc.orig}") from None
                time.sleep(0.05 * (attempt + 1))
        self._note_format()
        return done

    def _note_format(self) -> None:
        applied = self.applied_migrations()
        self._compact = _PARTS_MIGRATION in applied
        self._packed = _PACKED_MIGRATION in applied

    @staticmethod
    def _migrated_elsewhere(exc: sa.exc.DBAPIError) -> bool:
        text = str(exc.orig).lower()
        return (
            "already exists" in text
            or "duplicate column" in text  # SQLite: a column another process added meanwhile
            or "database is locked" in text
            or isinstance(exc, sa.exc.IntegrityError)
        )

    def applied_migrations(self) -> list[str]:
        """Names of applied migrations."""
        with self.engine.connect() as conn:
            return applied_migrations(conn)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs -----------------------------------------------------------------------------
    def start_run(
        self,
        kind: str,
        *,
        profile: str | None = None,
        config_hash: str | None = None,
        workspace_rev: str | None = None,
        parent_id: str | None = None,
        meta: dict[str, Any] | None = None,
        run_id: str | None = None,
        cases: Iterable[RunCase] | None = None,
    ) -> RunRecord:
        """Record the start of a run and return it; ``cases`` (a quality run's, consumed one
        batch at a time) are stored in the same transaction as the run."""
        rec = RunRecord(
            id=run_id or new_run_id(),
            parent_id=parent_id,
            kind=kind,
            profile=profile,
            status="running",
            config_hash=config_hash,
            nova_version=__version__,
            workspace_rev=workspace_rev,
            schema_version=_schema.SCHEMA_VERSION,
            started_at=dt.datetime.now(dt.UTC),
            meta=redact(meta or {}),
        )
        with self.engine.begin() as conn:
            if cases is not None and not sa.inspect(conn).has_table("run_cases"):
                # A store not migrated to 0007 (opened without migrating): as nova did before.
                rec.meta.update(meta_of_cases(cases))
                cases = None
            conn.execute(sa.insert(_schema.runs).values(**rec.model_dump()))
            if cases is not None:
                try:
                    insert_run_cases(conn, rec.id, cases)
                except sa.exc.IntegrityError as exc:
                    raise StoreError(
                        f"cannot record the cases of run {rec.id}: {exc.orig} (a case id "
                        "appears in two of its datasets; case ids must be unique across them)"
                    ) from None
        return rec

    def iter_run_cases(self, run_id: str) -> Iterator[RunCase]:
        """The cases a quality run recorded when it started (hash and facts), in case-id
        order; runs stored before migration 0007 read them from their meta."""
        return iter_run_cases(self.engine, run_id, self.get_run(run_id).meta)

    def _locked_meta(self, conn: sa.Connection, run_id: str) -> dict[str, Any]:
        """The stored meta of ``run_id``, with the run locked until ``conn`` commits: shards of
        one run change its meta one at a time. PostgreSQL locks the row; a SQLite file takes
        its write lock before reading (a deferred transaction would read, then fail to write
        after another process committed)."""
        if self._sqlite_path is not None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        row = conn.execute(
            sa.select(_schema.runs.c.meta).where(_schema.runs.c.id == run_id).with_for_update()
        ).first()
        if row is None:
            raise StoreError(f"unknown run {run_id!r}")
        return dict(row[0] or {})

    def finish_run(
        self, run_id: str, status: RunStatus, meta: dict[str, Any] | None = None
    ) -> None:
        """Mark a run finished; ``meta`` is merged into the stored meta."""
        with self.engine.begin() as conn:
            merged = {**self._locked_meta(conn, run_id), **redact(meta or {})}
            conn.execute(
                sa.update(_schema.runs)
                .where(_schema.runs.c.id == run_id)
                .values(status=status, ended_at=dt.datetime.now(dt.UTC), meta=merged)
            )

    def update_meta(
        self, run_id: str, meta: dict[str, Any], status: RunStatus | None = None
    ) -> None:
        """Merge ``meta`` into a run's stored meta (and set its status, if given)."""
        with self.engine.begin() as conn:
            values: dict[str, Any] = {"meta": {**self._locked_meta(conn, run_id), **redact(meta)}}
            if status is not None:
                values["status"] = status
            conn.execute(
                sa.update(_schema.runs).where(_schema.runs.c.id == run_id).values(**values)
            )

    def update_meta_with(
        self, run_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        """Replace a run's meta by ``change(meta)``, read and written under the run's lock (no
        other process changes it in between); return what was stored."""
        with self.engine.begin() as conn:
            meta: dict[str, Any] = redact(change(copy.deepcopy(self._locked_meta(conn, run_id))))
            conn.execute(
                sa.update(_schema.runs).where(_schema.runs.c.id == run_id).values(meta=meta)
            )
        return meta

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id (a unique prefix is enough)."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(_schema.runs).where(_schema.runs.c.id.startswith(run_id)).limit(2)
                )
                .mappings()
                .all()
            )
        if not rows:
            raise StoreError(f"no run {run_id!r} in {self!r}: see `nova runs list`")
        if len(rows) > 1:
            raise StoreError(f"run id prefix {run_id!r} is ambiguous: give more characters")
        return self._run(rows[0])

    def list_runs(self, *, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest runs first."""
        q = sa.select(_schema.runs).order_by(_schema.runs.c.started_at.desc()).limit(limit)
        if kind:
            q = q.where(_schema.runs.c.kind == kind)
        with self.engine.connect() as conn:
            return [self._run(r) for r in conn.execute(q).mappings()]

    @staticmethod
    def _run(row: Any) -> RunRecord:
        data = dict(row)
        data["started_at"] = _utc(data["started_at"])
        data["ended_at"] = _utc(data["ended_at"])
        return RunRecord.model_validate(data)

    # --- requests -------------------------------------------------------------------------
    def add_requests(self, run_id: str, records: Iterable[RequestRecord]) -> int:
        """Store requests of a run in one transaction; return how many were stored.

        Secrets registered with ``nova._secrets`` are masked in every field first.
        """
        return self.add_results(run_id, ((r, []) for r in records))

    def add_results(
        self, run_id: str, results: Iterable[tuple[RequestRecord | None, list[GradeRecord]]]
    ) -> int:
        """Store requests with their grades in ONE transaction: a case is either stored with
        all its grades or not at all (what resume relies on). Returns the requests stored.

        Secrets registered with ``nova._secrets`` are masked in every field first."""
        now = dt.datetime.now(dt.UTC)
        req_rows: list[dict[str, Any]] = []
        grade_rows: list[dict[str, Any]] = []
        parts: dict[str, str] = {}
        for req, grades in results:
            dumped = [redact(g.model_dump()) for g in grades]
            if req is not None:
                row, dumped = self._request_row(run_id, req, dumped, now, parts)
                req_rows.append(row)
            grade_rows += [{**g, "run_id": run_id} for g in dumped]
        if not req_rows and not grade_rows:
            return 0
        new_dict = self._pack_rows(run_id, req_rows)
        try:
            with self.engine.begin() as conn:
                self._insert_parts(conn, run_id, parts)
                if new_dict is not None:
                    d = _schema.request_dicts
                    dict_id = conn.execute(
                        sa.insert(d)
                        .values(run_id=run_id, body=new_dict.decode("utf-8"))
                        .returning(d.c.id)
                    ).scalar_one()
                    for row in req_rows:
                        row["dict_id"] = dict_id
                if req_rows:
                    conn.execute(sa.insert(_schema.requests), req_rows)
                if grade_rows:
                    conn.execute(sa.insert(_schema.grades), grade_rows)
        except sa.exc.IntegrityError as exc:
            raise StoreError(
                f"cannot store results of run {run_id}: {exc.orig} (unknown run, or the same "
                "candidate/case/repeat stored twice)"
            ) from None
        self._remember_parts(run_id, parts)
        if new_dict is not None:
            self._remember_dict(run_id, req_rows[0]["dict_id"], new_dict)
        return len(req_rows)

    def _request_row(
        self,
        run_id: str,
        rec: RequestRecord,
        grades: list[dict[str, Any]],
        now: dt.datetime,
        parts: dict[str, str],
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The row of one request (secrets masked), its repeated parts collected in ``parts``,
        and the grades it does not hold (all of them, unless the store packs rows: then those
        of another candidate, case or repeat)."""
        row: dict[str, Any] = {**redact(rec.model_dump()), "run_id": run_id, "created_at": now}
        if not self._compact:
            return row, grades
        rest, refs, found = split_request(row["request"])
        row["request"], row["request_parts"] = rest, None
        if refs:  # the map of where the parts go repeats too: it is a part itself
            text = part_text(refs)
            sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
            found[sha] = text
            row["request_parts"] = sha
        parts.update(found)
        if not self._packed:
            row["chunk_times_ns"] = pack_times(row["chunk_times_ns"])
            return row, grades
        key = (row["candidate"], row["case_id"], row["repeat"])
        mine = [(g["candidate"], g["case_id"], g["repeat"]) == key for g in grades]
        own = [g for g, m in zip(grades, mine, strict=True) if m]
        packed = {name: row[name] for name in _PACKED_COLUMNS}
        # ``request`` is NOT NULL since 0001: a packed row holds JSON null there.
        packed.update(created_at=now, request=None, dict_id=None)
        packed["packed"] = packed_doc(row, row["request_parts"], own)
        return packed, [g for g, m in zip(grades, mine, strict=True) if not m]

    def _pack_rows(self, run_id: str, rows: list[dict[str, Any]]) -> bytes | None:
        """Deflate the packed rows' fields against the run's dictionary; return the new
        dictionary (the first row's fields) when this store has none for the run yet."""
        if not self._packed or not rows:
            return None
        known = self._dicts.get(run_id)
        new = None if known is not None else rows[0]["packed"]
        zdict = known[1] if known is not None else rows[0]["packed"]
        for row in rows:
            row["packed"] = pack(row["packed"], zdict)
            if known is not None:
                row["dict_id"] = known[0]
        return new

    def _remember_dict(self, run_id: str, dict_id: int, text: bytes) -> None:
        """Note a committed dictionary (bounded: forgotten when full, then a new one is
        stored for a run written again)."""
        if len(self._dicts) > 1000:
            self._dicts.clear()
        self._dicts.setdefault(run_id, (dict_id, text))

    def _insert_parts(self, conn: sa.Connection, run_id: str, parts: Mapping[str, str]) -> None:
        """Store the parts this run does not have yet (concurrent writers of one run, such as
        shards on PostgreSQL, may race: a part already there is left as it is)."""
        new = [
            {"run_id": run_id, "sha256": sha, "body": text}
            for sha, text in parts.items()
            if (run_id, sha) not in self._parts_written
        ]
        if not new:
            return
        t = _schema.request_parts
        if self._is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            conn.execute(sqlite_insert(t).on_conflict_do_nothing(), new)
        else:  # PostgreSQL, the other store nova supports
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(t).on_conflict_do_nothing(), new)

    def _remember_parts(self, run_id: str, parts: Mapping[str, str]) -> None:
        """Note committed parts, so the next batches skip them (bounded: forgotten when full)."""
        if len(self._parts_written) > 100_000:
            self._parts_written.clear()
        self._parts_written.update((run_id, sha) for sha in parts)

    def iter_grades(self, run_id: str) -> Iterator[GradeRecord]:
        """Grades of a run: those packed with their request (in request order), then those
        stored alone (pairwise verdicts; every grade written before ``0006``), each in
        insertion order. A case's grades always come together and in the order given."""
        t, g = _schema.requests, _schema.grades
        with self.engine.connect() as conn:
            if self._packed:
                reader = RowReader(conn, run_id)
                q = (
                    sa.select(t.c.candidate, t.c.case_id, t.c.repeat, t.c.packed, t.c.dict_id)
                    .where(t.c.run_id == run_id, t.c.packed.is_not(None))
                    .order_by(t.c.id)
                )
                for req in conn.execute(q):
                    for fields in grade_fields(reader.doc(req.packed, req.dict_id)):
                        yield GradeRecord(
                            candidate=req.candidate,
                            case_id=req.case_id,
                            repeat=req.repeat,
                            **fields,
                        )
            cols = (g.c.candidate, g.c.case_id, g.c.repeat, g.c.grader, g.c.passed, g.c.score)
            q = sa.select(*cols, g.c.detail).where(g.c.run_id == run_id).order_by(g.c.id)
            for row in conn.execute(q).mappings():
                yield GradeRecord.model_validate(dict(row))

    def add_request(self, run_id: str, record: RequestRecord) -> None:
        """Store one request in its own transaction (durable when this returns)."""
        self.add_requests(run_id, [record])

    def iter_requests(self, run_id: str, candidate: str | None = None) -> Iterator[RequestRecord]:
        """Requests of a run in insertion order, each body exactly as it was written (parts
        stored once per run are put back in place, packed rows unpacked)."""
        t = _schema.requests
        skip = {"id", "run_id", "created_at"}
        if not self._compact:  # a store not migrated yet has no request_parts column
            skip.add("request_parts")
        if not self._packed:
            skip |= {"packed", "dict_id"}
        q = sa.select(*(c for c in t.c if c.name not in skip)).where(t.c.run_id == run_id)
        if candidate:
            q = q.where(t.c.candidate == candidate)
        with self.engine.connect() as conn:
            reader = RowReader(conn, run_id)
            for row in conn.execute(q.order_by(t.c.id)).mappings():
                yield RequestRecord.model_validate(reader.record_fields(row))

    def count_requests(self, run_id: str) -> int:
        """Number of stored requests of a run."""
        t = _schema.requests
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).where(t.c.run_id == run_id)).scalar_one()
            )

    def delete_failed(
        self, run_id: str, candidates: list[str], case_ids: Container[str] | None = None
    ) -> int:
        """Remove failed requests (error_type set) of ``candidates`` (of ``case_ids`` only,
        when given: one shard's cases) and their grades, so a resumed run tries them again.
        Returns how many were removed."""
        t, g = _schema.requests, _schema.grades
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(t.c.candidate, t.c.case_id, t.c.repeat).where(
                    t.c.run_id == run_id, t.c.error_type.is_not(None), t.c.candidate.in_(candidates)
                )
            ).all()
            if case_ids is not None:
                rows = [r for r in rows if r[1] in case_ids]
            for cand, case_id, repeat in rows:
                conn.execute(
                    sa.delete(g).where(
                        g.c.run_id == run_id,
                        g.c.candidate == cand,
                        g.c.case_id == case_id,
                        g.c.repeat == repeat,
                    )
                )
                if case_ids is not None:
                    conn.execute(
                        sa.delete(t).where(
                            t.c.run_id == run_id,
                            t.c.candidate == cand,
                            t.c.case_id == case_id,
                            t.c.repeat == repeat,
                        )
                    )
            if case_ids is None:
                conn.execute(
                    sa.delete(t).where(
                        t.c.run_id == run_id,
                        t.c.error_type.is_not(None),
                        t.c.candidate.in_(candidates),
                    )
                )
        return len(rows)

    def done_keys(
        self,
        run_id: str,
        candidates: Collection[str] | None = None,
        case_ids: Collection[str] | None = None,
    ) -> set[tuple[str, str | None, int]]:
        """(candidate, case_id, repeat) already stored: what a resumed run can skip (only of
        ``candidates`` and ``case_ids`` when given: a resumed run asks one batch at a time)."""
        t = _schema.requests
        q = sa.select(t.c.candidate, t.c.case_id, t.c.repeat).where(t.c.run_id == run_id)
        if candidates is not None:
            q = q.where(t.c.candidate.in_(candidates))
        if case_ids is not None:
            q = q.where(t.c.case_id.in_(case_ids))
        with self.engine.connect() as conn:
            return {(r[0], r[1], r[2]) for r in conn.execute(q)}

    def answer_texts(
        self, run_id: str, candidates: Collection[str], case_ids: Collection[str], repeat: int = 0
    ) -> dict[tuple[str, str], str]:
        """(candidate, case_id) -> answer text of the answered (not failed) requests of
        ``candidates`` to ``case_ids`` at ``repeat``: what the pairwise judge compares, asked
        one batch of cases at a time."""
        t = _schema.requests
        q = sa.select(t.c.candidate, t.c.case_id, t.c.text).where(
            t.c.run_id == run_id,
            t.c.candidate.in_(candidates),
            t.c.case_id.in_(case_ids),
            t.c.repeat == repeat,
            t.c.error_type.is_(None),
        )
        with self.engine.connect() as conn:
            return {(r[0], r[1]): r[2] or "" for r in conn.execute(q)}

    # --- audit log ------------------------------------------------------------------------
    def audit(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry to the hash-chained audit log."""
        return self.audit_many([AuditItem(actor, action, subject, payload)])[0]

    def audit_many(
        self, items: Sequence[AuditItem], *, key_usage: Mapping[str, int] | None = None
    ) -> list[AuditEntry]:
        """Append several entries in one transaction (all or none), adding ``key_usage``
        (tokens per gateway key id) in the same transaction."""

        def usage(conn: sa.Connection) -> None:
            add_key_usage_in(conn, key_usage or {})

        return append_audit_many(
            self.engine, items, head=self.audit_head, also=usage if key_usage else None
        )

    def audit_appender(self) -> SqliteAuditAppender | None:
        """A dedicated appender that commits without waiting for locks (the gateway's hot
        path), for a SQLite file; None for PostgreSQL or an in-memory database. The caller
        closes it."""
        if self._sqlite_path is None:
            return None
        return SqliteAuditAppender(self._sqlite_path, head=self.audit_head)

    def checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the database file without blocking writers
        (``PRAGMA wal_checkpoint(PASSIVE)``); nothing for PostgreSQL."""
        if self._is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def audit_entries(self, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """The audit log in chain order (after seq ``after``, at most ``limit`` entries)."""
        return read_audit(self.engine, after=after, limit=limit)

    def audit_anchor(self) -> AuditHead | None:
        """The head anchored outside the table (None without an anchor file)."""
        return read_head(self.audit_head) if self.audit_head is not None else None

    def verify_audit(self) -> list[AuditIssue]:
        """Breaks of the chain, and a deleted tail when the head is anchored; empty when the
        log is intact."""
        return verify_audit(self.engine, head=self.audit_head)

    # --- gateway API keys -----------------------------------------------------------------
    def add_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new gateway key (its hash, never the secret)."""
        insert_key(self.engine, record)

    def api_keys(self) -> list[ApiKeyRecord]:
        """Every gateway key, oldest first."""
        return list_keys(self.engine)

    def revoke_api_key(self, key_id: str) -> bool:
        """Revoke a key; False when there is no active key with this id."""
        return revoke_key(self.engine, key_id)

    def add_api_key_usage(self, used: Mapping[str, int]) -> None:
        """Add used tokens per key id, atomically."""
        add_key_usage(self.engine, used)

    # --- gateway rate limits shared by replicas -------------------------------------------
    def sync_rate_counters(
        self,
        node: str,
        mine: Sequence[RateCount],
        since: int,
        *,
        add_usage: Mapping[str, int] | None = None,
        read_usage: Collection[str] | None = (),
    ) -> RateSync:
        """Write one gateway process's counts and OIDC subjects' new usage; read the other
        processes' counts from minute ``since`` on and the stored usage of ``read_usage``
        (None: of every subject)."""
        return sync_rate_counters(
            self.engine,
            node=node,
            mine=mine,
            since=since,
            add_usage=add_usage,
            read_usage=read_usage,
        )
