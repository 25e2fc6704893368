"""Helpers for monitoring tests: a workspace with monitoring settings, and loaded rule files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nova.config import Workspace, load_config


def set_monitoring(root: Path, block: str) -> None:
    """Append a ``monitoring:`` block (YAML text, indented by two) to nova.yaml."""
    path = root / "nova.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nmonitoring:\n" + block, "utf-8")


def loaded(root: Path) -> tuple[Workspace, Any]:
    return Workspace(root), load_config(root / "nova.yaml").config


def alerts_by_name(root: Path) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(
        (root / "deploy/monitoring/prometheus/rules/nova-alerts.yml").read_text("utf-8")
    )
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
