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
from nova.decision._matrix_md import render_markdown
from nova.decision._methods import (
    CriterionSpec,
    Flip,
    GateResult,
    GateSpec,
    ParetoFront,
    Ranking,
    apply_gates,
    evaluate_gates,
    min_weight_change_to_flip,
    pareto_front,
    rank,
)
from nova.decision._sensitivity import (
    MeasurementNoise,
    Sensitivity,
    measurement_noise,
    sensitivity,
)

__all__ = [
    "MatrixResult",
    "build_matrix",
    "matrix_sha",
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
