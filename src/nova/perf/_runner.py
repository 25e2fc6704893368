"""``nova perf run``: a sweep per candidate, stored in the run store, with cost."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nova._provenance import workspace_revision
from nova.catalog import Catalog
from nova.config import Candidate, LoadedConfig, Profile, Slo, Workspace
from nova.datasets import load_dataset
from nova.errors import NovaError
from nova.perf._cost import CostEstimate, estimate_cost, in_eur_and_per_month
from nova.perf._load import run_level, synthetic_prompts
from nova.perf._merge import (
    LevelPlan,
    active_slices,
    clock_offset_ns,
    level_slice,
    merged_levels,
    sample_record,
)
from nova.perf._metrics import LevelMetrics, RequestSample, compute_level
from nova.perf._workers import WorkerPool
from nova.providers import Provider, create_provider
from nova.settings import get_settings
from nova.shard import Shard, ShardState, StartBarrier, finish_shard, join_run, start_skews
from nova.store import RequestRecord, RunRecord, RunStatus, RunStore

__all__ = [
    "CandidatePerf",
    "PerfSpec",
    "choose_operating_point",
    "merge_perf",
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


def _plan(spec: PerfSpec) -> list[LevelPlan]:
    plan = (
        [LevelPlan(f"concurrency {c}", c, None) for c in spec.concurrency]
        if spec.arrival == "concurrency"
        else [LevelPlan(f"{spec.arrival} {r:g} req/s", None, r) for r in spec.rates]
    )
    if not plan:
        raise NovaError("no load levels: give --concurrency or --rate")
    return plan


@dataclass
class _Split:
    """How a candidate's load is split: one shard of a run (``shard``) or local worker
    processes (``pool``); neither for one process."""

    shard: Shard | None = None
    pool: WorkerPool | None = None
    stored: set[str] = field(default_factory=set)
    """Load requests (``label#i``) this shard stored in an earlier attempt."""
    barrier: StartBarrier | None = None
    """The common start of the run's shards (through the store), for a shard."""


async def _common_start(split: _Split, cid: str, lp: LevelPlan) -> tuple[int, int] | None:
    """For a shard: wait until every shard of the level is ready, then until their common
    start; (common start, this shard's real start), wall clock ns. None without a barrier."""
    if split.barrier is None or split.shard is None:
        return None
    key = f"{cid} · {lp.label}"
    active = active_slices(split.shard.count, lp.concurrency)
    start = await split.barrier.wait(key, active, f"{lp.label!r} of candidate {cid}")
    return start, await split.barrier.until(start)


async def _level(
    provider: Provider,
    spec: PerfSpec,
    prompts: list[str],
    store: RunStore,
    run_id: str,
    lp: LevelPlan,
    split: _Split,
) -> LevelMetrics | None:
    """Run one level (this process, its shard's slice, or over the workers); store every
    measured request; None when this shard has no part in the level."""
    cid = provider.candidate.id
    if split.pool is not None:
        job = {
            "arrival": spec.arrival,
            "requests": spec.requests,
            "warmup": spec.warmup,
            "duration_s": spec.duration_s,
            "output_tokens": spec.output_tokens,
            "seed": spec.seed,
        }
        got = await split.pool.run_level(lp, job)
        recs = [sample_record(cid, lp.label, i, s, shard=k, offset_ns=off) for i, s, off, k in got]
        for n in range(0, len(recs), 500):
            await asyncio.to_thread(store.add_requests, run_id, recs[n : n + 500])
        # The level of all workers together: from the stored samples, computed once.
        merged = merged_levels(store, run_id, [lp], cid, slo=spec.slo)
        return merged[0] if merged else None
    owns, conc = (
        level_slice(split.shard, lp.concurrency)
        if split.shard is not None
        else (None, lp.concurrency)
    )
    if conc == 0:
        return None
    if split.stored and owns is not None:
        mine = owns

        def owns(i: int) -> bool:
            return mine(i) and f"{lp.label}#{i}" not in split.stored

    buf: list[RequestRecord] = []
    measured = range(spec.warmup, spec.warmup + spec.requests)
    # A shard run again whose measured requests of this level are all stored sends none of
    # them: it neither waits for the others nor overwrites the start it recorded.
    common = (
        await _common_start(split, cid, lp) if owns is None or any(map(owns, measured)) else None
    )
    offset = clock_offset_ns()

    async def keep(i: int, s: RequestSample) -> None:
        if i >= spec.warmup:
            buf.append(sample_record(cid, lp.label, i, s, shard=split.shard, offset_ns=offset))
        if len(buf) >= 200:
            batch = buf[:]
            buf.clear()
            await asyncio.to_thread(store.add_requests, run_id, batch)

    samples = await run_level(
        provider,
        prompts,
        arrival=spec.arrival,
        concurrency=conc,
        rate=lp.rate,
        requests=spec.requests,
        warmup=spec.warmup,
        duration_s=spec.duration_s,
        output_tokens=spec.output_tokens,
        seed=spec.seed,
        on_done=keep,
        owns=owns,
        start_ns=common[0] - offset if common else None,
    )
    if buf:
        await asyncio.to_thread(store.add_requests, run_id, buf)
    if common is not None and split.barrier is not None:
        await split.barrier.record(f"{cid} · {lp.label}", *common)
    return compute_level(
        [s for _, s in samples],
        label=lp.label,
        slo=spec.slo,
        concurrency=lp.concurrency,
        rate=lp.rate,
    )


async def _sweep(
    provider: Provider,
    spec: PerfSpec,
    prompts: list[str],
    store: RunStore,
    run_id: str,
    on_level: Callable[[str, LevelMetrics], None] | None,
    split: _Split | None = None,
) -> CandidatePerf:
    split = split or _Split()
    cid = provider.candidate.id
    res = CandidatePerf(candidate=cid, model=provider.candidate.model)
    prev: LevelMetrics | None = None
    for lp in _plan(spec):
        lv = await _level(provider, spec, prompts, store, run_id, lp, split)
        if lv is None:
            continue
        res.levels.append(lv)
        if on_level:
            on_level(cid, lv)
        if (
            spec.stop_at_saturation
            and split.shard is None  # shards cannot agree where to stop: they run every level
            and prev is not None
            and prev.output_throughput > 0
            and lv.output_throughput < prev.output_throughput * (1 + spec.saturation_gain)
        ):
            res.saturated_at = lp.label
            break
        prev = lv
    return res


def _with_cost(
    res: CandidatePerf, c: Candidate, spec: PerfSpec, catalog: Catalog, monthly: int
) -> CandidatePerf:
    """The operating point and the cost at it."""
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
    return res


def merge_perf(
    store: RunStore, run_id: str, catalog: Catalog, cands: list[Candidate], monthly: int
) -> list[CandidatePerf]:
    """The results of a performance run recomputed from its stored samples: every shard and
    worker of a level together (exact percentiles of the union)."""
    run = store.get_run(run_id)
    spec = PerfSpec.model_validate(run.meta["spec"])
    plan = _plan(spec)
    models = run.meta.get("models") or {}
    skews = start_skews(run.meta)
    out = []
    for c in cands:
        res = CandidatePerf(candidate=c.id, model=str(models.get(c.id, c.model)))
        res.levels = merged_levels(store, run_id, plan, c.id, slo=spec.slo)
        for lv in res.levels:
            lv.start_skew_ms = skews.get(f"{c.id} · {lv.label}")
        out.append(_with_cost(res, c, spec, catalog, monthly))
    return out


def _pool_sized(c: Candidate, spec: PerfSpec) -> Candidate:
    """The candidate with a connection pool that holds the largest level: the load pattern is
    the limit, or requests would wait for a connection inside the measured time."""
    need = max(
        [*spec.concurrency, c.provider.max_concurrency] if spec.arrival == "concurrency" else [512]
    )
    return c.model_copy(
        update={
            "provider": c.provider.model_copy(
                update={"max_concurrency": max(need, c.provider.max_concurrency)}
            )
        }
    )


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
    shard: Shard | None = None,
    run_id: str | None = None,
    workers: int = 1,
    start_timeout_s: float = 600.0,
) -> tuple[str, list[CandidatePerf]]:
    """Sweep every candidate; store requests and results; return (run id, results).

    ``workers`` > 1 runs each level over that many local processes from a common start and
    computes it from their stored samples. ``shard`` sends only that shard's slice of every
    level into the run ``run_id`` that all shards share (created by the first); the results
    of the whole run are computed from all shards' samples when the last one ends. A shard
    run again sends only its requests not stored yet. Shards start each level together: each
    waits (up to ``start_timeout_s``) until every shard of the level is ready, through the
    store (``StartBarrier``)."""
    if shard is not None and workers > 1:
        raise NovaError("give --shard or --workers, not both: a shard runs in one process")
    if candidates is not None:
        cands = candidates
    elif loaded is not None:
        cands = [loaded.config.candidate(c) for c in spec.candidates]
    else:
        cands = []
    prompts = _prompts(ws, spec, datasets or ["dialogues", "compliance", "escalations"])
    prof = loaded.config.profiles.get(spec.profile or "") if loaded is not None else None
    monthly = (prof or Profile()).monthly_conversations
    meta: dict[str, Any] = {
        "spec": spec.model_dump(mode="json"),
        "models": {c.id: c.model for c in cands},
        "prompts": len(prompts),
        **({"workers": workers} if workers > 1 else {}),
    }

    def create(rid: str | None = None) -> RunRecord:
        return store.start_run(
            "performance",
            parent_id=parent_id,
            profile=spec.profile,
            config_hash=loaded.hash if loaded else None,
            workspace_rev=workspace_revision(ws.root) if ws else None,
            meta={**meta, **({"shards": shard.count} if shard else {})},
            run_id=rid,
        )

    if shard is not None:
        if run_id is None:
            raise NovaError("a shard needs the run id all shards share: give --run-id")
        run = join_run(store, run_id, "performance", shard, create)
        if run.meta.get("spec") != meta["spec"]:
            raise NovaError(f"run {run.id} was started with other load settings than this shard")
    else:
        run = create(run_id)
    results: list[CandidatePerf] = []
    if on_started is not None:
        on_started(run.id)
    status: RunStatus = "completed"
    try:
        for c in cands:
            try:
                sized = _pool_sized(c, spec)
                provider = create_provider(sized, workspace_root=ws.root if ws else None)
                await provider.start()
            except NovaError as exc:
                results.append(CandidatePerf(candidate=c.id, model=c.model, error=str(exc)))
                continue
            split = _Split(shard=shard)
            if shard is not None:  # run again: only the requests not stored yet
                split.stored = {k[1] for k in store.done_keys(run.id) if k[0] == c.id and k[1]}
                attempt = str(run.meta[shard.key]["started_at"])
                split.barrier = StartBarrier(store, run.id, shard, attempt, start_timeout_s)
            if workers > 1:
                split.pool = await asyncio.to_thread(
                    WorkerPool, workers, sized, ws.root if ws else None, prompts
                )
            try:
                info = await provider.model_info()
                res = await _sweep(provider, spec, prompts, store, run.id, on_level, split)
                res.model_reported = info.id if info else None
            finally:
                await provider.close()
                if split.pool is not None:
                    split.pool.close()
            results.append(_with_cost(res, c, spec, catalog, monthly))
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        end = {"results": [r.model_dump(mode="json") for r in results]}
        if shard is None:
            store.finish_run(run.id, status, meta=end)
        else:

            def merge(_states: list[ShardState]) -> dict[str, Any]:
                merged = merge_perf(store, run.id, catalog, cands, monthly)
                return {"results": [r.model_dump(mode="json") for r in merged]}

            sent = sum(lv.requests for r in results for lv in r.levels)
            finish_shard(store, run.id, shard, status, items=sent, meta=end, merge=merge)
    return run.id, results
