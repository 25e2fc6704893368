"""The gateway control: active only once the gateway served a request (audit entry
``gateway.request``); issued keys alone are reported, read from the gateway's real key table."""

from __future__ import annotations

from pathlib import Path

from nova.config import Workspace, init_workspace, load_config
from nova.gateway import create_key
from nova.governance import workspace_controls
from nova.store import open_store


def test_an_active_gateway_key_is_the_gateway_control(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root, language="en")
    ws = Workspace(root)
    cfg = load_config(root / "nova.yaml", env={}).config
    with open_store(ws, cfg) as store:
        assert not workspace_controls(ws, store).gateway.active
        key = create_key(store, name="sophia-web", role="app")
        gw = workspace_controls(ws, store).gateway
        assert not gw.active
        assert gw.detail.startswith("1 active gateway API key(s) issued; no request served yet")
        assert store.revoke_api_key(key.record.id)
        gw = workspace_controls(ws, store).gateway
        assert gw.detail == "no gateway.request in the audit log and no gateway API key"
        store.audit("gateway", "gateway.request", "llama31-70b-vllm", {"status": 200})
        assert workspace_controls(ws, store).gateway.active
