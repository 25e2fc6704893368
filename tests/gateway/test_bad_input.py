"""Bad input gets the right 4xx with an OpenAI-style error body: never a 500, never a
traceback, and the gateway keeps serving."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.gateway.conftest import Gw, Resp, make_config

M = b'"model":"primary-m",'
U = b'"messages":[{"role":"user","content":"x"}]'
CASES: list[tuple[str, bytes, int, str]] = [
    ("malformed JSON", b'{"model": "primary-m", "messages": [', 400, "not valid JSON"),
    ("invalid UTF-8", b'{"model": "primary-m\xff\xfe"}', 400, "not valid UTF-8"),
    ("not an object", b"[1, 2]", 400, "JSON object"),
    ("no messages", b'{"model": "primary-m"}', 400, "messages"),
    ("empty messages", b'{"model": "primary-m", "messages": []}', 400, "messages"),
    ("bad role", b"{" + M + b'"messages":[{"role":"god","content":"x"}]}', 400, "role"),
    ("negative max_tokens", b"{" + M + b'"max_tokens":-5,' + U + b"}", 400, "max_tokens"),
    ("huge max_tokens", b"{" + M + b'"max_tokens":100000000,' + U + b"}", 400,
     "larger than this gateway allows"),
    ("max_tokens as text", b"{" + M + b'"max_tokens":"many",' + U + b"}", 400, "max_tokens"),
    ("n above 1", b"{" + M + b'"n":3,' + U + b"}", 400, "n:"),
    ("image part", b"{" + M + b'"messages":[{"role":"user","content":[{"type":"image_url"}]}]}',
     400, "only text parts"),
    ("unknown model", b'{"model":"gpt-5",' + U + b"}", 404, "not served here"),
    ("control chars in model", b'{"model":"a\\u0000b",' + U + b"}", 400, "printable"),
    ("lone surrogate", b"{" + M + b'"messages":[{"role":"user","content":"a\\ud800b"}]}', 400,
     "lone UTF-16 surrogate"),
]  # fmt: skip


@pytest.fixture
def gw(mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]) -> Gw:
    return gw_factory(make_config(mock_urls(output_tokens=2), max_body_bytes=1024 * 1024))


def assert_openai_error(r: Resp, status: int) -> dict[str, object]:
    assert r.status == status, r.body[:300]
    assert b"Traceback" not in r.body
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    return err  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "body", "status", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_bodies_get_the_right_4xx(
    gw: Gw, name: str, body: bytes, status: int, text: str
) -> None:
    r = gw.call(
        "POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"}
    )
    err = assert_openai_error(r, status)
    assert text in str(err["message"]), err
    assert gw.chat().status == 200  # still serving


def test_a_10_mb_body_is_413(gw: Gw) -> None:
    body = json.dumps(
        {"model": "primary-m", "messages": [{"role": "user", "content": "x" * 10_000_000}]}
    ).encode()
    r = gw.call(
        "POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"}
    )
    err = assert_openai_error(r, 413)
    assert err["code"] == "body_too_large"
    assert gw.store.audit_entries()[-1].payload["status"] == 413


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Bearer", 401),
        ("Basic dXNlcjpwYXNz", 401),
        ("Bearer nova_000000000000_" + "A" * 43, 401),
        ("Bearer " + "x" * 5000, 401),
        ("Bearer a.b.c", 401),  # looks like a JWT, OIDC is off
    ],
)
def test_missing_unknown_or_malformed_keys_are_401(gw: Gw, header: str | None, status: int) -> None:
    headers = {"Authorization": header} if header is not None else {}
    r = gw.call(
        "POST", "/v1/chat/completions", role=None, headers=headers,
        json_body={"model": "primary-m", "messages": [{"role": "user", "content": "x"}]},
    )  # fmt: skip
    assert_openai_error(r, status)


def raw(gw: Gw, data: bytes) -> bytes:
    u = urlsplit(gw.url)
    with socket.create_connection((u.hostname or "", u.port or 0), timeout=10) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_header_injection_is_not_reflected(gw: Gw) -> None:
    body = json.dumps({"model": "primary-m", "messages": [{"role": "user", "content": "x"}]})
    # A request id with characters that must never go back into a response header.
    req = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {gw.keys['app']}\r\nContent-Type: application/json\r\n"
        "X-Request-Id: abc <script>alert(1)</script>\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode("latin-1")
    resp = raw(gw, req)
    head = resp.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 200")
    assert b"<script>" not in head
    assert b"X-Request-Id: chatcmpl-" in head


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-A: b\nInjected: 1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Content-Length: 7\r\n\r\nhello",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\x7fb\r\n\r\n",
    ],
    ids=["bare LF", "space in header name", "two Content-Lengths", "DEL in a value"],
)
def test_malformed_http_is_a_400_not_a_crash(gw: Gw, request_bytes: bytes) -> None:
    resp = raw(gw, request_bytes)
    # aiohttp's own parser answers these (plain text: the request never reached nova).
    assert resp.split(b" ", 2)[1] == b"400", resp[:200]
    assert b"Traceback" not in resp
    assert gw.chat().status == 200


def test_unknown_route_and_method_are_openai_errors(gw: Gw) -> None:
    assert_openai_error(gw.call("GET", "/v1/nothing"), 404)
    assert_openai_error(gw.call("GET", "/v1/chat/completions"), 405)


def test_escaped_surrogate_pairs_are_text(gw: Gw) -> None:
    body = json.dumps({"model": "primary-m", "messages": [{"role": "user", "content": "läuft 😀"}]})
    assert "\\ud83d\\ude00" in body  # what ensure_ascii clients (Python's json) send
    r = gw.call("POST", "/v1/chat/completions", body=body.encode(),
                headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status == 200, r.body[:300]
