"""``nova eval run|show|compare`` and ``nova datasets validate|stats``."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json, print_table, progress_bar
from nova.errors import ConfigError, GateFailedError, Problem

if TYPE_CHECKING:
    from nova.evals import EvalReport
    from nova.evals import Progress as EvalProgress
    from nova.shard import Shard

__all__ = ["datasets_group", "eval_group", "quality_gate_failures", "render_report"]


@click.group("eval")
def eval_group() -> None:
    """Quality evaluation: run the datasets against candidates, show the statistics."""


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def render_report(rep: EvalReport) -> None:
    """Print the tables of a quality run."""
    con = out_console()
    meta = rep.meta
    ds = ", ".join(
        f"{k} ({v['cases']} cases, sha256 {v['sha256'][:12]})"
        for k, v in meta.get("datasets", {}).items()
    )
    spec = meta.get("spec", {})
    con.print(
        f"Quality run {rep.run_id} ({rep.status}) — datasets: {ds}; repeats "
        f"{spec.get('repeats')}, seed {spec.get('seed')}, temperature "
        f"{spec.get('temperature')}, judge {spec.get('judge') or 'none'}, guardrails "
        f"{'on' if spec.get('guardrails') else 'off'}",
        markup=False,
    )
    rows = []
    for c in rep.candidates:
        win = (
            "—"
            if c.win_rate is None
            else f"{c.win_rate.rate:.1%} [{c.win_rate.low:.1%}–{c.win_rate.high:.1%}] "
            f"p={c.win_rate.p_value:.3g}"
        )
        rows.append(
            [
                c.candidate + (" (baseline)" if c.candidate == rep.baseline else ""),
                c.pass_rate.fmt(),
                _pct(c.weighted_pass_rate),
                win,
                c.missed_escalation.fmt() if c.missed_escalation else "—",
                c.unnecessary_escalation.fmt() if c.unnecessary_escalation else "—",
                f"{c.errors}/{c.undecided}",
                c.worst_slice or "—",
                f"{c.cost_per_success_usd:.4f}" if c.cost_per_success_usd is not None else "—",
            ]
        )
    print_table(
        [
            "Candidate",
            "Pass rate [95% CI]",
            "Weighted",
            "Win rate vs baseline",
            "Missed escalations",
            "Unnecessary escalations",
            "Errors/undecided",
            "Worst slice",
            "USD per passed case",
        ],
        rows,
        title="Quality per candidate",
    )
    slices = sorted({k for c in rep.candidates for k in (*c.by_category, *c.by_language)})
    print_table(
        ["Candidate", *slices],
        [
            [
                c.candidate,
                *[
                    (c.by_category.get(s) or c.by_language.get(s)).fmt()  # type: ignore[union-attr]
                    if (s in c.by_category or s in c.by_language)
                    else "—"
                    for s in slices
                ],
            ]
            for c in rep.candidates
        ],
        title="Pass rate by category and language [Wilson 95% CI]",
    )
    if rep.bradley_terry:
        print_table(
            ["Rank", "Candidate", "Bradley–Terry strength"],
            [[i + 1, n, f"{s:.3f}"] for i, (n, s) in enumerate(rep.bradley_terry)],
            title="Ranking across all candidates (pairwise pass/fail per case; "
            "strengths have geometric mean 1)",
        )
    notes = []
    for c in rep.candidates:
        bias = (
            f", position bias {c.position_bias_rate:.1%}"
            if c.position_bias_rate is not None
            else ""
        )
        notes.append(
            f"{c.candidate}: smallest detectable pass-rate difference {c.mde:.1%} "
            f"(alpha 0.05, power 0.8, run-to-run SD {c.run_to_run_sd:.3f}){bias}; "
            f"tokens {c.prompt_tokens}/{c.completion_tokens}; cost: {c.cost_note}; "
            f"win rate: {c.win_method or 'no baseline'}; model {c.model_reported}"
        )
    for n in notes:
        con.print(n, markup=False)
    con.print("Definitions:", markup=False)
    for d in rep.definitions:
        con.print(f"  - {' '.join(d.split())}", markup=False)
    nm = meta.get("not_measured") or {}
    for cid, why in nm.items():
        con.print(f"not measured: {cid}: {why}", markup=False)


def quality_gate_failures(rep: EvalReport, app: AppContext) -> list[str]:
    """KPI targets on pass rate, win rate and missed escalations that a candidate misses."""
    out = []
    kpis = app.config().config.kpis
    for c in rep.candidates:
        values = {
            "pass_rate": c.pass_rate.rate,
            "win_rate": c.win_rate.rate if c.win_rate else None,
            "missed_escalation_rate": c.missed_escalation.rate if c.missed_escalation else None,
        }
        for k in kpis:
            v = values.get(k.metric)
            if v is None:
                continue
            ok = v >= k.target if k.direction == "higher" else v <= k.target
            if not ok:
                out.append(
                    f"{c.candidate}: {k.name} {v:.1%} misses the target "
                    f"{'≥' if k.direction == 'higher' else '≤'} {k.target:g} "
                    f"(KPI {k.id}, owner {k.owner})"
                )
    return out


@eval_group.command("run")
@click.option("--profile", "-p", help="Profile of nova.yaml (default: all candidates).")
@click.option("--candidates", help="Comma-separated candidate ids (overrides the profile).")
@click.option("--datasets", help="Comma-separated dataset names (overrides the profile).")
@click.option("--repeats", type=int, help="Samples per case (measures run-to-run noise).")
@click.option("--max-cases", type=int, help="At most this many cases per dataset (stratified).")
@click.option(
    "--resume",
    "resume",
    help="Continue an interrupted run with its stored settings; answered cases are not called "
    "again; refused when a dataset changed since the run started.",
)
@click.option(
    "--guardrails",
    type=click.Choice(["on", "off"]),
    default="off",
    show_default=True,
    help="on: run guardrails/rails.yaml around every answer (input rails before the model, "
    "output rails after); the verdicts are stored with each request.",
)
@click.option(
    "--shard",
    "shard_text",
    metavar="I/N",
    help="Run only shard I of N (0-based: 0/3, 1/3, 2/3): the cases whose id hashes to I. "
    "All shards write into one run (--run-id) in a shared store (NOVA_DATABASE_URL); "
    "running a shard again skips its answered cases.",
)
@click.option(
    "--run-id",
    help="Run id the shards share: the first shard to start creates the run, the others "
    "join it (same settings required).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def eval_run(
    app: AppContext,
    profile: str | None,
    candidates: str | None,
    datasets: str | None,
    repeats: int | None,
    max_cases: int | None,
    resume: str | None,
    guardrails: str,
    shard_text: str | None,
    run_id: str | None,
    as_json: bool,
) -> None:
    """Run the eval datasets against the candidates; grade, store, and print the statistics.

    Exit code 3 when a candidate misses a KPI target on pass rate, win rate or missed
    escalations (for CI).

    \b
    Example:
      nova eval run --profile llm-core --repeats 3
      nova eval run --profile llm-core --guardrails on
      nova eval run --profile llm-core --run-id big-1 --shard 0/3   # and 1/3, 2/3
      nova eval run --resume big-1 --shard 1/3                      # re-run one shard
    """
    from nova.evals import Progress as EvalProgress
    from nova.evals import build_report, default_spec, resume_spec, run_eval
    from nova.store import open_store

    shard = _parse_shard(shard_text)
    if run_id and shard is None:
        raise click.UsageError("--run-id names the run that shards share: give --shard I/N")
    if shard is not None and not (run_id or resume):
        raise click.UsageError("--shard needs the run id all shards share: give --run-id")
    if run_id and resume:
        raise click.UsageError("give --run-id (start or join) or --resume (continue), not both")

    loaded = app.config()
    ws = app.workspace()
    given = [
        name
        for name, v in (
            ("--profile", profile),
            ("--candidates", candidates),
            ("--datasets", datasets),
            ("--repeats", repeats),
            ("--max-cases", max_cases),
        )
        if v
    ]
    if resume and given:
        raise click.UsageError(
            f"--resume takes the settings stored with run {resume}; drop {', '.join(given)}"
        )
    prog = EvalProgress()
    with open_store(ws, loaded.config) as store:
        if resume:
            spec = resume_spec(store, resume)
        else:
            spec = default_spec(loaded, profile, candidates.split(",") if candidates else None)
            upd: dict[str, object] = {}
            if datasets:
                upd["datasets"] = datasets.split(",")
            if repeats:
                upd["repeats"] = repeats
            if max_cases:
                upd["max_cases"] = max_cases
            upd["guardrails"] = guardrails == "on"
            spec = spec.model_copy(update=upd)
        con = err_console()
        with progress_bar(con, "evaluating", enabled=con.is_terminal and not as_json) as bar:

            def update(p: EvalProgress) -> None:
                if bar is not None:
                    bar(f"evaluating ({p.errors} errors)", p.done, p.total)

            run_id = asyncio.run(
                run_eval(
                    ws,
                    loaded,
                    spec,
                    store,
                    resume=resume,
                    progress=prog,
                    on_update=update,
                    shard=shard,
                    run_id=run_id,
                )
            )
        if shard is not None and store.get_run(run_id).status != "completed":
            out_console().print(
                f"shard {shard.label}: {prog.done - prog.skipped} cases answered, "
                f"{prog.skipped} resumed from the store. Run {run_id} is complete when every "
                f"shard is (`nova runs merge {run_id}`).",
                markup=False,
            )
            return
        rep = build_report(store, run_id, loaded.config, app.catalog())
    if as_json:
        print_json(rep.model_dump(mode="json"))
    else:
        render_report(rep)
        out_console().print(
            f"{prog.done - prog.skipped} cases answered, {prog.skipped} "
            f"resumed from the store. Run id: {run_id}",
            markup=False,
        )
    failures = quality_gate_failures(rep, app)
    if failures:
        raise GateFailedError("quality gate failed:\n  " + "\n  ".join(failures))


def _parse_shard(text: str | None) -> Shard | None:
    from nova.shard import Shard

    if text is None:
        return None
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None


@eval_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def eval_show(app: AppContext, run_id: str, as_json: bool) -> None:
    """The statistics of a stored quality run.

    \b
    Example:
      nova eval show 20261127-0412
    """
    from nova.evals import build_report
    from nova.store import open_store

    loaded = app.config()
    with open_store(app.workspace(), loaded.config) as store:
        rep = build_report(store, run_id, loaded.config, app.catalog())
    if as_json:
        print_json(rep.model_dump(mode="json"))
    else:
        render_report(rep)


@eval_group.command("compare")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def eval_compare(app: AppContext, run_id: str, as_json: bool) -> None:
    """Paired comparison of a run: win rates vs the baseline and the Bradley–Terry ranking.

    \b
    Example:
      nova eval compare 20261127-0412 --json
    """
    from nova.evals import build_report
    from nova.store import open_store

    loaded = app.config()
    with open_store(app.workspace(), loaded.config) as store:
        rep = build_report(store, run_id, loaded.config, app.catalog())
    data = {
        "baseline": rep.baseline,
        "bradley_terry": rep.bradley_terry,
        "win_rates": {
            c.candidate: c.win_rate.model_dump() if c.win_rate else None for c in rep.candidates
        },
        "method": {c.candidate: c.win_method for c in rep.candidates},
    }
    if as_json:
        print_json(data)
        return
    rows = []
    for c in rep.candidates:
        w = c.win_rate
        if w is None:
            continue
        rows.append(
            [
                c.candidate,
                f"{w.rate:.1%}",
                f"[{w.low:.1%}–{w.high:.1%}]",
                f"{w.wins}/{w.ties}/{w.losses}",
                f"{w.p_value:.3g}",
                c.win_method or "",
            ]
        )
    print_table(
        ["Candidate", "Win rate", "95% CI (bootstrap)", "W/T/L", "Sign test p", "Decided by"],
        rows,
        title=f"Paired win rate vs baseline {rep.baseline}",
    )
    if rep.bradley_terry:
        print_table(
            ["Rank", "Candidate", "Strength"],
            [[i + 1, n, f"{s:.3f}"] for i, (n, s) in enumerate(rep.bradley_terry)],
            title="Bradley–Terry ranking",
        )


@click.group("datasets")
def datasets_group() -> None:
    """Check and describe the eval datasets of the workspace."""


@datasets_group.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--require-references",
    is_flag=True,
    help="Fail (exit 3) when a case has no reference answers.",
)
@pass_app
def datasets_validate(app: AppContext, files: tuple[Path, ...], require_references: bool) -> None:
    """Schema, duplicate ids and grader names of every case (exit 2 with line numbers); then
    the deterministic graders on each case's reference answers: the good one must pass them
    all, the bad one must fail one (exit 3 naming the cases when they do not).

    \b
    Example:
      nova datasets validate datasets/compliance.jsonl
    """
    from nova.datasets import dataset_files, scan_dataset, stream_dataset
    from nova.evals import check_references

    paths = list(files) or dataset_files(app.workspace().datasets_dir)
    problems: list[Problem] = []
    scanned = []
    for p in paths:  # every file checked first, one case at a time
        try:
            scanned.append(scan_dataset(p))
        except ConfigError as exc:
            problems += exc.problems
        except FileNotFoundError:
            problems.append(Problem(p, None, "", "file not found"))
    if problems:
        raise ConfigError(problems, "datasets are not valid")
    con = out_console()
    failures: list[str] = []
    total = 0
    for ds in scanned:
        checks = asyncio.run(check_references(stream_dataset(ds)))
        total += ds.cases
        missing = [c.case_id for c in checks if c.missing]
        bad = [c for c in checks if c.problems]
        separated = sum(c.separated for c in checks)
        con.print(
            f"{ds.path}: {ds.cases} cases valid; reference answers: {separated} separated, "
            f"{len(bad)} not separated, {len(missing)} missing",
            markup=False,
        )
        for c in bad:
            failures += [f"{ds.path}: {c.case_id}: {why}" for why in c.problems]
        if require_references and missing:
            failures.append(f"{ds.path}: no reference answers: {', '.join(missing)}")
    if failures:
        raise GateFailedError(
            "the graders do not separate the reference answers:\n  " + "\n  ".join(failures)
        )
    con.print(f"{len(paths)} dataset(s), {total} cases: valid", markup=False)


def _dataset_stats(path: Path) -> dict[str, object]:
    """Counts of one dataset, read one case at a time."""
    from nova.datasets import Case, scan_dataset

    langs: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    graders: Counter[str] = Counter()
    multi = 0

    def count(c: Case) -> None:
        nonlocal multi
        langs[c.language] += 1
        cats[c.category] += 1
        graders.update(e.grader for e in c.expect)
        multi += len(c.messages) > 1

    ds = scan_dataset(path, count)
    return {
        "dataset": ds.name,
        "sha256": ds.sha256,
        "cases": ds.cases,
        "languages": dict(langs),
        "categories": dict(cats),
        "graders": dict(graders),
        "multi_turn": multi,
    }


@datasets_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def datasets_stats(app: AppContext, as_json: bool) -> None:
    """Cases per dataset, category, language and grader, with each file's content hash.

    \b
    Example:
      nova datasets stats
    """
    from nova.datasets import dataset_files

    data = [_dataset_stats(p) for p in dataset_files(app.workspace().datasets_dir)]
    if as_json:
        print_json(data)
        return
    print_table(
        ["Dataset", "Cases", "Languages", "Multi-turn", "Graders", "sha256"],
        [
            [
                d["dataset"],
                d["cases"],
                json.dumps(d["languages"]),
                d["multi_turn"],
                ", ".join(f"{k}:{v}" for k, v in d["graders"].items()),  # type: ignore[attr-defined]
                str(d["sha256"])[:16],
            ]
            for d in data
        ],
    )


@datasets_group.command("import-csv")
@click.argument("csv_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("name")
@click.option("--force", is_flag=True, help="Replace datasets/NAME.jsonl if it exists.")
@pass_app
def datasets_import_csv(app: AppContext, csv_file: Path, name: str, force: bool) -> None:
    """Import cases from a spreadsheet export (CSV) into datasets/NAME.jsonl.

    Columns: id, category, language, user (or turns as JSON), expect, tags, weight,
    rationale, optional system. expect takes JSON or a short form such as
    "contains_any: kündig | portal ; escalation: false".

    \b
    Example:
      nova datasets import-csv faelle.csv billing
    """
    from nova.evals import import_cases_csv

    dest = app.workspace().datasets_dir / f"{name}.jsonl"
    n = import_cases_csv(csv_file, dest, force=force)
    out_console().print(f"{n} cases written to {dest}", markup=False)
