"""The current schema of the run store (SQLAlchemy Core). Migrations create it step by step.

Types are portable: the same tables work on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "SCHEMA_VERSION",
    "api_keys",
    "audit_log",
    "grades",
    "metadata",
    "migrations",
    "rate_counters",
    "request_dicts",
    "request_parts",
    "requests",
    "run_cases",
    "runs",
    "subject_usage",
]

SCHEMA_VERSION = 3
"""Version of stored results; bumped with each migration that changes their meaning."""

metadata = sa.MetaData()

migrations = sa.Table(
    "nova_migrations",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
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

requests = sa.Table(
    "requests",
    metadata,
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
    sa.Column("request_parts", sa.JSON, nullable=True),
    sa.Column("packed", sa.LargeBinary, nullable=True),
    sa.Column("dict_id", sa.Integer, nullable=True),
    sa.UniqueConstraint("run_id", "candidate", "case_id", "repeat", name="uq_request_case"),
)
"""Rows from ``0006`` on keep the keys, ``error_type``, ``text`` and ``created_at`` as columns,
``request`` as JSON null and everything else, grades included, in ``packed`` (see
``_packed.py``); the columns between stay NULL. Queries by run (and candidate) use the unique
index."""

request_parts = sa.Table(
    "request_parts",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)
"""Parts of request bodies stored once per run (see ``_parts.py``); ``body`` is JSON text."""

request_dicts = sa.Table(
    "request_dicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)
"""Deflate dictionaries of packed request rows (see ``_packed.py``): one per run and writer,
the first row it packed, as JSON text."""

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(80), nullable=False),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

grades = sa.Table(
    "grades",
    metadata,
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
sa.Index("ix_grades_run", grades.c.run_id, grades.c.candidate)
"""From ``0006`` on, grades of an answer are packed into its request row; this table keeps
the grades written before, and those that have no request row of their own (pairwise
verdicts)."""

api_keys = sa.Table(
    "gateway_keys",
    metadata,
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

run_cases = sa.Table(
    "run_cases",
    metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("case_id", sa.String(256), primary_key=True),
    sa.Column("dataset", sa.String(128), nullable=True),
    sa.Column("sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("category", sa.String(32), nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("weight", sa.Float, nullable=True),
    sa.Column("escalation", sa.Boolean, nullable=True),
    sqlite_with_rowid=False,  # rows live in the primary key's tree: no second copy of the key
)
"""One row per case of a quality run: its content hash (what ``--resume`` compares; the 32
bytes of the sha256) and the facts the report slices by (see ``_cases.py``); written with the
run, in its transaction."""

rate_counters = sa.Table(
    "gateway_rate_counters",
    metadata,
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),
    sa.Column("node", sa.String(32), primary_key=True),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("tokens", sa.BigInteger, nullable=False),
)
sa.Index("ix_gateway_rate_counters_minute", rate_counters.c.minute)

subject_usage = sa.Table(
    "gateway_subject_usage",
    metadata,
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("tokens_used", sa.BigInteger, nullable=False),
)
