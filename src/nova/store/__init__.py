"""The run store: SQLAlchemy Core schema with named migrations; SQLite by default, PostgreSQL
by URL (``NOVA_DATABASE_URL``)."""

from nova.store._audit import (
    AuditEntry,
    AuditHead,
    AuditIssue,
    AuditItem,
    SqliteAuditAppender,
)
from nova.store._cases import RunCase
from nova.store._keys import ApiKeyRecord, KeyRole
from nova.store._migrations import MIGRATIONS
from nova.store._ratelimit import RateCount, RateSync
from nova.store._records import GradeRecord, RequestRecord, RunRecord, RunStatus, UsageSource
from nova.store._schema import SCHEMA_VERSION
from nova.store._store import RunStore, new_run_id
from nova.store._url import database_url, open_store

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ApiKeyRecord",
    "AuditEntry",
    "AuditHead",
    "AuditIssue",
    "AuditItem",
    "GradeRecord",
    "KeyRole",
    "RateCount",
    "RateSync",
    "RequestRecord",
    "RunCase",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "SqliteAuditAppender",
    "UsageSource",
    "database_url",
    "new_run_id",
    "open_store",
]
