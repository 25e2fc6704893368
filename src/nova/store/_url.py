"""Which database a workspace uses."""

from __future__ import annotations

from nova.config import NovaConfig, Workspace
from nova.settings import get_settings
from nova.store._store import RunStore

__all__ = ["database_url", "open_store"]


def database_url(workspace: Workspace, config: NovaConfig | None = None) -> str:
    """``NOVA_DATABASE_URL``, else ``store.url`` of nova.yaml, else ``.nova/nova.db``."""
    env_url = get_settings().database_url
    if env_url:
        return env_url
    if config is not None and config.store.url:
        return config.store.url
    return workspace.default_database_url


def open_store(workspace: Workspace, config: NovaConfig | None = None) -> RunStore:
    """Open (and migrate) the workspace's run store.

    The audit head is anchored next to a SQLite file (``.nova/nova.db.audit.head``); for a
    database server in the workspace (``.nova/audit.head``); ``store.audit_head`` of
    nova.yaml moves it.
    """
    url = database_url(workspace, config)
    head = None if url.startswith("sqlite") else workspace.state_dir / "audit.head"
    if config is not None and config.store.audit_head:
        head = workspace.root / config.store.audit_head  # an absolute path stays absolute
    return RunStore(url, audit_head=head)
