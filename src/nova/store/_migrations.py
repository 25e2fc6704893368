"""Named, ordered migrations of the run store, recorded in ``nova_migrations``.

Each migration states its own DDL (it must not change when the current schema in
``_schema.py`` moves on) and runs in one transaction together with its record. On PostgreSQL a
crash therefore leaves the database either before or after a migration. On SQLite, as pysqlite
drives it (legacy transaction control), DDL statements take effect as they run, so a crash in
the middle of a migration can leave some of its steps applied and the migration unrecorded:
migrations from ``0006`` on check each step and are finished when the store is opened again;
``0001``-``0005`` are not (a crash during those, which run when a store is first created,
leaves a new store that should be deleted and created again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from nova.store import _schema

__all__ = ["MIGRATIONS", "applied_migrations", "migrate"]

Migration = Callable[[sa.Connection], None]


def _m0001_runs_and_requests(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "runs",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("parent_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("profile", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config_hash", sa.String(80), nullable=True),
        sa.Column("nova_version", sa.String(40), nullable=False),
        sa.Column("workspace_rev", sa.String(80), nullable=True),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meta", sa.JSON, nullable=False),
    )
    req = sa.Table(
        "requests",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("candidate", sa.String(128), nullable=False),
        sa.Column("case_id", sa.String(256), nullable=True),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("response", sa.JSON, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("finish_reason", sa.String(40), nullable=True),
        sa.Column("model_reported", sa.String(256), nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("usage_source", sa.String(16), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("t_send_ns", sa.BigInteger, nullable=True),
        sa.Column("t_first_byte_ns", sa.BigInteger, nullable=True),
        sa.Column("t_first_token_ns", sa.BigInteger, nullable=True),
        sa.Column("t_last_token_ns", sa.BigInteger, nullable=True),
        sa.Column("chunk_times_ns", sa.JSON, nullable=True),
        sa.Column("error_type", sa.String(80), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "candidate", "case_id", "repeat", name="uq_request_case"),
    )
    sa.Index("ix_requests_run_candidate", req.c.run_id, req.c.candidate)
    md.create_all(conn)


def _m0002_audit_log(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "audit_log",
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    md.create_all(conn)


def _m0003_grades(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table("runs", md, sa.Column("id", sa.String(64), primary_key=True))
    t = sa.Table(
        "grades",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("candidate", sa.String(128), nullable=False),
        sa.Column("case_id", sa.String(256), nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("grader", sa.String(80), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    sa.Index("ix_grades_run", t.c.run_id, t.c.candidate)
    t.create(conn)


def _m0004_gateway(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "gateway_keys",
        md,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("models", sa.JSON, nullable=True),
        sa.Column("rpm", sa.Integer, nullable=True),
        sa.Column("tpm", sa.Integer, nullable=True),
        sa.Column("budget_tokens", sa.BigInteger, nullable=True),
        sa.Column("tokens_used", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    md.create_all(conn)


def _m0005_request_parts(conn: sa.Connection) -> None:
    # Rows written before this migration keep their whole body in ``request`` and NULL here;
    # the reader treats NULL as "nothing moved", so they read as before.
    md = sa.MetaData()
    sa.Table("runs", md, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table(
        "request_parts",
        md,
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    ).create(conn)
    conn.execute(sa.text("ALTER TABLE requests ADD COLUMN request_parts JSON"))


def _m0006_packed_requests(conn: sa.Connection) -> None:
    # Rows written before keep their columns and NULL in ``packed``; the reader reads them as
    # before. Grades stored before stay in ``grades``. Each step first looks whether it is
    # done: SQLite, as pysqlite drives it, commits each DDL statement at once, so a crash
    # part-way leaves some steps applied and the migration unrecorded; opening the store again
    # finishes it.
    md = sa.MetaData()
    sa.Table("runs", md, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table(
        "request_dicts",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    ).create(conn, checkfirst=True)
    have = {c["name"] for c in sa.inspect(conn).get_columns("requests")}
    if "packed" not in have:
        blob = sa.LargeBinary().compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE requests ADD COLUMN packed {blob}"))
    if "dict_id" not in have:
        conn.execute(sa.text("ALTER TABLE requests ADD COLUMN dict_id INTEGER"))
    # (run_id, candidate) is the head of the unique index uq_request_case: a second index on
    # it cost ~40 bytes a request and served no query the unique one does not.
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_requests_run_candidate"))


def _m0007_run_cases(conn: sa.Connection) -> None:
    # Runs stored before keep their case hashes and facts in runs.meta (``case_sha256``,
    # ``case_facts``); the reader falls back to those when a run has no rows here.
    md = sa.MetaData()
    sa.Table("runs", md, sa.Column("id", sa.String(64), primary_key=True))
    sa.Table(
        "run_cases",
        md,
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("case_id", sa.String(256), primary_key=True),
        sa.Column("dataset", sa.String(128), nullable=True),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("weight", sa.Float, nullable=True),
        sa.Column("escalation", sa.Boolean, nullable=True),
        sqlite_with_rowid=False,
    ).create(conn, checkfirst=True)  # one statement; checkfirst: finished after a crash


def _m0008_gateway_rate_counters(conn: sa.Connection) -> None:
    # Gateway replicas sharing a store: each writes its own request/token counts per subject
    # and minute (one row per replica, absolute values, so a retried write counts once) and
    # reads the others'; OIDC subjects' token usage for their budgets.
    md = sa.MetaData()
    counters = sa.Table(
        "gateway_rate_counters",
        md,
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("node", sa.String(32), primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("tokens", sa.BigInteger, nullable=False),
    )
    minute = sa.Index("ix_gateway_rate_counters_minute", counters.c.minute)
    usage = sa.Table(
        "gateway_subject_usage",
        md,
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("tokens_used", sa.BigInteger, nullable=False),
    )
    # Step by step, each skipped when done (SQLite applies DDL as it runs: see above).
    counters.create(conn, checkfirst=True)  # with its index when the table is new
    minute.create(conn, checkfirst=True)
    usage.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_runs_and_requests", _m0001_runs_and_requests),
    ("0002_audit_log", _m0002_audit_log),
    ("0003_grades", _m0003_grades),
    ("0004_gateway", _m0004_gateway),
    ("0005_request_parts", _m0005_request_parts),
    ("0006_packed_requests", _m0006_packed_requests),
    ("0007_run_cases", _m0007_run_cases),
    ("0008_gateway_rate_counters", _m0008_gateway_rate_counters),
]


def applied_migrations(conn: sa.Connection) -> list[str]:
    """Names of the migrations recorded in the database, in the order they were applied."""
    if not sa.inspect(conn).has_table("nova_migrations"):
        return []
    rows = conn.execute(sa.select(_schema.migrations.c.name).order_by(_schema.migrations.c.name))
    return [r[0] for r in rows]


def migrate(engine: sa.Engine, upto: str | None = None) -> list[str]:
    """Apply every migration not yet recorded (up to and including ``upto``); return them."""
    with engine.begin() as conn:
        _schema.migrations.create(conn, checkfirst=True)
    known = [name for name, _ in MIGRATIONS]
    done: list[str] = []
    with engine.connect() as conn:
        applied = applied_migrations(conn)
    unknown = [a for a in applied if a not in known]
    if unknown:
        from nova.errors import StoreError

        raise StoreError(
            f"the run store has migrations this nova does not know ({', '.join(unknown)}): "
            "it was written by a newer nova; upgrade nova"
        )
    for name, fn in MIGRATIONS:
        if name in applied:
            continue
        with engine.begin() as conn:
            fn(conn)
            conn.execute(
                sa.insert(_schema.migrations).values(name=name, applied_at=dt.datetime.now(dt.UTC))
            )
        done.append(name)
        if name == upto:
            break
    return done
