"""``nova perf run``: a sweep per candidate, stored in the run store, with cost."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nova._provenance import workspace_revision
from nova.catalog import Catalog
from nova.config import Candidate, LoadedConfig, Profile, Slo, Workspace
from nova.datasets import load_dataset
from nova.errors import NovaError
from nova.perf._cost import CostEstimate, estimate_cost, in_eur_and_per_month
from nova.perf._load import run_level, synthetic_prompts
from nova.perf._metrics import LevelMetrics, RequestSample, compute_level
from nova.providers import Provider, create_provider
from nova.settings import get_settings
from nova.store import RequestRecord, RunStatus, RunStore

__all__ = [
    "CandidatePerf",
    "PerfSpec",
    "choose_operating_point",
    "run_perf",
    "spec_fields_from_profile",
]


class PerfSpec(BaseModel):
    """What one performance run measures."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    """Profile of nova.yaml."""
    candidates: list[str]
    """Candidate ids."""
    arrival: Literal["concurrency", "constant", "poisson"] = "concurrency"
    """Load pattern."""
    concurrency: list[int] = Field(default_factory=lambda: [1, 4, 16])
    """Concurrency levels (fixed-concurrency sweep)."""
    rates: list[float] = Field(default_factory=list)
    """Request rates (constant/Poisson sweep)."""
    requests: int = 100
    """Measured requests per level."""
    warmup: int = 4
    """Warm-up requests per level (excluded)."""
    duration_s: float | None = None
    """Stop sending after this many seconds per level."""
    prompts: Literal["datasets", "synthetic"] = "synthetic"
    """Prompt source."""
    input_tokens: int = 512
    """Synthetic prompt length (words ≈ tokens)."""
    output_tokens: int = 128
    """Output tokens requested (``ignore_eos`` asks for exactly this many)."""
    slo: Slo = Field(default_factory=Slo)
    """SLOs for goodput."""
    stop_at_saturation: bool = True
    """Stop the sweep once a level adds less than ``saturation_gain`` output throughput."""
    saturation_gain: float = 0.10
    """Minimum relative throughput gain of the next level to continue."""
    conversation_tokens: tuple[int, int] = (800, 250)
    """(input, output) tokens of an average conversation, for cost."""
    seed: int = 0
    """Seed of Poisson arrivals and synthetic prompts."""


class CandidatePerf(BaseModel):
    """Results of one candidate."""

    model_config = ConfigDict(extra="forbid")

    candidate: str
    """Candidate id."""
    model: str
    """``provider/model``."""
    model_reported: str | None = None
    """Model id the server reported."""
    levels: list[LevelMetrics] = Field(default_factory=list)
    """One entry per load level, in sweep order."""
    saturated_at: str | None = None
    """Label of the level where the sweep stopped for saturation."""
    operating_point: str | None = None
    """Level used for cost and the KPI values."""
    cost: CostEstimate | None = None
    """Cost at the operating point."""
    error: str | None = None
    """Why the candidate was not measured."""


def spec_fields_from_profile(prof: Profile) -> dict[str, Any]:
    """PerfSpec fields that a profile of nova.yaml sets (its load, SLOs, conversation)."""
    out: dict[str, Any] = {"slo": prof.slo, "conversation_tokens": prof.conversation_tokens}
    p = prof.performance
    if p is not None:
        out.update(
            arrival=p.arrival,
            concurrency=p.concurrency,
            requests=p.requests,
            warmup=p.warmup,
            duration_s=p.duration_s,
            prompts=p.prompts,
            input_tokens=p.input_tokens,
            output_tokens=p.output_tokens,
            rates=[p.rate] if p.rate else [],
        )
    return out


def choose_operating_point(levels: list[LevelMetrics]) -> LevelMetrics | None:
    """Highest goodput when SLOs are set, else highest output throughput."""
    usable = [lv for lv in levels if lv.successful]
    if not usable:
        return None
    if any(lv.goodput is not None for lv in usable):
        return max(usable, key=lambda lv: (lv.goodput or 0.0, lv.output_throughput))
    return max(usable, key=lambda lv: lv.output_throughput)


def _prompts(ws: Workspace | None, spec: PerfSpec, datasets: list[str]) -> list[str]:
    if spec.prompts == "datasets" and ws is not None:
        out = []
        for name in datasets:
            path = ws.datasets_dir / f"{name}.jsonl"
            if path.is_file():
                out += [c.messages[-1].content for c in load_dataset(path).cases]
        if out:
            return out
    return synthetic_prompts(max(spec.requests + spec.warmup, 1), spec.input_tokens, spec.seed)


def _record(cid: str, label: str, i: int, s: RequestSample) -> RequestRecord:
    return RequestRecord(
        candidate=cid,
        case_id=f"{label}#{i}",
        repeat=0,
        request={"load": label, "index": i},
        prompt_tokens=s.prompt_tokens,
        completion_tokens=s.output_tokens,
        usage_source=s.usage_source
        if s.usage_source in ("server", "client", "estimate")
        else "none",
        sent_at=dt.datetime.now(dt.UTC),
        t_send_ns=s.t_send_ns,
        t_first_byte_ns=s.t_first_byte_ns,
        t_first_token_ns=s.t_first_token_ns,
        t_last_token_ns=s.t_last_token_ns,
        chunk_times_ns=s.chunk_times_ns or None,
        error_type=s.error,
    )


async def _sweep(
    provider: Provider,
    spec: PerfSpec,
    prompts: list[str],
    store: RunStore,
    run_id: str,
    on_level: Callable[[str, LevelMetrics], None] | None,
) -> CandidatePerf:
    cid = provider.candidate.id
    res = CandidatePerf(candidate=cid, model=provider.candidate.model)
    plan: list[tuple[str, int | None, float | None]] = (
        [(f"concurrency {c}", c, None) for c in spec.concurrency]
        if spec.arrival == "concurrency"
        else [(f"{spec.arrival} {r:g} req/s", None, r) for r in spec.rates]
    )
    if not plan:
        raise NovaError("no load levels: give --concurrency or --rate")
    prev: LevelMetrics | None = None
    for label, conc, rate in plan:
        buf: list[RequestRecord] = []

        async def keep(
            i: int, s: RequestSample, label: str = label, buf: list[RequestRecord] = buf
        ) -> None:
            if i >= spec.warmup:
                buf.append(_record(cid, label, i, s))
            if len(buf) >= 200:
                batch = buf[:]
                buf.clear()
                await asyncio.to_thread(store.add_requests, run_id, batch)

        samples = await run_level(
            provider,
            prompts,
            arrival=spec.arrival,
            concurrency=conc,
            rate=rate,
            requests=spec.requests,
            warmup=spec.warmup,
            duration_s=spec.duration_s,
            output_tokens=spec.output_tokens,
            seed=spec.seed,
            on_done=keep,
        )
        if buf:
            await asyncio.to_thread(store.add_requests, run_id, buf)
        lv = compute_level(
            [s for _, s in samples], label=label, slo=spec.slo, concurrency=conc, rate=rate
        )
        res.levels.append(lv)
        if on_level:
            on_level(cid, lv)
        if (
            spec.stop_at_saturation
            and prev is not None
            and prev.output_throughput > 0
            and lv.output_throughput < prev.output_throughput * (1 + spec.saturation_gain)
        ):
            res.saturated_at = label
            break
        prev = lv
    return res


async def run_perf(
    ws: Workspace | None,
    loaded: LoadedConfig | None,
    spec: PerfSpec,
    store: RunStore,
    catalog: Catalog,
    *,
    candidates: list[Candidate] | None = None,
    on_level: Callable[[str, LevelMetrics], None] | None = None,
    datasets: list[str] | None = None,
    parent_id: str | None = None,
    on_started: Callable[[str], None] | None = None,
) -> tuple[str, list[CandidatePerf]]:
    """Sweep every candidate; store requests and results; return (run id, results)."""
    if candidates is not None:
        cands = candidates
    elif loaded is not None:
        cands = [loaded.config.candidate(c) for c in spec.candidates]
    else:
        cands = []
    prompts = _prompts(ws, spec, datasets or ["dialogues", "compliance", "escalations"])
    prof = loaded.config.profiles.get(spec.profile or "") if loaded is not None else None
    monthly = (prof or Profile()).monthly_conversations
    run = store.start_run(
        "performance",
        parent_id=parent_id,
        profile=spec.profile,
        config_hash=loaded.hash if loaded else None,
        workspace_rev=workspace_revision(ws.root) if ws else None,
        meta={
            "spec": spec.model_dump(mode="json"),
            "models": {c.id: c.model for c in cands},
            "prompts": len(prompts),
        },
    )
    results: list[CandidatePerf] = []
    if on_started is not None:
        on_started(run.id)
    status: RunStatus = "completed"
    try:
        for c in cands:
            try:
                # The load pattern is the limit: the connection pool must hold the largest
                # level, or requests would wait for a connection inside the measured time.
                need = max(
                    [*spec.concurrency, c.provider.max_concurrency]
                    if spec.arrival == "concurrency"
                    else [512]
                )
                loaded_c = c.model_copy(
                    update={
                        "provider": c.provider.model_copy(
                            update={"max_concurrency": max(need, c.provider.max_concurrency)}
                        )
                    }
                )
                provider = create_provider(loaded_c, workspace_root=ws.root if ws else None)
                await provider.start()
            except NovaError as exc:
                results.append(CandidatePerf(candidate=c.id, model=c.model, error=str(exc)))
                continue
            try:
                info = await provider.model_info()
                res = await _sweep(provider, spec, prompts, store, run.id, on_level)
                res.model_reported = info.id if info else None
            finally:
                await provider.close()
            op = choose_operating_point(res.levels)
            res.operating_point = op.label if op else None
            res.cost = in_eur_and_per_month(
                estimate_cost(
                    c,
                    catalog,
                    conversation_tokens=spec.conversation_tokens,
                    output_tokens_per_s=op.output_throughput if op else None,
                    measured_at=(spec.input_tokens, spec.output_tokens),
                ),
                catalog,
                monthly_conversations=monthly,
                today=dt.date.today(),
                max_age_days=get_settings().catalog_max_age_days,
            )
            results.append(res)
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        store.finish_run(
            run.id, status, meta={"results": [r.model_dump(mode="json") for r in results]}
        )
    return run.id, results
