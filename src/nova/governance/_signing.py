"""SSH-signed reviews: a reviewer signs a canonical payload with their own SSH key, offline.

The payload names the workspace, candidate, role, decision, matrix version (sha256) and the
day of signing, one ``key: value`` per line (see ``review_payload``). The reviewer signs it with
``ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n nova-review payload.txt``; nova verifies with
``ssh-keygen -Y verify`` against the public keys nova.yaml lists for that role
(``governance.reviewers[].allowed_signers``). Nothing leaves the machine: OpenSSH's own tool
does the cryptography, nova only writes the allowed-signers file it needs into a temporary
folder.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nova.errors import MissingDependencyError, SignatureError

__all__ = ["NAMESPACE", "SignedReview", "review_payload", "verify_review_signature"]

NAMESPACE = "nova-review"
"""The ``-n`` namespace of ``ssh-keygen -Y sign``: a signature made for another purpose (git
commits, files) never verifies as a review."""


class SignedReview(BaseModel):
    """A verified signature of a review, as the audit log records it."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    signature: str
    """The armored SSH signature (``-----BEGIN SSH SIGNATURE-----`` …)."""
    signed_on: dt.date
    """Day in the signed payload."""
    signer: str
    """What ``ssh-keygen -Y verify`` reported: key type and SHA256 fingerprint."""


def review_payload(
    *,
    workspace: str,
    candidate: str,
    role: str,
    decision: str,
    matrix_sha: str,
    signed_on: dt.date,
) -> str:
    """The exact text a reviewer signs (UTF-8, ``\\n`` line ends, a final newline)."""
    return (
        f"{NAMESPACE} v1\n"
        f"workspace: {workspace}\n"
        f"candidate: {candidate}\n"
        f"role: {role}\n"
        f"decision: {decision}\n"
        f"matrix-sha256: {matrix_sha}\n"
        f"date: {signed_on.isoformat()}\n"
    )


def _ssh_keygen() -> str:
    exe = shutil.which("ssh-keygen")
    if exe is None:
        raise MissingDependencyError("verifying signed reviews", "openssh-client", "ssh-keygen")
    return exe


def verify_review_signature(
    payload: str, signature: str, allowed_keys: Sequence[str], role: str
) -> str:
    """Verify ``signature`` over ``payload`` by one of ``allowed_keys`` (OpenSSH public key
    lines); return ssh-keygen's description of the signer, or raise SignatureError."""
    keys = [k.strip() for k in allowed_keys if k.strip()]
    if not keys:
        raise SignatureError(
            f"no allowed signers for role {role}: add the reviewer's public key (one line of "
            f"~/.ssh/id_ed25519.pub) to governance.reviewers[role={role}].allowed_signers "
            "in nova.yaml"
        )
    exe = _ssh_keygen()
    with tempfile.TemporaryDirectory(prefix="nova-review-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(
            "".join(f'{role} namespaces="{NAMESPACE}" {k}\n' for k in keys), encoding="utf-8"
        )
        sig = Path(tmp) / "payload.sig"
        sig.write_text(signature if signature.endswith("\n") else signature + "\n", "utf-8")
        proc = subprocess.run(
            [exe, "-Y", "verify", "-f", str(allowed), "-I", role, "-n", NAMESPACE, "-s", str(sig)],
            input=payload.encode("utf-8"),
            capture_output=True,
            timeout=30,
            check=False,
        )
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip().splitlines()
        raise SignatureError(
            f"the signature does not verify for role {role} ({why[-1] if why else 'no output'}): "
            "sign exactly the text of `nova review payload` with a key listed in "
            f"allowed_signers, namespace {NAMESPACE}"
        )
    out = proc.stdout.decode("utf-8", "replace").strip()
    return out.split(" with ", 1)[1] if " with " in out else out
