"""Gateway test fixtures: nova's mock server as the model, a gateway in a thread, keys."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nova.catalog import Catalog
from nova.config import NovaConfig
from nova.gateway import Gateway, WorkspaceRails, create_key, running_gateway
from nova.providers import MockServerSettings, running_mock_server
from nova.store import KeyRole, RunStore


def candidate(cid: str, url: str, role: str, **provider: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "model": "openai/nova-mock",
        "role": role,
        "provider": {
            "base_url": url,
            "max_retries": 0,
            "timeout_s": 5,
            "max_concurrency": 64,
            **provider,
        },
    }


def make_config(
    primary_url: str,
    fallback_url: str | None = None,
    provider: dict[str, Any] | None = None,
    **gateway: Any,
) -> NovaConfig:
    cands = [candidate("primary-m", primary_url, "primary", **(provider or {}))]
    if fallback_url is not None:
        cands.append(candidate("fallback-m", fallback_url, "fallback"))
    return NovaConfig.model_validate({"name": "Sophia", "candidates": cands, "gateway": gateway})


@dataclass
class Resp:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[Any]:
        """SSE data payloads, JSON-decoded except ``[DONE]``."""
        out: list[Any] = []
        for block in self.body.decode().split("\n\n"):
            if block.startswith("data: "):
                data = block[6:]
                out.append(data if data == "[DONE]" else json.loads(data))
        return out


def request(
    url: str,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    body: bytes | None = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Resp:
    """One HTTP request with the standard library (any bytes, any header)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    if json_body is not None:
        body = json.dumps(json_body).encode()
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Resp(r.status, r.headers, r.read())
    finally:
        conn.close()


@dataclass
class Gw:
    url: str
    gateway: Gateway
    store: RunStore
    keys: dict[str, str]

    def call(self, method: str, path: str, role: str | None = "app", **kw: Any) -> Resp:
        key = kw.pop("key", None) or (self.keys[role] if role else None)
        return request(self.url, method, path, key=key, **kw)

    def chat(self, role: str | None = "app", key: str | None = None, **body: Any) -> Resp:
        return self.call("POST", "/v1/chat/completions", role, key=key, json_body={**CHAT, **body})

    def key(self, role: KeyRole = "app", **kw: Any) -> str:
        return create_key(self.store, name=f"t-{role}", role=role, **kw).secret

    def reload_keys(self) -> None:
        self.gateway.keys.load()


@pytest.fixture
def mock_urls() -> Iterator[Callable[..., str]]:
    """Start mock servers on demand: ``mock_urls(ttft_ms=…)`` returns a base URL."""
    with ExitStack() as stack:

        def start(**settings: Any) -> str:
            return stack.enter_context(running_mock_server(MockServerSettings(**settings)))

        yield start


@pytest.fixture
def gw_factory(tmp_path: Path) -> Iterator[Callable[..., Gw]]:
    """Start a gateway on a config; creates one key per role."""
    with ExitStack() as stack:

        def start(
            config: NovaConfig, rails: WorkspaceRails | None = None, catalog: Catalog | None = None
        ) -> Gw:
            store = stack.enter_context(RunStore(f"sqlite:///{tmp_path / 'nova.db'}"))
            keys = {
                role: create_key(store, name=f"t-{role}", role=role).secret
                for role in ("app", "auditor", "admin")
            }
            served = running_gateway(config, store, rails=rails, catalog=catalog)
            url, gateway = stack.enter_context(served)
            return Gw(url, gateway, store, keys)

        yield start


CHAT = {"model": "primary-m", "messages": [{"role": "user", "content": "Hallo Sophia"}]}
