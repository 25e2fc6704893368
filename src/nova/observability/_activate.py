"""``alerts activate`` and ``alerts status``: reload Prometheus and Alertmanager, prove the
rules are served, record it in the audit log; read the firing alerts back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict

from nova.config import NovaConfig, Workspace
from nova.observability._files import ALERTMANAGER_FILE
from nova.observability._render import MANIFEST_FILE, render_monitoring
from nova.observability._tools import MonitoringError, check_monitoring, problem_line

if TYPE_CHECKING:
    from nova.store import RunStore

__all__ = [
    "ACTIVATE_ACTION",
    "ActivationResult",
    "ActivationState",
    "AlertStatus",
    "activate_monitoring",
    "activation_state",
    "alert_status",
]

ACTIVATE_ACTION = "alerts.activate"
_DONE = "Abgeschlossen"
_TIMEOUT_S = 10.0


class ActivationState(BaseModel):
    """The latest ``alerts.activate`` of the audit log, and whether the files still match it."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate the alerts were activated for."""
    at: dt.datetime
    """When (UTC)."""
    audit_seq: int
    """Audit log entry."""
    by: str
    """Who activated."""
    prometheus_url: str
    """Prometheus that was reloaded and served the rules."""
    alerts: int
    """Number of alert rules activated."""
    files_unchanged: bool
    """Whether deploy/monitoring/ still holds the files that were activated."""


class ActivationResult(BaseModel):
    """What ``activate_monitoring`` did."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate the alerts were activated for."""
    audit_seq: int
    """Audit log entry ``alerts.activate``."""
    rule_groups: list[str]
    """nova's rule groups that Prometheus serves after the reload."""
    alerts: int
    """Number of alert rules."""
    rows_completed: list[str]
    """Task-list rows (``nova_Befehl`` names ``nova alerts``) set to Abgeschlossen."""


class AlertStatus(BaseModel):
    """One firing or pending alert as Prometheus reports it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Alert name."""
    state: str
    """``firing`` or ``pending``."""
    severity: str
    """Severity label."""
    owner: str
    """Owner label."""
    candidate: str
    """Candidate label (empty for gateway-wide alerts)."""
    active_at: str
    """When the condition started (RFC 3339)."""
    summary: str
    """Summary annotation."""


def _http(method: str, url: str, what: str) -> bytes:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as resp:
            data: bytes = resp.read()
            return data
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace").strip()[:200]
        hint = (
            f": start {what} with --web.enable-lifecycle"
            if exc.code in (403, 404) and url.endswith("/-/reload")
            else ""
        )
        raise MonitoringError(f"{what} at {url} answered HTTP {exc.code} {body}{hint}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MonitoringError(
            f"{what} is unreachable at {url} ({reason}): start it, or set "
            f"monitoring.{what.lower()}_url in nova.yaml"
        ) from None


def _served_groups(prometheus_url: str) -> set[str]:
    raw = _http("GET", f"{prometheus_url.rstrip('/')}/api/v1/rules", "Prometheus")
    data = json.loads(raw)
    return {g["name"] for g in data.get("data", {}).get("groups", [])}


def _check_alertmanager(ws: Workspace, am: str) -> None:
    """Alertmanager runs nova's configuration: every receiver nova rendered is loaded."""
    rendered = ws.monitoring_dir / ALERTMANAGER_FILE
    want = {r["name"] for r in yaml.safe_load(rendered.read_text("utf-8"))["receivers"]}
    status = json.loads(_http("GET", f"{am}/api/v2/status", "Alertmanager"))
    loaded = yaml.safe_load(status.get("config", {}).get("original") or "{}") or {}
    have = {r.get("name") for r in loaded.get("receivers") or []}
    if not want <= have:
        raise MonitoringError(
            f"Alertmanager at {am} reloaded but does not run nova's configuration "
            f"(no receiver {sorted(want - have)[0]}): start it with --config.file={rendered}"
        )


def activate_monitoring(
    ws: Workspace,
    config: NovaConfig,
    *,
    candidate: str | None = None,
    prometheus_url: str | None = None,
    alertmanager_url: str | None = None,
    actor: str = "nova",
) -> ActivationResult:
    """Render, check, reload Prometheus and Alertmanager, verify that Alertmanager runs nova's
    receivers and Prometheus serves every nova rule group; only then append
    ``alerts.activate`` to the audit log and mark the monitoring rows of the team's task list
    (``nova_Befehl`` naming ``nova alerts``) Abgeschlossen."""
    prom = (prometheus_url or config.monitoring.prometheus_url).rstrip("/")
    am = (alertmanager_url or config.monitoring.alertmanager_url).rstrip("/")
    rendered = render_monitoring(ws, config, candidate)
    failed = [r for r in check_monitoring(ws) if not r.ok]
    if failed:
        raise MonitoringError(
            f"`{' '.join(failed[0].command[1:3])}` failed, nothing was reloaded: "
            f"{problem_line(failed[0].output)} (run `python -m nova alerts check`)"
        )
    _http("POST", f"{prom}/-/reload", "Prometheus")
    _http("POST", f"{am}/-/reload", "Alertmanager")
    wanted = {a.group for a in rendered.plan.alerts} | {g["name"] for g in rendered.plan.recording}
    _check_alertmanager(ws, am)
    served = _served_groups(prom)
    missing = sorted(wanted - served)
    if missing:
        raise MonitoringError(
            f"Prometheus at {prom} reloaded but does not serve nova's rule groups "
            f"{', '.join(missing)}: start it with "
            f"--config.file={ws.monitoring_dir / 'prometheus' / 'prometheus.yml'}"
        )
    from nova.store import open_store

    payload: dict[str, Any] = {
        "prometheus_url": prom,
        "alertmanager_url": am,
        "rule_groups": sorted(wanted),
        "alerts": len(rendered.plan.alerts),
        "files": rendered.files,
    }
    with open_store(ws, config) as store:
        entry = store.audit(actor, ACTIVATE_ACTION, rendered.candidate, payload)
        rows = _complete_monitoring_rows(ws, config, store, rendered.candidate)
    return ActivationResult(
        candidate=rendered.candidate,
        audit_seq=entry.seq,
        rule_groups=sorted(wanted),
        alerts=len(rendered.plan.alerts),
        rows_completed=rows,
    )


def _complete_monitoring_rows(
    ws: Workspace, config: NovaConfig, store: RunStore, candidate: str
) -> list[str]:
    """Rows of the team's task list whose documented rule (``nova.governance`` task rules,
    overridable in ``governance.task_rules``) needs monitoring and holds now that the
    activation is recorded: set to "Abgeschlossen", every other byte kept."""
    from nova._io import atomic_write_bytes
    from nova.governance import (
        TaskCheck,
        TaskTable,
        effective_rules,
        rows_to_complete,
        rule_for,
    )

    path = ws.root / config.governance.tasks_csv
    if not path.is_file():
        return []
    table = TaskTable.load(path)
    own = effective_rules(ws, config)
    check = TaskCheck(ws, config, store, candidate, None, in_matrix=False, deciding=False)
    by_id = {(r.get("ID") or "").strip(): r for r in table.rows}
    rows = [
        i
        for i in rows_to_complete(check, table, own)
        if "monitoring" in (rule_for(by_id[i], own) or "")
    ]
    if rows:
        atomic_write_bytes(path, table.set_cells({i: {"Status": _DONE} for i in rows}))
    return rows


def activation_state(ws: Workspace, config: NovaConfig | None = None) -> ActivationState | None:
    """The latest ``alerts.activate`` in the audit log, or None when monitoring was never
    activated. Documents use it to say "alerts are active" only when that was recorded."""
    from nova.store import open_store

    with open_store(ws, config) as store:
        entries = [e for e in store.audit_entries() if e.action == ACTIVATE_ACTION]
    if not entries:
        return None
    e = entries[-1]
    files = e.payload.get("files") or {}
    unchanged = bool(files) and all(
        (ws.monitoring_dir / rel).is_file()
        and hashlib.sha256((ws.monitoring_dir / rel).read_bytes()).hexdigest() == sha
        for rel, sha in files.items()
        if rel != MANIFEST_FILE
    )
    return ActivationState(
        candidate=e.subject or "",
        at=e.at,
        audit_seq=e.seq,
        by=e.actor,
        prometheus_url=str(e.payload.get("prometheus_url", "")),
        alerts=int(e.payload.get("alerts", 0)),
        files_unchanged=unchanged,
    )


def alert_status(config: NovaConfig, prometheus_url: str | None = None) -> list[AlertStatus]:
    """Firing and pending alerts from Prometheus' HTTP API, firing first."""
    prom = (prometheus_url or config.monitoring.prometheus_url).rstrip("/")
    data = json.loads(_http("GET", f"{prom}/api/v1/alerts", "Prometheus"))
    out = []
    for a in data.get("data", {}).get("alerts", []):
        labels, ann = a.get("labels", {}), a.get("annotations", {})
        out.append(
            AlertStatus(
                name=labels.get("alertname", ""),
                state=a.get("state", ""),
                severity=labels.get("severity", ""),
                owner=labels.get("owner", ""),
                candidate=labels.get("candidate", ""),
                active_at=a.get("activeAt", ""),
                summary=ann.get("summary", ""),
            )
        )
    return sorted(out, key=lambda s: (s.state != "firing", s.name, s.candidate))
