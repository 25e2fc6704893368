"""Reviews and sign-off: every action is an entry of the hash-chained audit log.

An approval refers to the matrix version (its sha256) the reviewer saw; when the matrix
changes, earlier approvals become stale and a decision needs them again. An approval can carry
the reviewer's SSH signature over the canonical payload (``nova.governance._signing``); with
``governance.require_signed_reviews: true`` unsigned approvals are refused, and a recorded
signature is verified again (offline, ``ssh-keygen -Y verify``) whenever the status is read, so
a key removed from ``allowed_signers`` stops counting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nova.config import NovaConfig
from nova.errors import SignatureError
from nova.governance._signing import SignedReview, review_payload, verify_review_signature
from nova.store import AuditEntry, RunStore

__all__ = [
    "ReviewState",
    "SignaturePolicy",
    "record_review",
    "request_review",
    "review_status",
]

Decision = Literal["approve", "reject"]


class SignaturePolicy(BaseModel):
    """Which signatures count: from nova.yaml's ``governance`` section."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    workspace: str
    """Workspace name in the signed payload (nova.yaml ``name``)."""
    required: bool = False
    """Whether approvals need a valid signature (``require_signed_reviews``)."""
    allowed: dict[str, list[str]] = Field(default_factory=dict)
    """Role -> SSH public keys allowed to sign for it."""

    @classmethod
    def from_config(cls, cfg: NovaConfig) -> SignaturePolicy:
        """From ``name`` and ``governance`` of nova.yaml."""
        return cls(
            workspace=cfg.name,
            required=cfg.governance.require_signed_reviews,
            allowed={r.role: list(r.allowed_signers) for r in cfg.governance.reviewers},
        )

    def verify(
        self,
        *,
        candidate: str,
        role: str,
        decision: str,
        matrix_sha: str,
        signature: str,
        signed_on: dt.date,
    ) -> SignedReview:
        """The verified signature, or SignatureError."""
        payload = review_payload(
            workspace=self.workspace,
            candidate=candidate,
            role=role,
            decision=decision,
            matrix_sha=matrix_sha,
            signed_on=signed_on,
        )
        signer = verify_review_signature(payload, signature, self.allowed.get(role, []), role)
        return SignedReview(signature=signature, signed_on=signed_on, signer=signer)


class ReviewState(BaseModel):
    """Where one role's review of one candidate stands."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    role: str
    """Reviewer role."""
    status: Literal["approved", "rejected", "requested", "missing", "stale", "unsigned"]
    """Latest state; ``stale`` = approved for an earlier matrix version; ``unsigned`` = an
    approval without a valid signature where signatures are required."""
    by: str | None = None
    """Who acted."""
    at: dt.datetime | None = None
    """When."""
    comment: str | None = None
    """Their comment."""
    audit_seq: int | None = None
    """Audit log entry of the action."""
    signer: str | None = None
    """The verified signing key (type and SHA256 fingerprint), for signed approvals."""
    note: str | None = None
    """Why an approval does not count (signature missing or not valid)."""


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
    policy: SignaturePolicy | None = None,
    signature: str | None = None,
    signed_on: dt.date | None = None,
) -> AuditEntry:
    """Record an approval or rejection by ``by`` in ``role``.

    A ``signature`` (armored ``ssh-keygen -Y sign`` output over ``review_payload`` of these
    values and ``signed_on``, default today UTC) is verified against ``policy`` first and
    recorded with the entry. Without one, an approval is refused (SignatureError) when the
    policy requires signatures; a rejection never needs one.
    """
    payload: dict[str, object] = {"role": role, "comment": comment, "matrix_sha256": matrix_sha}
    if signature is not None:
        if policy is None:
            raise SignatureError("a signed review needs the workspace's signature policy")
        signed = policy.verify(
            candidate=candidate,
            role=role,
            decision=decision,
            matrix_sha=matrix_sha,
            signature=signature,
            signed_on=signed_on or dt.datetime.now(dt.UTC).date(),
        )
        payload.update(
            signature=signed.signature,
            signed_on=signed.signed_on.isoformat(),
            signer=signed.signer,
        )
    elif decision == "approve" and policy is not None and policy.required:
        raise SignatureError(
            "governance.require_signed_reviews is true: print the payload with `nova review "
            "payload`, sign it with `ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n nova-review "
            "payload.txt` and pass --signature payload.txt.sig"
        )
    return store.audit(by, f"review.{decision}", candidate, payload)


def _signature_note(
    e: AuditEntry, candidate: str, role: str, policy: SignaturePolicy | None
) -> tuple[str | None, str | None]:
    """(verified signer, why the approval does not count) of an approval entry."""
    sig = e.payload.get("signature")
    if policy is None or (sig is None and not policy.required):
        return None, None
    if sig is None:
        return None, "not signed (governance.require_signed_reviews is true)"
    try:
        signed = policy.verify(
            candidate=candidate,
            role=role,
            decision="approve",
            matrix_sha=str(e.payload.get("matrix_sha256", "")),
            signature=str(sig),
            signed_on=dt.date.fromisoformat(str(e.payload.get("signed_on"))),
        )
    except (SignatureError, ValueError) as exc:
        return None, f"signature does not verify now: {exc}"
    return signed.signer, None


def review_status(
    store: RunStore,
    candidate: str,
    roles: Sequence[str],
    matrix_sha: str | None,
    policy: SignaturePolicy | None = None,
) -> list[ReviewState]:
    """Latest state per required role (later entries override earlier ones). With a
    ``policy``, recorded signatures are verified again; an approval whose signature does
    not verify, or that has none where signatures are required, is ``unsigned``."""
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
            status: Literal["approved", "rejected", "stale", "unsigned"] = (
                "rejected" if e.action == "review.reject" else "approved"
            )
            if status == "approved" and matrix_sha and e.payload.get("matrix_sha256") != matrix_sha:
                status = "stale"
            signer = note = None
            if status == "approved":
                signer, note = _signature_note(e, candidate, role, policy)
                if note is not None:
                    status = "unsigned"
            latest[role] = ReviewState(
                candidate=candidate,
                role=role,
                status=status,
                by=e.actor,
                at=e.at,
                comment=e.payload.get("comment"),
                audit_seq=e.seq,
                signer=signer,
                note=note,
            )
    return [latest[r] for r in roles]
