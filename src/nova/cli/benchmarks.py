"""``python -m nova benchmarks --profile llm-core`` and ``nova report``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json, print_table, progress_bar
from nova.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from nova.benchmarks import StageUpdate

__all__ = ["benchmarks_command", "report_command"]


@click.command("benchmarks")
@click.option(
    "--profile", "-p", default="llm-core", show_default=True, help="Profile of nova.yaml to run."
)
@click.option("--candidates", help="Comma-separated candidate ids (default: the profile's).")
@click.option("--resume", help="Continue an interrupted benchmarks run (its parent run id).")
@click.option(
    "--quality-run",
    metavar="RUN",
    help="Use this completed quality run of the profile (e.g. one run by `nova eval run "
    "--shard`) instead of measuring quality.",
)
@click.option(
    "--perf-run",
    metavar="RUN",
    help="Use this completed performance run of the profile (e.g. one run by `nova perf run "
    "--shard`) instead of measuring performance.",
)
@click.option(
    "--redteam-run",
    metavar="RUN",
    help="Use this completed red-team run of the profile instead of running the red team.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_app
def benchmarks_command(
    app: AppContext,
    profile: str,
    candidates: str | None,
    resume: str | None,
    quality_run: str | None,
    perf_run: str | None,
    redteam_run: str | None,
    as_json: bool,
) -> None:
    """Run a profile end to end: quality, performance, cost, matrix, documents, report.

    Every candidate of the profile is pinged first; one that cannot be reached is reported
    as not measured and the others still run. Exit codes: 0 all candidates measured, 1 some
    were not measured (or another known error), 2 invalid config, 130 interrupted (continue
    with --resume RUN).

    Scaling out: the pipeline runs in one process and has no --shard (reachability, red team
    and the decision run once, and the decision needs every stage complete). Split the stages
    that carry the load instead: run `nova eval run` and `nova perf run` with --profile, a
    --run-id and --shard I/N (processes, machines, or `nova deploy render --job`), then this
    command with --quality-run and --perf-run: it measures neither again.

    \b
    Example:
      python -m nova benchmarks --profile llm-core
      python -m nova benchmarks --profile llm-core --quality-run big-1 --perf-run load-1
    """
    from nova.providers import offline_fallback_reason
    from nova.store import open_store

    loaded = app.config()
    ws = app.workspace()
    cfg = loaded.config
    chosen = cfg.profile_candidates(profile, candidates.split(",") if candidates else None)
    warnings: list[str] = []
    for cid in chosen:
        try:
            reason = offline_fallback_reason(cfg.candidate(cid))
        except KeyError:
            continue
        if reason:
            warnings.append(
                f"OFFLINE DEMO: {cid} runs nova's tiny generated model instead of "
                f"its real weights ({reason}). The pipeline is real; the quality "
                "numbers of such models are meaningless."
            )
    econ = err_console()
    for w in warnings:
        econ.print(f"[bold yellow]{w}[/]" if econ.is_terminal else w, markup=econ.is_terminal)
    given = {
        stage: rid
        for stage, rid in (
            ("quality", quality_run),
            ("performance", perf_run),
            ("redteam", redteam_run),
        )
        if rid
    }
    t0 = time.monotonic()
    with open_store(ws, cfg) as store:
        tty = econ.is_terminal and not as_json
        last = {"stage": ""}
        with progress_bar(econ, "starting", enabled=tty, elapsed=True) as bar:

            def update(u: StageUpdate) -> None:
                if bar is not None:
                    desc = (
                        u.stage
                        + (f" · {u.candidate}" if u.candidate else "")
                        + (f" · {u.message}" if u.message else "")
                    )
                    bar(desc, u.done, u.total)
                elif u.stage != last["stage"] and not as_json:
                    econ.print(f"[{time.monotonic() - t0:6.1f} s] {u.stage}", markup=False)
                    last["stage"] = u.stage

            outcome = _run(app, store, profile, candidates, resume, update, warnings, given)
    if as_json:
        print_json(outcome.model_dump(mode="json"))
    else:
        print_table(
            [
                "Candidate",
                "Pass rate [95% CI]",
                "Win rate vs baseline [95% CI]",
                "TTFT p50/p95 ms",
                "Output tok/s",
                "USD / 1k conv.",
                "Attack success [95% CI]",
                "Over-refusal [95% CI]",
                "Gates",
                "Rank",
            ],
            [
                [
                    r.candidate,
                    r.pass_rate,
                    r.win_rate,
                    r.ttft,
                    r.output_tps,
                    r.cost_1k,
                    r.attack_success,
                    r.over_refusal,
                    r.gates,
                    r.rank or "—",
                ]
                if r.measured
                else [
                    r.candidate,
                    "not measured",
                    (r.reason or "")[:80],
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    r.rank or "—",
                ]
                for r in outcome.rows
            ],
            title=f"{cfg.name} · profile {profile} · run {outcome.run_id} · "
            f"{time.monotonic() - t0:.0f} s",
            caption="Pass rate: Wilson 95% interval over cases. Win rate: paired, bootstrap "
            "95% over cases (ties count half). TTFT (vLLM definition), output tok/s and cost: "
            "at each candidate's operating point (highest goodput, else highest throughput). "
            "Attack success and over-refusal: red-team run, Wilson 95%, with rails when measured. "
            "Rank: selection matrix. `nova report RUN` has every definition.",
        )
        con = out_console()
        for why in outcome.not_measured.values():
            con.print(f"not measured: {why}", markup=False)
        con.print(f"Recommendation of the matrix: {outcome.winner or 'none'}", markup=False)
        for w in outcome.warnings:
            con.print(w, markup=False)
        con.print("Wrote:", markup=False)
        for path in outcome.written:
            con.print(f"  {ws.root / path}", markup=False)
    if outcome.not_measured:
        raise SystemExit(1)


def _run(
    app: AppContext,
    store: Any,
    profile: str,
    candidates: str | None,
    resume: str | None,
    update: Any,
    warnings: list[str],
    given: dict[str, str],
) -> Any:
    import asyncio

    from nova.benchmarks import run_benchmarks

    started: list[str] = [resume] if resume else []
    try:
        return asyncio.run(
            run_benchmarks(
                app.workspace(),
                app.config(),
                app.catalog(),
                store,
                profile=profile,
                candidates=candidates.split(",") if candidates else None,
                resume=resume,
                on_update=update,
                on_started=started.append,
                warnings=warnings,
                runs=given,
            )
        )
    except KeyboardInterrupt:
        if started:
            hint = (
                f"continue with `python -m nova benchmarks --profile {profile} --resume "
                f"{started[-1]}`"
            )
        else:
            hint = "nothing was recorded yet: start it again"
        err_console().print(f"interrupted: {hint}", markup=False)
        raise SystemExit(EXIT_INTERRUPTED) from None


@click.command("report")
@click.argument("run_id")
@pass_app
def report_command(app: AppContext, run_id: str) -> None:
    """Write the HTML report (self-contained, charts embedded) and a Markdown summary of a
    benchmarks run under reports/.

    \b
    Example:
      nova report 20261127-0412
    """
    from nova.benchmarks import write_run_report
    from nova.store import open_store

    loaded = app.config()
    ws = app.workspace()
    with open_store(ws, loaded.config) as store:
        html, md = write_run_report(ws, loaded, app.catalog(), store, run_id)
    out_console().print(f"wrote {html}\nwrote {md}", markup=False)
