"""The selection matrix: criteria × candidates with gates, two rankings, sensitivity, Pareto.

Written to ``orchestration_journal/models/llm_selection_matrix.md`` (German or English) and a
``.json`` beside it. Every cell names its evidence (run id, price sheet, catalog source). A
rewrite keeps the earlier versions as a history section instead of replacing them silently.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nova._io import atomic_write_text
from nova.config import NovaConfig, Workspace
from nova.decision._collect import kpi_metric_key
from nova.decision._evidence import Evidence, Measurement
from nova.decision._methods import (
    CriterionSpec,
    Flip,
    GateResult,
    GateSpec,
    MeasurementNoise,
    ParetoFront,
    Ranking,
    Sensitivity,
    apply_gates,
    evaluate_gates,
    measurement_noise,
    min_weight_change_to_flip,
    pareto_front,
    rank,
    sensitivity,
)

__all__ = [
    "MatrixResult",
    "build_matrix",
    "matrix_sha",
    "render_markdown",
    "source_key",
    "write_matrix",
]


class Cell(BaseModel):
    """One criterion value of one candidate."""

    model_config = ConfigDict(extra="forbid")

    display: str
    """Formatted value with interval."""
    value: float | None
    """Numeric value used for ranking (bools as 1/0)."""
    source: str
    """Evidence source."""
    detail: str
    """How it was measured, or the catalog source."""


class HistoryEntry(BaseModel):
    """A summary of an earlier version of the matrix."""

    model_config = ConfigDict(extra="forbid")

    generated_at: str
    """When it was written."""
    winner: str | None
    """Its winner."""
    sha256: str
    """Its content hash."""
    config_hash: str
    """Config hash it was computed from."""
    weights: dict[str, float]
    """Its normalised weights."""


class MatrixResult(BaseModel):
    """Everything the matrix files hold."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    """Schema version of this JSON."""
    language: Literal["de", "en"]
    """Language of the Markdown."""
    method: Literal["weighted-sum", "topsis"]
    """Primary ranking method."""
    candidates: list[str]
    """Ranked candidates (judges excluded)."""
    criteria: list[dict[str, Any]]
    """Criteria with source, weight, direction, unit."""
    cells: dict[str, dict[str, Cell]]
    """Candidate -> criterion -> cell."""
    gates: dict[str, list[GateResult]]
    """Candidate -> gate results."""
    gate_specs: list[dict[str, Any]]
    """The gates as configured."""
    weighted_sum: Ranking
    """Weighted-sum ranking (gates applied)."""
    topsis: Ranking
    """TOPSIS ranking (gates applied)."""
    order: list[str]
    """Final order of the primary method, failing candidates last."""
    winner: str | None
    """First candidate that passes every gate (None when none does)."""
    methods_disagree: bool
    """Whether the two methods name different winners."""
    sensitivity: Sensitivity | None
    """Monte-Carlo weight perturbation over all candidates of the ranking; only measured
    candidates that pass the gates can rank first."""
    noise: MeasurementNoise | None = None
    """How often the winner changes from measurement noise alone (paired bootstrap of the
    quality run's cases, weights fixed); None without per-case evidence."""
    flips: list[Flip]
    """Smallest single-weight change that flips the winner, per criterion."""
    pareto: ParetoFront | None
    """Pareto front of quality vs cost vs latency."""
    evidence: Evidence
    """All evidence used."""
    history: list[HistoryEntry] = Field(default_factory=list)
    """Earlier versions, oldest first."""


def source_key(source: str, cfg: NovaConfig) -> str:
    """Evidence key of a criterion/gate source: ``kpi:ttft-p95`` -> ``ttft_ms_p95``."""
    kind, _, ref = source.partition(":")
    if kind == "kpi":
        for k in cfg.kpis:
            if k.id == ref:
                return kpi_metric_key(k)
        return ref
    if kind == "governance":
        return f"governance.{ref}"
    return ref


def _num(m: Measurement) -> float | None:
    v = m.value
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    return None


def _rank_or_empty(
    cands: list[str],
    values: dict[str, dict[str, float | None]],
    crits: list[CriterionSpec],
    method: Literal["weighted-sum", "topsis"],
) -> Ranking:
    """The ranking, or — when no criterion has any value yet — an all-zero placeholder in
    config order (nothing measured, nothing to rank)."""
    if not cands:
        return Ranking(method=method, scores={}, order=[], weights={}, contributions={})
    try:
        return rank(cands, values, crits, method)
    except ValueError:
        return Ranking(
            method=method,
            scores=dict.fromkeys(cands, 0.0),
            order=list(cands),
            weights={},
            contributions={c: {} for c in cands},
            dropped=[c.id for c in crits],
            missing={c: [k.id for k in crits] for c in cands},
        )


def build_matrix(
    cfg: NovaConfig, evidence: Evidence, *, seed: int = 0, candidates: list[str] | None = None
) -> MatrixResult:
    """Compute the matrix from config and evidence.

    ``candidates`` limits the matrix (e.g. to a profile's); by default it holds the
    candidates that have measured evidence from a run, or every candidate when none has.
    """
    cands = [c.id for c in cfg.candidates if c.role != "judge" and c.id in evidence.candidates]
    if candidates is not None:
        cands = [c for c in cands if c in candidates]
    else:
        measured = [
            c
            for c in cands
            if any(m.source.startswith("run:") for m in evidence.candidates[c].metrics.values())
        ]
        cands = measured or cands
    crit_specs = [CriterionSpec.from_config(c) for c in cfg.decision.criteria]
    cells: dict[str, dict[str, Cell]] = {}
    values: dict[str, dict[str, float | None]] = {}
    cases: dict[str, dict[str, dict[str, float]]] = {}
    for cid in cands:
        ce = evidence.candidates[cid]
        cells[cid], values[cid], cases[cid] = {}, {}, {}
        for c in cfg.decision.criteria:
            m = ce.get(source_key(c.source, cfg))
            values[cid][c.id] = _num(m)
            if m.cases and _num(m) is not None:
                cases[cid][c.id] = m.cases
            cells[cid][c.id] = Cell(
                display=m.fmt(), value=_num(m), source=m.source, detail=m.detail
            )
    gate_specs = [
        GateSpec(
            id=g.id,
            op=g.op,
            value=g.value,
            reason=g.reason,
            key=source_key(g.source, cfg),
            bound=g.bound,
        )
        for g in cfg.decision.gates
    ]
    gate_values = {
        cid: {g.key or g.id: evidence.candidates[cid].get(g.key or g.id).value for g in gate_specs}
        for cid in cands
    }
    intervals = {
        cid: {
            k: (m.low, m.high)
            for g in gate_specs
            if (m := evidence.candidates[cid].get(k := g.key or g.id)).low is not None
        }
        for cid in cands
    }
    gates = evaluate_gates(gate_values, gate_specs, intervals)
    ws = apply_gates(_rank_or_empty(cands, values, crit_specs, "weighted-sum"), gates)
    tp = apply_gates(_rank_or_empty(cands, values, crit_specs, "topsis"), gates)
    primary = ws if cfg.decision.method == "weighted-sum" else tp
    # Only a candidate with measured evidence can be recommended: catalog facts alone are not
    # a reason to choose a model.
    with_runs = {
        c
        for c in cands
        if any(m.source.startswith("run:") for m in evidence.candidates[c].metrics.values())
    }
    passing = [c for c in primary.order if c not in primary.failed_gates and c in with_runs]
    sens = flips = pareto = noise = None
    # One matrix for everything: sensitivity, noise and flips normalise over every candidate
    # of the ranking; the ones that cannot be recommended stay in and only never rank first.
    cannot_win = [c for c in cands if c not in passing]
    with_cases = {cid: by for cid, by in cases.items() if by}
    if len(passing) > 1 and primary.weights:
        sens = sensitivity(
            values,
            crit_specs,
            samples=cfg.decision.sensitivity_samples,
            seed=seed,
            method=cfg.decision.method,
            cannot_win=cannot_win,
            cases=with_cases,
        )
        if with_cases:
            noise = measurement_noise(
                values,
                crit_specs,
                with_cases,
                resamples=cfg.decision.sensitivity_samples,
                seed=seed,
                method=cfg.decision.method,
                cannot_win=cannot_win,
            )
        flips = min_weight_change_to_flip(
            values, crit_specs, method=cfg.decision.method, cannot_win=cannot_win
        )
    if len(cands) > 1:
        pts = {
            cid: {
                "quality": _num(evidence.candidates[cid].get("pass_rate")),
                "cost": _num(evidence.candidates[cid].get("cost_per_1k_conversations")),
                "latency": _num(evidence.candidates[cid].get("ttft_ms_p95")),
            }
            for cid in cands
        }
        pareto = pareto_front(pts, {"quality": "higher", "cost": "lower", "latency": "lower"})
    return MatrixResult(
        language=cfg.governance.language,
        method=cfg.decision.method,
        candidates=cands,
        criteria=[
            {
                "id": c.id,
                "source": c.source,
                "weight": c.weight,
                "weight_normalized": primary.weights.get(c.id, 0.0),
                "direction": c.direction,
                "unit": c.unit,
            }
            for c in cfg.decision.criteria
        ],
        cells=cells,
        gates=gates,
        gate_specs=[g.model_dump() for g in cfg.decision.gates],
        weighted_sum=ws,
        topsis=tp,
        order=primary.order,
        winner=passing[0] if passing else None,
        methods_disagree=ws.order[:1] != tp.order[:1],
        sensitivity=sens,
        noise=noise,
        flips=flips or [],
        pareto=pareto,
        evidence=evidence,
    )


def matrix_sha(result: MatrixResult) -> str:
    """sha256 of the matrix content (history excluded): reviews refer to it."""
    data = result.model_dump(mode="json", exclude={"history"})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_L: dict[str, dict[str, Any]] = {
    "de": {
        "title": "LLM-Auswahlmatrix",
        "generated": "Erzeugt von nova",
        "winner": "Empfehlung",
        "none": "keiner (kein gemessener Kandidat erfüllt alle Pflichtkriterien)",
        "crit": "Kriterien und Gewichte",
        "ranking": "Ranking",
        "cand": "Kandidat",
        "score": "Score",
        "gates": "Pflichtkriterien (Gates)",
        "failed": "verfehlt",
        "passed": "erfüllt",
        "unknown": "nicht gemessen",
        "sens": "Sensitivität",
        "noise": "Messrauschen allein (Gewichte fest): der Gewinner {w} wechselt in {p} der "
        "Stichproben ({d}).",
        "gatelist": "Pflichtkriterien und geprüfter Wert",
        "test": "Prüfung",
        "bound": "Wert",
        "bounds": {"point": "Messwert", "lower": "untere 95%-Grenze", "upper": "obere 95%-Grenze"},
        "costs": "Kosten",
        "volume": "Volumen: {n} Gespräche pro Monat; EUR zum Referenzkurs {fx}.",
        "nofx": "kein Wechselkurs im Katalog: keine EUR-Beträge",
        "costhead": "| Kandidat | USD / 1.000 Gespräche | EUR / 1.000 Gespräche | USD / Monat | "
        "EUR / Monat | Preisliste |",
        "stale": "VERALTET",
        "pfirst": "Wahrscheinlichkeit Platz 1",
        "flip": "Kleinste Gewichtsänderung, die den Gewinner ändert",
        "pareto": "Pareto-Front (Qualität, Kosten, Latenz)",
        "evidence": "Nachweise",
        "history": "Verlauf",
        "disagree": "Achtung: gewichtete Summe und TOPSIS nennen verschiedene Gewinner.",
        "rank": "Rang",
        "weight": "Gewicht",
        "direction": "Richtung",
        "higher": "höher ist besser",
        "lower": "niedriger ist besser",
        "nofl": "keine Änderung in [0, 1] ändert den Gewinner",
        "dominated": "dominiert von",
        "excluded": "ausgeschlossen (fehlende Werte)",
        "runs": "Läufe",
        "catalog": "Katalogquellen",
        "sheets": "Preislisten",
        "norm": "Normalisierung: Min-Max je Kriterium auf [0, 1] (bei 'niedriger ist besser' "
        "invertiert); fehlende Werte zählen 0 und sind markiert. TOPSIS: Vektornormierung, "
        "Nähe zur Ideallösung.",
    },
    "en": {
        "title": "LLM selection matrix",
        "generated": "Generated by nova",
        "winner": "Recommendation",
        "none": "none (no measured candidate passes every hard gate)",
        "crit": "Criteria and weights",
        "ranking": "Ranking",
        "cand": "Candidate",
        "score": "Score",
        "gates": "Hard gates",
        "failed": "failed",
        "passed": "passed",
        "unknown": "not measured",
        "sens": "Sensitivity",
        "noise": "Measurement noise alone (weights fixed): the winner {w} changes in {p} of the "
        "resamples ({d}).",
        "gatelist": "Hard gates and the value tested",
        "test": "Test",
        "bound": "Value tested",
        "bounds": {"point": "point value", "lower": "lower 95% bound", "upper": "upper 95% bound"},
        "costs": "Costs",
        "volume": "Volume: {n} conversations per month; EUR at the reference rate {fx}.",
        "nofx": "no exchange rate in the catalog: no EUR figures",
        "costhead": "| Candidate | USD / 1,000 conversations | EUR / 1,000 conversations | "
        "USD / month | EUR / month | Price sheet |",
        "stale": "STALE",
        "pfirst": "Probability of rank 1",
        "flip": "Smallest weight change that changes the winner",
        "pareto": "Pareto front (quality, cost, latency)",
        "evidence": "Evidence",
        "history": "History",
        "disagree": "Note: weighted sum and TOPSIS name different winners.",
        "rank": "Rank",
        "weight": "Weight",
        "direction": "Direction",
        "higher": "higher is better",
        "lower": "lower is better",
        "nofl": "no change in [0, 1] changes the winner",
        "dominated": "dominated by",
        "excluded": "excluded (missing values)",
        "runs": "Runs",
        "catalog": "Catalog sources",
        "sheets": "Price sheets",
        "norm": "Normalisation: min-max per criterion to [0, 1] (inverted where lower is "
        "better); missing values score 0 and are marked. TOPSIS: vector normalisation, "
        "closeness to the ideal.",
    },
}


def _link(source: str) -> str:
    kind, _, ref = source.partition(":")
    if kind == "run":
        return f"run `{ref}`"
    if kind == "price-sheet":
        return f"price sheet `{ref}`"
    if kind == "catalog":
        return f"catalog `{ref}`"
    return source


def _gate_section(r: MatrixResult, t: dict[str, Any]) -> list[str]:
    """The gates as configured, and per candidate the value each one tested (point or bound)."""
    if not r.gate_specs:
        return []
    out = ["", f"## {t['gatelist']}", "", f"| Gate | Source | {t['test']} | {t['bound']} |"]
    out.append("|---|---|---|---|")
    for g in r.gate_specs:
        bound = t["bounds"][g.get("bound", "point")]
        out.append(f"| {g['id']} | `{g['source']}` | {g['op']} {g['value']!r} | {bound} |")
    out.append("")
    for cid in r.order:
        for res in r.gates.get(cid, []):
            out.append(f"- {cid} / {res.gate} ({t['bounds'][res.bound]}): {res.reason}")
    return out


def _cost_section(r: MatrixResult, t: dict[str, Any]) -> list[str]:
    """Costs in USD and EUR, per 1,000 conversations and per month, stale sheets flagged."""
    ev = r.evidence
    costs = {cid: ev.costs[cid] for cid in r.order if cid in ev.costs}
    if not costs:
        return []
    fx = ev.extra.get("exchange_rate")
    vol = int(ev.extra.get("monthly_conversations", 0))
    out = ["", f"## {t['costs']}", ""]
    out += [t["volume"].format(n=f"{vol:,}", fx=fx) if fx else t["nofx"], ""]
    out += [t["costhead"], "|---|---|---|---|---|---|"]

    def money(x: float | None) -> str:
        return "—" if x is None else f"{x:,.2f}"

    for cid, c in costs.items():
        sheet = f"`{c.sheet}` ({c.sheet_date})" if c.sheet else "—"
        if c.sheet_stale:
            sheet += f" ⚠ {t['stale']}"
        out.append(
            f"| {cid} | {money(c.usd_per_1k_conversations)} | "
            f"{money(c.eur_per_1k_conversations)} | {money(c.usd_per_month)} | "
            f"{money(c.eur_per_month)} | {sheet} |"
        )
    return out


def render_markdown(r: MatrixResult, sha: str) -> str:
    """The matrix as Markdown (language of the result)."""
    t = _L[r.language]
    ev = r.evidence
    out = [
        f"# {t['title']}",
        "",
        f"_{t['generated']} {ev.nova_version}, {ev.generated_at:%Y-%m-%d %H:%M} UTC; config "
        f"`{ev.config_hash[:19]}`; matrix sha256 `{sha[:16]}`; method {r.method}._",
        "",
        f"**{t['winner']}: {r.winner or t['none']}**",
        "",
    ]
    if r.methods_disagree:
        out += [
            f"> {t['disagree']} (weighted sum: {r.weighted_sum.winner}, TOPSIS: {r.topsis.winner})",
            "",
        ]
    out += [
        f"## {t['crit']}",
        "",
        f"| ID | Source | {t['weight']} | {t['direction']} |",
        "|---|---|---|---|",
    ]
    for c in r.criteria:
        out.append(
            f"| {c['id']} | `{c['source']}` | {c['weight_normalized']:.2f} | {t[c['direction']]} |"
        )
    out += ["", t["norm"], "", f"## {t['ranking']}", ""]
    crit_ids = [c["id"] for c in r.criteria]
    out.append(
        f"| {t['rank']} | {t['cand']} | "
        + " | ".join(crit_ids)
        + f" | {t['score']} (WS) | TOPSIS | {t['gates']} |"
    )
    out.append("|" + "---|" * (len(crit_ids) + 5))
    for i, cid in enumerate(r.order, 1):
        cells = []
        for k in crit_ids:
            cell = r.cells[cid][k]
            mark = " ⚠" if k in r.weighted_sum.missing.get(cid, []) else ""
            cost = ev.costs.get(cid)
            if cell.source.startswith("price-sheet:") and cost is not None and cost.sheet_stale:
                mark += f" ⚠ {t['stale']}"
            cells.append(f"{cell.display}{mark}")
        failed = r.weighted_sum.failed_gates.get(cid, [])
        unknown = r.weighted_sum.unknown_gates.get(cid, [])
        gate = (
            f"{t['failed']}: " + "; ".join(failed)
            if failed
            else (
                f"{t['unknown']}: " + ", ".join(u.split(":")[0] for u in unknown)
                if unknown
                else t["passed"]
            )
        )
        out.append(
            f"| {i} | **{cid}** | "
            + " | ".join(cells)
            + f" | {r.weighted_sum.scores[cid]:.3f} | {r.topsis.scores[cid]:.3f} | "
            f"{gate} |"
        )
    out += _gate_section(r, t)
    out += _cost_section(r, t)
    if r.sensitivity is not None:
        s = r.sensitivity
        out += [
            "",
            f"## {t['sens']}",
            "",
            f"{s.definition}",
            "",
            f"| {t['cand']} | {t['pfirst']} | Ø {t['rank']} |",
            "|---|---|---|",
        ]
        for cid in sorted(s.p_first, key=lambda k: -s.p_first[k]):
            out.append(f"| {cid} | {s.p_first[cid]:.1%} | {s.mean_rank[cid]:.2f} |")
    if r.noise is not None:
        n = r.noise
        out += ["", t["noise"].format(w=n.winner, p=f"{n.winner_changed:.1%}", d=n.definition)]
    if r.flips:
        out += ["", f"### {t['flip']}", ""]
        for f in r.flips:
            if f.new_weight is None:
                out.append(f"- {f.criterion} ({f.weight:.2f}): {t['nofl']}")
            else:
                out.append(
                    f"- {f.criterion}: {f.weight:.3f} → {f.new_weight:.3f} "
                    f"(Δ {f.delta:+.3f}) ⇒ {f.new_winner}"
                )
    if r.pareto is not None:
        p = r.pareto
        out += ["", f"## {t['pareto']}", "", "- " + (", ".join(p.front) or "—")]
        for cid, by in p.dominated_by.items():
            out.append(f"- {cid}: {t['dominated']} {', '.join(by)}")
        for cid, dims in p.excluded.items():
            out.append(f"- {cid}: {t['excluded']}: {', '.join(dims)}")
    out += ["", f"## {t['evidence']}", ""]
    for cid in r.candidates:
        for k in crit_ids:
            cell = r.cells[cid][k]
            if cell.source != "not measured":
                out.append(
                    f"- {cid} / {k}: {cell.display} — {_link(cell.source)}"
                    + (f" ({cell.detail})" if cell.detail else "")
                )
    if ev.runs:
        out += ["", f"**{t['runs']}:**"]
        for run in ev.runs.values():
            ds = ", ".join(f"{k} sha256 {v[:12]}" for k, v in run.datasets.items())
            out.append(
                f"- `{run.id}` ({run.kind}, {run.started_at:%Y-%m-%d %H:%M} UTC"
                + (f"; {ds}" if ds else "")
                + ")"
            )
    sheets = ev.extra.get("price_sheets", {})
    if sheets:
        out += [
            "",
            f"**{t['sheets']}:** " + ", ".join(f"`{k}` ({v})" for k, v in sorted(sheets.items())),
        ]
    if r.history:
        out += ["", f"## {t['history']}", ""]
        for h in reversed(r.history):
            out.append(
                f"- {h.generated_at}: {h.winner or '—'} (sha256 `{h.sha256[:16]}`, "
                f"config `{h.config_hash[:19]}`)"
            )
    return "\n".join(out) + "\n"


def write_matrix(ws: Workspace, result: MatrixResult) -> tuple[Path, Path, str]:
    """Write .md and .json atomically, keeping earlier versions as history."""
    md = ws.selection_matrix
    js = md.with_suffix(".json")
    sha = matrix_sha(result)
    if js.is_file():
        try:
            old = MatrixResult.model_validate_json(js.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if old is not None:
            old_sha = matrix_sha(old)
            history = list(old.history)
            if old_sha != sha:
                history.append(
                    HistoryEntry(
                        generated_at=old.evidence.generated_at.isoformat(timespec="seconds"),
                        winner=old.winner,
                        sha256=old_sha,
                        config_hash=old.evidence.config_hash,
                        weights={c["id"]: c["weight_normalized"] for c in old.criteria},
                    )
                )
            result = result.model_copy(update={"history": history})
    atomic_write_text(js, result.model_dump_json(indent=2) + "\n")
    atomic_write_text(md, render_markdown(result, sha))
    return md, js, sha
