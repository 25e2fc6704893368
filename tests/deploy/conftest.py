"""Fixtures of the deploy tests: the shipped workspace, loaded, with the shipped catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova.catalog import Catalog, load_catalog
from nova.config import LoadedConfig, Workspace, load_config


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def load(root: Path, catalog: Catalog) -> LoadedConfig:
    return load_config(
        root / "nova.yaml",
        catalog_ids=set(catalog.models),
        price_sheet_ids=set(catalog.price_sheets),
    )


@pytest.fixture
def ws(workspace: Path) -> Workspace:
    return Workspace(workspace)
