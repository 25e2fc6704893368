"""``nova matrix``, ``nova review …``, ``nova decide``."""

from __future__ import annotations

import getpass
import typing

import click
from rich.text import Text

from nova.cli._context import AppContext, pass_app
from nova.cli._render import out_console, print_json, print_table
from nova.config import Reviewer
from nova.decision import build_matrix, collect_evidence, matrix_sha, write_matrix
from nova.errors import NovaError
from nova.governance._decide import check_decision, decide, load_matrix
from nova.governance._review import record_review, request_review, review_status
from nova.store import open_store

__all__ = ["decide_command", "matrix_command", "review_group"]


def _who(by: str | None) -> str:
    return by or getpass.getuser()


@click.command("matrix")
@click.option("--quality-run", help="Quality run to use (default: the latest completed).")
@click.option("--perf-run", help="Performance run to use (default: the latest completed).")
@click.option(
    "--candidates",
    help="Comma-separated candidate ids (default: those measured in the runs used, or all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the matrix JSON.")
@pass_app
def matrix_command(
    app: AppContext,
    quality_run: str | None,
    perf_run: str | None,
    candidates: str | None,
    as_json: bool,
) -> None:
    """Write the selection matrix (orchestration_journal/models/llm_selection_matrix.md/.json).

    Criteria, weights and gates come from nova.yaml; values from the latest quality and
    performance runs and the catalog, each cell with its evidence. Shows both rankings
    (weighted sum and TOPSIS), weight sensitivity and the Pareto front; earlier versions are
    kept as history.

    \b
    Example:
      nova matrix --quality-run 20261127-0412
    """
    loaded = app.config()
    ws = app.workspace()
    with open_store(ws, loaded.config) as store:
        ev = collect_evidence(
            ws, loaded, app.catalog(), store, quality_run=quality_run, perf_run=perf_run
        )
    result = build_matrix(
        loaded.config, ev, candidates=candidates.split(",") if candidates else None
    )
    md, js, sha = write_matrix(ws, result)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    rows = []
    for i, cid in enumerate(result.order, 1):
        failed = result.weighted_sum.failed_gates.get(cid, [])
        unknown = result.weighted_sum.unknown_gates.get(cid, [])
        gate = (
            Text("failed: " + "; ".join(f.split(":")[0] for f in failed), style="red")
            if failed
            else Text(
                "not measured: " + ", ".join(u.split(":")[0] for u in unknown), style="yellow"
            )
            if unknown
            else Text("passed", style="green")
        )
        p1 = f"{result.sensitivity.p_first.get(cid, 0.0):.0%}" if result.sensitivity else "—"
        rows.append(
            [
                i,
                cid,
                f"{result.weighted_sum.scores[cid]:.3f}",
                f"{result.topsis.scores[cid]:.3f}",
                p1,
                gate,
            ]
        )
    print_table(
        ["Rank", "Candidate", "Weighted sum", "TOPSIS", "P(rank 1)", "Gates"],
        rows,
        title=f"Selection matrix ({result.method}); recommendation: {result.winner or 'none'}",
        caption="Weighted sum of min-max normalised criteria; TOPSIS closeness to the ideal; "
        + (
            result.sensitivity.definition + " for P(rank 1)"
            if result.sensitivity
            else "no sensitivity (fewer than two eligible candidates)"
        )
        + ". Details and evidence: the .md file.",
    )
    con = out_console()
    if result.methods_disagree:
        con.print(
            f"Weighted sum and TOPSIS disagree: {result.weighted_sum.winner} vs "
            f"{result.topsis.winner}",
            markup=False,
        )
    not_measured = sorted(
        {
            k
            for cid in result.candidates
            for k, c in result.cells[cid].items()
            if c.source == "not measured"
        }
    )
    if not_measured:
        con.print(
            f"Not measured (scored worst, marked ⚠): {', '.join(not_measured)} — run "
            "`nova eval run` / `nova perf run` for the missing evidence",
            markup=False,
        )
    con.print(f"Wrote {md} and {js.name} (sha256 {sha[:16]})", markup=False)


@click.group("review")
def review_group() -> None:
    """Reviews by Product, Legal and Security, recorded in the audit log."""


def _current_sha(app: AppContext) -> str:
    m = load_matrix(app.workspace())
    if m is None:
        raise NovaError(
            "no selection matrix yet: run `nova matrix` first (reviews refer to a matrix version)"
        )
    return matrix_sha(m)


@review_group.command("request")
@click.option("--candidate", required=True, help="Candidate to review.")
@click.option("--by", help="Who requests (default: your user name).")
@click.option("--note", default="", help="Message to the reviewers.")
@pass_app
def review_request(app: AppContext, candidate: str, by: str | None, note: str) -> None:
    """Ask the required roles to review a candidate.

    \b
    Example:
      nova review request --candidate llama31-70b-vllm --by "Anna (Product)"
    """
    cfg = app.config().config
    if candidate not in {c.id for c in cfg.candidates}:
        _unknown(app, candidate)
    roles = [r.role for r in cfg.governance.reviewers]
    with open_store(app.workspace(), cfg) as store:
        e = request_review(
            store, candidate, by=_who(by), roles=roles, matrix_sha=_current_sha(app), note=note
        )
    out_console().print(
        f"review of {candidate} requested from {', '.join(roles)} (audit #{e.seq})", markup=False
    )


def _unknown(app: AppContext, candidate: str) -> None:
    known = ", ".join(c.id for c in app.config().config.candidates)
    raise NovaError(f"no candidate {candidate!r} in nova.yaml (known: {known})")


def _act(app: AppContext, decision: str, candidate: str, role: str, by: str, comment: str) -> None:
    cfg = app.config().config
    if candidate not in {c.id for c in cfg.candidates}:
        _unknown(app, candidate)
    roles = [r.role for r in cfg.governance.reviewers]
    # Known roles that nova.yaml does not require are recorded too: the analytics owner's
    # approval of the KPI catalogue completes its task-list row without gating the decision.
    known = typing.get_args(Reviewer.model_fields["role"].annotation)
    if role not in roles and role not in known:
        raise NovaError(
            f"role {role!r} is not a review role (required in nova.yaml governance.reviewers: "
            f"{', '.join(roles)}; also recorded: {', '.join(r for r in known if r not in roles)})"
        )
    with open_store(app.workspace(), cfg) as store:
        e = record_review(
            store,
            candidate,
            role=role,
            decision="approve" if decision == "approve" else "reject",
            by=by,
            comment=comment,
            matrix_sha=_current_sha(app),
        )
    note = "" if role in roles else " — not required for the decision"
    out_console().print(
        f"{role} {decision}d {candidate} ({by}; audit #{e.seq}, hash {e.hash[:12]}){note}",
        markup=False,
    )


@review_group.command("approve")
@click.option("--candidate", required=True, help="Candidate.")
@click.option("--role", required=True, help="Your review role (product, legal, security, …).")
@click.option("--by", required=True, help="Your name.")
@click.option("--comment", default="", help="Comment for the record.")
@pass_app
def review_approve(app: AppContext, candidate: str, role: str, by: str, comment: str) -> None:
    """Approve a candidate for the current matrix version.

    \b
    Example:
      nova review approve --candidate llama31-70b-vllm --role legal --by "Lena Weber"
    """
    _act(app, "approve", candidate, role, by, comment)


@review_group.command("reject")
@click.option("--candidate", required=True, help="Candidate.")
@click.option("--role", required=True, help="Your review role.")
@click.option("--by", required=True, help="Your name.")
@click.option("--comment", required=True, help="Why (goes on the record).")
@pass_app
def review_reject(app: AppContext, candidate: str, role: str, by: str, comment: str) -> None:
    """Reject a candidate (a later approval by the same role replaces it).

    \b
    Example:
      nova review reject --candidate gpt4o-azure --role security --by Tom --comment "EU?"
    """
    _act(app, "reject", candidate, role, by, comment)


@review_group.command("status")
@click.option("--candidate", help="Candidate (default: every candidate in the matrix).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def review_status_command(app: AppContext, candidate: str | None, as_json: bool) -> None:
    """Review state per candidate and required role.

    \b
    Example:
      nova review status --candidate llama31-70b-vllm
    """
    cfg = app.config().config
    m = load_matrix(app.workspace())
    sha = matrix_sha(m) if m else None
    cands = (
        [candidate]
        if candidate
        else (m.candidates if m else [c.id for c in cfg.candidates if c.role != "judge"])
    )
    roles = [r.role for r in cfg.governance.reviewers]
    with open_store(app.workspace(), cfg) as store:
        states = [s for c in cands for s in review_status(store, c, roles, sha)]
    if as_json:
        print_json([s.model_dump(mode="json") for s in states])
        return
    print_table(
        ["Candidate", "Role", "Status", "By", "At (UTC)", "Comment"],
        [
            [
                s.candidate,
                s.role,
                s.status,
                s.by or "",
                f"{s.at:%Y-%m-%d %H:%M}" if s.at else "",
                s.comment or "",
            ]
            for s in states
        ],
        caption="stale = approved for an earlier matrix version",
    )


@click.command("decide")
@click.option("--candidate", required=True, help="The chosen candidate.")
@click.option("--by", help="Who records the decision (default: your user name).")
@click.option("--check", is_flag=True, help="Only list what is missing; change nothing.")
@pass_app
def decide_command(app: AppContext, candidate: str, by: str | None, check: bool) -> None:
    """Record the decision: ADR in docs/MODEL_OPERATIONS_KICKOFF.md, task list rows to
    "Abgeschlossen", audit entry — only with every approval, gate and document in place.

    Exit code 3 and a list of what is missing otherwise; nothing is written then.

    \b
    Example:
      nova decide --candidate llama31-70b-vllm --by "Anna (Product)"
    """
    ws = app.workspace()
    cfg = app.config().config
    with open_store(ws, cfg) as store:
        if check:
            missing, _, _ = check_decision(ws, cfg, store, candidate)
            con = out_console()
            if not missing:
                con.print(f"ready: {candidate} can be decided", markup=False)
                return
            for m in missing:
                con.print(f"missing: {m}", markup=False)
            raise SystemExit(3)
        out = decide(ws, cfg, store, candidate, by=_who(by))
    con = out_console()
    con.print(
        f"Decision recorded: {candidate} (audit #{out.audit_seq}, matrix {out.matrix_sha256[:16]})",
        markup=False,
    )
    con.print(f"  decision log: {out.kickoff}", markup=False)
    con.print(
        f"  tasks set to Abgeschlossen: {', '.join(out.rows_completed) or 'none'}", markup=False
    )
