"""Gateway API keys as stored: a hash of the secret, never the secret itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from nova.store import _schema

__all__ = [
    "ApiKeyRecord",
    "KeyRole",
    "add_key_usage",
    "add_key_usage_in",
    "insert_key",
    "list_keys",
    "revoke_key",
]

KeyRole = Literal["app", "auditor", "admin"]


class ApiKeyRecord(BaseModel):
    """One gateway API key (the secret is not here: only its SHA-256)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Public key id, part of the key string (``nova_<id>_<secret>``)."""
    name: str
    """Who or what uses the key, e.g. ``sophia-web``."""
    role: KeyRole
    """``app`` calls models, ``auditor`` reads the audit API, ``admin`` manages keys."""
    secret_sha256: str
    """SHA-256 (hex) of the secret part; compared in constant time."""
    models: list[str] | None = None
    """Candidate ids the key may call; None means every model the gateway serves."""
    rpm: int | None = None
    """Requests per minute allowed (None: no limit)."""
    tpm: int | None = None
    """Tokens per minute allowed, prompt + completion (None: no limit)."""
    budget_tokens: int | None = None
    """Total tokens the key may ever use (None: no budget)."""
    tokens_used: int = 0
    """Tokens used so far (reconciled after each request)."""
    created_at: dt.datetime
    """Creation time, UTC."""
    revoked_at: dt.datetime | None = None
    """Revocation time, UTC; a revoked key is refused."""


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def insert_key(engine: sa.Engine, record: ApiKeyRecord) -> None:
    """Store a new key."""
    with engine.begin() as conn:
        conn.execute(sa.insert(_schema.api_keys).values(**record.model_dump()))


def list_keys(engine: sa.Engine) -> list[ApiKeyRecord]:
    """Every key, oldest first."""
    t = _schema.api_keys
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.created_at, t.c.id)).mappings().all()
    out = []
    for r in rows:
        data: dict[str, Any] = dict(r)
        data["created_at"] = _utc(data["created_at"])
        data["revoked_at"] = _utc(data["revoked_at"])
        out.append(ApiKeyRecord.model_validate(data))
    return out


def revoke_key(engine: sa.Engine, key_id: str) -> bool:
    """Mark a key revoked; False when no such key is active."""
    t = _schema.api_keys
    with engine.begin() as conn:
        res = conn.execute(
            sa.update(t)
            .where(t.c.id == key_id, t.c.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )
    return bool(res.rowcount)


def add_key_usage(engine: sa.Engine, used: Mapping[str, int]) -> None:
    """Add tokens to the keys' ``tokens_used`` in one transaction (an atomic increment, so
    several gateway processes can share the table)."""
    if not used:
        return
    with engine.begin() as conn:
        add_key_usage_in(conn, used)


def add_key_usage_in(conn: sa.Connection, used: Mapping[str, int]) -> None:
    """``add_key_usage`` inside a transaction the caller holds."""
    if used:
        conn.execute(_ADD_USAGE, [{"k": key_id, "n": tokens} for key_id, tokens in used.items()])


# Built once: the gateway adds usage in every audit batch, and building the UPDATE each time
# (expressions, coercions, a fresh cache key) was a third of the CPU of a one-record batch.
# With this and the prebuilt statements in _audit.py a one-record RunStore.audit_many went
# from 0.60 to 0.30 ms CPU (600 calls, 2 runs, 2-core VM, 2026-11-30).
_ADD_USAGE = (
    sa.update(_schema.api_keys)
    .where(_schema.api_keys.c.id == sa.bindparam("k"))
    .values(tokens_used=_schema.api_keys.c.tokens_used + sa.bindparam("n", type_=sa.Integer))
)
