"""``nova eval run``: every case to every candidate, graded, stored, resumable.

Work is a bounded queue (memory stays flat for 10,000 cases); each answer is stored together
with its grades in one transaction, batched every few milliseconds. A case counts as done once
that transaction committed: a resumed run (``--resume RUN``) calls none of them again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from nova._provenance import workspace_revision
from nova.config import Candidate, LoadedConfig, Workspace
from nova.datasets import Case, Dataset, load_dataset
from nova.errors import ConfigError, NovaError, Problem
from nova.evals._graders import ESCALATION_TOOL, Grade, GradeContext, grade_case
from nova.evals._judge import LLMJudge
from nova.providers import (
    CandidateClient,
    ChatRequest,
    ChatResponse,
    Message,
    ProviderError,
    ResponseCache,
    ToolSpec,
    create_provider,
)
from nova.store import GradeRecord, RequestRecord, RunStatus, RunStore

__all__ = [
    "ESCALATION_TOOL_SPEC",
    "EvalSpec",
    "Progress",
    "default_spec",
    "run_eval",
    "select_cases",
]

ESCALATION_TOOL_SPEC = ToolSpec(
    name=ESCALATION_TOOL,
    description="Hand the conversation over to a human agent. Use it for formal complaints, "
    "legal threats, emergencies, signs of self-harm, repeated failure, or when the customer "
    "asks for a human.",
    parameters={
        "type": "object",
        "properties": {
            "reason": {"type": "string", "description": "Why a human is needed"},
            "summary": {"type": "string", "description": "Short factual summary for the agent"},
        },
        "required": ["reason"],
    },
)


class EvalSpec(BaseModel):
    """What one quality run evaluates."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    """Profile of nova.yaml."""
    candidates: list[str]
    """Candidate ids to evaluate."""
    baseline: str | None = None
    """Candidate id win rates are measured against."""
    datasets: list[str]
    """Dataset names under ``datasets/``."""
    judge: str | None = None
    """Judge candidate id."""
    repeats: int = 1
    """Samples per case."""
    max_cases: int | None = None
    """Cases per dataset (stratified sample) for quick runs."""
    temperature: float = 0.0
    """Sampling temperature."""
    max_tokens: int = 512
    """Output tokens per answer."""
    seed: int = 1234
    """Seed of sampling, case selection and statistics."""
    concurrency: int | None = None
    """Most cases in flight overall (default: sum of the candidates' max_concurrency)."""


@dataclass
class Progress:
    """Counters a progress display reads."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    errors: int = 0
    per_candidate: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


def select_cases(ds: Dataset, max_cases: int | None, seed: int) -> list[Case]:
    """All cases, or a sample stratified by (category, language) of at most ``max_cases``."""
    if max_cases is None or max_cases >= len(ds.cases):
        return ds.cases
    rng = random.Random(f"{seed}:{ds.sha256}")
    strata: dict[tuple[str, str], list[Case]] = {}
    for c in ds.cases:
        strata.setdefault((c.category, c.language), []).append(c)
    chosen: list[Case] = []
    for key in sorted(strata):
        share = max(1, round(max_cases * len(strata[key]) / len(ds.cases)))
        chosen += rng.sample(strata[key], min(share, len(strata[key])))
    keep = {c.id for c in chosen[:max_cases]}
    return [c for c in ds.cases if c.id in keep]


def _facts(case: Case) -> dict[str, object]:
    esc = next(
        (e.params.get("expected", True) for e in case.expect if e.grader == "escalation"), None
    )
    return {
        "category": case.category,
        "language": case.language,
        "weight": case.weight,
        "escalation": esc,
    }


def _system_prompt(ws: Workspace) -> str | None:
    path = ws.guardrails_dir / "safety_system_prompt.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _request(case: Case, system: str | None, spec: EvalSpec, repeat: int) -> ChatRequest:
    msgs: list[Message] = []
    sys_text = case.system if case.system is not None else system
    if sys_text:
        msgs.append(Message(role="system", content=sys_text))
    msgs += [Message(role=m.role, content=m.content) for m in case.messages]
    return ChatRequest(
        messages=msgs,
        max_tokens=spec.max_tokens,
        temperature=spec.temperature,
        seed=spec.seed + repeat,
        tools=[ESCALATION_TOOL_SPEC],
        case_id=case.id,
    )


def _record(
    cid: str,
    case_id: str,
    repeat: int,
    req: ChatRequest,
    resp: ChatResponse | None,
    err: ProviderError | None,
) -> RequestRecord:
    body = req.model_dump(mode="json", exclude_none=True)
    if resp is None:
        return RequestRecord(
            candidate=cid,
            case_id=case_id,
            repeat=repeat,
            request=body,
            text=err.partial_text if err else None,
            error_type=err.kind if err else "error",
            error_message=str(err) if err else None,
            sent_at=dt.datetime.now(dt.UTC),
        )
    t = resp.timings
    return RequestRecord(
        candidate=cid,
        case_id=case_id,
        repeat=repeat,
        request=body,
        response={
            "tool_calls": [c.model_dump() for c in resp.tool_calls],
            "cached": resp.cached,
            "attempts": resp.attempts,
            "request_id": resp.request_id,
        },
        text=resp.text,
        finish_reason=resp.finish_reason,
        model_reported=resp.model_reported,
        prompt_tokens=resp.usage.prompt_tokens,
        completion_tokens=resp.usage.completion_tokens,
        usage_source=resp.usage.source,
        sent_at=dt.datetime.now(dt.UTC),
        t_send_ns=t.t_send_ns,
        t_first_byte_ns=t.t_first_byte_ns,
        t_first_token_ns=t.t_first_token_ns,
        t_last_token_ns=t.t_last_token_ns,
        chunk_times_ns=t.chunk_times_ns or None,
    )


def _error_grade(cid: str, case: Case, repeat: int, detail: str) -> GradeRecord:
    """The grade of a case whose answer never came: a failure, with the reason."""
    return GradeRecord(
        candidate=cid, case_id=case.id, repeat=repeat, grader="error", passed=False, detail=detail
    )


class _Writer:
    """Batches results into transactions (one per ~20 ms or 100 cases)."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.buf: list[tuple[RequestRecord | None, list[GradeRecord]]] = []
        self.lock = asyncio.Lock()
        self.last = time.monotonic()

    async def add(
        self,
        req: RequestRecord | None,
        grades: list[GradeRecord],
        also: list[RequestRecord] | None = None,
    ) -> None:
        """Queue a result; ``also`` (its judge calls) lands in the same transaction."""
        self.buf.append((req, grades))
        self.buf += [(r, []) for r in also or []]
        if len(self.buf) >= 100 or time.monotonic() - self.last > 0.02:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            batch, self.buf = self.buf, []
            self.last = time.monotonic()
            if batch:
                await asyncio.to_thread(self.store.add_results, self.run_id, batch)


async def run_eval(
    ws: Workspace,
    loaded: LoadedConfig,
    spec: EvalSpec,
    store: RunStore,
    *,
    resume: str | None = None,
    progress: Progress | None = None,
    on_update: Callable[[Progress], None] | None = None,
    price_meta: dict[str, object] | None = None,
    parent_id: str | None = None,
    on_started: Callable[[str], None] | None = None,
) -> str:
    """Run the evaluation; return the run id. Candidate failures are data, not crashes.

    ``on_started`` is called with the run id as soon as the run is recorded (so a caller can
    link it before any case runs)."""
    cfg = loaded.config
    progress = progress or Progress()
    # 1. datasets (content-hashed) and cases
    datasets: list[Dataset] = []
    problems: list[Problem] = []
    for name in spec.datasets:
        path = ws.datasets_dir / f"{name}.jsonl"
        if not path.is_file():
            problems.append(Problem(path, None, "", "dataset file not found"))
            continue
        datasets.append(load_dataset(path))
    if problems:
        raise ConfigError(problems, "datasets missing")
    cases = [c for ds in datasets for c in select_cases(ds, spec.max_cases, spec.seed)]
    if not cases:
        raise NovaError(
            "no eval cases: the datasets are empty; add cases to datasets/*.jsonl "
            "(or run `nova init --force` for the starter sets)"
        )
    system = _system_prompt(ws)
    meta: dict[str, object] = {
        "spec": spec.model_dump(mode="json"),
        "datasets": {ds.name: {"sha256": ds.sha256, "cases": len(ds.cases)} for ds in datasets},
        "cases": len(cases),
        "system_prompt_sha256": hashlib.sha256((system or "").encode()).hexdigest(),
        "models": {c: cfg.candidate(c).model for c in spec.candidates},
        "case_facts": {c.id: _facts(c) for c in cases},
        **(price_meta or {}),
    }
    # 2. the run (new or resumed)
    if resume:
        run = store.get_run(resume)
        if run.kind != "quality":
            raise NovaError(f"run {run.id} is a {run.kind} run, not a quality run")
        run_id = run.id
        # Cases that failed (timeouts, unreachable, not started) are tried again on resume;
        # only answered cases count as done.
        store.delete_failed(run_id, spec.candidates)
        done = store.done_keys(run_id)
        old_spec = run.meta.get("spec")
        if old_spec and old_spec != spec.model_dump(mode="json"):
            raise NovaError(
                f"run {run_id} was started with other settings; resume it with "
                "the same options (or start a new run)"
            )
    else:
        run_id = store.start_run(
            "quality",
            parent_id=parent_id,
            profile=spec.profile,
            config_hash=loaded.hash,
            workspace_rev=workspace_revision(ws.root),
            meta=meta,
        ).id
        done = set()
    if on_started is not None:
        on_started(run_id)
    # 3. clients (a candidate that cannot start is recorded, the others run)
    cache = ResponseCache(ws.state_dir / "cache" / "responses")
    clients: dict[str, CandidateClient] = {}
    not_measured: dict[str, str] = {}
    ids = list(dict.fromkeys([*spec.candidates, *([spec.judge] if spec.judge else [])]))
    for cid in ids:
        cand: Candidate = cfg.candidate(cid)
        try:
            client = CandidateClient(
                create_provider(cand, workspace_root=ws.root), cache=cache, seed=spec.seed
            )
            await client.start()
            clients[cid] = client
        except NovaError as exc:
            not_measured[cid] = str(exc)
    writer = _Writer(store, run_id)
    judge: LLMJudge | None = None
    # Rubric-judge calls are held back and stored with the answer they grade, so a resumed
    # run never finds judge calls of a case it must ask again. Pairwise calls stand alone.
    held: dict[str, list[RequestRecord]] = {}
    if spec.judge and spec.judge in clients:
        judge_id = spec.judge

        async def on_judge_call(
            label: str, req: ChatRequest, resp: ChatResponse | None, err: ProviderError | None
        ) -> None:
            rec = _record(judge_id, label, 0, req, resp, err)
            case_label = label.rsplit("#", 1)[0]  # without the attempt number
            if case_label in held:
                held[case_label].append(rec)
            else:
                await writer.add(rec, [])

        judge = LLMJudge(clients[judge_id], on_call=on_judge_call)

    status: RunStatus = "completed"
    try:
        # 4. answers + grades
        items = [
            (r, case, cid) for r in range(spec.repeats) for case in cases for cid in spec.candidates
        ]
        progress.total = len(items)
        queue: asyncio.Queue[tuple[int, Case, str]] = asyncio.Queue()
        for it in items:
            if (it[2], it[1].id, it[0]) in done:
                progress.skipped += 1
                progress.done += 1
            else:
                queue.put_nowait(it)

        async def one(repeat: int, case: Case, cid: str) -> None:
            req = _request(case, system, spec, repeat)
            client = clients.get(cid)
            resp: ChatResponse | None = None
            err: ProviderError | None = None
            if client is None:
                grades = [
                    _error_grade(cid, case, repeat, f"not measured: {not_measured.get(cid, '')}")
                ]
                rec = RequestRecord(
                    candidate=cid,
                    case_id=case.id,
                    repeat=repeat,
                    request=req.model_dump(mode="json", exclude_none=True),
                    error_type="not_started",
                    error_message=not_measured.get(cid),
                )
                await writer.add(rec, grades)
                progress.errors += 1
                return
            try:
                resp = await client.chat(req)
            except ProviderError as exc:
                err = exc
            label = f"{case.id}@{cid}#r{repeat}"
            judge_calls = held[label] = []
            if resp is not None:

                async def judge_fn(c: Case, rubric: str, answer: str) -> Grade:
                    assert judge is not None
                    return await judge.rubric(c, rubric, answer, label=label)

                gs = await grade_case(case, resp, GradeContext(judge=judge_fn if judge else None))
                grades = [
                    GradeRecord(
                        candidate=cid,
                        case_id=case.id,
                        repeat=repeat,
                        grader=g.grader,
                        passed=g.passed,
                        score=g.score,
                        detail=g.detail,
                    )
                    for g in gs
                ]
            else:
                progress.errors += 1
                grades = [_error_grade(cid, case, repeat, str(err))]
            del held[label]
            await writer.add(_record(cid, case.id, repeat, req, resp, err), grades, judge_calls)

        async def worker() -> None:
            while True:
                try:
                    repeat, case, cid = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await one(repeat, case, cid)
                progress.done += 1
                progress.per_candidate[cid] = progress.per_candidate.get(cid, 0) + 1
                if on_update:
                    on_update(progress)

        n_workers = spec.concurrency or min(
            256, sum(cfg.candidate(c).provider.max_concurrency for c in spec.candidates)
        )
        await asyncio.gather(*(worker() for _ in range(max(1, n_workers))))
        await writer.flush()
        # 5. pairwise judging against the baseline (repeat 0), in both orders
        if judge is not None and spec.baseline:
            await _pairwise(store, run_id, spec, cases, judge, writer)
            await writer.flush()
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        try:
            await writer.flush()
        finally:
            for client in clients.values():
                await client.close()
            store.finish_run(
                run_id, status, meta={"not_measured": not_measured, "cache_hits": cache.hits}
            )
    return run_id


async def _pairwise(
    store: RunStore,
    run_id: str,
    spec: EvalSpec,
    cases: list[Case],
    judge: LLMJudge,
    writer: _Writer,
) -> None:
    assert spec.baseline is not None
    answers: dict[tuple[str, str], str] = {}
    for r in store.iter_requests(run_id):
        if r.repeat == 0 and r.case_id is not None and r.error_type is None:
            answers[(r.candidate, r.case_id)] = r.text or ""
    done = {
        (g.candidate, g.case_id)
        for g in store.iter_grades(run_id)
        if g.grader == f"pairwise:{spec.baseline}"
    }
    by_id = {c.id: c for c in cases}
    jobs = []
    for cid in spec.candidates:
        if cid == spec.baseline:
            continue
        for case_id, case in by_id.items():
            a = answers.get((cid, case_id))
            b = answers.get((spec.baseline, case_id))
            if a is None or b is None or (cid, case_id) in done:
                continue
            jobs.append((cid, case, a, b))

    async def judge_one(cid: str, case: Case, a: str, b: str) -> None:
        v = await judge.pairwise(case, a, b, label=f"{case.id}@{cid}:vs:{spec.baseline}")
        await writer.add(
            None,
            [
                GradeRecord(
                    candidate=cid,
                    case_id=case.id,
                    repeat=0,
                    grader=f"pairwise:{spec.baseline}",
                    passed=v.consistent,
                    score=v.outcome,
                    detail=v.detail,
                )
            ],
        )

    sem = asyncio.Semaphore(8)

    async def guarded(job: tuple[str, Case, str, str]) -> None:
        async with sem:
            await judge_one(*job)

    await asyncio.gather(*(guarded(j) for j in jobs))


def default_spec(
    cfg: LoadedConfig,
    profile: str | None,
    candidates: list[str] | None,
) -> EvalSpec:
    """The spec a profile describes (candidates may be overridden)."""
    c = cfg.config
    chosen = c.profile_candidates(profile, candidates)
    prof = c.profiles.get(profile) if profile else None
    q = prof.quality if prof and prof.quality else None
    baseline = next((x.id for x in c.candidates if x.role == "baseline" and x.id in chosen), None)
    return EvalSpec(
        profile=profile,
        candidates=chosen,
        baseline=baseline,
        datasets=q.datasets if q else ["dialogues", "compliance", "escalations"],
        judge=q.judge if q else None,
        repeats=q.repeats if q else 1,
        max_cases=q.max_cases if q else None,
        temperature=q.temperature if q else 0.0,
        max_tokens=q.max_tokens if q else 512,
        seed=q.seed if q else 1234,
    )
