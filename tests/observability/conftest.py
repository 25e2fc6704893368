"""Helpers for monitoring tests: a workspace with monitoring settings, and loaded rule files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nova.config import Workspace, load_config


def set_monitoring(root: Path, block: str) -> None:
    """Replace the ``monitoring:`` block at the end of nova.yaml (YAML text, indented by two)."""
    path = root / "nova.yaml"
    head = path.read_text(encoding="utf-8").split("\nmonitoring:\n", 1)[0]
    path.write_text(head + "\nmonitoring:\n" + block, "utf-8")


def loaded(root: Path) -> tuple[Workspace, Any]:
    return Workspace(root), load_config(root / "nova.yaml").config


def alerts_by_name(root: Path) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(
        (root / "deploy/monitoring/prometheus/rules/nova-alerts.yml").read_text("utf-8")
    )
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
