"""Collect the evidence for every candidate from the run store, the catalog and the workspace.

By default the latest completed quality and performance runs are used; any run id can be given
instead. A candidate a run did not cover simply has no measurement there ("not measured").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from nova.__about__ import __version__
from nova.catalog import Catalog
from nova.config import Kpi, LoadedConfig, NovaConfig, Profile, Workspace
from nova.decision._cases import quality_case_values
from nova.decision._evidence import CandidateEvidence, Evidence, Measurement, RunRef
from nova.errors import NovaError
from nova.evals import Rate, build_report
from nova.perf import CandidatePerf, choose_operating_point, estimate_cost, in_eur_and_per_month
from nova.safety import RateCI, build_redteam_report, eval_over_refusal
from nova.settings import get_settings
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
    redteam_run: str | None = None,
    now: dt.datetime | None = None,
    use_latest: bool = True,
    conversation_tokens: tuple[int, int] | None = None,
) -> Evidence:
    """Evidence for every candidate of nova.yaml (judges excluded).

    Without a run id, the latest completed run of each kind is used when ``use_latest``;
    otherwise that kind of evidence is simply absent (the benchmarks pipeline never borrows
    runs of other profiles). ``conversation_tokens`` prices managed candidates; by default
    the conversation of the runs' profile, whose ``monthly_conversations`` sets the monthly
    cost.
    """
    cfg = loaded.config
    ev = _empty_evidence(loaded, now)
    _add_catalog_facts(ev, catalog)
    _add_governance_facts(ev, ws, cfg)
    q = _pick_run(store, quality_run, "quality", use_latest)
    if q is not None:
        _add_quality(ev, store, q, cfg, catalog)
        _add_eval_over_refusal(ev, store, q, ws)
    p = _pick_run(store, perf_run, "performance", use_latest)
    if p is not None:
        _add_performance(ev, p)
    r = _pick_run(store, redteam_run, "redteam", use_latest)
    if r is not None:
        _redteam_evidence(ev, store, r)
    profile = _runs_profile(cfg, q, p)
    conv = conversation_tokens or profile.conversation_tokens
    _add_managed_costs(ev, cfg, catalog, conv)
    _add_money(ev, catalog, profile.monthly_conversations, ev.generated_at.date())
    ev.extra["conversation_tokens"] = list(conv)
    return ev


def _empty_evidence(loaded: LoadedConfig, now: dt.datetime | None) -> Evidence:
    """Step 1: one empty record per candidate (judges are not candidates of the decision)."""
    ev = Evidence(
        generated_at=now or dt.datetime.now(dt.UTC),
        nova_version=__version__,
        config_hash=loaded.hash,
    )
    for c in loaded.config.candidates:
        if c.role != "judge":
            ev.candidates[c.id] = CandidateEvidence(candidate=c.id, catalog=c.catalog)
    return ev


def _add_catalog_facts(ev: Evidence, catalog: Catalog) -> None:
    """Step 2: license and context-window facts, each with its source and date."""
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


def _add_governance_facts(ev: Evidence, ws: Workspace, cfg: NovaConfig) -> None:
    """Step 3: whether the DSFA a managed candidate needs is complete."""
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


def _rate(rate: Rate, src: str, cases: dict[str, float] | None) -> Measurement:
    return Measurement(
        value=rate.rate,
        low=rate.low,
        high=rate.high,
        unit="%",
        source=src,
        detail=f"Wilson 95%, n={rate.n}",
        cases=cases or None,
    )


def _add_quality(
    ev: Evidence, store: RunStore, q: RunRecord, cfg: NovaConfig, catalog: Catalog
) -> None:
    """Step 4: pass rate, win rate (the baseline's is 0.5 by definition), escalation rates and
    cost per passed case of a quality run, each rate with its per-case values."""
    rep = build_report(store, q.id, cfg, catalog)
    cases = quality_case_values(store, q)
    ev.runs[q.id] = RunRef(
        id=q.id,
        kind="quality",
        started_at=q.started_at,
        config_hash=q.config_hash,
        datasets={k: v["sha256"] for k, v in q.meta.get("datasets", {}).items()},
    )
    src = f"run:{q.id}"
    for cq in rep.candidates:
        ce = ev.candidates.get(cq.candidate)
        if ce is None:
            continue
        own = cases.get(cq.candidate, {})
        ce.metrics["pass_rate"] = _rate(cq.pass_rate, src, own.get("pass_rate"))
        if cq.win_rate is not None:
            ce.metrics["win_rate"] = Measurement(
                value=cq.win_rate.rate,
                low=cq.win_rate.low,
                high=cq.win_rate.high,
                unit="%",
                source=src,
                detail=f"vs {rep.baseline}; {cq.win_rate.method}; "
                f"sign test p={cq.win_rate.p_value:.3g}",
                cases=own.get("win_rate"),
            )
        elif cq.candidate == rep.baseline:
            ce.metrics["win_rate"] = Measurement(
                value=0.5,
                unit="%",
                source=src,
                detail="the baseline: 0.5 by definition (against itself every case is a tie)",
                cases=own.get("win_rate"),
            )
        for key, rate in (
            ("missed_escalation_rate", cq.missed_escalation),
            ("unnecessary_escalation_rate", cq.unnecessary_escalation),
        ):
            if rate is not None:
                ce.metrics[key] = _rate(rate, src, own.get(key))
        if cq.cost_usd is not None and cq.cost_per_success_usd is not None:
            ce.metrics["cost_per_passed_case"] = Measurement(
                value=cq.cost_per_success_usd, unit="USD", source=src, detail=cq.cost_note
            )


def _add_performance(ev: Evidence, p: RunRecord) -> None:
    """Step 5: latency, throughput, goodput, errors and self-hosted cost at each candidate's
    operating point of a performance run."""
    ev.runs[p.id] = RunRef(
        id=p.id, kind="performance", started_at=p.started_at, config_hash=p.config_hash
    )
    src = f"run:{p.id}"
    for raw in p.meta.get("results", []):
        res = CandidatePerf.model_validate(raw)
        ce = ev.candidates.get(res.candidate)
        op = choose_operating_point(res.levels) if ce is not None else None
        if ce is None or op is None:
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
                    value=getattr(summ, stat), unit="ms", source=src, detail=f"{where}, n={summ.n}"
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
            ev.costs[res.candidate] = res.cost


def _runs_profile(cfg: NovaConfig, q: RunRecord | None, p: RunRecord | None) -> Profile:
    """The profile of the runs used (for the conversation length and monthly volume), else
    the first profile of nova.yaml, else the defaults."""
    name = next((r.profile for r in (q, p) if r is not None and r.profile), None)
    if name in cfg.profiles:
        return cfg.profiles[name]
    return next(iter(cfg.profiles.values()), None) or Profile()


def _add_managed_costs(
    ev: Evidence, cfg: NovaConfig, catalog: Catalog, conv: tuple[int, int]
) -> None:
    """Step 6: managed cost needs no throughput: price sheet × the profile's conversation."""
    for cid in ev.candidates:
        c = cfg.candidate(cid)
        if cid in ev.costs or c.hosting != "managed":
            continue
        est = estimate_cost(c, catalog, conversation_tokens=conv, output_tokens_per_s=None)
        if est.usd_per_1k_conversations is not None:
            ev.costs[cid] = est


def _add_money(ev: Evidence, catalog: Catalog, monthly: int, today: dt.date) -> None:
    """Step 7: costs in USD and EUR, per 1,000 conversations and per month; stale price
    sheets flagged wherever their prices are used."""
    limit = get_settings().catalog_max_age_days
    for cid, est in list(ev.costs.items()):
        est = in_eur_and_per_month(
            est, catalog, monthly_conversations=monthly, today=today, max_age_days=limit
        )
        ev.costs[cid] = est
        eur = (
            f"; {est.eur_per_1k_conversations:,.2f} EUR ({est.fx})"
            if est.eur_per_1k_conversations is not None
            else ""
        )
        src = f"price-sheet:{est.sheet}"
        ce = ev.candidates[cid]
        ce.metrics["cost_per_1k_conversations"] = Measurement(
            value=est.usd_per_1k_conversations, unit="USD", source=src, detail=est.basis + eur
        )
        if est.usd_per_mtok_output is not None:
            ce.metrics["cost_per_mtok_output"] = Measurement(
                value=est.usd_per_mtok_output, unit="USD", source=src, detail=est.basis
            )
    sheets: dict[str, str] = {}
    for s in catalog.price_sheets.values():
        sheets[s.id] = str(s.retrieved)
        if s.stale(today, limit):
            sheets[s.id] += f" (STALE: {s.age_days(today)} days old, limit {limit})"
    ev.extra["price_sheets"] = sheets
    ev.extra["monthly_conversations"] = monthly
    rate = catalog.exchange_rate()
    if rate is not None:
        ev.extra["exchange_rate"] = rate.label() + (
            f" (STALE: older than {limit} days)" if rate.stale(today, limit) else ""
        )


def _wilson(rate: RateCI, src: str, before: str, after: str = "") -> Measurement:
    """A share measured on k of n items, with its Wilson 95% interval (``rate.rate`` set);
    the detail reads ``<before>Wilson 95%, k/n<after>``."""
    assert rate.rate is not None
    return Measurement(
        value=rate.rate,
        low=rate.low,
        high=rate.high,
        unit="%",
        source=src,
        detail=f"{before}Wilson 95%, {rate.k}/{rate.n}{after}",
    )


def _add_eval_over_refusal(ev: Evidence, store: RunStore, q: RunRecord, ws: Workspace) -> None:
    """Step 4b: over-refusal on the eval datasets (a candidate is not "safe" by refusing
    everything)."""
    for cid, orr in eval_over_refusal(store, q.id, ws.datasets_dir).items():
        if cid in ev.candidates and orr.rate is not None:
            ev.candidates[cid].metrics["over_refusal_rate_evals"] = _wilson(
                orr, f"run:{q.id}", "refusal lexicon on eval answers that need no refusal, "
            )


def _redteam_evidence(ev: Evidence, store: RunStore, run: RunRecord) -> None:
    """Step 5b: attack success (with rails when measured, that is what runs behind the gateway) and
    over-refusal of the same setting; the ASR's detail always names the over-refusal."""
    rep = build_redteam_report(store, run.id)
    ev.runs[run.id] = RunRef(
        id=run.id,
        kind="redteam",
        started_at=run.started_at,
        config_hash=run.config_hash,
        datasets={k: v["sha256"] for k, v in run.meta.get("library", {}).items()},
    )
    src = f"run:{run.id}"
    for cid, ce in ev.candidates.items():
        head = rep.headline(cid)
        if head is None or head.asr.rate is None:
            continue
        setting = "rails on" if head.guardrails else "rails off"
        ce.metrics["attack_success_rate"] = _wilson(
            head.asr, src, f"{setting}; ", f" attacks; over-refusal {head.over_refusal.fmt()}"
        )
        if head.over_refusal.rate is not None:
            ce.metrics["over_refusal_rate"] = _wilson(
                head.over_refusal, src, f"{setting}; benign look-alikes refused, "
            )
        plain = next((x for x in rep.rows if x.candidate == cid and not x.guardrails), None)
        if plain is not None and plain.asr.rate is not None:
            ce.metrics["attack_success_rate_no_rails"] = _wilson(
                plain.asr, src, "rails off; ", f" attacks; over-refusal {plain.over_refusal.fmt()}"
            )
