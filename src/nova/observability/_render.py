"""Write deploy/monitoring/ from nova.yaml: atomically, and never over a person's edits."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from nova._io import atomic_write_bytes
from nova.config import Candidate, NovaConfig, Workspace
from nova.errors import ConfigError, NovaError, Problem
from nova.observability import _files as f
from nova.observability._dashboard import (
    DASHBOARD_FILE,
    DASHBOARD_PROVIDER_FILE,
    DATASOURCE_FILE,
    dashboard,
    dashboard_provider,
    datasource,
    panel_listing,
)
from nova.observability._engines import engine_for
from nova.observability._gateway import GATEWAY_LATENCY_BUCKETS
from nova.observability._readme import readme
from nova.observability._rules import MonitoredCandidate, RulePlan, build_rules, latency_targets

__all__ = [
    "MANIFEST_FILE",
    "RenderResult",
    "chosen_candidate",
    "monitored_candidates",
    "plan_monitoring",
    "render_monitoring",
]

MANIFEST_FILE = ".nova-manifest.json"
_CUSTOM_RULES = (
    "# Your own Prometheus rules. nova created this file once and never changes it;\n"
    "# `python -m nova alerts check` validates it together with nova's rules.\n"
    "groups: []\n"
)


@dataclass
class RenderResult:
    """What ``render_monitoring`` did."""

    directory: Path
    candidate: str
    monitored: list[MonitoredCandidate]
    plan: RulePlan
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    """Copies of files a person had edited, saved before nova rewrote them."""
    files: dict[str, str] = field(default_factory=dict)
    """Relative path -> sha256 of every file nova manages."""


def chosen_candidate(ws: Workspace, config: NovaConfig, explicit: str | None = None) -> str:
    """``explicit``, else the candidate of the latest recorded decision, else the primary."""
    ids = {c.id for c in config.candidates}
    if explicit is not None:
        if explicit not in ids:
            raise NovaError(
                f"no candidate {explicit!r} in nova.yaml (known: {', '.join(sorted(ids))})"
            )
        return explicit
    from nova.store import open_store

    with open_store(ws, config) as store:
        decisions = [e for e in store.audit_entries() if e.action == "decision.record"]
    if decisions and decisions[-1].subject in ids:
        return str(decisions[-1].subject)
    primary = [c.id for c in config.candidates if c.role == "primary"]
    if primary:
        return primary[0]
    raise NovaError(
        "no candidate chosen yet: record a decision (`nova decide --candidate ID`), mark one "
        "`role: primary` in nova.yaml, or pass --candidate ID"
    )


def _target(c: Candidate, config: NovaConfig) -> str | None:
    explicit = config.monitoring.engine_targets.get(c.id)
    if explicit:
        return explicit
    base = c.provider.base_url
    return urlsplit(base).netloc or None if base else None


def monitored_candidates(config: NovaConfig, chosen: str) -> list[MonitoredCandidate]:
    """The chosen candidate and the fallbacks, each with its engine profile and scrape target."""
    ids = [chosen] + [c.id for c in config.candidates if c.role == "fallback" and c.id != chosen]
    out = []
    for cid in ids:
        c = config.candidate(cid)
        engine = engine_for(c, config.monitoring)
        out.append(MonitoredCandidate(c, engine, _target(c, config) if engine else None))
    return out


def _check_buckets(config: NovaConfig) -> None:
    problems = []
    for kpi_id, metric, target_s in latency_targets(config):
        if not any(abs(target_s - e) < 1e-9 for e in GATEWAY_LATENCY_BUCKETS):
            i = next(i for i, k in enumerate(config.kpis) if k.id == kpi_id)
            edges = ", ".join(f"{e * 1000:g}" for e in GATEWAY_LATENCY_BUCKETS)
            problems.append(
                Problem(
                    None,
                    None,
                    f"kpis[{i}].target",
                    f"{target_s * 1000:g} ms is not a bucket edge of the gateway histogram "
                    f"{metric}, so no alert could count the requests above it; use one of "
                    f"{edges} (ms)",
                )
            )
    if problems:
        raise ConfigError(problems, "KPI targets the gateway's histograms cannot measure")


def plan_monitoring(
    ws: Workspace, config: NovaConfig, candidate: str | None = None
) -> tuple[str, list[MonitoredCandidate], RulePlan, dict[str, bytes]]:
    """(chosen candidate, monitored candidates, rule plan, file contents by relative path)."""
    _check_buckets(config)
    chosen = chosen_candidate(ws, config, candidate)
    monitored = monitored_candidates(config, chosen)
    plan = build_rules(config, monitored)
    ms = config.monitoring
    recording, alerts = f.rule_files(plan, ms)
    texts = {
        f.PROMETHEUS_FILE: f.yaml_text(f.prometheus_config(config, monitored)),
        f.RECORDING_FILE: f.yaml_text(recording),
        f.ALERTS_FILE: f.yaml_text(alerts),
        f.TESTS_FILE: f.yaml_text(f.unit_tests(plan, ms)),
        f.ALERTMANAGER_FILE: f.yaml_text(f.alertmanager_config(config, plan)),
        DASHBOARD_FILE: json.dumps(dashboard(config, monitored), indent=2, ensure_ascii=False)
        + "\n",
        DASHBOARD_PROVIDER_FILE: f.yaml_text(dashboard_provider()),
        DATASOURCE_FILE: f.yaml_text(datasource(config)),
        f.RUNBOOK_FILE: f.runbook(config, plan),
        "README.md": readme(config, chosen, monitored, plan, panel_listing(monitored)),
    }
    return chosen, monitored, plan, {k: v.encode("utf-8") for k, v in texts.items()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shipped_readme() -> bytes:
    ref = importlib.resources.files("nova.templates").joinpath(
        "workspace/common/deploy/monitoring/README.md"
    )
    return ref.read_bytes()


def _edited(rel: str, old: bytes, manifest: dict[str, str], shipped_readme: bytes) -> bool:
    """Whether a person changed the file since nova wrote it (or wrote it themselves)."""
    if rel == "README.md" and old == shipped_readme:
        return False  # the placeholder `nova init` ships
    return manifest.get(rel) != _sha(old)


def render_monitoring(
    ws: Workspace,
    config: NovaConfig,
    candidate: str | None = None,
    now: dt.datetime | None = None,
) -> RenderResult:
    """Write deploy/monitoring/. A file nova wrote before and a person changed since is kept
    as ``<name>.edited-<UTC time>`` before it is replaced; custom_rules.yml is created once."""
    chosen, monitored, plan, contents = plan_monitoring(ws, config, candidate)
    out = ws.monitoring_dir
    manifest_path = out / MANIFEST_FILE
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text("utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        manifest = {}
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    result = RenderResult(out, chosen, monitored, plan)
    shipped = _shipped_readme()
    for rel, data in contents.items():
        path = out / rel
        old = path.read_bytes() if path.is_file() else None
        result.files[rel] = _sha(data)
        if old == data:
            result.unchanged.append(path)
            continue
        if old is not None and _edited(rel, old, manifest, shipped):
            kept = path.with_name(f"{path.name}.edited-{stamp}")
            atomic_write_bytes(kept, old)
            result.kept.append(kept)
        atomic_write_bytes(path, data)
        result.written.append(path)
    custom = out / f.CUSTOM_RULES_FILE
    if not custom.exists():
        atomic_write_bytes(custom, _CUSTOM_RULES.encode("utf-8"))
        result.written.append(custom)
    body = json.dumps({"generator": "nova alerts render", "files": result.files}, indent=2)
    atomic_write_bytes(manifest_path, (body + "\n").encode("utf-8"))
    return result
