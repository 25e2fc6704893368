"""``nova eval run``: every case to every candidate, graded, stored, resumable.

Cases are streamed from the dataset files (checked in one pass first, then read again one at
a time per repeat), and each case's hash and facts go to the store with the run: memory stays
flat in the number of cases (``benchmarks/bench_store_growth.py``). Workers draw the work from
one generator (no list of all of it); each answer is stored together with its grades in one
transaction, committed by a timer every ``FLUSH_WINDOW_S``.
A case counts as done once that transaction committed: a resumed run (``--resume RUN``) takes
the stored settings, refuses when a dataset changed, and calls none of the committed cases
again.

``run_eval`` is the list of steps: load cases → record the run → start clients (and judge) →
answer and grade → pairwise judging → commit and finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from nova._provenance import workspace_revision
from nova.config import Candidate, LoadedConfig, Workspace
from nova.datasets import Case
from nova.errors import NovaError
from nova.evals._graders import ESCALATION_TOOL, Grade, GradeContext, grade_case
from nova.evals._judge import LLMJudge
from nova.evals._sources import (
    CaseSource,
    case_rows,
    case_sha256,
    changed_since,
    iter_cases,
    load_sources,
    select_cases,
)
from nova.providers import (
    CandidateClient,
    ChatRequest,
    ChatResponse,
    Message,
    ProviderError,
    ResponseCache,
    Timings,
    ToolSpec,
    create_provider,
)
from nova.store import GradeRecord, RequestRecord, RunRecord, RunStatus, RunStore

if TYPE_CHECKING:
    from nova.shard import Shard, ShardState

if TYPE_CHECKING:
    from nova.safety import Rails

__all__ = [
    "ESCALATION_TOOL_SPEC",
    "FLUSH_WINDOW_S",
    "EvalSpec",
    "Progress",
    "case_sha256",
    "default_spec",
    "resume_spec",
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
    guardrails: bool = False
    """Run the workspace rails (guardrails/rails.yaml): input rails before the model, output
    rails after it; the customer-visible text is graded and every verdict is stored."""


@dataclass
class Progress:
    """Counters a progress display reads."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    errors: int = 0
    per_candidate: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


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
    guardrails: dict[str, Any] | None = None,
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
            response={"guardrails": guardrails} if guardrails else None,
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
            **({"guardrails": guardrails} if guardrails else {}),
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


async def _guarded_chat(
    client: CandidateClient, req: ChatRequest, rails: Rails
) -> tuple[ChatRequest, ChatResponse | None, dict[str, Any], ProviderError | None]:
    """Input rails, the model (unless blocked), output rails: what the customer would see.

    Returns the request with the input rails applied (redacted: this is what is stored), the
    response with the customer-visible text (None when the model failed), the verdicts, and
    the model's error. A blocked input never reaches the model: its answer is the refusal."""
    original = [m.model_dump(mode="json", exclude_none=True) for m in req.messages]
    rin = await rails.acheck_input(original)
    record: dict[str, Any] = {
        "input": [v.model_dump(mode="json") for v in rin.verdicts],
        "blocked": "input" if rin.blocked else None,
    }
    sent = req.model_copy(update={"messages": [Message(**m) for m in rin.messages or original]})
    if rin.blocked:
        now = time.perf_counter_ns()
        resp = ChatResponse(
            text=rin.refusal or "",
            finish_reason="guardrail",
            timings=Timings(t_send_ns=now, t_end_ns=now),
        )
        return sent, resp, record, None
    try:
        resp = await client.chat(sent)
    except ProviderError as exc:
        return sent, None, record, exc
    rout = await rails.acheck_output(resp.text, original)
    record["output"] = [v.model_dump(mode="json") for v in rout.verdicts]
    visible = rout.refusal if rout.blocked else rout.text
    if rout.blocked:
        record["blocked"] = "output"
    if visible != resp.text:
        record["model_text"] = resp.text  # the run store keeps the evidence; logs never do
        resp = resp.model_copy(update={"text": visible or ""})
    return sent, resp, record, None


def _error_grade(cid: str, case: Case, repeat: int, detail: str) -> GradeRecord:
    """The grade of a case whose answer never came: a failure, with the reason."""
    return GradeRecord(
        candidate=cid, case_id=case.id, repeat=repeat, grader="error", passed=False, detail=detail
    )


FLUSH_WINDOW_S = 0.05
"""The writer commits buffered results at least this often (a timer, not only on the next
result). After ``kill -9`` a resumed run calls again only the cases that were in flight plus
those answered in the last window: at most ``concurrency`` + answers of 50 ms."""


class _Writer:
    """Batches results into transactions: every ``FLUSH_WINDOW_S`` (timer) or 100 results."""

    def __init__(self, store: RunStore, run_id: str, window_s: float = FLUSH_WINDOW_S) -> None:
        self.store, self.run_id, self.window_s = store, run_id, window_s
        self.buf: list[tuple[RequestRecord | None, list[GradeRecord]]] = []
        self.lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def add(
        self,
        req: RequestRecord | None,
        grades: list[GradeRecord],
        also: list[RequestRecord] | None = None,
    ) -> None:
        """Queue a result; ``also`` (its judge calls) lands in the same transaction."""
        self.buf.append((req, grades))
        self.buf += [(r, []) for r in also or []]
        if len(self.buf) >= 100:
            await self.flush()

    async def flush(self) -> None:
        """Commit what is buffered (one transaction)."""
        async with self.lock:
            batch, self.buf = self.buf, []
            if batch:
                await asyncio.to_thread(self.store.add_results, self.run_id, batch)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.window_s)
            # Shielded: stopping the timer never abandons a commit half-way; stop() then
            # waits for it on the lock.
            await asyncio.shield(self.flush())

    def start(self) -> None:
        """Start the flush timer."""
        if self._timer is None:
            self._timer = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Stop the timer and commit the rest."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self.flush()


def resume_spec(store: RunStore, run_id: str) -> EvalSpec:
    """The spec a quality run was started with, to resume it without repeating options."""
    run = store.get_run(run_id)
    if run.kind != "quality":
        raise NovaError(f"run {run.id} is a {run.kind} run, not a quality run")
    stored = run.meta.get("spec")
    if not isinstance(stored, dict):
        raise NovaError(f"run {run.id} stored no settings; start a new run instead")
    return EvalSpec.model_validate(stored)


# -- the steps of run_eval, in order ---------------------------------------------------------


def _load_rails(ws: Workspace, loaded: LoadedConfig, spec: EvalSpec) -> Rails | None:
    """Step 1b: the workspace rails when the spec asks for them."""
    if not spec.guardrails:
        return None
    from nova.safety import load_rails

    return load_rails(ws.root, config=loaded.config)


def _run_meta(
    loaded: LoadedConfig,
    spec: EvalSpec,
    sources: list[CaseSource],
    system: str | None,
    price_meta: dict[str, object] | None,
    rails: Rails | None = None,
) -> dict[str, object]:
    """Step 2a: what the run records about its inputs (the hash of each case and its facts
    go to the run's cases, ``RunStore.iter_run_cases``)."""
    cfg = loaded.config
    return {
        "spec": spec.model_dump(mode="json"),
        "datasets": {
            s.info.name: {"sha256": s.info.sha256, "cases": s.info.cases} for s in sources
        },
        "cases": sum(s.selected() for s in sources),
        "system_prompt_sha256": hashlib.sha256((system or "").encode()).hexdigest(),
        "models": {c: cfg.candidate(c).model for c in spec.candidates},
        "guardrails": _guardrails_meta(loaded, rails),
        **(price_meta or {}),
    }


def _guardrails_meta(loaded: LoadedConfig, rails: Rails | None) -> dict[str, object]:
    """Whether the rails ran, and which (with the hash of the rails.yaml they came from)."""
    if rails is None:
        return {"on": False}
    rails_file = loaded.file.parent / "guardrails" / "rails.yaml"
    return {
        "on": True,
        "rails_sha256": hashlib.sha256(rails_file.read_bytes()).hexdigest(),
        "rails": rails.names,
    }


def _open_run(
    ws: Workspace,
    loaded: LoadedConfig,
    spec: EvalSpec,
    store: RunStore,
    meta: dict[str, object],
    sources: list[CaseSource],
    resume: str | None,
    parent_id: str | None,
    shard: Shard | None = None,
    run_id: str | None = None,
) -> tuple[str, bool]:
    """Step 2b: a new run, or the resumed one (True: cases may be answered already).

    A shard creates the run ``run_id`` (or ``resume``) when it is the first, else joins it
    (same settings and datasets, as a resumed run). The run is recorded together with its
    cases (hash and facts of each, streamed from the datasets)."""
    if shard is not None:
        from nova.shard import join_run

        target = run_id or resume
        if target is None:
            raise NovaError("a shard needs the run id all shards share: give --run-id")

        def create(rid: str) -> RunRecord:
            return store.start_run(
                "quality",
                parent_id=parent_id,
                profile=spec.profile,
                config_hash=loaded.hash,
                workspace_rev=workspace_revision(ws.root),
                meta={**meta, "shards": shard.count},
                run_id=rid,
                cases=case_rows(sources),
            )

        resume = join_run(store, target, "quality", shard, create).id
    if not resume:
        run = store.start_run(
            "quality",
            parent_id=parent_id,
            profile=spec.profile,
            config_hash=loaded.hash,
            workspace_rev=workspace_revision(ws.root),
            meta=meta,
            cases=case_rows(sources),
        )
        return run.id, False
    run = store.get_run(resume)
    if run.kind != "quality":
        raise NovaError(f"run {run.id} is a {run.kind} run, not a quality run")
    old_spec = run.meta.get("spec")
    new_spec = spec.model_dump(mode="json")
    if old_spec and "guardrails" not in old_spec and not spec.guardrails:
        new_spec.pop("guardrails")  # runs recorded before the field existed had none
    if old_spec and old_spec != new_spec:
        raise NovaError(
            f"run {run.id} was started with other settings; `nova eval run --resume {run.id}` "
            "alone takes the stored ones (or start a new run)"
        )
    changed = changed_since(store, run, sources)
    if changed:
        raise NovaError(
            f"cannot resume run {run.id}: the datasets changed since it started ("
            + "; ".join(changed)
            + "); restore them, or start a new run"
        )
    # Cases that failed (timeouts, unreachable, not started) are tried again on resume;
    # only answered cases count as done.
    store.delete_failed(run.id, spec.candidates, _Owned(shard) if shard is not None else None)
    return run.id, True


@dataclass(frozen=True)
class _Owned:
    """The case ids a shard owns, as a container (no list of them)."""

    shard: Shard

    def __contains__(self, case_id: object) -> bool:
        return isinstance(case_id, str) and self.shard.owns(case_id)


async def _start_clients(
    ws: Workspace, loaded: LoadedConfig, spec: EvalSpec
) -> tuple[dict[str, CandidateClient], dict[str, str], ResponseCache]:
    """Step 3: one client per candidate and judge; one that cannot start is recorded."""
    cache = ResponseCache(ws.state_dir / "cache" / "responses")
    clients: dict[str, CandidateClient] = {}
    not_measured: dict[str, str] = {}
    ids = list(dict.fromkeys([*spec.candidates, *([spec.judge] if spec.judge else [])]))
    for cid in ids:
        cand: Candidate = loaded.config.candidate(cid)
        try:
            client = CandidateClient(
                create_provider(cand, workspace_root=ws.root), cache=cache, seed=spec.seed
            )
            await client.start()
            clients[cid] = client
        except NovaError as exc:
            not_measured[cid] = str(exc)
    return clients, not_measured, cache


@dataclass
class _Judging:
    """The judge and the rubric-judge calls held back until the answer they grade is stored
    (so a resumed run never finds judge calls of a case it must ask again)."""

    judge: LLMJudge | None
    held: dict[str, list[RequestRecord]]


def _make_judge(spec: EvalSpec, clients: dict[str, CandidateClient], writer: _Writer) -> _Judging:
    """Step 3b: the LLM judge, when the spec names one that started."""
    held: dict[str, list[RequestRecord]] = {}
    if not spec.judge or spec.judge not in clients:
        return _Judging(None, held)
    judge_id = spec.judge

    async def on_judge_call(
        label: str, req: ChatRequest, resp: ChatResponse | None, err: ProviderError | None
    ) -> None:
        rec = _record(judge_id, label, 0, req, resp, err)
        case_label = label.rsplit("#", 1)[0]  # without the attempt number
        if case_label in held:
            held[case_label].append(rec)
        else:  # pairwise calls stand alone
            await writer.add(rec, [])

    return _Judging(LLMJudge(clients[judge_id], on_call=on_judge_call), held)


async def _answer_one(
    repeat: int,
    case: Case,
    cid: str,
    *,
    spec: EvalSpec,
    system: str | None,
    clients: dict[str, CandidateClient],
    not_measured: dict[str, str],
    judging: _Judging,
    writer: _Writer,
    progress: Progress,
    rails: Rails | None = None,
) -> None:
    """One answer of one candidate to one case (through the rails when on), graded and
    queued for storage."""
    req = _request(case, system, spec, repeat)
    client = clients.get(cid)
    if client is None:
        why = not_measured.get(cid, "")
        rec = RequestRecord(
            candidate=cid,
            case_id=case.id,
            repeat=repeat,
            request=req.model_dump(mode="json", exclude_none=True),
            error_type="not_started",
            error_message=not_measured.get(cid),
        )
        await writer.add(rec, [_error_grade(cid, case, repeat, f"not measured: {why}")])
        progress.errors += 1
        return
    resp: ChatResponse | None = None
    err: ProviderError | None = None
    guard: dict[str, Any] | None = None
    if rails is not None:
        req, resp, guard, err = await _guarded_chat(client, req, rails)
    else:
        try:
            resp = await client.chat(req)
        except ProviderError as exc:
            err = exc
    label = f"{case.id}@{cid}#r{repeat}"
    judge_calls = judging.held[label] = []
    if resp is not None:
        judge = judging.judge

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
    del judging.held[label]
    await writer.add(_record(cid, case.id, repeat, req, resp, err, guard), grades, judge_calls)


_Answered = Callable[[list[str]], set[tuple[str, str | None, int]]]
"""The stored (candidate, case id, repeat) keys among these case ids (a resumed run)."""
_LOOKUP_BATCH = 500
"""Cases a resumed run looks up in the store at a time (it never holds every stored key)."""


async def _answer_all(
    sources: list[CaseSource],
    shard: Shard | None,
    answered: _Answered | None,
    *,
    loaded: LoadedConfig,
    spec: EvalSpec,
    system: str | None,
    clients: dict[str, CandidateClient],
    not_measured: dict[str, str],
    judging: _Judging,
    writer: _Writer,
    progress: Progress,
    on_update: Callable[[Progress], None] | None,
    rails: Rails | None = None,
) -> None:
    """Step 4: every (repeat, case, candidate) not yet answered, drawn one at a time by the
    workers from one generator (no list or queue of all of them; the cases streamed from the
    dataset files, once per repeat)."""
    cfg = loaded.config
    owned = sum(src.owned for src in sources)
    progress.total = spec.repeats * owned * len(spec.candidates)

    def pending() -> Iterator[tuple[int, Case, str]]:
        for r in range(spec.repeats):
            cases = iter_cases(sources, shard)
            while chunk := list(islice(cases, _LOOKUP_BATCH)):
                # Not yet handed out, so nothing of this session is stored for them.
                done = answered([c.id for c in chunk]) if answered is not None else set()
                for case in chunk:
                    for cid in spec.candidates:
                        if (cid, case.id, r) in done:
                            progress.skipped += 1
                            progress.done += 1
                        else:
                            yield r, case, cid

    # Workers share it safely: the generator never awaits, so one next() runs at a time.
    items = pending()

    async def worker() -> None:
        for repeat, case, cid in items:
            await _answer_one(
                repeat,
                case,
                cid,
                spec=spec,
                system=system,
                clients=clients,
                not_measured=not_measured,
                judging=judging,
                writer=writer,
                progress=progress,
                rails=rails,
            )
            progress.done += 1
            progress.per_candidate[cid] = progress.per_candidate.get(cid, 0) + 1
            if on_update:
                on_update(progress)

    n_workers = spec.concurrency or min(
        256, sum(cfg.candidate(c).provider.max_concurrency for c in spec.candidates)
    )
    await asyncio.gather(*(worker() for _ in range(max(1, n_workers))))
    await writer.flush()


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
    shard: Shard | None = None,
    run_id: str | None = None,
) -> str:
    """Run the evaluation; return the run id. Candidate failures are data, not crashes.

    ``on_started`` is called with the run id as soon as the run is recorded (so a caller can
    link it before any case runs). A resumed run refuses when its datasets changed.
    ``shard`` runs only the cases that shard owns, into the run ``run_id`` (or ``resume``)
    that all shards share; the run is complete when every shard is."""
    # On disk next to the store (a system temp dir may be memory-backed): the hash and facts
    # of each case while the run needs them.
    ws.state_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_spills(ws.state_dir)
    spill_dir = Path(tempfile.mkdtemp(prefix=f"{_spill_prefix()}{os.getpid()}-", dir=ws.state_dir))
    try:
        return await _run(
            ws,
            loaded,
            spec,
            store,
            spill_dir,
            resume=resume,
            progress=progress,
            on_update=on_update,
            price_meta=price_meta,
            parent_id=parent_id,
            on_started=on_started,
            shard=shard,
            run_id=run_id,
        )
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


def _spill_prefix() -> str:
    # "@" cannot occur in a host name, so "<host>@<pid>" parses whatever the host is called.
    return f"run-cases@{socket.gethostname()}@"


def remove_stale_spills(state_dir: Path) -> list[Path]:
    """Remove the case spill folders of runs on this host whose process is gone (a run
    killed with -9 cannot remove its own); return them."""
    removed = []
    prefix = _spill_prefix()
    for d in state_dir.glob(f"{prefix}*"):
        pid = d.name[len(prefix) :].split("-", 1)[0]  # <prefix><pid>-<random>
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _run(
    ws: Workspace,
    loaded: LoadedConfig,
    spec: EvalSpec,
    store: RunStore,
    spill_dir: Path,
    *,
    resume: str | None,
    progress: Progress | None,
    on_update: Callable[[Progress], None] | None,
    price_meta: dict[str, object] | None,
    parent_id: str | None,
    on_started: Callable[[str], None] | None,
    shard: Shard | None,
    run_id: str | None,
) -> str:
    """The steps of ``run_eval``; ``spill_dir`` holds each dataset's case hashes and facts."""
    progress = progress or Progress()
    sources = load_sources(
        ws.datasets_dir, spec.datasets, spec.max_cases, spec.seed, spill_dir, shard
    )
    rails = _load_rails(ws, loaded, spec)
    system = rails.system_prompt() if rails is not None else _system_prompt(ws)
    meta = _run_meta(loaded, spec, sources, system, price_meta, rails)
    run_id, resumed = _open_run(
        ws, loaded, spec, store, meta, sources, resume, parent_id, shard, run_id
    )
    rid = run_id

    def answered(case_ids: list[str]) -> set[tuple[str, str | None, int]]:
        return store.done_keys(rid, spec.candidates, case_ids)

    if on_started is not None:
        on_started(run_id)
    clients, not_measured, cache = await _start_clients(ws, loaded, spec)
    writer = _Writer(store, run_id)
    judging = _make_judge(spec, clients, writer)
    status: RunStatus = "completed"
    writer.start()
    try:
        await _answer_all(
            sources,
            shard,
            answered if resumed else None,
            loaded=loaded,
            spec=spec,
            system=system,
            clients=clients,
            not_measured=not_measured,
            judging=judging,
            writer=writer,
            progress=progress,
            on_update=on_update,
            rails=rails,
        )
        if judging.judge is not None and spec.baseline:  # step 5
            await _pairwise(
                store, run_id, spec, lambda: iter_cases(sources, shard), judging.judge, writer
            )
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        try:
            await writer.stop()
        finally:  # step 6
            for client in clients.values():
                await client.close()
            if rails is not None:
                await rails.aclose()
            end_meta = {"not_measured": not_measured, "cache_hits": cache.hits}
            if shard is None:
                store.finish_run(run_id, status, meta=end_meta)
            else:
                from nova.shard import finish_shard

                finish_shard(
                    store,
                    run_id,
                    shard,
                    status,
                    items=progress.total,
                    meta=end_meta,
                    merge=_merge_shards,
                )
    return run_id


def _merge_shards(states: list[ShardState]) -> dict[str, object]:
    """The run-level end meta of a sharded run: what each shard reported, combined."""
    not_measured: dict[str, str] = {}
    hits = 0
    for s in states:
        not_measured.update(s.meta.get("not_measured") or {})
        hits += int(s.meta.get("cache_hits") or 0)
    return {"not_measured": not_measured, "cache_hits": hits}


async def _pairwise(
    store: RunStore,
    run_id: str,
    spec: EvalSpec,
    cases: Callable[[], Iterable[Case]],
    judge: LLMJudge,
    writer: _Writer,
) -> None:
    """Step 5: each candidate's answer against the baseline's (repeat 0), judged in both
    orders; 8 at a time, drawn from the streamed cases."""
    baseline = spec.baseline
    assert baseline is not None
    done = {
        (g.candidate, g.case_id)
        for g in store.iter_grades(run_id)
        if g.grader == f"pairwise:{baseline}"
    }

    def jobs() -> Iterator[tuple[str, Case, str, str]]:
        for cid in spec.candidates:
            if cid == baseline:
                continue
            stream = iter(cases())
            while chunk := list(islice(stream, _LOOKUP_BATCH)):
                answers = store.answer_texts(run_id, [cid, baseline], [c.id for c in chunk])
                for case in chunk:
                    a = answers.get((cid, case.id))
                    b = answers.get((baseline, case.id))
                    if a is None or b is None or (cid, case.id) in done:
                        continue
                    yield cid, case, a, b

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

    items = jobs()  # shared by the workers: the generator never awaits

    async def worker() -> None:
        for job in items:
            await judge_one(*job)

    await asyncio.gather(*(worker() for _ in range(8)))


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
