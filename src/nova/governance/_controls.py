"""Which controls a workspace really has, derived from its files and its run store.

Documents, workspace READMEs and CLI messages state a control (guardrails, red teaming, the
gateway, monitoring, a rendered deployment) only through ``workspace_controls``: "not active"
until the evidence exists, then the fact with where the evidence is. The rules:

- rails: ``guardrails/rails.yaml`` exists and ``nova.safety.load_rails`` loads it without error
  (configured; they act on customer traffic only through the gateway: ``rails_in_traffic``);
- red team: a completed run of kind ``redteam`` in the run store;
- gateway: an audit entry ``gateway.request`` (it served a request); issued keys alone do not count;
- monitoring: an audit entry ``alerts.activate`` (subject = candidate id);
- deployment: ``deploy/models/<candidate>/`` holds a ``Chart.yaml``, ``compose.yaml`` or
  ``README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from nova.config import Workspace
from nova.errors import NovaError
from nova.store import RunStore

__all__ = ["CONTROL_NAMES", "Control", "Controls", "workspace_controls"]

CONTROL_NAMES = ("rails", "redteam", "gateway", "monitoring", "deployment")
"""The controls documents may mention, in the order they are shown."""
_DEPLOY_FILES = ("Chart.yaml", "compose.yaml", "README.md")


class Control(BaseModel):
    """The state of one control."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: Literal["rails", "redteam", "gateway", "monitoring", "deployment"]
    """Which control."""
    active: bool
    """True only when the evidence below exists."""
    evidence: str | None = None
    """Where the evidence is: a file, a run id or an audit entry (None when not active)."""
    detail: str
    """One line: what was found, or what is missing and how to get it."""
    subjects: list[str] = []
    """Candidates it applies to (monitoring, deployment); empty for workspace-wide controls."""


class Controls(BaseModel):
    """Every control of one workspace."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    rails: Control
    """Input/output guardrails enforced by ``nova.safety``."""
    redteam: Control
    """A finished red-team run."""
    gateway: Control
    """nova's gateway serving requests (fallback routing, API keys, audit per request)."""
    monitoring: Control
    """Alerts activated with ``python -m nova alerts``."""
    deployment: Control
    """Deployment manifests rendered under ``deploy/models/<candidate>/``."""

    @property
    def rails_in_traffic(self) -> bool:
        """Whether the rails act on live conversations: configured, and nova's gateway (the only
        path that applies them to customer traffic) served a request. Documents claim redaction
        as in force only then."""
        return self.rails.active and self.gateway.active

    def all(self) -> list[Control]:
        """The controls in ``CONTROL_NAMES`` order."""
        return [getattr(self, n) for n in CONTROL_NAMES]


def _rails(ws: Workspace) -> Control:
    path = ws.guardrails_dir / "rails.yaml"
    rel = "guardrails/rails.yaml"
    if not path.is_file():
        return Control(name="rails", active=False, detail=f"{rel} does not exist")
    from nova.safety import load_rails  # lazily: the rails load pydantic models and regexes

    try:
        load_rails(ws.root)
    except NovaError as exc:  # an invalid rails.yaml is a ConfigError naming file:line, field
        problems = getattr(exc, "problems", None)
        text = str(problems[0]) if problems else str(exc)
        first = text.splitlines()[0] if text else type(exc).__name__
        return Control(name="rails", active=False, detail=f"{rel} does not load: {first}")
    return Control(name="rails", active=True, evidence=rel, detail=f"{rel} loaded by nova.safety")


def _redteam(store: RunStore | None) -> Control:
    runs = store.list_runs(kind="redteam", limit=50) if store is not None else []
    done = next((r for r in runs if r.status == "completed"), None)
    if done is None:
        return Control(
            name="redteam",
            active=False,
            detail="no finished red-team run in the run store",
        )
    return Control(
        name="redteam",
        active=True,
        evidence=f"run {done.id}",
        detail=f"red-team run {done.id} finished",
    )


def _gateway(store: RunStore | None) -> Control:
    entries = store.audit_entries() if store is not None else []
    served = [e for e in entries if e.action == "gateway.request"]
    if served:
        last = served[-1]
        return Control(
            name="gateway",
            active=True,
            evidence=f"audit #{last.seq}",
            detail=f"the gateway served {len(served)} request(s), last audit #{last.seq}",
        )
    keys = _gateway_keys(store)
    return Control(
        name="gateway",
        active=False,
        detail=f"{keys} active gateway API key(s) issued; no request served yet (`nova serve`)"
        if keys
        else "no gateway.request in the audit log and no gateway API key",
    )


def _gateway_keys(store: RunStore | None) -> int:
    """Gateway API keys issued and not revoked (``nova keys create``)."""
    if store is None:
        return 0
    return sum(1 for k in store.api_keys() if k.revoked_at is None)


def _monitoring(store: RunStore | None) -> Control:
    entries = store.audit_entries() if store is not None else []
    acts = [e for e in entries if e.action == "alerts.activate"]
    if not acts:
        return Control(
            name="monitoring",
            active=False,
            detail="alerts not activated (no alerts.activate in the audit log): "
            "run `python -m nova alerts activate`",
        )
    subjects = list(dict.fromkeys(e.subject or "" for e in acts if e.subject))
    return Control(
        name="monitoring",
        active=True,
        evidence=f"audit #{acts[-1].seq}",
        detail=f"alerts activated for {', '.join(subjects) or 'the workspace'}",
        subjects=subjects,
    )


def _deployment(ws: Workspace) -> Control:
    base = ws.root / "deploy" / "models"
    found: list[str] = []
    files: list[str] = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        hit = next((f for f in _DEPLOY_FILES if (folder / f).is_file()), None)
        if hit:
            found.append(folder.name)
            files.append(f"deploy/models/{folder.name}/{hit}")
    if not found:
        return Control(
            name="deployment",
            active=False,
            detail="no deployment rendered under deploy/models/<candidate>/",
        )
    return Control(
        name="deployment",
        active=True,
        evidence=", ".join(files),
        detail=f"deployment rendered for {', '.join(found)}",
        subjects=found,
    )


def workspace_controls(workspace: Workspace | Path, store: RunStore | None = None) -> Controls:
    """The real state of every control of ``workspace``.

    ``store`` is the workspace's run store; without it, the controls that need the store
    (red team, gateway, monitoring) read "not active".
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace))
    return Controls(
        rails=_rails(ws),
        redteam=_redteam(store),
        gateway=_gateway(store),
        monitoring=_monitoring(store),
        deployment=_deployment(ws),
    )
