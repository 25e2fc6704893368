"""The benchmarks pipeline: reachability, quality, red team (when the profile enables it),
performance, evidence, matrix, documents, report — one parent run (kind ``benchmarks``) links
the child runs.

Resume: the parent records its children as they start; ``resume=PARENT`` continues an
unfinished quality run where it stopped (no completed case is called again) and skips stages
that completed. A performance sweep that was interrupted is measured again (a partial sweep
would mix loads), and so is an interrupted red-team run (its canary token is per run).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from nova.__about__ import __version__
from nova._provenance import workspace_revision
from nova.catalog import Catalog
from nova.config import LoadedConfig, Workspace
from nova.decision import Evidence, MatrixResult, build_matrix, collect_evidence, write_matrix
from nova.errors import NovaError
from nova.evals import EvalReport, Progress, build_report, default_spec, run_eval
from nova.governance import render_governance_docs
from nova.perf import (
    CandidatePerf,
    PerfSpec,
    choose_operating_point,
    run_perf,
    spec_fields_from_profile,
)
from nova.providers import ping_candidates
from nova.report import ReportInputs, write_report
from nova.safety import (
    RedTeamProgress,
    RedTeamReport,
    build_redteam_report,
    default_redteam_spec,
    run_redteam,
)
from nova.store import RunStatus, RunStore

__all__ = [
    "BenchmarkOutcome",
    "CandidateSummaryRow",
    "StageUpdate",
    "run_benchmarks",
    "write_run_report",
]


class StageUpdate(BaseModel):
    """Progress of the pipeline, for a progress display."""

    model_config = ConfigDict(extra="forbid")

    stage: str
    """reachability, quality, redteam, performance, matrix, documents, report."""
    candidate: str | None = None
    """Candidate the update is about."""
    done: int = 0
    """Units done in this stage."""
    total: int | None = None
    """Units in this stage."""
    message: str = ""
    """Free text."""


class CandidateSummaryRow(BaseModel):
    """One line of the closing summary table."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    measured: bool
    """Whether it could be reached."""
    reason: str | None = None
    """Why not."""
    pass_rate: str = "—"
    """Pass rate ± CI."""
    win_rate: str = "—"
    """Win rate vs baseline ± CI."""
    ttft: str = "—"
    """TTFT p50 / p95 ms at the operating point."""
    output_tps: str = "—"
    """Output tokens/s at the operating point."""
    cost_1k: str = "—"
    """USD per 1,000 conversations."""
    attack_success: str = "—"
    """Red-team attack success ± CI (with rails when measured)."""
    over_refusal: str = "—"
    """Refused benign look-alikes ± CI (always shown next to attack success)."""
    gates: str = "—"
    """Gate status."""
    rank: int | None = None
    """Rank in the matrix."""


class BenchmarkOutcome(BaseModel):
    """Everything the command prints at the end."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    """Parent run id."""
    quality_run: str | None
    """Child quality run."""
    perf_run: str | None
    """Child performance run."""
    redteam_run: str | None = None
    """Child red-team run."""
    rows: list[CandidateSummaryRow]
    """Summary per candidate."""
    not_measured: dict[str, str]
    """Candidates that could not be reached, with the reason."""
    winner: str | None
    """Matrix recommendation."""
    written: list[str] = Field(default_factory=list)
    """Files written, relative to the workspace."""
    warnings: list[str] = Field(default_factory=list)
    """Loud notes (e.g. offline demo models)."""


def _fmt_rate(v: float, lo: float, hi: float) -> str:
    return f"{v:.1%} [{lo:.1%}–{hi:.1%}]"


async def run_benchmarks(
    ws: Workspace,
    loaded: LoadedConfig,
    catalog: Catalog,
    store: RunStore,
    *,
    profile: str,
    candidates: list[str] | None = None,
    resume: str | None = None,
    on_update: Callable[[StageUpdate], None] | None = None,
    on_started: Callable[[str], None] | None = None,
    warnings: list[str] | None = None,
) -> BenchmarkOutcome:
    """Run the whole profile; unreachable candidates are reported, not fatal.

    ``on_started`` gets the parent run id as soon as it exists (for a resume hint)."""
    cfg = loaded.config
    if resume:
        profile = store.get_run(resume).profile or profile
    if profile not in cfg.profiles:
        raise NovaError(
            f"no profile {profile!r} in nova.yaml (known: {', '.join(cfg.profiles) or 'none'})"
        )
    prof = cfg.profiles[profile]

    def note(u: StageUpdate) -> None:
        if on_update is not None:
            on_update(u)

    not_measured_judge: str | None = None
    if resume:
        parent = store.get_run(resume)
        not_measured_judge = parent.meta.get("judge_unreachable")
        warnings = [
            *(warnings or []),
            *[w for w in parent.meta.get("warnings", []) if w not in (warnings or [])],
        ]
        if parent.kind != "benchmarks":
            raise NovaError(
                f"run {parent.id} is a {parent.kind} run; --resume takes the id of a benchmarks run"
            )
        chosen = list(parent.meta.get("candidates", []))
        not_measured = dict(parent.meta.get("not_measured", {}))
        children = dict(parent.meta.get("children", {}))
        store.update_meta(parent.id, {}, status="running")
        parent_id = parent.id
    else:
        chosen = cfg.profile_candidates(profile, candidates)
        # 1. reachability: one short request each, so an unreachable candidate is reported
        #    as "not measured" instead of scoring 0 on every case.
        note(StageUpdate(stage="reachability", total=len(chosen)))
        judge = prof.quality.judge if prof.quality else None
        to_ping = [*chosen, *([judge] if judge and judge not in chosen else [])]
        pings = await ping_candidates(
            [cfg.candidate(c) for c in to_ping], workspace_root=ws.root, timeout_s=60
        )
        not_measured = {
            p.candidate: p.error or "unreachable"
            for p in pings
            if not p.ok and p.candidate in chosen
        }
        for p in pings:
            if not p.ok and p.candidate == judge and judge not in chosen:
                # Judge graders would all be undecided: say so instead of hiding it.
                warnings = [
                    *(warnings or []),
                    f"JUDGE UNREACHABLE: {p.error}; rubric and "
                    "pairwise judging are skipped, judge grades count as undecided",
                ]
                not_measured_judge = judge
                break
        children = {}
        parent_id = store.start_run(
            "benchmarks",
            profile=profile,
            config_hash=loaded.hash,
            workspace_rev=workspace_revision(ws.root),
            meta={
                "candidates": chosen,
                "not_measured": not_measured,
                "children": {},
                "warnings": warnings or [],
                "judge_unreachable": not_measured_judge,
            },
        ).id
    if on_started is not None:
        on_started(parent_id)
    reachable = [c for c in chosen if c not in not_measured]
    status: RunStatus = "completed"
    try:
        # 2. quality
        q_id: str | None = children.get("quality")
        if prof.quality is not None and reachable:
            spec = default_spec(loaded, profile, reachable)
            if spec.judge and (spec.judge in not_measured or spec.judge == not_measured_judge):
                spec = spec.model_copy(update={"judge": None})
            if spec.baseline not in reachable:
                spec = spec.model_copy(update={"baseline": None})
            q_done = q_id is not None and store.get_run(q_id).status == "completed"
            if not q_done:
                prog = Progress()

                def q_update(p: Progress) -> None:
                    note(StageUpdate(stage="quality", done=p.done, total=p.total))

                def q_started(rid: str) -> None:
                    children["quality"] = rid
                    store.update_meta(parent_id, {"children": children})

                q_id = await run_eval(
                    ws,
                    loaded,
                    spec,
                    store,
                    resume=q_id,
                    progress=prog,
                    on_update=q_update,
                    parent_id=parent_id,
                    on_started=q_started,
                )
        # 3. red team (when the profile enables it)
        r_id: str | None = children.get("redteam")
        if prof.redteam is not None and prof.redteam.enabled and reachable:
            r_id, warnings = await _redteam_stage(
                ws, loaded, store, profile, reachable, parent_id, children, r_id, note,
                warnings or [],
            )  # fmt: skip
        # 4. performance
        p_id: str | None = children.get("performance")
        perf_results: list[CandidatePerf] = []
        if prof.performance is not None and reachable:
            if p_id is not None and store.get_run(p_id).status == "completed":
                perf_results = [
                    CandidatePerf.model_validate(r)
                    for r in store.get_run(p_id).meta.get("results", [])
                ]
            else:
                pspec = PerfSpec(
                    profile=profile, candidates=reachable, **spec_fields_from_profile(prof)
                )

                def p_started(rid: str) -> None:
                    children["performance"] = rid
                    store.update_meta(parent_id, {"children": children})

                def p_level(cid: str, lv: object) -> None:
                    note(
                        StageUpdate(
                            stage="performance", candidate=cid, message=getattr(lv, "label", "")
                        )
                    )

                datasets = prof.quality.datasets if prof.quality else None
                p_id, perf_results = await run_perf(
                    ws,
                    loaded,
                    pspec,
                    store,
                    catalog,
                    on_level=p_level,
                    datasets=datasets,
                    parent_id=parent_id,
                    on_started=p_started,
                )
        # 5. evidence, matrix, documents, report
        note(StageUpdate(stage="matrix"))
        ev, matrix = _decide_inputs(
            ws, loaded, catalog, store, profile, q_id, p_id, chosen, redteam_run=r_id
        )
        md, js, _sha = write_matrix(ws, matrix)
        note(StageUpdate(stage="documents"))
        docs = render_governance_docs(ws.root, cfg, catalog, ev)
        quality: EvalReport | None = build_report(store, q_id, cfg, catalog) if q_id else None
        redteam = build_redteam_report(store, r_id) if r_id else None
        note(StageUpdate(stage="report"))
        rep_html, rep_md = _write_report(
            ws,
            loaded,
            profile,
            parent_id,
            q_id,
            p_id,
            quality,
            perf_results,
            matrix,
            warnings or [],
            not_measured,
            ev.extra.get("price_sheets", {}),
            redteam,
        )
        rows = _summary(chosen, not_measured, quality, perf_results, matrix)
        written = [str(p.relative_to(ws.root)) for p in (md, js, *docs, rep_html, rep_md)]
        store.update_meta(
            parent_id, {"children": children, "winner": matrix.winner, "written": written}
        )
        return BenchmarkOutcome(
            run_id=parent_id,
            quality_run=q_id,
            perf_run=p_id,
            redteam_run=r_id,
            rows=rows,
            not_measured=not_measured,
            winner=matrix.winner,
            written=written,
            warnings=warnings or [],
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        store.finish_run(parent_id, status, meta={"children": children})


def _write_report(
    ws: Workspace,
    loaded: LoadedConfig,
    profile: str | None,
    parent_id: str,
    q_id: str | None,
    p_id: str | None,
    quality: EvalReport | None,
    perf: list[CandidatePerf],
    matrix: MatrixResult,
    warnings: list[str],
    not_measured: dict[str, str],
    price_sheets: dict[str, str],
    redteam: RedTeamReport | None = None,
) -> tuple[Path, Path]:
    cfg = loaded.config
    provenance = {"config hash": loaded.hash, "nova": __version__, "parent run": parent_id}
    if q_id:
        provenance["quality run"] = q_id
        for name, d in (quality.meta.get("datasets", {}) if quality else {}).items():
            provenance[f"dataset {name}"] = f"sha256 {d['sha256']}"
    if p_id:
        provenance["performance run"] = p_id
    if redteam is not None:
        provenance["red-team run"] = redteam.run_id
        for name, d in redteam.meta.get("library", {}).items():
            provenance[f"scenarios {name}"] = f"sha256 {d['sha256']}"
    for sid, date in sorted(price_sheets.items()):
        provenance[f"price sheet {sid}"] = str(date)
    return write_report(
        ReportInputs(
            title=f"{cfg.name}: {profile or 'benchmarks'}",
            run_id=parent_id,
            generated_at=dt.datetime.now(dt.UTC),
            nova_version=__version__,
            config_hash=loaded.hash,
            workspace_name=cfg.name,
            language=cfg.governance.language,
            quality=quality,
            perf=perf,
            matrix=matrix,
            warnings=warnings,
            not_measured=not_measured,
            provenance=provenance,
            redteam=redteam,
        ),
        ws.root / "reports",
    )


def _decide_inputs(
    ws: Workspace,
    loaded: LoadedConfig,
    catalog: Catalog,
    store: RunStore,
    profile: str | None,
    q_id: str | None,
    p_id: str | None,
    candidates: list[str] | None,
    redteam_run: str | None = None,
) -> tuple[Evidence, MatrixResult]:
    """Evidence from exactly these child runs (never borrowed ones) and its matrix."""
    cfg = loaded.config
    conv = cfg.profiles[profile].conversation_tokens if profile in cfg.profiles else None
    ev = collect_evidence(
        ws,
        loaded,
        catalog,
        store,
        quality_run=q_id,
        perf_run=p_id,
        redteam_run=redteam_run,
        use_latest=False,
        conversation_tokens=conv,
    )
    return ev, build_matrix(cfg, ev, candidates=candidates)


def write_run_report(
    ws: Workspace, loaded: LoadedConfig, catalog: Catalog, store: RunStore, run_id: str
) -> tuple[Path, Path]:
    """(Re)write the HTML and Markdown report of a stored benchmarks run."""
    run = store.get_run(run_id)
    if run.kind != "benchmarks":
        raise NovaError(
            f"run {run.id} is a {run.kind} run; `nova report` takes the id of a "
            "benchmarks run (see `nova runs list --kind benchmarks`)"
        )
    children = run.meta.get("children", {})
    q_id, p_id = children.get("quality"), children.get("performance")
    r_id = children.get("redteam")
    cfg = loaded.config
    ev, matrix = _decide_inputs(
        ws,
        loaded,
        catalog,
        store,
        run.profile,
        q_id,
        p_id,
        list(run.meta.get("candidates", [])) or None,
        redteam_run=r_id,
    )
    quality = build_report(store, q_id, cfg, catalog) if q_id else None
    perf = (
        [CandidatePerf.model_validate(r) for r in store.get_run(p_id).meta.get("results", [])]
        if p_id
        else []
    )
    return _write_report(
        ws,
        loaded,
        run.profile,
        run.id,
        q_id,
        p_id,
        quality,
        perf,
        matrix,
        list(run.meta.get("warnings", [])),
        dict(run.meta.get("not_measured", {})),
        ev.extra.get("price_sheets", {}),
        build_redteam_report(store, r_id) if r_id else None,
    )


async def _redteam_stage(
    ws: Workspace,
    loaded: LoadedConfig,
    store: RunStore,
    profile: str,
    reachable: list[str],
    parent_id: str,
    children: dict[str, str],
    r_id: str | None,
    note: Callable[[StageUpdate], None],
    warnings: list[str],
) -> tuple[str, list[str]]:
    """Run (or keep a completed) red-team child run; warn loudly when the rails were asked
    for but could not be used."""
    if r_id is None or store.get_run(r_id).status != "completed":
        spec = default_redteam_spec(loaded, profile, reachable)
        note(StageUpdate(stage="redteam", total=None))

        def started(rid: str) -> None:
            children["redteam"] = rid
            store.update_meta(parent_id, {"children": children})

        def update(p: RedTeamProgress) -> None:
            note(StageUpdate(stage="redteam", done=p.done, total=p.total))

        r_id = await run_redteam(
            ws, loaded, spec, store, on_update=update, parent_id=parent_id, on_started=started
        )
    rails = store.get_run(r_id).meta.get("rails", "")
    prof = loaded.config.profiles[profile]
    if prof.redteam is not None and prof.redteam.with_guardrails and rails != "on":
        msg = f"RED TEAM WITHOUT RAILS: {rails}; attack success is measured without guardrails"
        if msg not in warnings:
            warnings = [*warnings, msg]
            store.update_meta(parent_id, {"warnings": warnings})
    return r_id, warnings


def _summary(
    chosen: list[str],
    not_measured: dict[str, str],
    quality: EvalReport | None,
    perf: list[CandidatePerf],
    matrix: MatrixResult,
) -> list[CandidateSummaryRow]:
    q = {c.candidate: c for c in (quality.candidates if quality else [])}
    p = {r.candidate: r for r in perf}
    rank = {cid: i for i, cid in enumerate(matrix.order, 1)}
    rows = []
    for cid in chosen:
        if cid in not_measured:
            rows.append(
                CandidateSummaryRow(
                    candidate=cid, measured=False, reason=not_measured[cid], rank=rank.get(cid)
                )
            )
            continue
        row = CandidateSummaryRow(candidate=cid, measured=True, rank=rank.get(cid))
        cq = q.get(cid)
        if cq is not None:
            row.pass_rate = _fmt_rate(cq.pass_rate.rate, cq.pass_rate.low, cq.pass_rate.high)
            if cq.win_rate is not None:
                w = cq.win_rate
                row.win_rate = _fmt_rate(w.rate, w.low, w.high)
            elif quality is not None and cid == quality.baseline:
                row.win_rate = "baseline"
        cp = p.get(cid)
        op = choose_operating_point(cp.levels) if cp else None
        if op is not None and op.ttft_ms is not None:
            row.ttft = f"{op.ttft_ms.p50:,.0f} / {op.ttft_ms.p95:,.0f}"
            row.output_tps = f"{op.output_throughput:,.1f}"
        ce = matrix.evidence.candidates.get(cid)
        if ce is not None:
            cost = ce.get("cost_per_1k_conversations")
            if cost.value is not None:
                row.cost_1k = f"{cost.value:,.2f}"
        if ce is not None and ce.get("attack_success_rate").measured:
            row.attack_success = ce.get("attack_success_rate").fmt()
            row.over_refusal = ce.get("over_refusal_rate").fmt()
        failed = matrix.weighted_sum.failed_gates.get(cid, [])
        unknown = matrix.weighted_sum.unknown_gates.get(cid, [])
        row.gates = (
            "failed: " + ", ".join(f.split(":")[0] for f in failed)
            if failed
            else "open: " + ", ".join(u.split(":")[0] for u in unknown)
            if unknown
            else "passed"
        )
        rows.append(row)
    return rows
