"""API keys: ``nova_<id>_<secret>``, shown once; the store keeps only SHA-256 of the secret.

The secret is 32 random bytes (``secrets.token_urlsafe``), so a fast hash is enough (a slow
password hash protects guessable secrets; these are not guessable). Lookup is by the public
id, comparison of the hashes is constant-time (``hmac.compare_digest``), and an unknown id
costs the same hash and compare as a known one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from nova.store import ApiKeyRecord, KeyRole, RunStore

__all__ = ["KeyRing", "NewKey", "Principal", "create_key", "hash_secret", "parse_key"]

_KEY_RE = re.compile(r"^nova_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")
_DUMMY = hashlib.sha256(b"nova-dummy").hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, after authentication."""

    subject: str
    """Key id, or ``oidc:<sub>`` for a JWT."""
    role: KeyRole
    """``app``, ``auditor`` or ``admin``."""
    models: frozenset[str] | None = None
    """Candidate ids allowed (None: all served)."""
    rpm: int | None = None
    """Requests per minute."""
    tpm: int | None = None
    """Tokens per minute."""
    budget_tokens: int | None = None
    """Total token budget."""
    key_id: str | None = None
    """Key id when authenticated by an API key (budgets are kept per key)."""


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``secret`` is the full key string, shown once and never stored."""

    record: ApiKeyRecord
    secret: str


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a key's secret part."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key string, else None."""
    m = _KEY_RE.match(key)
    return (m.group(1), m.group(2)) if m else None


def create_key(
    store: RunStore,
    *,
    name: str,
    role: KeyRole,
    models: list[str] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    budget_tokens: int | None = None,
) -> NewKey:
    """Make a key, store its hash, and return the key string (the only time it exists)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        id=key_id,
        name=name,
        role=role,
        secret_sha256=hash_secret(secret),
        models=sorted(set(models)) if models else None,
        rpm=rpm,
        tpm=tpm,
        budget_tokens=budget_tokens,
        tokens_used=0,
        created_at=dt.datetime.now(dt.UTC),
    )
    store.add_api_key(record)
    return NewKey(record, f"nova_{key_id}_{secret}")


class KeyRing:
    """The keys of the store, kept in memory and re-read every ``refresh_s`` seconds (so a
    key revoked by ``nova keys revoke`` in another process is refused within that time)."""

    def __init__(self, store: RunStore, refresh_s: float) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self._keys: dict[str, ApiKeyRecord] = {}
        self._task: asyncio.Task[None] | None = None

    def load(self) -> None:
        """Read every key now."""
        self._keys = {k.id: k for k in self.store.api_keys()}

    def bump_usage(self, used: dict[str, int]) -> None:
        """Count usage just written to the store before the next re-read shows it (a re-read
        racing with this counts it twice for a moment: the safe direction for a budget)."""
        for key_id, tokens in used.items():
            rec = self._keys.get(key_id)
            if rec is not None:
                rec.tokens_used += tokens  # in place: no copy of the record per commit

    def __len__(self) -> int:
        return sum(1 for k in self._keys.values() if k.revoked_at is None)

    def get(self, key_id: str) -> ApiKeyRecord | None:
        """The stored record of a key id."""
        return self._keys.get(key_id)

    async def start(self) -> None:
        """Load the keys and start refreshing them."""
        await asyncio.to_thread(self.load)
        self._task = asyncio.create_task(self._refresh_loop(), name="nova-gateway-keys")

    async def close(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await asyncio.to_thread(self.load)
            except Exception:
                continue

    def authenticate(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise (in constant time per
        key shape)."""
        parsed = parse_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        record = self._keys.get(key_id)
        stored = record.secret_sha256 if record is not None else _DUMMY
        ok = hmac.compare_digest(hash_secret(secret), stored)
        if record is None or not ok or record.revoked_at is not None:
            return None
        return Principal(
            subject=record.id,
            role=record.role,
            models=frozenset(record.models) if record.models is not None else None,
            rpm=record.rpm,
            tpm=record.tpm,
            budget_tokens=record.budget_tokens,
            key_id=record.id,
        )
