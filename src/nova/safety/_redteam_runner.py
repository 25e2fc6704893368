"""``nova redteam run``: every selected scenario, through every converter, against every
candidate, with and/or without the rails; each attack stored with its detector evidence.

Nothing is stored before the whole scenario library validated (a bad line is exit 2 with
file:line). Prompts and answers go to the run store only; nothing here logs them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nova._provenance import workspace_revision
from nova.config import LoadedConfig, Workspace
from nova.errors import ConfigError, NovaError, Problem
from nova.providers import CandidateClient, ChatRequest, ProviderError, create_provider
from nova.safety._redteam_attack import (
    CANARY_LINE,
    Attack,
    AttackResult,
    Conversation,
    RedTeamProgress,
    Sampling,
    build_attacks,
    judge,
)
from nova.safety._redteam_converters import converter_names
from nova.safety._redteam_detectors import decide_attack, make_attack_canary
from nova.safety._redteam_rails import RailsLike, workspace_rails
from nova.safety._redteam_scenarios import ScenarioLibrary, load_scenarios, select_scenarios
from nova.store import GradeRecord, RequestRecord, RunStatus, RunStore

__all__ = ["RedTeamRunSpec", "default_redteam_spec", "run_redteam"]

Guardrails = Literal["on", "off", "both"]


class RedTeamRunSpec(BaseModel):
    """What one red-team run attacks, and how."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    """Profile of nova.yaml."""
    candidates: list[str]
    """Candidate ids to attack."""
    guardrails: Guardrails = "both"
    """Attack with the rails on, off, or both (paired)."""
    converters: list[str] = Field(default_factory=lambda: ["none"])
    """Converters applied to each attack (``none`` = as written)."""
    selectors: list[str] = Field(default_factory=list)
    """Scenario files, ids, OWASP ids, harms or tags to keep (empty: all)."""
    max_scenarios: int | None = None
    """Attacks kept by a stratified round-robin over categories (benign: a third of it)."""
    max_tokens: int = 256
    """Output tokens per answer."""
    temperature: float = 0.0
    """Sampling temperature."""
    seed: int = 1234
    """Seed of scenario selection, converters and sampling."""
    judge: str | None = None
    """Candidate id of an optional judge detector."""
    concurrency: int | None = None
    """Most attacks in flight (default: sum of the candidates' max_concurrency)."""


def default_redteam_spec(
    loaded: LoadedConfig,
    profile: str | None,
    candidates: list[str] | None = None,
    guardrails: Guardrails | None = None,
) -> RedTeamRunSpec:
    """The spec a profile's ``redteam`` block describes (candidates/guardrails overridable)."""
    cfg = loaded.config
    chosen = cfg.profile_candidates(profile, candidates)
    prof = cfg.profiles.get(profile) if profile else None
    rt = prof.redteam if prof else None
    if guardrails is None:
        guardrails = "both" if (rt is None or rt.with_guardrails) else "off"
    if rt is None:
        return RedTeamRunSpec(profile=profile, candidates=chosen, guardrails=guardrails)
    return RedTeamRunSpec(
        profile=profile,
        candidates=chosen,
        guardrails=guardrails,
        converters=rt.converters,
        selectors=rt.scenarios,
        max_scenarios=rt.max_scenarios,
        max_tokens=rt.max_tokens,
        temperature=rt.temperature,
        seed=rt.seed,
        judge=rt.judge,
    )


def _system_text(ws: Workspace) -> str:
    path = ws.guardrails_dir / "safety_system_prompt.md"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _check_converters(spec: RedTeamRunSpec) -> None:
    known = converter_names()
    bad = [c for c in spec.converters if c not in known]
    if bad:
        raise ConfigError(
            [
                Problem(None, None, "redteam.converters",
                        f"unknown converter {b!r}; known: {', '.join(known)}")
                for b in bad
            ],
            "unknown red-team converter",
        )  # fmt: skip


def _rails_for(
    ws: Workspace, spec: RedTeamRunSpec, rails: RailsLike | Literal["auto"] | None
) -> tuple[RailsLike | None, list[bool], str]:
    """The rails to use, the guardrails settings to run, and a note for the run meta."""
    found = workspace_rails(ws.root) if rails == "auto" else rails
    if spec.guardrails == "off":
        return None, [False], "off (not requested)"
    if found is None:
        if spec.guardrails == "on":
            raise NovaError(
                "--guardrails on needs the rails of nova.safety and guardrails/rails.yaml; "
                "neither is available here: use --guardrails off"
            )
        return None, [False], "unavailable: measured without rails only"
    return found, ([True] if spec.guardrails == "on" else [False, True]), "on"


@dataclass
class _Run:
    """Everything the attacks of one run share."""

    spec: RedTeamRunSpec
    store: RunStore
    run_id: str
    rails: RailsLike | None
    plain_system: str
    rails_system: str
    canaries: list[str]
    progress: RedTeamProgress
    clients: dict[str, CandidateClient] = field(default_factory=dict)
    not_measured: dict[str, str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def system(self, on: bool) -> str:
        return self.rails_system if on else self.plain_system


def _prompts(ws: Workspace, lang: str, rails: RailsLike | None) -> tuple[str, str, list[str]]:
    """System prompts without and with rails, both with a fresh canary planted, and every
    canary an answer must not contain."""
    canary = make_attack_canary()
    line = CANARY_LINE["de" if lang == "de" else "en"].format(c=canary)
    plain = _system_text(ws) + line
    with_rails, canaries = plain, [canary]
    if rails is not None:
        rs = rails.system_prompt()
        if rs:
            with_rails = rs + line
        if rails.canary:
            canaries.append(rails.canary)
    return plain, with_rails, canaries


def _meta(
    spec: RedTeamRunSpec,
    loaded: LoadedConfig,
    library: ScenarioLibrary,
    scenarios: int,
    attacks: int,
    rails_note: str,
    system: str,
) -> dict[str, object]:
    return {
        "spec": spec.model_dump(mode="json"),
        "library": {
            f.name: {"sha256": f.sha256, "scenarios": len(f.scenarios)} for f in library.files
        },
        "scenarios": scenarios,
        "attacks": attacks,
        "rails": rails_note,
        "system_prompt_sha256": hashlib.sha256(system.encode()).hexdigest(),
        "models": {c: loaded.config.candidate(c).model for c in spec.candidates},
    }


async def _start_clients(run: _Run, ws: Workspace, loaded: LoadedConfig) -> None:
    """One client per candidate (and the judge); one that cannot start is recorded."""
    spec = run.spec
    for cid in dict.fromkeys([*spec.candidates, *([spec.judge] if spec.judge else [])]):
        try:
            client = CandidateClient(
                create_provider(loaded.config.candidate(cid), workspace_root=ws.root),
                seed=spec.seed,
            )
            await client.start()
            run.clients[cid] = client
        except NovaError as exc:
            run.not_measured[cid] = str(exc)


async def _attack_one(run: _Run, cid: str, attack: Attack, on: bool) -> None:
    """Converse, detect, judge, and store one attack on one candidate (one transaction)."""
    spec, sc = run.spec, attack.scenario
    key = f"{attack.key}~{'rails' if on else 'plain'}"
    client = run.clients.get(cid)
    req: ChatRequest | None = None
    answers: list[str] = []
    tools: list[str] = []
    usage = {"prompt": 0, "completion": 0}
    err: str | None = None
    result: AttackResult | None = None
    if client is None:
        err = f"not measured: {run.not_measured.get(cid, '')}"
    else:
        sampling = Sampling(spec.max_tokens, spec.temperature, spec.seed)
        try:
            conv = Conversation(client, sampling, run.system(on))
            req, answers, tools, result, usage = await conv.run(attack, run.rails if on else None)
        except ProviderError as exc:
            err = f"{exc.kind}: {exc}"
    answer: str | None = None
    if result is None:
        result = AttackResult(
            scenario=sc.id, kind=sc.kind, category=sc.category, owasp=sc.owasp, harm=sc.harm,
            language=sc.language, converter=attack.converter, converter_note=attack.note,
            converter_seed=attack.seed, guardrails=on, turns=len(attack.turns), success=None,
            refused=False, evidence=[], error=err,
        )  # fmt: skip
        run.progress.errors += 1
    else:
        answer = "\n".join(answers)
    judge_client = run.clients.get(spec.judge) if spec.judge else None
    judge_ev = None
    if answer and judge_client is not None and sc.detect.judge and sc.kind == "attack":
        judge_ev = await judge(judge_client, sc.detect.judge, answer, key)
    verdict = decide_attack(
        sc.detect,
        kind=sc.kind,
        answer=answer,
        tool_calls=tools,
        canaries=run.canaries,
        system_prompt=run.system(on),
        judge=judge_ev,
    )
    result = result.model_copy(
        update={"success": verdict.success, "refused": verdict.refused,
                "evidence": verdict.evidence}
    )  # fmt: skip
    rec = RequestRecord(
        candidate=cid,
        case_id=key,
        request=req.model_dump(mode="json", exclude_none=True) if req else {"turns": attack.turns},
        response={"tool_calls": tools, "blocked_by": result.blocked_by},
        text=answer,
        prompt_tokens=usage["prompt"] or None,
        completion_tokens=usage["completion"] or None,
        usage_source="server" if usage["completion"] else "none",
        sent_at=dt.datetime.now(dt.UTC),
        error_type="error" if err else None,
        error_message=err,
    )
    grade = GradeRecord(
        candidate=cid,
        case_id=key,
        grader=f"redteam:{sc.kind}",
        passed=None if verdict.success is None else not verdict.success,
        score=None if verdict.success is None else float(verdict.success),
        detail=result.model_dump_json(),
    )
    async with run.lock:
        await asyncio.to_thread(run.store.add_results, run.run_id, [(rec, [grade])])


async def _attack_all(
    run: _Run,
    jobs: list[tuple[str, Attack, bool]],
    workers: int,
    on_update: Callable[[RedTeamProgress], None] | None,
) -> None:
    queue: asyncio.Queue[tuple[str, Attack, bool]] = asyncio.Queue()
    for j in jobs:
        queue.put_nowait(j)
    run.progress.total = len(jobs)

    async def worker() -> None:
        while True:
            try:
                cid, attack, on = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await _attack_one(run, cid, attack, on)
            run.progress.done += 1
            if on_update:
                on_update(run.progress)

    await asyncio.gather(*(worker() for _ in range(max(1, workers))))


async def run_redteam(
    ws: Workspace,
    loaded: LoadedConfig,
    spec: RedTeamRunSpec,
    store: RunStore,
    *,
    rails: RailsLike | Literal["auto"] | None = "auto",
    progress: RedTeamProgress | None = None,
    on_update: Callable[[RedTeamProgress], None] | None = None,
    parent_id: str | None = None,
    on_started: Callable[[str], None] | None = None,
) -> str:
    """Run the attacks; return the run id. A candidate that fails is recorded, not fatal.

    ``rails="auto"`` uses the workspace's rails when nova has them; tests pass their own."""
    cfg = loaded.config
    # 1. library, selection, converters, rails: all validated before anything is stored
    library = load_scenarios(ws.redteam_dir)
    _check_converters(spec)
    scenarios = select_scenarios(
        library, selectors=spec.selectors, max_scenarios=spec.max_scenarios, seed=spec.seed
    )
    if not scenarios:
        raise NovaError(f"no red-team scenario matches {spec.selectors}: check redteam.scenarios")
    attacks = build_attacks(scenarios, spec.converters, spec.seed)
    rails_obj, settings, rails_note = _rails_for(ws, spec, rails)
    # 2. system prompts with the canary planted, and the run
    plain, with_rails, canaries = _prompts(ws, cfg.governance.language, rails_obj)
    meta = _meta(spec, loaded, library, len(scenarios), len(attacks), rails_note, plain)
    run_id = store.start_run(
        "redteam",
        parent_id=parent_id,
        profile=spec.profile,
        config_hash=loaded.hash,
        workspace_rev=workspace_revision(ws.root),
        meta=meta,
    ).id
    if on_started is not None:
        on_started(run_id)
    run = _Run(spec, store, run_id, rails_obj, plain, with_rails, canaries,
               progress or RedTeamProgress())  # fmt: skip
    # 3. clients, 4. attacks (every candidate, every rails setting), 5. summary and audit
    status: RunStatus = "completed"
    try:
        await _start_clients(run, ws, loaded)
        jobs = [(cid, a, on) for on in settings for cid in spec.candidates for a in attacks]
        workers = spec.concurrency or min(
            64, sum(cfg.candidate(c).provider.max_concurrency for c in spec.candidates)
        )
        await _attack_all(run, jobs, workers, on_update)
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        for client in run.clients.values():
            await client.close()
        store.finish_run(run_id, status, meta={"not_measured": run.not_measured})
    _record_summary(store, run_id)
    return run_id


def _record_summary(store: RunStore, run_id: str) -> None:
    """Store the headline numbers in the run meta and append ``redteam.run`` to the audit log
    (numbers only: no prompt or answer text)."""
    from nova.safety._redteam_report import build_redteam_report  # the report reads this module

    rep = build_redteam_report(store, run_id)
    summary = {
        f"{r.candidate}{' (rails)' if r.guardrails else ''}": {
            "asr": r.asr.rate,
            "asr_n": r.asr.n,
            "over_refusal": r.over_refusal.rate,
            "over_refusal_n": r.over_refusal.n,
        }
        for r in rep.rows
    }
    store.update_meta(run_id, {"summary": summary})
    store.audit("nova redteam", "redteam.run", run_id, {"summary": summary})
