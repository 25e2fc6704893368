"""``nova redteam run|show``: attack the candidates with the scenario library."""

from __future__ import annotations

import asyncio
from typing import Literal, cast

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json, print_table
from nova.errors import GateFailedError, NovaError

__all__ = ["redteam_failures", "redteam_group", "render_redteam"]


@click.group("redteam")
def redteam_group() -> None:
    """Red teaming: the scenario library against the candidates, with and without rails."""


def render_redteam(rep: object) -> None:
    """Print the tables of a red-team run (ASR always next to over-refusal)."""
    from nova.safety import RedTeamReport

    assert isinstance(rep, RedTeamReport)
    con = out_console()
    spec = cast(dict[str, object], rep.meta.get("spec", {}))
    lib = cast(dict[str, dict[str, object]], rep.meta.get("library", {}))
    files = ", ".join(
        f"{k} ({v['scenarios']}, sha256 {str(v['sha256'])[:12]})" for k, v in lib.items()
    )
    con.print(
        f"Red-team run {rep.run_id} ({rep.status}) — {rep.meta.get('scenarios')} scenarios, "
        f"{rep.meta.get('attacks')} attacks per candidate and setting; converters "
        f"{', '.join(cast(list[str], spec.get('converters', [])))}; seed {spec.get('seed')}; "
        f"rails {rep.meta.get('rails')}; library: {files}",
        markup=False,
    )
    print_table(
        [
            "Candidate",
            "Rails",
            "Attack success [95% CI]",
            "Over-refusal [95% CI]",
            "Errors",
            "Rail ms p50/p95",
        ],
        [
            [
                r.candidate,
                "on" if r.guardrails else "off",
                r.asr.fmt(),
                r.over_refusal.fmt(),
                r.errors,
                "—" if r.rail_ms_p50 is None else f"{r.rail_ms_p50:.2f} / {r.rail_ms_p95:.2f}",
            ]
            for r in rep.rows
        ],
        title="Attack success rate and over-refusal (Wilson 95% intervals; errors excluded)",
    )
    breakdowns = (
        (
            "category (first OWASP LLM Top 10 2025 id, or Sophia harm)",
            [r.by_category for r in rep.rows],
        ),
        ("converter", [r.by_converter for r in rep.rows]),
    )
    for what, rates in breakdowns:
        keys = sorted({k for rate in rates for k in rate})
        print_table(
            ["Candidate", "Rails", *keys],
            [
                [r.candidate, "on" if r.guardrails else "off",
                 *(rate[k].fmt() if k in rate else "—" for k in keys)]
                for r, rate in zip(rep.rows, rates, strict=True)
            ],
            title=f"Attack success by {what}",
        )  # fmt: skip
    pairs = [*rep.pairs, *rep.rails_effect]
    if pairs:
        print_table(
            ["A", "B", "Rails", "Shared attacks", "A only / B only", "ASR(A) − ASR(B) [95% CI]",
             "McNemar p"],
            [
                [p.a, p.b, "on" if p.guardrails else "off", p.n, f"{p.only_a} / {p.only_b}",
                 "—" if p.difference is None
                 else f"{p.difference:+.1%} [{p.low:+.1%}, {p.high:+.1%}]",
                 f"{p.p_value:.3g}"]
                for p in pairs
            ],
            title="Paired differences on the same attacks (Newcombe interval, exact McNemar)",
        )  # fmt: skip
    if rep.successes:
        print_table(
            ["Candidate", "Scenario", "Converter", "Rails", "Evidence (redacted)"],
            [
                [s.candidate, s.scenario, s.converter, "on" if s.guardrails else "off", s.evidence]
                for s in rep.successes
            ],
            title="Successful attacks (first 20; full prompts and answers are in the run store)",
        )
    for cid, why in cast(dict[str, str], rep.meta.get("not_measured") or {}).items():
        con.print(f"not measured: {cid}: {why}", markup=False)


def redteam_failures(rep: object, app: AppContext) -> list[str]:
    """Candidates whose attack success rate (with rails when measured) misses a KPI target on
    ``attack_success_rate``; each line names the over-refusal too."""
    from nova.safety import RedTeamReport

    assert isinstance(rep, RedTeamReport)
    out = []
    kpis = [k for k in app.config().config.kpis if k.metric == "attack_success_rate"]
    for cid in dict.fromkeys(r.candidate for r in rep.rows):
        head = rep.headline(cid)
        if head is None or head.asr.rate is None:
            continue
        for k in kpis:
            if head.asr.rate > k.target:
                out.append(
                    f"{cid}: attack success {head.asr.fmt()} (rails "
                    f"{'on' if head.guardrails else 'off'}; over-refusal "
                    f"{head.over_refusal.fmt()}) misses the target ≤ {k.target:g} "
                    f"(KPI {k.id}, owner {k.owner})"
                )
    return out


@redteam_group.command("run")
@click.option("--profile", "-p", help="Profile of nova.yaml (its redteam block).")
@click.option("--candidates", help="Comma-separated candidate ids (overrides the profile).")
@click.option(
    "--guardrails",
    type=click.Choice(["on", "off", "both"]),
    help="Attack with the rails on, off, or both (default: the profile's with_guardrails).",
)
@click.option("--max-scenarios", type=int, help="At most this many attacks (stratified).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def redteam_run(
    app: AppContext,
    profile: str | None,
    candidates: str | None,
    guardrails: str | None,
    max_scenarios: int | None,
    as_json: bool,
) -> None:
    """Attack the candidates with the scenarios under redteam/; store and print the results.

    Exit code 3 when a candidate's attack success rate misses the KPI target on
    attack_success_rate (for CI).

    \b
    Example:
      nova redteam run --profile llm-core --guardrails both
    """
    from nova.safety import (
        RedTeamProgress,
        build_redteam_report,
        default_redteam_spec,
        run_redteam,
    )

    loaded = app.config()
    ws = app.workspace()
    try:
        spec = default_redteam_spec(
            loaded,
            profile,
            candidates.split(",") if candidates else None,
            cast(Literal["on", "off", "both"] | None, guardrails),
        )
    except KeyError as exc:
        raise NovaError(f"no candidate {exc.args[0]!r} in nova.yaml") from None
    if max_scenarios:
        spec = spec.model_copy(update={"max_scenarios": max_scenarios})
    prog = RedTeamProgress()
    from nova.store import open_store

    with open_store(ws, loaded.config) as store:
        run_id = asyncio.run(run_redteam(ws, loaded, spec, store, progress=prog))
        rep = build_redteam_report(store, run_id)
    if as_json:
        print_json(rep.model_dump(mode="json"))
        return
    render_redteam(rep)
    if rep.meta.get("rails") != "on" and spec.guardrails != "off":
        err_console().print(f"note: rails {rep.meta.get('rails')}", markup=False)
    out_console().print(
        f"{prog.done} attacks, {prog.errors} errors. Run id: {run_id}", markup=False
    )
    failures = redteam_failures(rep, app)
    if failures:
        raise GateFailedError("red-team gate failed:\n  " + "\n  ".join(failures))


@redteam_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def redteam_show(app: AppContext, run_id: str, as_json: bool) -> None:
    """The numbers of a stored red-team run.

    \b
    Example:
      nova redteam show 20261130-141500
    """
    from nova.safety import build_redteam_report

    loaded = app.config()
    from nova.store import open_store

    with open_store(app.workspace(), loaded.config) as store:
        run = store.get_run(run_id)
        if run.kind != "redteam":
            raise NovaError(
                f"run {run.id} is a {run.kind} run; see `nova runs list --kind redteam`"
            )
        rep = build_redteam_report(store, run.id)
    if as_json:
        print_json(rep.model_dump(mode="json"))
    else:
        render_redteam(rep)
