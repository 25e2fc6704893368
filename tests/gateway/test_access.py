"""Access control: the RBAC matrix, allow-lists, revocation, RPM/TPM limits, token budgets,
OIDC bearer JWTs, key management over the API and the CLI."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from nova.store import RunStore
from tests._services import aiohttp_app_server
from tests.gateway.conftest import Gw, make_config
from tests.gateway.test_gateway import metric

ENDPOINTS: list[tuple[str, str, Any]] = [
    ("POST", "/v1/chat/completions", "chat"),
    ("GET", "/v1/models", None),
    ("GET", "/v1/audit", None),
    ("GET", "/v1/audit/verify", None),
    ("GET", "/v1/keys", None),
    ("POST", "/v1/keys", {"name": "new", "role": "app"}),
    ("DELETE", "/v1/keys/000000000000", None),
    ("GET", "/metrics", None),
    ("GET", "/healthz", None),
    ("GET", "/readyz", None),
]
# Expected status per caller: app calls models, auditor reads the audit API, admin manages
# keys (and may read the audit); the operational endpoints are open. The DELETE of an
# unknown key id is 404 for the admin: allowed, and nothing to revoke.
MATRIX: dict[str, list[int]] = {
    "none": [401, 401, 401, 401, 401, 401, 401, 200, 200, 200],
    "unknown": [401, 401, 401, 401, 401, 401, 401, 200, 200, 200],
    "revoked": [401, 401, 401, 401, 401, 401, 401, 200, 200, 200],
    "app": [200, 200, 403, 403, 403, 403, 403, 200, 200, 200],
    "auditor": [403, 403, 200, 200, 403, 403, 403, 200, 200, 200],
    "admin": [403, 403, 200, 200, 200, 201, 404, 200, 200, 200],
}


def test_rbac_matrix_every_role_by_every_endpoint(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=2)))
    revoked = gw.key("app")
    rid = revoked.split("_")[1]
    gw.store.revoke_api_key(rid)
    keys: dict[str, str | None] = {
        "none": None,
        "unknown": "nova_0123456789ab_" + "x" * 43,
        "revoked": revoked,
        **gw.keys,
    }
    gw.reload_keys()
    got: dict[str, list[int]] = {}
    for who, key in keys.items():
        row = []
        for method, path, body in ENDPOINTS:
            if body == "chat":
                body = {"model": "primary-m", "messages": [{"role": "user", "content": "Hi"}]}
            r = gw.call(method, path, role=None, key=key, json_body=body)
            if r.status >= 400:
                err = r.json()["error"]
                assert set(err) == {"message", "type", "param", "code"}, (who, path)
            row.append(r.status)
        got[who] = row
    assert got == MATRIX


def test_allow_list_limits_the_models_of_a_key(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    url = mock_urls(output_tokens=2)
    gw = gw_factory(make_config(url, url))
    key = gw.key("app", models=["fallback-m"])
    gw.reload_keys()
    r = gw.chat(key=key)
    assert r.status == 403 and r.json()["error"]["code"] == "model_not_allowed"
    assert gw.chat(key=key, model="fallback-m").status == 200


def test_a_key_revoked_elsewhere_is_refused_within_the_refresh_interval(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], tmp_path: Path
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=2), key_refresh_s=0.2))
    key = gw.key("app")
    time.sleep(0.5)
    assert gw.chat(key=key).status == 200
    with RunStore(f"sqlite:///{tmp_path / 'nova.db'}") as other:  # another process's view
        assert other.revoke_api_key(key.split("_")[1])
    time.sleep(0.5)
    r = gw.chat(key=key)
    assert r.status == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_rpm_limit_rejects_with_retry_after_and_counts(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=2)))
    key = gw.key("app", rpm=3)
    gw.reload_keys()
    codes = [gw.chat(key=key).status for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = gw.chat(key=key)
    assert r.json()["error"]["code"] == "rpm"
    assert 1 <= int(r.headers["Retry-After"]) <= 20  # one request per 20 s refills
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_budget_rejections_total", kind="rpm") == 2
    assert metric(text, "nova_gateway_requests_total", candidate="", code="429") == 2


def test_tpm_limit_counts_prompt_and_reserved_output(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=2)))
    key = gw.key("app", tpm=100)
    gw.reload_keys()
    # Reserved: 12 // 4 + 4 = 7 prompt + 60 max_tokens = 67 of 100; only 2+2 are used and
    # the unused 63 go back, so the next one fits again.
    assert gw.chat(key=key, max_tokens=60).status == 200
    assert gw.chat(key=key, max_tokens=60).status == 200
    r = gw.chat(key=key, max_tokens=99)
    assert r.status == 429 and r.json()["error"]["code"] == "tpm"


def test_budget_is_reserved_for_streams_and_reconciled_after(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    slow = mock_urls(output_tokens=3, itl_ms=150)
    gw = gw_factory(make_config(slow))
    key = gw.key("app", budget_tokens=60)
    gw.reload_keys()
    # Each stream reserves 7 + 40 = 47 of the 60 tokens: two at once would overdraw.
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(gw.chat, key=key, stream=True, max_tokens=40)
        time.sleep(0.1)
        second = pool.submit(gw.chat, key=key, stream=True, max_tokens=40)
        results = sorted([first.result().status, second.result().status])
    assert results == [200, 429]
    # Reconciled: the finished stream used 2 + 3 = 5 tokens; 55 remain.
    rows = {k.id: k for k in gw.store.api_keys()}
    assert rows[key.split("_")[1]].tokens_used == 5
    assert gw.chat(key=key, max_tokens=40).status == 200
    r = gw.chat(key=key, max_tokens=50)
    assert r.status == 429 and r.json()["error"]["code"] == "budget"
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_budget_rejections_total", kind="budget") == 2


def test_admin_manages_keys_over_the_api_and_the_key_is_shown_once(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=2)))
    r = gw.call("POST", "/v1/keys", role="admin", json_body={"name": "web", "role": "app"})
    assert r.status == 201
    created = r.json()
    assert created["key"].startswith("nova_") and "secret_sha256" not in created
    assert gw.chat(key=created["key"]).status == 200
    listed = gw.call("GET", "/v1/keys", role="admin").json()["data"]
    assert all("key" not in k and "secret_sha256" not in k for k in listed)
    assert gw.call("DELETE", f"/v1/keys/{created['id']}", role="admin").status == 200
    assert gw.chat(key=created["key"]).status == 401
    actions = [e.action for e in gw.store.audit_entries()]
    assert "gateway.key.create" in actions and "gateway.key.revoke" in actions


def test_keys_cli_shows_the_key_once_and_stores_only_its_hash(
    workspace: Path, run_cli: Callable[..., Any]
) -> None:
    r = run_cli("--workspace", str(workspace), "keys", "create", "--name", "web", "--rpm", "60")
    assert r.code == 0, r.err
    key = r.out.strip()
    assert key.startswith("nova_") and "only time" in r.err
    listed = run_cli("--workspace", str(workspace), "keys", "list", "--json")
    rows = json.loads(listed.out)
    assert [(k["name"], k["role"], k["rpm"]) for k in rows] == [("web", "app", 60)]
    assert key not in listed.out and key[18:] not in listed.out
    db = (workspace / ".nova" / "nova.db").read_bytes()
    wal = workspace / ".nova" / "nova.db-wal"
    assert key[18:].encode() not in db + (wal.read_bytes() if wal.exists() else b"")
    bad = run_cli("--workspace", str(workspace), "keys", "create", "--name", "x", "--model", "zz")
    assert bad.code == 2 and "unknown candidate zz" in bad.err
    r = run_cli("--workspace", str(workspace), "keys", "revoke", rows[0]["id"])
    assert r.code == 0
    again = run_cli("--workspace", str(workspace), "keys", "revoke", rows[0]["id"])
    assert again.code == 1 and "no active key" in again.err


# --- OIDC ------------------------------------------------------------------------------
@pytest.fixture
def jwks() -> Iterator[tuple[str, Any]]:
    """A real HTTP server on 127.0.0.1 serving a JWKS with one RSA key; yields its URL and
    the private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    doc = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    async def handler(_r: web.Request) -> web.Response:
        return web.json_response(doc)

    app = web.Application()
    app.router.add_get("/jwks.json", handler)
    with aiohttp_app_server(app) as url:
        yield f"{url}/jwks.json", key


def _token(key: Any, **claims: Any) -> str:
    base = {
        "iss": "https://idp.test",
        "aud": "nova",
        "sub": "anna",
        "exp": int(time.time()) + 300,
        "nova_role": "app",
    }
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


def test_oidc_jwts_are_checked_against_the_jwks(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], jwks: tuple[str, Any]
) -> None:
    url, key = jwks
    oidc = {"jwks_url": url, "issuer": "https://idp.test", "audience": "nova"}
    gw = gw_factory(make_config(mock_urls(output_tokens=2), oidc=oidc))
    assert gw.chat(key=_token(key)).status == 200
    assert gw.chat(key=_token(key, aud="other")).status == 401
    assert gw.chat(key=_token(key, iss="https://evil.test")).status == 401
    assert gw.chat(key=_token(key, exp=int(time.time()) - 10)).status == 401
    assert gw.chat(key=_token(key, nova_role="nobody")).status == 401
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert gw.chat(key=_token(other)).status == 401  # signed by a key not in the JWKS
    auditor = _token(key, nova_role=["auditor"])
    assert gw.chat(key=auditor).status == 403
    assert gw.call("GET", "/v1/audit", role=None, key=auditor).status == 200
    rec = gw.store.audit_entries()[0]
    assert rec.actor == "oidc:anna" and rec.payload["role"] == "app"
    long_sub = "u" * 255  # the longest sub OIDC allows: kept as its SHA-256 (200 chars)
    assert gw.chat(key=_token(key, sub=long_sub)).status == 200
    digest = hashlib.sha256(long_sub.encode()).hexdigest()
    assert gw.store.audit_entries()[-1].actor == f"oidc:sha256:{digest}"


def test_oidc_role_limits_count_each_subject_on_its_own(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], jwks: tuple[str, Any]
) -> None:
    url, key = jwks
    oidc = {"jwks_url": url, "issuer": "https://idp.test", "audience": "nova",
            "limits": {"app": {"rpm": 2}}}  # fmt: skip
    gw = gw_factory(make_config(mock_urls(output_tokens=2), oidc=oidc))
    anna, ben = _token(key), _token(key, sub="ben")
    assert [gw.chat(key=anna).status for _ in range(3)] == [200, 200, 429]
    r = gw.chat(key=anna)
    assert r.json()["error"]["code"] == "rpm" and "oidc:anna" in r.json()["error"]["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 30  # one request per 30 s refills
    assert gw.chat(key=ben).status == 200  # ben has his own two
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_budget_rejections_total", kind="rpm") == 2


def test_oidc_claim_value_selects_limits_before_the_role(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], jwks: tuple[str, Any]
) -> None:
    url, key = jwks
    oidc = {"jwks_url": url, "issuer": "https://idp.test", "audience": "nova",
            "limits": {"app": {"rpm": 1}}, "limits_claim": "tier",
            "claim_limits": {"gold": {"rpm": 3}, "free": {"tpm": 40}}}  # fmt: skip
    gw = gw_factory(make_config(mock_urls(output_tokens=2), oidc=oidc))
    gold = _token(key, sub="gina", tier=["gold", "free"])  # a list: its first value
    assert [gw.chat(key=gold).status for _ in range(4)] == [200, 200, 200, 429]
    plain = _token(key, sub="paul", tier="silver")  # no entry: the role's limits
    assert [gw.chat(key=plain).status for _ in range(2)] == [200, 429]
    free = _token(key, sub="fred", tier="free")  # 7 prompt + 30 reserved of 40 tokens/min
    assert gw.chat(key=free, max_tokens=30).status == 200
    r = gw.chat(key=free, max_tokens=37)
    assert r.status == 429 and r.json()["error"]["code"] == "tpm"


def test_oidc_subject_budget_is_reserved_counted_and_stored(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], jwks: tuple[str, Any]
) -> None:
    url, key = jwks
    oidc = {"jwks_url": url, "issuer": "https://idp.test", "audience": "nova",
            "limits": {"app": {"budget_tokens": 30}}}  # fmt: skip
    gw = gw_factory(make_config(mock_urls(output_tokens=2), oidc=oidc, limits_sync_s=0.05))
    anna = _token(key)
    # Each request reserves 7 + 10 = 17 and uses 2 + 2 = 4: after four, 16 used, and
    # 16 + 17 > 30.
    assert [gw.chat(key=anna, max_tokens=10).status for _ in range(5)] == [200] * 4 + [429]
    r = gw.chat(key=anna, max_tokens=10)
    assert r.json()["error"]["code"] == "budget"
    assert "token budget of oidc:anna exhausted: 16 of 30" in r.json()["error"]["message"]
    assert gw.chat(key=_token(key, sub="ben"), max_tokens=10).status == 200
    deadline = time.monotonic() + 10
    while True:  # written by the next exchange with the store
        with gw.store.engine.connect() as conn:
            rows = dict(conn.exec_driver_sql("SELECT * FROM gateway_subject_usage").all())
        if rows == {"oidc:anna": 16, "oidc:ben": 4} or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert rows == {"oidc:anna": 16, "oidc:ben": 4}
    text = gw.call("GET", "/metrics", role=None).body.decode()
    assert metric(text, "nova_gateway_budget_rejections_total", kind="budget") == 2


def test_no_key_reaches_a_log_line(
    mock_urls: Callable[..., str],
    gw_factory: Callable[..., Gw],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    primary = mock_urls(error_rate=1.0, fault_mix=["http_500"])
    gw = gw_factory(make_config(primary, mock_urls(output_tokens=2)))
    wrong = gw.keys["app"][:-4] + "AAAA"
    assert gw.chat().status == 200  # a fallback, logged as a warning
    assert gw.chat(key=wrong).status == 401
    assert "fallback primary-m -> fallback-m" in caplog.text
    for key in [*gw.keys.values(), wrong]:
        assert key[18:] not in caplog.text
