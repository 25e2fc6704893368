"""When a row of the task list is really done: one documented rule per row.

``nova decide`` sets a row to "Abgeschlossen" only when its rule holds. A rule is one or more
conditions joined by ``and``; ``governance.task_rules`` in nova.yaml adds rules or replaces the
defaults, keyed by a row ID (``SOPHIA-11``) or by a regular expression matched against the task
title (column ``Aufgabe``, case-insensitive). A row without any rule is never flipped.

Conditions (``<candidate>`` is the candidate being decided):

- ``decision`` — the decision itself is being recorded (rows done by ``nova decide``);
- ``approvals`` — every reviewer role of nova.yaml approved the candidate on this matrix version;
- ``review:<role>`` — that role approved the candidate on this matrix version (e.g. the KPI
  catalogue row: ``review:analytics``, Aura);
- ``matrix`` — the selection matrix exists and ranks the candidate;
- ``run:<kind>`` — a completed run of that kind (``quality``, ``performance``, ``redteam``);
- ``redteam`` — a finished red-team run (same as ``run:redteam``);
- ``rails`` — the guardrails are enforced (``nova.safety`` loads ``guardrails/rails.yaml``);
- ``gateway`` — nova's gateway served a request (``gateway.request`` in the audit log);
- ``monitoring`` — ``alerts.activate`` for the candidate is in the audit log;
- ``deployment`` — ``deploy/models/<candidate>/`` holds a rendered chart, compose file or README;
- ``audit:<action>`` — the audit log has that action for the candidate (or without subject);
- ``file:<path>`` — the file exists (a folder: it holds at least one file);
- ``document:<name>`` — ``docs/governance/<name>.md`` exists and no placeholder is left open;
- ``fallback_reduced`` — a fallback candidate (role ``fallback``) needs fewer GPU resources
  (GPU cost per hour for one replica, as in the fallback plan) than the decided candidate;
- ``never`` — never flipped by nova.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nova.config import NovaConfig, Workspace
from nova.errors import ConfigError, Problem
from nova.governance._controls import Controls, workspace_controls
from nova.governance._human import open_placeholders
from nova.governance._review import review_status
from nova.governance._tasks_csv import TaskTable
from nova.store import RunStore

__all__ = [
    "CONDITIONS",
    "DEFAULT_TASK_RULES",
    "TaskCheck",
    "check_condition_text",
    "effective_rules",
    "rows_to_complete",
    "rule_for",
]

CONDITIONS = (
    "decision",
    "approvals",
    "review",
    "matrix",
    "run",
    "redteam",
    "rails",
    "gateway",
    "monitoring",
    "deployment",
    "audit",
    "file",
    "document",
    "fallback_reduced",
    "never",
)
"""Condition names a rule may use (``name`` or ``name:argument``)."""
_NEEDS_ARG = {"review", "run", "audit", "file", "document"}

DEFAULT_TASK_RULES: dict[str, str] = {
    "SOPHIA-01": "matrix",
    "SOPHIA-02": "audit:deploy.apply",
    "SOPHIA-03": "gateway and monitoring",
    "SOPHIA-04": "file:datasets/",
    "SOPHIA-05": "rails",
    "SOPHIA-06": "document:license_review",
    "SOPHIA-07": "matrix and file:docs/governance/deployment_options.md",
    "SOPHIA-08": "deployment",
    "SOPHIA-09": "monitoring",
    "SOPHIA-10": "run:quality and run:performance",
    "SOPHIA-11": "redteam and file:docs/governance/qa_plan.md",
    "SOPHIA-12": "file:docs/governance/lora_compatibility.md",
    "SOPHIA-13": "matrix",
    "SOPHIA-14": "review:analytics",
    "SOPHIA-15": "approvals",
    "SOPHIA-16": "fallback_reduced",
    "SOPHIA-17": "file:docs/governance/exit_strategy.md",
    "SOPHIA-18": "document:dsfa",
    "SOPHIA-19": "decision",
    "SOPHIA-20": "decision",
    "SOPHIA-21": "monitoring",
}
"""The rules for the task list that ``nova init`` ships (plan.de.md, one row per line)."""


def check_condition_text(text: str) -> str | None:
    """Why ``text`` is not a valid rule, or None when it is."""
    terms = [t.strip() for t in re.split(r"\s+and\s+", text.strip()) if t.strip()]
    if not terms:
        return "empty rule"
    for term in terms:
        name, _, arg = term.partition(":")
        if name not in CONDITIONS:
            return f"unknown condition {name!r}; known: {', '.join(CONDITIONS)}"
        if name in _NEEDS_ARG and not arg:
            return f"condition {name!r} needs an argument, e.g. {name}:…"
    return None


def effective_rules(ws: Workspace, config: NovaConfig) -> dict[str, str]:
    """The workspace's own rules (``governance.task_rules``), checked; ConfigError (exit 2)
    names the nova.yaml field of each invalid one."""
    problems = []
    for key, rule in config.governance.task_rules.items():
        where = f"governance.task_rules.{key}"
        why = check_condition_text(rule)
        if why:
            problems.append(Problem(ws.config_file, None, where, why))
            continue
        try:
            re.compile(key)
        except re.error as exc:
            msg = f"not a row ID or a valid title pattern: {exc}"
            problems.append(Problem(ws.config_file, None, where, msg))
    if problems:
        raise ConfigError(problems, "invalid task rules in nova.yaml")
    return dict(config.governance.task_rules)


def rule_for(
    row: Mapping[str, str],
    own: Mapping[str, str],
    defaults: Mapping[str, str] = DEFAULT_TASK_RULES,
) -> str | None:
    """The rule of one row: the workspace's rule for its ID, else the workspace's first title
    pattern that matches, else nova's default for its ID; None when there is none."""
    task_id = (row.get("ID") or "").strip()
    if task_id in own:
        return own[task_id]
    title = row.get("Aufgabe") or ""
    for key, rule in own.items():
        if re.search(key, title, re.IGNORECASE):
            return rule
    return defaults.get(task_id)


@dataclass
class TaskCheck:
    """What the conditions look at, for one decision on one candidate."""

    ws: Workspace
    config: NovaConfig
    store: RunStore
    candidate: str
    matrix_sha: str | None
    in_matrix: bool
    deciding: bool = True
    known_controls: Controls | None = field(default=None, repr=False)

    @property
    def controls(self) -> Controls:
        """The workspace's controls, read once."""
        if self.known_controls is None:
            self.known_controls = workspace_controls(self.ws, self.store)
        return self.known_controls

    def holds(self, rule: str) -> bool:
        """Whether every condition of ``rule`` holds."""
        terms = [t.strip() for t in re.split(r"\s+and\s+", rule.strip()) if t.strip()]
        return bool(terms) and all(self._term(t) for t in terms)

    def _term(self, term: str) -> bool:
        name, _, arg = term.partition(":")
        checks: dict[str, Callable[[], bool]] = {
            "decision": lambda: self.deciding,
            "approvals": self._approvals,
            "review": lambda: self._approved(arg),
            "matrix": lambda: self.in_matrix,
            "run": lambda: self._run(arg),
            "redteam": lambda: self.controls.redteam.active,
            "rails": lambda: self.controls.rails.active,
            "gateway": lambda: self.controls.gateway.active,
            "monitoring": lambda: self.candidate in self.controls.monitoring.subjects,
            "deployment": lambda: self.candidate in self.controls.deployment.subjects,
            "audit": lambda: self._audit(arg),
            "file": lambda: self._file(arg),
            "document": lambda: self._document(arg),
            "fallback_reduced": self._fallback_reduced,
            "never": lambda: False,
        }
        check = checks.get(name)
        return check() if check is not None else False

    def _approvals(self) -> bool:
        roles = [r.role for r in self.config.governance.reviewers]
        states = review_status(self.store, self.candidate, roles, self.matrix_sha)
        return bool(states) and all(s.status == "approved" for s in states)

    def _approved(self, role: str) -> bool:
        states = review_status(self.store, self.candidate, [role], self.matrix_sha)
        return states[0].status == "approved"

    def _run(self, kind: str) -> bool:
        return any(r.status == "completed" for r in self.store.list_runs(kind=kind, limit=50))

    def _audit(self, action: str) -> bool:
        return any(
            e.action == action and e.subject in (None, self.candidate)
            for e in self.store.audit_entries()
        )

    def _file(self, rel: str) -> bool:
        path = self.ws.root / rel
        if path.is_dir():
            return any(p.is_file() for p in path.rglob("*"))
        return path.is_file()

    def _document(self, name: str) -> bool:
        path = self.ws.governance_dir / f"{name}.md"
        if not path.is_file():
            return False
        return not open_placeholders(path.read_bytes().decode("utf-8", errors="replace"))

    def _fallback_reduced(self) -> bool:
        from nova.catalog import load_catalog
        from nova.governance._docs_context import Sources, gpu_plan

        cat = load_catalog(self.ws.catalog_dir)
        src = Sources()

        def per_hour(cid: str) -> float | None:
            cand = self.config.candidate(cid)
            rec = cat.models.get(cand.catalog) if cand.catalog else None
            plan = gpu_plan(cand, rec, cat, src, "en") if rec else None
            value = plan["per_hour_value"] if plan else None
            return float(value) if isinstance(value, int | float) else None

        # The decided candidate is the primary from now on.
        base = per_hour(self.candidate)
        if base is None:
            return False
        for fb in (c.id for c in self.config.candidates if c.role == "fallback"):
            cost = per_hour(fb)
            if cost is not None and cost < base:
                return True
        return False


def rows_to_complete(check: TaskCheck, table: TaskTable, own: Mapping[str, str]) -> list[str]:
    """IDs of open rows whose rule holds now, in file order."""
    out = []
    for row in table.rows:
        task_id = (row.get("ID") or "").strip()
        if not task_id or row.get("Status") in ("Abgeschlossen", "Blockiert"):
            continue
        rule = rule_for(row, own)
        if rule is not None and check.holds(rule):
            out.append(task_id)
    return out
