"""SSH-signed reviews, verified offline with ssh-keygen against nova.yaml's allowed signers.
Keys are throwaway ed25519 keys made in tmp_path."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.config import init_workspace
from tests._services import require

Run = Callable[..., Any]


@pytest.fixture(autouse=True)
def _ssh_keygen() -> None:
    if shutil.which("ssh-keygen") is None:
        require("ssh-keygen", "openssh-client is not installed")


def _key(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / "keys" / name
    key.parent.mkdir(exist_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key, key.with_suffix(".pub").read_text("utf-8").strip()


def _sign(key: Path, text: str, where: Path, namespace: str = "nova-review") -> Path:
    payload = where / "payload.txt"
    payload.write_text(text, "utf-8")
    sig = where / "payload.txt.sig"
    sig.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-f", str(key), "-n", namespace, str(payload)],
        check=True,
        capture_output=True,
    )
    return sig


def _workspace(tmp_path: Path, legal_keys: list[str], required: bool = True) -> Path:
    ws = tmp_path / "ws"
    if not ws.exists():
        init_workspace(ws, language="en")
    cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
    cfg["candidates"] = [{"id": "llama", "model": "mock/llama", "role": "primary"}]
    cfg["profiles"] = {}
    cfg["governance"]["reviewers"] = [
        {"role": "legal", "allowed_signers": legal_keys},
        {"role": "security"},
    ]
    cfg["governance"]["require_signed_reviews"] = required
    (ws / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    return ws


def _approve(run_cli: Run, w: list[str], role: str, *extra: str) -> Any:
    return run_cli(
        *w, "review", "approve", "--candidate", "llama", "--role", role, "--by", "Lena", *extra
    )


def test_signed_approval_is_required_verified_and_rechecked(tmp_path: Path, run_cli: Run) -> None:
    lena, lena_pub = _key(tmp_path, "lena")
    mallory, _ = _key(tmp_path, "mallory")
    ws = _workspace(tmp_path, [lena_pub])
    w = ["--workspace", str(ws)]
    assert run_cli(*w, "matrix").code == 0

    r = run_cli(*w, "review", "payload", "--candidate", "lama", "--role", "legal")
    assert r.code == 2 and "no candidate 'lama' in nova.yaml (known: llama)" in r.err

    # Unsigned approvals are refused while signatures are required; nothing is recorded.
    r = _approve(run_cli, w, "legal")
    assert r.code == 1 and "require_signed_reviews is true" in r.err
    status = run_cli(*w, "review", "status", "--candidate", "llama", "--json")
    assert '"status": "missing"' in status.out and "approved" not in status.out

    r = run_cli(*w, "review", "payload", "--candidate", "llama", "--role", "legal")
    assert r.code == 0
    payload = r.out
    lines = payload.splitlines()
    assert lines[0] == "nova-review v1" and "candidate: llama" in lines and "role: legal" in lines
    assert any(x.startswith("matrix-sha256: ") and len(x) == 15 + 64 for x in lines)
    assert "decision: approve" in lines and any(x.startswith("date: ") for x in lines)

    # Wrong key, wrong namespace, or a payload for another role: refused.
    for key, namespace, text in (
        (mallory, "nova-review", payload),
        (lena, "git", payload),
        (lena, "nova-review", payload.replace("role: legal", "role: security")),
    ):
        sig = _sign(key, text, tmp_path, namespace)
        r = _approve(run_cli, w, "legal", "--signature", str(sig))
        assert r.code == 1 and "does not verify for role legal" in r.err, (key, namespace)

    # Lena's signature over the payload: recorded with her key's fingerprint.
    sig = _sign(lena, payload, tmp_path)
    r = _approve(run_cli, w, "legal", "--signature", str(sig), "--comment", "ok")
    assert r.code == 0, r.err
    assert "signed by ED25519 key SHA256:" in r.out
    status = run_cli(*w, "review", "status", "--candidate", "llama", "--json")
    assert '"status": "approved"' in status.out and "ED25519 key SHA256:" in status.out
    assert run_cli(*w, "review", "verify").code == 0
    # Her key cannot sign for security, which lists no signers.
    r = _approve(run_cli, w, "security", "--signature", str(sig))
    assert r.code == 1 and "no allowed signers for role security" in r.err

    # Lena's key is removed from nova.yaml: her approval no longer counts, offline re-check.
    _workspace(tmp_path, [])
    r = run_cli(*w, "decide", "--candidate", "llama", "--check")
    assert r.code == 3
    assert "approval of legal: approved by Lena, but signature does not verify now" in r.out
    bad = run_cli(*w, "review", "verify")
    assert bad.code == 1 and "1 signed review(s) do not verify" in bad.err


def test_without_the_requirement_unsigned_approvals_still_count(
    tmp_path: Path, run_cli: Run
) -> None:
    ws = _workspace(tmp_path, [], required=False)
    w = ["--workspace", str(ws)]
    assert run_cli(*w, "matrix").code == 0
    assert _approve(run_cli, w, "legal").code == 0
    status = run_cli(*w, "review", "status", "--candidate", "llama", "--json")
    assert '"status": "approved"' in status.out
    # Turning the requirement on later makes that approval "unsigned".
    _workspace(tmp_path, [], required=True)
    status = run_cli(*w, "review", "status", "--candidate", "llama", "--json")
    assert '"status": "unsigned"' in status.out


def test_the_decision_record_names_the_signing_keys(tmp_path: Path, run_cli: Run) -> None:
    lena, lena_pub = _key(tmp_path, "lena")
    tom, tom_pub = _key(tmp_path, "tom")
    ws = _workspace(tmp_path, [lena_pub])
    cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
    cfg["governance"]["reviewers"][1]["allowed_signers"] = [tom_pub]
    cfg["decision"]["gates"] = []
    (ws / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    w = ["--workspace", str(ws)]
    assert run_cli(*w, "matrix").code == 0
    assert run_cli(*w, "docs").code == 0
    fingerprints = {}
    for role, key, who in (("legal", lena, "Lena"), ("security", tom, "Tom")):
        payload = run_cli(*w, "review", "payload", "--candidate", "llama", "--role", role).out
        sig = _sign(key, payload, tmp_path)
        r = run_cli(
            *w, "review", "approve", "--candidate", "llama", "--role", role, "--by", who,
            "--signature", str(sig),
        )  # fmt: skip
        assert r.code == 0, r.err
        fingerprints[role] = r.out.split("signed by ")[1].split(")")[0]
    r = run_cli(*w, "decide", "--candidate", "llama", "--by", "Anna")
    assert r.code == 0, r.err + r.out
    kickoff = (ws / "docs" / "MODEL_OPERATIONS_KICKOFF.md").read_text("utf-8")
    for role in ("legal", "security"):
        assert f"SSH-signed: {fingerprints[role]}" in kickoff
    assert fingerprints["legal"] != fingerprints["security"]
