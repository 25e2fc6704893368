"""Collect the evidence for every candidate from the run store, the catalog and the workspace.

By default the latest completed quality and performance runs are used; any run id can be given
instead. A candidate a run did not cover simply has no measurement there ("not measured").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from nova.__about__ import __version__
from nova.catalog import Catalog
from nova.config import Kpi, LoadedConfig, Workspace
from nova.decision._evidence import CandidateEvidence, Evidence, Measurement, RunRef
from nova.errors import NovaError
from nova.evals import build_report
from nova.perf import CandidatePerf, choose_operating_point, estimate_cost
from nova.store import RunRecord, RunStore

__all__ = ["DSFA_PLACEHOLDERS", "collect_evidence", "dsfa_done", "kpi_metric_key", "latest_run"]

DSFA_PLACEHOLDERS = (
    "[vom DSB auszufüllen]",
    "[vom DSB zu bewerten]",
    "[vom Verantwortlichen auszufüllen]",
    "[von Security auszufüllen]",
    "[to be completed by the DPO]",
    "[to be assessed by the DPO]",
    "[to be completed by the controller]",
    "[to be completed by Security]",
)
"""Every placeholder kind the DSFA templates write (tests/governance checks the list)."""
_STATS = ("p50", "p90", "p95", "p99", "mean")


def kpi_metric_key(kpi: Kpi) -> str:
    """Evidence key of a KPI: latency metrics carry their statistic (``ttft_ms_p95``)."""
    if kpi.metric in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"):
        stat = kpi.statistic if kpi.statistic in _STATS else "p50"
        return f"{kpi.metric}_{stat}"
    if kpi.metric == "missed_escalation_rate":
        return "missed_escalation_rate"
    return kpi.metric


def latest_run(store: RunStore, kind: str) -> RunRecord | None:
    """Newest completed run of a kind."""
    for r in store.list_runs(kind=kind, limit=50):
        if r.status == "completed":
            return r
    return None


def _pick_run(store: RunStore, run_id: str | None, kind: str, use_latest: bool) -> RunRecord | None:
    """The given run (checked to be of ``kind``), else the latest completed one if allowed."""
    if run_id is None:
        return latest_run(store, kind) if use_latest else None
    run = store.get_run(run_id)
    if run.kind != kind:
        raise NovaError(f"run {run.id} is a {run.kind} run, not a {kind} run")
    return run


def dsfa_done(root: Path) -> bool:
    """The DSFA counts as done when docs/governance/dsfa.md exists and has no placeholders
    left for the data-protection officer."""
    path = root / "docs" / "governance" / "dsfa.md"
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    return not any(p in text for p in DSFA_PLACEHOLDERS)


def collect_evidence(
    ws: Workspace,
    loaded: LoadedConfig,
    catalog: Catalog,
    store: RunStore,
    *,
    quality_run: str | None = None,
    perf_run: str | None = None,
    now: dt.datetime | None = None,
    use_latest: bool = True,
    conversation_tokens: tuple[int, int] | None = None,
) -> Evidence:
    """Evidence for every candidate of nova.yaml (judges excluded).

    Without a run id, the latest completed run of each kind is used when ``use_latest``;
    otherwise that kind of evidence is simply absent (the benchmarks pipeline never borrows
    runs of other profiles). ``conversation_tokens`` prices managed candidates; by default
    the conversation of the runs' profile.
    """
    cfg = loaded.config
    ev = Evidence(
        generated_at=now or dt.datetime.now(dt.UTC),
        nova_version=__version__,
        config_hash=loaded.hash,
    )
    for c in cfg.candidates:
        if c.role != "judge":
            ev.candidates[c.id] = CandidateEvidence(candidate=c.id, catalog=c.catalog)
    # catalog facts
    for ce in ev.candidates.values():
        rec = catalog.models.get(ce.catalog) if ce.catalog else None
        if rec is None:
            continue
        src = f"catalog:{rec.id}"
        lic, cw = rec.license, rec.context_window
        ce.metrics["context_window"] = Measurement(
            value=float(cw.tokens),
            unit="tokens",
            source=src,
            detail=f"{cw.source} (retrieved {cw.retrieved})",
        )
        for key, val in (
            ("license.commercial_use", lic.commercial_use),
            ("license.eu_restricted", lic.eu_restricted),
            ("license.open_weights", lic.open_weights),
        ):
            ce.metrics[key] = Measurement(
                value=val, source=src, detail=f"{lic.name}; {lic.source} ({lic.retrieved})"
            )
    # governance facts
    done = dsfa_done(ws.root)
    for cid, ce in ev.candidates.items():
        needs = cfg.candidate(cid).hosting == "managed" and cfg.governance.dsfa_required_for_managed
        ce.metrics["governance.dsfa"] = Measurement(
            value=(done if needs else True),
            source="workspace:docs/governance/dsfa.md",
            detail=(
                "DSFA completed (no placeholders left)"
                if done
                else "DSFA missing or still has placeholders"
            )
            if needs
            else "not required (no managed cloud processing)",
        )
    # quality
    q = _pick_run(store, quality_run, "quality", use_latest)
    if q is not None:
        rep = build_report(store, q.id, cfg, catalog)
        ev.runs[q.id] = RunRef(
            id=q.id,
            kind="quality",
            started_at=q.started_at,
            config_hash=q.config_hash,
            datasets={k: v["sha256"] for k, v in q.meta.get("datasets", {}).items()},
        )
        src = f"run:{q.id}"
        for cq in rep.candidates:
            qe = ev.candidates.get(cq.candidate)
            if qe is None:
                continue
            ce = qe
            ce.metrics["pass_rate"] = Measurement(
                value=cq.pass_rate.rate,
                low=cq.pass_rate.low,
                high=cq.pass_rate.high,
                unit="%",
                source=src,
                detail=f"Wilson 95%, n={cq.pass_rate.n}",
            )
            if cq.win_rate is not None:
                ce.metrics["win_rate"] = Measurement(
                    value=cq.win_rate.rate,
                    low=cq.win_rate.low,
                    high=cq.win_rate.high,
                    unit="%",
                    source=src,
                    detail=f"vs {rep.baseline}; {cq.win_rate.method}; "
                    f"sign test p={cq.win_rate.p_value:.3g}",
                )
            for key, rate in (
                ("missed_escalation_rate", cq.missed_escalation),
                ("unnecessary_escalation_rate", cq.unnecessary_escalation),
            ):
                if rate is not None:
                    ce.metrics[key] = Measurement(
                        value=rate.rate,
                        low=rate.low,
                        high=rate.high,
                        unit="%",
                        source=src,
                        detail=f"Wilson 95%, n={rate.n}",
                    )
            if cq.cost_usd is not None and cq.cost_per_success_usd is not None:
                ce.metrics["cost_per_passed_case"] = Measurement(
                    value=cq.cost_per_success_usd, unit="USD", source=src, detail=cq.cost_note
                )
    # performance
    p = _pick_run(store, perf_run, "performance", use_latest)
    measured_cost: set[str] = set()
    if p is not None:
        ev.runs[p.id] = RunRef(
            id=p.id, kind="performance", started_at=p.started_at, config_hash=p.config_hash
        )
        src = f"run:{p.id}"
        for raw in p.meta.get("results", []):
            res = CandidatePerf.model_validate(raw)
            pe = ev.candidates.get(res.candidate)
            if pe is None:
                continue
            ce = pe
            op = choose_operating_point(res.levels)
            if op is None:
                continue
            where = f"at {op.label}"
            for name, summ in (
                ("ttft_ms", op.ttft_ms),
                ("tpot_ms", op.tpot_ms),
                ("itl_ms", op.itl_ms),
                ("e2el_ms", op.e2el_ms),
            ):
                if summ is None:
                    continue
                for stat in _STATS:
                    ce.metrics[f"{name}_{stat}"] = Measurement(
                        value=getattr(summ, stat),
                        unit="ms",
                        source=src,
                        detail=f"{where}, n={summ.n}",
                    )
            ce.metrics["output_tokens_per_s"] = Measurement(
                value=op.output_throughput, unit="tok/s", source=src, detail=where
            )
            ce.metrics["requests_per_s"] = Measurement(
                value=op.request_throughput, unit="req/s", source=src, detail=where
            )
            if op.goodput is not None:
                ce.metrics["goodput"] = Measurement(
                    value=op.goodput, unit="req/s", source=src, detail=where
                )
            ce.metrics["error_rate"] = Measurement(
                value=(op.failed + op.incomplete) / op.requests if op.requests else 0.0,
                unit="%",
                source=src,
                detail=where,
            )
            if res.cost is not None and res.cost.usd_per_1k_conversations is not None:
                measured_cost.add(res.candidate)
                ce.metrics["cost_per_1k_conversations"] = Measurement(
                    value=res.cost.usd_per_1k_conversations,
                    unit="USD",
                    source=f"price-sheet:{res.cost.sheet}",
                    detail=res.cost.basis,
                )
                if res.cost.usd_per_mtok_output is not None:
                    ce.metrics["cost_per_mtok_output"] = Measurement(
                        value=res.cost.usd_per_mtok_output,
                        unit="USD",
                        source=f"price-sheet:{res.cost.sheet}",
                        detail=res.cost.basis,
                    )
    # managed cost needs no throughput: price sheet x the profile's conversation
    run_profile = next((r.profile for r in (q, p) if r is not None and r.profile), None)
    if conversation_tokens is not None:
        conv = conversation_tokens
    elif run_profile in cfg.profiles:
        conv = cfg.profiles[run_profile].conversation_tokens
    else:
        conv = next((prof.conversation_tokens for prof in cfg.profiles.values()), (800, 250))
    for cid, ce in ev.candidates.items():
        if cid in measured_cost:
            continue
        c = cfg.candidate(cid)
        if c.hosting != "managed":
            continue
        est = estimate_cost(c, catalog, conversation_tokens=conv, output_tokens_per_s=None)
        if est.usd_per_1k_conversations is not None:
            ce.metrics["cost_per_1k_conversations"] = Measurement(
                value=est.usd_per_1k_conversations,
                unit="USD",
                source=f"price-sheet:{est.sheet}",
                detail=est.basis,
            )
            ce.metrics["cost_per_mtok_output"] = Measurement(
                value=est.usd_per_mtok_output,
                unit="USD",
                source=f"price-sheet:{est.sheet}",
                detail=est.basis,
            )
    sheets = {s.id: str(s.retrieved) for s in catalog.price_sheets.values()}
    ev.extra["price_sheets"] = sheets
    ev.extra["conversation_tokens"] = list(conv)
    return ev
