"""``nova decide``: the decision record, only when everything it needs is in place.

Preconditions (each missing one is listed; nothing is written then):
- the selection matrix exists and the candidate is in it and passes every hard gate;
- every required reviewer role approved this candidate for the current matrix version;
- the documents Legal and Security need exist (license review, exit strategy, fallback plan,
  and the DSFA, completed, when the candidate runs in a managed cloud).
Then, in this order: an ADR-style record is inserted in the decision-log section of
docs/MODEL_OPERATIONS_KICKOFF.md, the matching rows of the task list are set to
"Abgeschlossen" (every other byte kept), and the decision is appended to the audit log.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nova._io import atomic_write_bytes
from nova.config import NovaConfig, Workspace
from nova.decision import MatrixResult, dsfa_done, matrix_sha
from nova.errors import GateFailedError, NovaError
from nova.governance._controls import Controls, workspace_controls
from nova.governance._human import open_placeholders
from nova.governance._review import ReviewState, SignaturePolicy, review_status
from nova.governance._task_rules import TaskCheck, effective_rules, rows_to_complete
from nova.governance._tasks_csv import TaskTable
from nova.store import RunStore

__all__ = [
    "LOG_END",
    "LOG_START",
    "DecisionOutcome",
    "check_decision",
    "decide",
    "load_matrix",
]

LOG_START = "<!-- nova:decision-log:start -->"
LOG_END = "<!-- nova:decision-log:end -->"
_PLACEHOLDERS = ("_Noch keine Entscheidung protokolliert._", "_No decision recorded yet._")
DONE = "Abgeschlossen"


class DecisionOutcome(BaseModel):
    """What ``decide`` changed."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Chosen candidate."""
    kickoff: str
    """Path of the decision log document."""
    rows_completed: list[str]
    """Task IDs set to Abgeschlossen."""
    audit_seq: int
    """Audit entry of the decision."""
    matrix_sha256: str
    """Matrix version decided on."""


def load_matrix(ws: Workspace) -> MatrixResult | None:
    """The current matrix JSON, or None when `nova matrix` has not run."""
    path = ws.selection_matrix.with_suffix(".json")
    if not path.is_file():
        return None
    return MatrixResult.model_validate_json(path.read_text(encoding="utf-8"))


def _required_docs(ws: Workspace, cfg: NovaConfig, candidate: str) -> list[tuple[Path, bool]]:
    gov = ws.governance_dir
    need = [gov / "license_review.md", gov / "exit_strategy.md", gov / "fallback_plan.md"]
    out = [(p, p.is_file()) for p in need]
    if cfg.candidate(candidate).hosting == "managed" and cfg.governance.dsfa_required_for_managed:
        out.append((gov / "dsfa.md", dsfa_done(ws.root)))
    return out


def check_decision(
    ws: Workspace, cfg: NovaConfig, store: RunStore, candidate: str
) -> tuple[list[str], MatrixResult | None, list[ReviewState]]:
    """Everything that is missing for a decision on ``candidate`` (empty: ready)."""
    missing: list[str] = []
    cfg.candidate(candidate)  # UnknownCandidateError (exit 2) names the known ids
    m = load_matrix(ws)
    sha = matrix_sha(m) if m else None
    if m is None:
        missing.append("the selection matrix: run `nova matrix`")
    elif candidate not in m.candidates:
        missing.append(f"{candidate} is not in the selection matrix: run `nova matrix`")
    else:
        for g in m.gates.get(candidate, []):
            if g.passed is False:
                missing.append(f"hard gate {g.gate} failed: {g.reason}")
            elif g.passed is None:
                missing.append(f"hard gate {g.gate} not measured: {g.reason}")
    roles: list[str] = [r.role for r in cfg.governance.reviewers]
    states = review_status(store, candidate, roles, sha, SignaturePolicy.from_config(cfg))
    for s in states:
        if s.status != "approved":
            what = {
                "missing": "no review",
                "requested": "review requested, not given",
                "rejected": f"rejected by {s.by}",
                "stale": f"approved by {s.by} for an earlier matrix version",
                "unsigned": f"approved by {s.by}, but {s.note}",
            }[s.status]
            missing.append(
                f"approval of {s.role}: {what} — `nova review approve --candidate "
                f"{candidate} --role {s.role} --by NAME`"
            )
    for path, ok in _required_docs(ws, cfg, candidate):
        if not ok:
            rel = path.relative_to(ws.root)
            hint = "run `nova docs`"
            if path.name == "dsfa.md" and path.is_file():
                left = open_placeholders(path.read_bytes().decode("utf-8", errors="replace"))
                kinds = ", ".join(sorted(set(left)))
                hint = f"{len(left)} human section(s) still open ({kinds or 'placeholders'})"
            missing.append(f"document {rel}: {hint}")
    return missing, m, states


def _consequences(controls: Controls, candidate: str, de: bool) -> str:
    """Next steps after the decision, with the state each control has right now."""
    dep, mon = controls.deployment, controls.monitoring
    rendered = candidate in dep.subjects
    watched = candidate in mon.subjects
    where = f"deploy/models/{candidate}/"
    if de:
        d = f"gerendert ({where})" if rendered else "noch nicht gerendert"
        a = (
            f"aktiv ({mon.evidence})"
            if watched
            else "noch nicht aktiv: `python -m nova alerts activate`"
        )
        return (
            f"Deployment-Manifeste für diesen Kandidaten: {d}; Monitoring und Alerts: {a}; "
            "KPIs laut docs/governance/kpi_catalogue.md."
        )
    d = f"rendered ({where})" if rendered else "not rendered yet"
    a = (
        f"active ({mon.evidence})"
        if watched
        else "not active yet: `python -m nova alerts activate`"
    )
    return (
        f"Deployment manifests for this candidate: {d}; monitoring and alerts: {a}; "
        "KPIs per docs/governance/kpi_catalogue.md."
    )


def _record(
    cfg: NovaConfig,
    m: MatrixResult,
    candidate: str,
    states: list[ReviewState],
    sha: str,
    by: str,
    now: dt.datetime,
    controls: Controls,
) -> str:
    de = cfg.governance.language == "de"
    fallback = next((c.id for c in cfg.candidates if c.role == "fallback"), None)
    lines = [
        f"### {'Entscheidung' if de else 'Decision'} {now:%Y-%m-%d}: {candidate}",
        "",
        f"- **{'Kontext' if de else 'Context'}:** "
        + (
            f"Auswahl des Basismodells für {cfg.name}; Matrix-Version `{sha[:16]}`, "
            f"Methode {m.method}."
            if de
            else f"Choice of the base model for {cfg.name}; matrix version `{sha[:16]}`, "
            f"method {m.method}."
        ),
        f"- **{'Optionen' if de else 'Options'}:** "
        + "; ".join(
            f"{c} ({m.weighted_sum.scores[c]:.3f}"
            + (
                ", Gate verfehlt"
                if de and c in m.weighted_sum.failed_gates
                else ", gate failed"
                if c in m.weighted_sum.failed_gates
                else ""
            )
            + ")"
            for c in m.order
        ),
        f"- **{'Entscheidung' if de else 'Decision'}:** {candidate}"
        + (
            ""
            if candidate == m.winner
            else (
                f" (abweichend von der Matrix-Empfehlung {m.winner})"
                if de
                else f" (differs from the matrix recommendation {m.winner})"
            )
        ),
        f"- **{'Konsequenzen' if de else 'Consequences'}:** "
        + _consequences(controls, candidate, de),
        f"- **Fallback:** {fallback or ('keiner definiert' if de else 'none defined')} "
        "(docs/governance/fallback_plan.md)",
        f"- **{'Exit-Strategie' if de else 'Exit strategy'}:** docs/governance/exit_strategy.md",
        f"- **{'Freigaben' if de else 'Approvals'}:** "
        + "; ".join(
            f"{s.role}: {s.by} ({s.at:%Y-%m-%d %H:%M} UTC, audit #{s.audit_seq}"
            + (f", {'SSH-signiert' if de else 'SSH-signed'}: {s.signer}" if s.signer else "")
            + ")"
            + (
                f" — „{s.comment}“"
                if s.comment and de
                else f' — "{s.comment}"'
                if s.comment
                else ""
            )
            for s in states
            if s.at is not None
        ),
        f"- **{'Nachweise' if de else 'Evidence'}:** "
        "orchestration_journal/models/llm_selection_matrix.md (sha256 "
        f"`{sha[:16]}`); "
        + "; ".join(
            f"run `{r.id}` ({r.kind}"
            + (
                ", " + ", ".join(f"{k} {v[:12]}" for k, v in r.datasets.items())
                if r.datasets
                else ""
            )
            + ")"
            for r in m.evidence.runs.values()
        ),
        f"- **{'Protokolliert von' if de else 'Recorded by'}:** {by}, {now:%Y-%m-%d %H:%M} UTC",
        "",
    ]
    return "\n".join(lines)


def _insert_record(path: Path, record: str) -> bytes:
    data = path.read_bytes()
    text = data.decode("utf-8")
    if text.count(LOG_START) != 1 or text.count(LOG_END) != 1:
        raise NovaError(
            f"{path} needs exactly one {LOG_START} and one {LOG_END} marker "
            "(the decision-log section); restore them and run again"
        )
    nl = "\r\n" if "\r\n" in text else "\n"
    head, rest = text.split(LOG_START, 1)
    body, tail = rest.split(LOG_END, 1)
    for ph in _PLACEHOLDERS:
        body = body.replace(ph + nl, "").replace(ph, "")
    body = body.rstrip("\r\n") + nl + (nl if body.strip() else "") + record.replace("\n", nl)
    return (head + LOG_START + body + LOG_END + tail).encode("utf-8")


def decide(
    ws: Workspace,
    cfg: NovaConfig,
    store: RunStore,
    candidate: str,
    *,
    by: str,
    now: dt.datetime | None = None,
) -> DecisionOutcome:
    """Record the decision, or raise GateFailedError (exit 3) listing what is missing."""
    missing, m, states = check_decision(ws, cfg, store, candidate)
    if missing or m is None:
        raise GateFailedError(
            f"cannot decide on {candidate} yet; missing:\n  - " + "\n  - ".join(missing)
        )
    now = now or dt.datetime.now(dt.UTC)
    sha = matrix_sha(m)
    kickoff = ws.kickoff_doc
    if not kickoff.is_file():
        raise NovaError(f"{kickoff} does not exist: run `nova init` to restore it")
    for e in store.audit_entries():
        if (
            e.action == "decision.record"
            and e.subject == candidate
            and e.payload.get("matrix_sha256") == sha
        ):
            raise NovaError(
                f"the decision for {candidate} on this matrix version is already "
                f"recorded (audit #{e.seq})"
            )
    # Everything is computed before anything is written: a bad task list (or document) stops
    # the decision with nothing changed.
    controls = workspace_controls(ws, store)
    record = _record(cfg, m, candidate, states, sha, by, now, controls)
    new_doc = _insert_record(kickoff, record)
    csv_path = ws.root / cfg.governance.tasks_csv
    rows: list[str] = []
    new_csv: bytes | None = None
    own_rules = effective_rules(ws, cfg)
    if csv_path.is_file():
        table = TaskTable.load(csv_path)
        if "Status" in table.header:
            in_matrix = candidate in m.candidates
            check = TaskCheck(ws, cfg, store, candidate, sha, in_matrix, known_controls=controls)
            rows = rows_to_complete(check, table, own_rules)
            if rows:
                new_csv = table.set_cells({i: {"Status": DONE} for i in rows})
    atomic_write_bytes(kickoff, new_doc)
    if new_csv is not None and new_csv != table.data:
        atomic_write_bytes(csv_path, new_csv)
    entry = store.audit(
        by,
        "decision.record",
        candidate,
        {
            "matrix_sha256": sha,
            "approvals": {s.role: s.audit_seq for s in states},
            "rows_completed": rows,
            "runs": list(m.evidence.runs),
        },
    )
    return DecisionOutcome(
        candidate=candidate,
        kickoff=str(kickoff),
        rows_completed=rows,
        audit_seq=entry.seq,
        matrix_sha256=sha,
    )
