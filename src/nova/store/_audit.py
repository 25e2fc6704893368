"""The hash-chained audit log: each entry holds the hash of the one before it.

``hash = sha256(prev_hash || canonical JSON of the entry)``; the first entry's ``prev_hash`` is
64 zeros. Changing, deleting or reordering an entry breaks the chain at that entry, and
``verify`` names it. (An attacker who can rewrite the whole tail can recompute it: anchor the
latest hash elsewhere, e.g. in the decision log, to detect that too.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from nova._secrets import redact
from nova.store import _schema

__all__ = ["GENESIS", "AuditEntry", "AuditIssue", "append_audit", "read_audit", "verify_audit"]

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


def _digest(
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    payload: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def append_audit(
    engine: sa.Engine,
    actor: str,
    action: str,
    subject: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry; concurrent writers are serialised by the primary key on ``seq``."""
    t = _schema.audit_log
    clean = redact(payload or {})
    # Round-trip through JSON so the stored payload hashes the same as the one we hash now.
    clean = json.loads(json.dumps(clean, ensure_ascii=False, default=str))
    for _attempt in range(20):
        try:
            with engine.begin() as conn:
                last = conn.execute(
                    sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)
                ).first()
                seq = 1 if last is None else last[0] + 1
                prev = GENESIS if last is None else last[1]
                at = dt.datetime.now(dt.UTC)
                h = _digest(prev, seq, at, actor, action, subject, clean)
                conn.execute(
                    sa.insert(t).values(
                        seq=seq,
                        at=at,
                        actor=actor,
                        action=action,
                        subject=subject,
                        payload=clean,
                        prev_hash=prev,
                        hash=h,
                    )
                )
            return AuditEntry(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                payload=clean,
                prev_hash=prev,
                hash=h,
            )
        except sa.exc.IntegrityError:
            continue  # another writer took this seq; read the new tail and retry
    raise RuntimeError("could not append to the audit log after 20 attempts")


def read_audit(engine: sa.Engine) -> list[AuditEntry]:
    """All entries in chain order."""
    t = _schema.audit_log
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.seq)).mappings().all()
    out = []
    for r in rows:
        data = dict(r)
        if data["at"].tzinfo is None:
            data["at"] = data["at"].replace(tzinfo=dt.UTC)
        out.append(AuditEntry.model_validate(data))
    return out


def verify_audit(engine: sa.Engine) -> list[AuditIssue]:
    """Every break in the chain: changed, deleted, inserted or reordered entries."""
    issues: list[AuditIssue] = []
    prev_hash = GENESIS
    expected_seq = 1
    for e in read_audit(engine):
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
    return issues
