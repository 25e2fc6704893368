"""The gateway control reads the gateway's real key table: an issued key makes it active,
revoking the last key makes it inactive again (until a request is served)."""

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
        assert gw.active and gw.evidence == "1 active gateway API key(s) in the run store"
        assert store.revoke_api_key(key.record.id)
        assert not workspace_controls(ws, store).gateway.active
