"""Reviews and sign-off: every action is an entry of the hash-chained audit log.

An approval refers to the matrix version (its sha256) the reviewer saw; when the matrix
changes, earlier approvals become stale and a decision needs them again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from nova.store import AuditEntry, RunStore

__all__ = ["ReviewState", "record_review", "request_review", "review_status"]

Decision = Literal["approve", "reject"]


class ReviewState(BaseModel):
    """Where one role's review of one candidate stands."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    role: str
    """Reviewer role."""
    status: Literal["approved", "rejected", "requested", "missing", "stale"]
    """Latest state; ``stale`` = approved for an earlier matrix version."""
    by: str | None = None
    """Who acted."""
    at: dt.datetime | None = None
    """When."""
    comment: str | None = None
    """Their comment."""
    audit_seq: int | None = None
    """Audit log entry of the action."""


def request_review(
    store: RunStore,
    candidate: str,
    *,
    by: str,
    roles: Sequence[str],
    matrix_sha: str,
    note: str = "",
) -> AuditEntry:
    """Record that a review of ``candidate`` was requested from ``roles``."""
    return store.audit(
        by,
        "review.request",
        candidate,
        {"roles": list(roles), "matrix_sha256": matrix_sha, "note": note},
    )


def record_review(
    store: RunStore,
    candidate: str,
    *,
    role: str,
    decision: Decision,
    by: str,
    comment: str,
    matrix_sha: str,
) -> AuditEntry:
    """Record an approval or rejection by ``by`` in ``role``."""
    return store.audit(
        by,
        f"review.{decision}",
        candidate,
        {"role": role, "comment": comment, "matrix_sha256": matrix_sha},
    )


def review_status(
    store: RunStore, candidate: str, roles: Sequence[str], matrix_sha: str | None
) -> list[ReviewState]:
    """Latest state per required role (later entries override earlier ones)."""
    latest: dict[str, ReviewState] = {
        r: ReviewState(candidate=candidate, role=r, status="missing") for r in roles
    }
    for e in store.audit_entries():
        if e.subject != candidate:
            continue
        if e.action == "review.request":
            for r in e.payload.get("roles", []):
                if r in latest and latest[r].status in ("missing", "stale"):
                    latest[r] = ReviewState(
                        candidate=candidate,
                        role=r,
                        status="requested",
                        by=e.actor,
                        at=e.at,
                        audit_seq=e.seq,
                    )
        elif e.action in ("review.approve", "review.reject"):
            role = e.payload.get("role")
            if role not in latest:
                continue
            status: Literal["approved", "rejected", "stale"] = (
                "rejected" if e.action == "review.reject" else "approved"
            )
            if status == "approved" and matrix_sha and e.payload.get("matrix_sha256") != matrix_sha:
                status = "stale"
            latest[role] = ReviewState(
                candidate=candidate,
                role=role,
                status=status,
                by=e.actor,
                at=e.at,
                comment=e.payload.get("comment"),
                audit_seq=e.seq,
            )
    return [latest[r] for r in roles]
