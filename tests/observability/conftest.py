"""Helpers for monitoring tests: a workspace with monitoring settings, loaded rule files, and a
live stack (Prometheus + Alertmanager + a webhook receiver) for end-to-end alert tests."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from nova.config import Workspace, load_config
from nova.observability import render_monitoring
from tests._services import (
    aiohttp_app_server,
    alertmanager_server,
    free_port,
    prometheus_server,
)


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


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An aiohttp server that records every Alertmanager webhook payload."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    with aiohttp_app_server(app) as url:
        yield f"{url}/hook", received


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    q = urllib.parse.quote(expr)
    result: list[dict[str, Any]] = get_json(f"{prom}/api/v1/query?query={q}")["data"]["result"]
    return result


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


@dataclass
class Stack:
    """A running monitoring stack rendered by nova from a workspace."""

    prometheus: str
    alertmanager: str
    received: list[dict[str, Any]]
    """Every webhook payload Alertmanager delivered (all owners route to the test's hook)."""

    def notified(self, alertname: str, status: str, **labels: str) -> list[dict[str, Any]]:
        """Delivered alerts with this name, status (firing/resolved) and labels."""
        return [
            a
            for payload in self.received
            for a in payload["alerts"]
            if a["status"] == status
            and a["labels"].get("alertname") == alertname
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]


@contextmanager
def monitoring_stack(
    root: Path, *, gateway_target: str, engine_targets: dict[str, str], extra: str = ""
) -> Iterator[Stack]:
    """Render the workspace's monitoring with 1 s intervals and every owner's alerts sent to a
    webhook in the test, then run Prometheus and Alertmanager on it (stopped by PID).

    ``extra`` adds settings, e.g. ``"  burn_page_for: 1s\n"`` for a fast-burn test.
    """
    am_port = free_port()
    with webhook_receiver() as (hook_url, received):
        targets = ", ".join(f"{k}: '{v}'" for k, v in engine_targets.items())
        hook = f"{{webhook_url: '{hook_url}'}}"
        set_monitoring(
            root,
            f"  alertmanager_url: http://127.0.0.1:{am_port}\n"
            f"  gateway_target: '{gateway_target}'\n"
            f"  engine_targets: {{{targets}}}\n"
            "  scrape_interval: 1s\n  evaluation_interval: 1s\n  engine_down_for: 1s\n"
            "  group_wait: 1s\n  group_interval: 1s\n"
            f"  receivers: {{Aura: {hook}, Security: {hook}, Platform: {hook}}}\n" + extra,
        )
        ws, cfg = loaded(root)
        render_monitoring(ws, cfg)
        mon = root / "deploy/monitoring"
        with (
            alertmanager_server(mon / "alertmanager/alertmanager.yml", port=am_port) as am,
            prometheus_server(mon / "prometheus/prometheus.yml") as prom,
        ):
            yield Stack(prom, am, received)
