"""What a benchmarks run leaves behind: the evidence and matrix of exactly its child runs, the
HTML and Markdown report, and the closing summary table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nova.__about__ import __version__
from nova.catalog import Catalog
from nova.config import LoadedConfig, Workspace
from nova.decision import Evidence, MatrixResult, build_matrix, collect_evidence
from nova.errors import NovaError
from nova.evals import EvalReport, build_report
from nova.perf import CandidatePerf, choose_operating_point
from nova.report import ReportInputs, write_report
from nova.safety import RedTeamReport, build_redteam_report
from nova.store import RunStore

__all__ = [
    "CandidateSummaryRow",
    "decide_inputs",
    "summary_rows",
    "write_benchmarks_report",
    "write_run_report",
]


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


def _fmt_rate(v: float, lo: float, hi: float) -> str:
    return f"{v:.1%} [{lo:.1%}–{hi:.1%}]"


def write_benchmarks_report(
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
    """Write the HTML and Markdown report, with the provenance of every run and sheet used."""
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


def decide_inputs(
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
    ev, matrix = decide_inputs(
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
    return write_benchmarks_report(
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


def summary_rows(
    chosen: list[str],
    not_measured: dict[str, str],
    quality: EvalReport | None,
    perf: list[CandidatePerf],
    matrix: MatrixResult,
) -> list[CandidateSummaryRow]:
    """One closing summary line per chosen candidate, in the order they were chosen."""
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
