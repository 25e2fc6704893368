"""Shared state of one CLI invocation: the workspace, its config and the catalog, loaded lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nova.errors import WorkspaceError

if TYPE_CHECKING:  # imported where used: `nova --help` stays fast (benchmarks/bench_cli_startup.py)
    from nova.catalog import Catalog
    from nova.config import LoadedConfig, Workspace

__all__ = ["AppContext", "pass_app"]


@dataclass
class AppContext:
    """Lazily loaded workspace, config and catalog."""

    workspace_option: Path | None = None
    _workspace: Workspace | None = field(default=None, repr=False)
    _catalog: Catalog | None = field(default=None, repr=False)
    _config: LoadedConfig | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        """The workspace from --workspace, NOVA_WORKSPACE, or the current folder upwards."""
        if self._workspace is None:
            from nova.config import find_workspace
            from nova.settings import get_settings

            explicit = self.workspace_option or get_settings().workspace
            self._workspace = find_workspace(explicit=explicit)
        return self._workspace

    def catalog(self, with_workspace: bool = True) -> Catalog:
        """Shipped catalog plus the workspace's overrides when a workspace is found."""
        if self._catalog is None:
            from nova.catalog import load_catalog

            ws_dir = None
            if with_workspace:
                try:
                    ws_dir = self.workspace().catalog_dir
                except WorkspaceError:  # no workspace: the shipped catalog alone
                    ws_dir = None
            self._catalog = load_catalog(ws_dir)
        return self._catalog

    def config(self) -> LoadedConfig:
        """nova.yaml, validated including references to the catalog."""
        if self._config is None:
            from nova.config import load_config

            cat = self.catalog()
            self._config = load_config(
                self.workspace().config_file,
                catalog_ids=set(cat.models),
                price_sheet_ids=set(cat.price_sheets),
            )
        return self._config


pass_app = click.make_pass_decorator(AppContext, ensure=True)
