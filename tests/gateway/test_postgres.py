"""The gateway's keys table (migration 0004_gateway) and its audit records on a real
PostgreSQL server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nova.gateway import create_key, running_gateway
from nova.store import RunStore
from tests._services import postgres_server
from tests.gateway.conftest import make_config, request


@pytest.mark.integration
def test_keys_budgets_and_audit_on_postgres(tmp_path: Path, mock_urls: Callable[..., str]) -> None:
    with postgres_server() as url, RunStore(url, audit_head=tmp_path / "audit.head") as store:
        assert "0004_gateway" in store.applied_migrations()
        key = create_key(store, name="pg", role="app", budget_tokens=5000).secret
        cfg = make_config(mock_urls(output_tokens=3))
        with running_gateway(cfg, store) as (gw_url, _gw):
            body = {"model": "primary-m", "messages": [{"role": "user", "content": "Hallo"}]}
            for _ in range(3):
                r = request(gw_url, "POST", "/v1/chat/completions", json_body=body, key=key)
                assert r.status == 200
        assert [k.tokens_used for k in store.api_keys()] == [3 * (1 + 3)]
        assert store.verify_audit() == []
        assert [e.action for e in store.audit_entries()] == ["gateway.request"] * 3
        store.revoke_api_key(key.split("_")[1])
        assert store.api_keys()[0].revoked_at is not None
