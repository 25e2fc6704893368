"""``nova matrix``, ``nova review …``, ``nova decide``."""

from __future__ import annotations

import datetime as dt
import getpass
import typing
from pathlib import Path

import click
from rich.text import Text

from nova.cli._context import AppContext, pass_app
from nova.cli._render import out_console, print_json, print_table
from nova.errors import NovaError, UnknownCandidateError

__all__ = ["decide_command", "matrix_command", "review_group"]


def _who(by: str | None) -> str:
    return by or getpass.getuser()


@click.command("matrix")
@click.option("--quality-run", help="Quality run to use (default: the latest completed).")
@click.option("--perf-run", help="Performance run to use (default: the latest completed).")
@click.option("--redteam-run", help="Red-team run to use (default: the latest completed).")
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
    redteam_run: str | None,
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
    from nova.decision import build_matrix, collect_evidence, write_matrix
    from nova.store import open_store

    loaded = app.config()
    ws = app.workspace()
    with open_store(ws, loaded.config) as store:
        ev = collect_evidence(
            ws,
            loaded,
            app.catalog(),
            store,
            quality_run=quality_run,
            perf_run=perf_run,
            redteam_run=redteam_run,
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
    if result.noise is not None:
        n = result.noise
        con.print(
            f"Measurement noise alone: the winner {n.winner} changes in "
            f"{n.winner_changed:.1%} of {n.definition}",
            markup=False,
        )
    stale = sorted({c.sheet for c in result.evidence.costs.values() if c.sheet_stale and c.sheet})
    if stale:
        con.print(
            f"STALE price sheet(s) used: {', '.join(stale)} — re-check the prices "
            "(NOVA_CATALOG_MAX_AGE_DAYS sets the limit)",
            markup=False,
        )
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
    from nova.decision import matrix_sha
    from nova.governance import load_matrix

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
    from nova.governance import request_review
    from nova.store import open_store

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
    raise UnknownCandidateError(candidate, [c.id for c in app.config().config.candidates])


def _check_role(app: AppContext, candidate: str, role: str) -> None:
    cfg = app.config().config
    if candidate not in {c.id for c in cfg.candidates}:
        _unknown(app, candidate)
    roles = [r.role for r in cfg.governance.reviewers]
    # Known roles that nova.yaml does not require are recorded too: the analytics owner's
    # approval of the KPI catalogue completes its task-list row without gating the decision.
    from nova.config import Reviewer

    known = typing.get_args(Reviewer.model_fields["role"].annotation)
    if role not in roles and role not in known:
        raise NovaError(
            f"role {role!r} is not a review role (required in nova.yaml governance.reviewers: "
            f"{', '.join(roles)}; also recorded: {', '.join(r for r in known if r not in roles)})"
        )


def _act(
    app: AppContext,
    decision: str,
    candidate: str,
    role: str,
    by: str,
    comment: str,
    signature: Path | None = None,
    signed_on: dt.date | None = None,
) -> None:
    from nova.governance import SignaturePolicy, record_review
    from nova.store import open_store

    cfg = app.config().config
    _check_role(app, candidate, role)
    sig = signature.read_text(encoding="utf-8") if signature is not None else None
    with open_store(app.workspace(), cfg) as store:
        e = record_review(
            store,
            candidate,
            role=role,
            decision="approve" if decision == "approve" else "reject",
            by=by,
            comment=comment,
            matrix_sha=_current_sha(app),
            policy=SignaturePolicy.from_config(cfg),
            signature=sig,
            signed_on=signed_on,
        )
    signed = f"; signed by {e.payload['signer']}" if "signer" in e.payload else ""
    required = {r.role for r in cfg.governance.reviewers}
    note = "" if role in required else " — not required for the decision"
    out_console().print(
        f"{role} {decision}d {candidate} ({by}; audit #{e.seq}, hash {e.hash[:12]}{signed}){note}",
        markup=False,
    )


_SIGNATURE = click.option(
    "--signature",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="SSH signature of `nova review payload` (ssh-keygen -Y sign -n nova-review).",
)
_SIGNED_ON = click.option(
    "--signed-on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Date in the signed payload (default: today, UTC).",
)


@review_group.command("approve")
@click.option("--candidate", required=True, help="Candidate.")
@click.option("--role", required=True, help="Your review role (product, legal, security, …).")
@click.option("--by", required=True, help="Your name.")
@click.option("--comment", default="", help="Comment for the record.")
@_SIGNATURE
@_SIGNED_ON
@pass_app
def review_approve(
    app: AppContext,
    candidate: str,
    role: str,
    by: str,
    comment: str,
    signature: Path | None,
    signed_on: dt.datetime | None,
) -> None:
    """Approve a candidate for the current matrix version.

    With governance.require_signed_reviews: true, an approval needs --signature: the SSH
    signature of the text `nova review payload` prints, by a key of the role's
    allowed_signers in nova.yaml (verified offline with ssh-keygen -Y verify).

    \b
    Example:
      nova review approve --candidate llama31-70b-vllm --role legal --by "Lena Weber"
      nova review payload --candidate llama31-70b-vllm --role legal > payload.txt
      ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n nova-review payload.txt
      nova review approve --candidate llama31-70b-vllm --role legal --by "Lena Weber" \\
        --signature payload.txt.sig
    """
    day = signed_on.date() if signed_on else None
    _act(app, "approve", candidate, role, by, comment, signature, day)


@review_group.command("reject")
@click.option("--candidate", required=True, help="Candidate.")
@click.option("--role", required=True, help="Your review role.")
@click.option("--by", required=True, help="Your name.")
@click.option("--comment", required=True, help="Why (goes on the record).")
@_SIGNATURE
@_SIGNED_ON
@pass_app
def review_reject(
    app: AppContext,
    candidate: str,
    role: str,
    by: str,
    comment: str,
    signature: Path | None,
    signed_on: dt.datetime | None,
) -> None:
    """Reject a candidate (a later approval by the same role replaces it).

    \b
    Example:
      nova review reject --candidate gpt4o-azure --role security --by Tom --comment "EU?"
    """
    day = signed_on.date() if signed_on else None
    _act(app, "reject", candidate, role, by, comment, signature, day)


@review_group.command("payload")
@click.option("--candidate", required=True, help="Candidate.")
@click.option("--role", required=True, help="Your review role.")
@click.option(
    "--decision", type=click.Choice(["approve", "reject"]), default="approve", show_default=True
)
@_SIGNED_ON
@pass_app
def review_payload_command(
    app: AppContext, candidate: str, role: str, decision: str, signed_on: dt.datetime | None
) -> None:
    """Print the exact text to sign for a review of the current matrix version.

    \b
    Example:
      nova review payload --candidate llama31-70b-vllm --role legal > payload.txt
      ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n nova-review payload.txt
    """
    from nova.governance import review_payload

    _check_role(app, candidate, role)
    day = signed_on.date() if signed_on else dt.datetime.now(dt.UTC).date()
    text = review_payload(
        workspace=app.config().config.name,
        candidate=candidate,
        role=role,
        decision=decision,
        matrix_sha=_current_sha(app),
        signed_on=day,
    )
    click.echo(text, nl=False)


@review_group.command("verify")
@pass_app
def review_verify_command(app: AppContext) -> None:
    """Verify every signed review in the audit log again, offline (ssh-keygen -Y verify),
    against the allowed signers nova.yaml lists now. Exit code 1 when one does not verify.

    \b
    Example:
      nova review verify
    """
    from nova.governance import SignaturePolicy
    from nova.store import open_store

    cfg = app.config().config
    policy = SignaturePolicy.from_config(cfg)
    rows, bad = [], 0
    with open_store(app.workspace(), cfg) as store:
        entries = [
            e
            for e in store.audit_entries()
            if e.action in ("review.approve", "review.reject") and "signature" in e.payload
        ]
    for e in entries:
        try:
            signed = policy.verify(
                candidate=str(e.subject),
                role=str(e.payload.get("role")),
                decision=e.action.removeprefix("review."),
                matrix_sha=str(e.payload.get("matrix_sha256")),
                signature=str(e.payload["signature"]),
                signed_on=dt.date.fromisoformat(str(e.payload.get("signed_on"))),
            )
            result = f"good: {signed.signer}"
        except (NovaError, ValueError) as exc:
            result, bad = f"BAD: {exc}", bad + 1
        rows.append([e.seq, e.subject or "", e.payload.get("role", ""), e.actor, result])
    print_table(
        ["Audit #", "Candidate", "Role", "By", "Signature"],
        rows,
        title=f"Signed reviews: {len(rows)}, not verifying: {bad}",
        caption="Verified with ssh-keygen -Y verify, namespace nova-review, against "
        "governance.reviewers[].allowed_signers of nova.yaml.",
    )
    if bad:
        raise NovaError(f"{bad} signed review(s) do not verify: see the table above")


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
    from nova.decision import matrix_sha
    from nova.governance import SignaturePolicy, load_matrix, review_status
    from nova.store import open_store

    cfg = app.config().config
    m = load_matrix(app.workspace())
    sha = matrix_sha(m) if m else None
    cands = (
        [candidate]
        if candidate
        else (m.candidates if m else [c.id for c in cfg.candidates if c.role != "judge"])
    )
    roles = [r.role for r in cfg.governance.reviewers]
    policy = SignaturePolicy.from_config(cfg)
    with open_store(app.workspace(), cfg) as store:
        states = [s for c in cands for s in review_status(store, c, roles, sha, policy)]
    if as_json:
        print_json([s.model_dump(mode="json") for s in states])
        return
    print_table(
        ["Candidate", "Role", "Status", "By", "At (UTC)", "Signed by", "Comment"],
        [
            [
                s.candidate,
                s.role,
                s.status,
                s.by or "",
                f"{s.at:%Y-%m-%d %H:%M}" if s.at else "",
                s.signer or "",
                s.note or s.comment or "",
            ]
            for s in states
        ],
        caption="stale = approved for an earlier matrix version; unsigned = an approval "
        "without a valid SSH signature where governance.require_signed_reviews is true",
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
    from nova.governance import check_decision, decide
    from nova.store import open_store

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
