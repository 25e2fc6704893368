"""The benchmarks pipeline: reachability, quality, red team (when the profile enables it),
performance, evidence, matrix, documents, report — one parent run (kind ``benchmarks``) links
the child runs.

Resume: the parent records its children as they start; ``resume=PARENT`` continues an
unfinished quality run where it stopped (no completed case is called again) and skips stages
that completed. A performance sweep that was interrupted is measured again (a partial sweep
would mix loads), and so is an interrupted red-team run (its canary token is per run).

Runs measured elsewhere: ``runs`` names completed quality, performance or red-team runs of
the same profile (for example the merged run of ``--shard`` processes or a Kubernetes Job);
they become the parent's children and their stages are not measured again. The pipeline itself
has no shards: reachability, red team and the decision stages are small and run once, and the
decision needs every stage complete; the stages that carry the load are split on their own
(``nova eval run|perf run --shard i/N``).

``run_benchmarks`` is the list of steps: open (or reopen) the parent run → reachability →
the runs given → quality → red team → performance → evidence, matrix, documents and report;
the steps share one ``_Run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from nova._provenance import workspace_revision
from nova.benchmarks._outputs import (
    CandidateSummaryRow,
    decide_inputs,
    summary_rows,
    write_benchmarks_report,
)
from nova.catalog import Catalog
from nova.config import LoadedConfig, Profile, Workspace
from nova.decision import write_matrix
from nova.errors import NovaError
from nova.evals import EvalReport, Progress, build_report, default_spec, run_eval
from nova.governance import render_governance_docs
from nova.perf import CandidatePerf, PerfSpec, run_perf, spec_fields_from_profile
from nova.providers import ping_candidates
from nova.safety import RedTeamProgress, build_redteam_report, default_redteam_spec, run_redteam
from nova.store import RunStatus, RunStore

__all__ = ["BenchmarkOutcome", "StageUpdate", "run_benchmarks"]


class StageUpdate(BaseModel):
    """Progress of the pipeline, for a progress display."""

    model_config = ConfigDict(extra="forbid")

    stage: str
    """reachability, quality, redteam, performance, matrix, documents, report."""
    candidate: str | None = None
    """Candidate the update is about."""
    done: int = 0
    """Units done in this stage."""
    total: int | None = None
    """Units in this stage."""
    message: str = ""
    """Free text."""


class BenchmarkOutcome(BaseModel):
    """Everything the command prints at the end."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    """Parent run id."""
    quality_run: str | None
    """Child quality run."""
    perf_run: str | None
    """Child performance run."""
    redteam_run: str | None = None
    """Child red-team run."""
    rows: list[CandidateSummaryRow]
    """Summary per candidate."""
    not_measured: dict[str, str]
    """Candidates that could not be reached, with the reason."""
    winner: str | None
    """Matrix recommendation."""
    written: list[str] = Field(default_factory=list)
    """Files written, relative to the workspace."""
    warnings: list[str] = Field(default_factory=list)
    """Loud notes (e.g. offline demo models)."""


@dataclass
class _Run:
    """What the steps share: the workspace, the parent run, its child runs and what they found."""

    ws: Workspace
    loaded: LoadedConfig
    catalog: Catalog
    store: RunStore
    profile: str
    note: Callable[[StageUpdate], None]
    """Progress callback (does nothing without ``on_update``)."""
    warnings: list[str]
    """Loud notes; replaced, never appended to in place (the caller's list stays as it was)."""
    parent_id: str = ""
    chosen: list[str] = field(default_factory=list)
    not_measured: dict[str, str] = field(default_factory=dict)
    judge_unreachable: str | None = None
    children: dict[str, str] = field(default_factory=dict)
    """Child run per stage, as recorded in the parent's meta."""
    q_id: str | None = None
    r_id: str | None = None
    p_id: str | None = None
    perf_results: list[CandidatePerf] = field(default_factory=list)

    @property
    def prof(self) -> Profile:
        """The profile being run."""
        return self.loaded.config.profiles[self.profile]

    @property
    def reachable(self) -> list[str]:
        """Chosen candidates that answered the reachability ping."""
        return [c for c in self.chosen if c not in self.not_measured]

    def link_child(self, stage: str, run_id: str) -> None:
        """Record a child run in the parent as soon as it starts (so a resume finds it)."""
        self.children[stage] = run_id
        self.store.update_meta(self.parent_id, {"children": self.children})


async def run_benchmarks(
    ws: Workspace,
    loaded: LoadedConfig,
    catalog: Catalog,
    store: RunStore,
    *,
    profile: str,
    candidates: list[str] | None = None,
    resume: str | None = None,
    on_update: Callable[[StageUpdate], None] | None = None,
    on_started: Callable[[str], None] | None = None,
    warnings: list[str] | None = None,
    runs: dict[str, str] | None = None,
) -> BenchmarkOutcome:
    """Run the whole profile; unreachable candidates are reported, not fatal.

    ``on_started`` gets the parent run id as soon as it exists (for a resume hint). ``runs``
    (stage → run id, stages ``quality``, ``performance``, ``redteam``): completed runs used
    instead of measuring those stages."""
    if resume and runs:
        raise NovaError(
            "--resume continues a benchmarks run with its own child runs: drop "
            "--quality-run/--perf-run/--redteam-run"
        )
    profile = _profile_name(loaded, store, profile, resume)
    run = _Run(ws, loaded, catalog, store, profile, _notifier(on_update), list(warnings or []))
    if resume:
        _reopen_parent(run, resume)
    else:
        await _reachability(run, candidates)
        given = _given_runs(run, runs or {})
        _start_parent(run)
        for stage, rid in given.items():
            run.link_child(stage, rid)
    if on_started is not None:
        on_started(run.parent_id)
    status: RunStatus = "completed"
    try:
        await _quality_stage(run)
        await _redteam_stage(run)
        await _performance_stage(run)
        return _decide_and_write(run)
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        store.finish_run(run.parent_id, status, meta={"children": run.children})


def _profile_name(loaded: LoadedConfig, store: RunStore, profile: str, resume: str | None) -> str:
    """The profile to run (a resumed run keeps its own); an unknown one is an error."""
    cfg = loaded.config
    if resume:
        profile = store.get_run(resume).profile or profile
    if profile not in cfg.profiles:
        raise NovaError(
            f"no profile {profile!r} in nova.yaml (known: {', '.join(cfg.profiles) or 'none'})"
        )
    return profile


def _notifier(on_update: Callable[[StageUpdate], None] | None) -> Callable[[StageUpdate], None]:
    """``on_update``, or a callback that does nothing."""

    def note(u: StageUpdate) -> None:
        if on_update is not None:
            on_update(u)

    return note


def _reopen_parent(run: _Run, resume: str) -> None:
    """Resume: take candidates, warnings and child runs from the parent and mark it running."""
    parent = run.store.get_run(resume)
    run.judge_unreachable = parent.meta.get("judge_unreachable")
    run.warnings = [
        *run.warnings,
        *[w for w in parent.meta.get("warnings", []) if w not in run.warnings],
    ]
    if parent.kind != "benchmarks":
        raise NovaError(
            f"run {parent.id} is a {parent.kind} run; --resume takes the id of a benchmarks run"
        )
    run.chosen = list(parent.meta.get("candidates", []))
    run.not_measured = dict(parent.meta.get("not_measured", {}))
    run.children = dict(parent.meta.get("children", {}))
    run.store.update_meta(parent.id, {}, status="running")
    run.parent_id = parent.id


async def _reachability(run: _Run, candidates: list[str] | None) -> None:
    """Step 1: one short request each; an unreachable candidate is "not measured", not scored 0."""
    cfg = run.loaded.config
    run.chosen = cfg.profile_candidates(run.profile, candidates)
    run.note(StageUpdate(stage="reachability", total=len(run.chosen)))
    judge = run.prof.quality.judge if run.prof.quality else None
    to_ping = [*run.chosen, *([judge] if judge and judge not in run.chosen else [])]
    pings = await ping_candidates(
        [cfg.candidate(c) for c in to_ping], workspace_root=run.ws.root, timeout_s=60
    )
    run.not_measured = {
        p.candidate: p.error or "unreachable"
        for p in pings
        if not p.ok and p.candidate in run.chosen
    }
    for p in pings:
        if not p.ok and p.candidate == judge and judge not in run.chosen:
            # Judge graders would all be undecided: say so instead of hiding it.
            run.warnings = [
                *run.warnings,
                f"JUDGE UNREACHABLE: {p.error}; rubric and "
                "pairwise judging are skipped, judge grades count as undecided",
            ]
            run.judge_unreachable = judge
            break


_KINDS = {"quality": "quality", "performance": "performance", "redteam": "redteam"}


def _given_runs(run: _Run, runs: dict[str, str]) -> dict[str, str]:
    """The full ids of the runs given for stages; each must be a completed run of its kind,
    of this profile, with every reachable candidate (else a one-line error, nothing started)."""
    out = {}
    for stage, rid in runs.items():
        rec = run.store.get_run(rid)
        if rec.kind != _KINDS[stage]:
            raise NovaError(f"run {rec.id} is a {rec.kind} run, not a {_KINDS[stage]} run")
        if rec.status != "completed":
            raise NovaError(
                f"run {rec.id} is {rec.status}, not completed: finish it first (a sharded run: "
                f"`nova runs merge {rec.id}` names the shards still to run)"
            )
        if rec.profile != run.profile:
            raise NovaError(
                f"run {rec.id} measured profile {rec.profile or 'none'}, not {run.profile}: "
                f"run it with --profile {run.profile}"
            )
        measured = set((rec.meta.get("spec") or {}).get("candidates") or [])
        missing = [c for c in run.reachable if c not in measured]
        if missing:
            raise NovaError(
                f"run {rec.id} has no {stage} results of {', '.join(missing)}: measure them "
                "in it, or leave them out with --candidates"
            )
        if rec.config_hash and rec.config_hash != run.loaded.hash:
            # Not refused (approvals or a gateway setting change the hash too), but said: the
            # decision then rests on a measurement of another configuration.
            run.warnings.append(
                f"run {rec.id} ({stage}) was measured under a different nova.yaml (config hash "
                f"{rec.config_hash[:12]}, now {run.loaded.hash[:12]}): check that its datasets, "
                "candidates and settings are the ones this decision needs"
            )
        out[stage] = rec.id
    return out


def _start_parent(run: _Run) -> None:
    """Record the parent run with its candidates, the unreachable ones and the warnings."""
    run.parent_id = run.store.start_run(
        "benchmarks",
        profile=run.profile,
        config_hash=run.loaded.hash,
        workspace_rev=workspace_revision(run.ws.root),
        meta={
            "candidates": run.chosen,
            "not_measured": run.not_measured,
            "children": {},
            "warnings": run.warnings,
            "judge_unreachable": run.judge_unreachable,
        },
    ).id


async def _quality_stage(run: _Run) -> None:
    """Step 2: run the quality evaluation, continue an unfinished one, or keep a completed one."""
    run.q_id = run.children.get("quality")
    if run.prof.quality is None or not run.reachable:
        return
    spec = default_spec(run.loaded, run.profile, run.reachable)
    if spec.judge and (spec.judge in run.not_measured or spec.judge == run.judge_unreachable):
        spec = spec.model_copy(update={"judge": None})
    if spec.baseline not in run.reachable:
        spec = spec.model_copy(update={"baseline": None})
    if run.q_id is not None and run.store.get_run(run.q_id).status == "completed":
        return

    def update(p: Progress) -> None:
        run.note(StageUpdate(stage="quality", done=p.done, total=p.total))

    run.q_id = await run_eval(
        run.ws,
        run.loaded,
        spec,
        run.store,
        resume=run.q_id,
        progress=Progress(),
        on_update=update,
        parent_id=run.parent_id,
        on_started=lambda rid: run.link_child("quality", rid),
    )


async def _redteam_stage(run: _Run) -> None:
    """Step 3: run (or keep a completed) red-team run; warn loudly when rails were not used."""
    run.r_id = run.children.get("redteam")
    red = run.prof.redteam
    if red is None or not red.enabled or not run.reachable:
        return
    r_id = run.r_id
    if r_id is None or run.store.get_run(r_id).status != "completed":
        spec = default_redteam_spec(run.loaded, run.profile, run.reachable)
        run.note(StageUpdate(stage="redteam", total=None))

        def update(p: RedTeamProgress) -> None:
            run.note(StageUpdate(stage="redteam", done=p.done, total=p.total))

        r_id = await run_redteam(
            run.ws,
            run.loaded,
            spec,
            run.store,
            on_update=update,
            parent_id=run.parent_id,
            on_started=lambda rid: run.link_child("redteam", rid),
        )
        run.r_id = r_id
    rails = run.store.get_run(r_id).meta.get("rails", "")
    if red.with_guardrails and rails != "on":
        msg = f"RED TEAM WITHOUT RAILS: {rails}; attack success is measured without guardrails"
        if msg not in run.warnings:
            run.warnings = [*run.warnings, msg]
            run.store.update_meta(run.parent_id, {"warnings": run.warnings})


async def _performance_stage(run: _Run) -> None:
    """Step 4: measure the load sweep again, or keep the results of a completed one."""
    run.p_id = run.children.get("performance")
    prof = run.prof
    if prof.performance is None or not run.reachable:
        return
    if run.p_id is not None and run.store.get_run(run.p_id).status == "completed":
        results = run.store.get_run(run.p_id).meta.get("results", [])
        run.perf_results = [CandidatePerf.model_validate(r) for r in results]
        return
    pspec = PerfSpec(
        profile=run.profile, candidates=run.reachable, **spec_fields_from_profile(prof)
    )

    def level(cid: str, lv: object) -> None:
        run.note(StageUpdate(stage="performance", candidate=cid, message=getattr(lv, "label", "")))

    run.p_id, run.perf_results = await run_perf(
        run.ws,
        run.loaded,
        pspec,
        run.store,
        run.catalog,
        on_level=level,
        datasets=prof.quality.datasets if prof.quality else None,
        parent_id=run.parent_id,
        on_started=lambda rid: run.link_child("performance", rid),
    )


def _decide_and_write(run: _Run) -> BenchmarkOutcome:
    """Step 5: evidence of exactly these child runs, matrix, documents, report and summary."""
    ws, cfg, store = run.ws, run.loaded.config, run.store
    run.note(StageUpdate(stage="matrix"))
    ev, matrix = decide_inputs(
        ws,
        run.loaded,
        run.catalog,
        store,
        run.profile,
        run.q_id,
        run.p_id,
        run.chosen,
        redteam_run=run.r_id,
    )
    md, js, _sha = write_matrix(ws, matrix)
    run.note(StageUpdate(stage="documents"))
    docs = render_governance_docs(ws.root, cfg, run.catalog, ev)
    quality: EvalReport | None = None
    if run.q_id:
        quality = build_report(store, run.q_id, cfg, run.catalog)
    redteam = build_redteam_report(store, run.r_id) if run.r_id else None
    run.note(StageUpdate(stage="report"))
    rep_html, rep_md = write_benchmarks_report(
        ws,
        run.loaded,
        run.profile,
        run.parent_id,
        run.q_id,
        run.p_id,
        quality,
        run.perf_results,
        matrix,
        run.warnings,
        run.not_measured,
        ev.extra.get("price_sheets", {}),
        redteam,
    )
    rows = summary_rows(run.chosen, run.not_measured, quality, run.perf_results, matrix)
    written = [str(p.relative_to(ws.root)) for p in (md, js, *docs, rep_html, rep_md)]
    store.update_meta(
        run.parent_id, {"children": run.children, "winner": matrix.winner, "written": written}
    )
    return BenchmarkOutcome(
        run_id=run.parent_id,
        quality_run=run.q_id,
        perf_run=run.p_id,
        redteam_run=run.r_id,
        rows=rows,
        not_measured=run.not_measured,
        winner=matrix.winner,
        written=written,
        warnings=run.warnings,
    )
