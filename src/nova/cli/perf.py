"""``nova perf run|show|chart``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nova._secrets import register_secret
from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json, print_table
from nova.errors import NovaError, WorkspaceError

if TYPE_CHECKING:
    from nova.config import Candidate, Slo
    from nova.perf import CandidatePerf, LevelMetrics

__all__ = ["perf_group", "render_perf"]


@click.group("perf")
def perf_group() -> None:
    """Performance benchmarks: TTFT, TPOT, ITL, E2E latency, throughput, goodput, cost."""


def _ints(s: str) -> list[int]:
    try:
        return [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{s!r}: give comma-separated integers, e.g. 1,4,16") from None


def _slo(s: str) -> Slo:
    from nova.config import Slo

    vals: dict[str, float] = {}
    for part in s.replace(",", " ").split():
        key, _, v = part.partition(":")
        name = {"ttft": "ttft_ms", "tpot": "tpot_ms", "e2el": "e2el_ms"}.get(key)
        if name is None or not v:
            raise click.BadParameter(f"{part!r}: use ttft:MS tpot:MS e2el:MS")
        vals[name] = float(v)
    return Slo(**vals)


def _f(v: float | None, spec: str = ",.1f") -> str:
    return "—" if v is None else format(v, spec)


def render_perf(results: list[CandidatePerf], run_id: str) -> None:
    """The tables of a performance run."""
    rows: list[list[Any]] = []
    for r in results:
        if r.error:
            rows.append([r.candidate, "not measured", r.error[:90], *[""] * 9])
            continue
        for lv in r.levels:
            ttft, tpot, itl, e2e = lv.ttft_ms, lv.tpot_ms, lv.itl_ms, lv.e2el_ms
            mark = " *" if lv.label == r.operating_point else ""
            rows.append(
                [
                    r.candidate,
                    lv.label + mark,
                    f"{lv.successful}/{lv.requests}"
                    + (f" ({lv.failed}+{lv.incomplete} cut)" if lv.failed or lv.incomplete else ""),
                    f"{_f(ttft.p50 if ttft else None)} / {_f(ttft.p95 if ttft else None)}",
                    f"{_f(tpot.p50 if tpot else None, '.2f')}",
                    f"{_f(itl.p50 if itl else None, '.2f')}",
                    f"{_f(e2e.p50 if e2e else None)} / {_f(e2e.p99 if e2e else None)}",
                    _f(lv.output_throughput),
                    _f(lv.request_throughput, ".2f"),
                    _f(lv.goodput, ".2f")
                    + (f" ({lv.slo_attainment:.0%})" if lv.slo_attainment is not None else ""),
                    _f(lv.queue_ms.p50 if lv.queue_ms else None, ".2f"),
                ]
            )
    print_table(
        [
            "Candidate",
            "Load",
            "OK/sent",
            "TTFT p50/p95 ms",
            "TPOT p50 ms",
            "ITL p50 ms",
            "E2EL p50/p99 ms",
            "Output tok/s",
            "Req/s",
            "Goodput req/s (SLO met)",
            "Queue p50 ms",
        ],
        rows,
        title=f"Performance run {run_id} (* = operating point used for cost)",
    )
    cost_rows = [
        [
            r.candidate,
            r.operating_point or "—",
            _f(r.cost.usd_per_mtok_output, ",.3f") if r.cost else "—",
            _f(r.cost.usd_per_1k_conversations, ",.3f") if r.cost else "—",
            _f(r.cost.eur_per_1k_conversations, ",.3f") if r.cost else "—",
            r.cost.basis if r.cost else (r.error or ""),
        ]
        for r in results
    ]
    print_table(
        [
            "Candidate",
            "Operating point",
            "USD / 1M output tokens",
            "USD / 1,000 conversations",
            "EUR / 1,000 conversations",
            "Basis",
        ],
        cost_rows,
        title="Cost",
        caption="EUR at "
        + next((r.cost.fx for r in results if r.cost and r.cost.fx), "no exchange rate")
        + "; a STALE price sheet is older than NOVA_CATALOG_MAX_AGE_DAYS.",
    )
    con = out_console()
    skews = [
        f"{r.candidate} {lv.label}: {lv.start_skew_ms:.1f} ms"
        for r in results
        for lv in r.levels
        if lv.start_skew_ms is not None
    ]
    if skews:
        from nova.shard import SKEW_DEFINITION

        con.print(f"Shards' start skew: {'; '.join(skews)} ({SKEW_DEFINITION}).", markup=False)
    sat = [f"{r.candidate} saturated at {r.saturated_at}" for r in results if r.saturated_at]
    if sat:
        con.print(
            "Sweep stopped: " + "; ".join(sat) + " (next level added < 10% throughput)",
            markup=False,
        )
    srcs = {k for r in results for lv in r.levels for k in lv.usage_sources}
    con.print(
        f"Token counts from: {', '.join(sorted(srcs)) or 'none'} (server = usage field; "
        "estimate = one token per content chunk). Definitions: vLLM bench serve — "
        "`nova perf show RUN --definitions` prints them.",
        markup=False,
    )


@perf_group.command("run")
@click.option("--profile", "-p", help="Profile of nova.yaml whose performance spec to use.")
@click.option("--candidates", help="Comma-separated candidate ids.")
@click.option("--base-url", help="Benchmark any OpenAI-compatible endpoint (not in nova.yaml).")
@click.option("--model", help="Model name for --base-url.")
@click.option(
    "--api-key-env", metavar="VAR", help="Environment variable with the key for --base-url."
)
@click.option("--concurrency", help="Concurrency levels, e.g. 1,4,16,64.")
@click.option("--rate", "rates", help="Request rates (req/s), e.g. 2,5,10, with --arrival.")
@click.option(
    "--arrival",
    type=click.Choice(["concurrency", "constant", "poisson"]),
    help="Load pattern (default: concurrency, or constant when --rate is given).",
)
@click.option("--requests", type=int, help="Measured requests per level.")
@click.option("--duration", "duration_s", type=float, help="Max seconds per level.")
@click.option("--warmup", type=int, help="Warm-up requests per level (excluded).")
@click.option("--input-tokens", type=int, help="Synthetic prompt length.")
@click.option("--output-tokens", type=int, help="Output tokens per request.")
@click.option("--prompts", type=click.Choice(["synthetic", "datasets"]), help="Prompt source.")
@click.option("--slo", help="SLOs for goodput, e.g. 'ttft:500 tpot:50 e2el:10000'.")
@click.option("--no-saturation-stop", is_flag=True, help="Run every level.")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a latency-vs-throughput chart (.png or .svg).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Spread each load level over N local processes (own event loop and connection pool "
    "each) from a common start; the level is computed from all their stored samples.",
)
@click.option(
    "--shard",
    "shard_text",
    metavar="I/N",
    help="Send only slice I of N (0-based) of every level into the run --run-id shared by all "
    "shards (store: NOVA_DATABASE_URL); the shards start each level together (they wait for "
    "each other, see --start-timeout); `nova runs merge RUN` shows the whole run.",
)
@click.option("--run-id", help="Run id the shards share (the first shard creates the run).")
@click.option(
    "--start-timeout",
    "start_timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="With --shard: how long a shard waits for the other shards of a level; all start "
    "each level together, at a common time stored in the run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def perf_run(
    app: AppContext,
    profile: str | None,
    candidates: str | None,
    base_url: str | None,
    model: str | None,
    api_key_env: str | None,
    concurrency: str | None,
    rates: str | None,
    arrival: str | None,
    requests: int | None,
    duration_s: float | None,
    warmup: int | None,
    input_tokens: int | None,
    output_tokens: int | None,
    prompts: str | None,
    slo: str | None,
    no_saturation_stop: bool,
    chart: Path | None,
    workers: int,
    shard_text: str | None,
    run_id: str | None,
    start_timeout_s: float,
    as_json: bool,
) -> None:
    """Measure latency and throughput with the definitions of vLLM's `bench serve`.

    \b
    Example:
      nova perf run --candidates llama31-70b-vllm --concurrency 1,4,16,64
      nova perf run --base-url http://127.0.0.1:8000/v1 --model m --rate 2,5 --arrival poisson
      nova perf run --candidates llama31-70b-vllm --concurrency 256 --workers 2
      nova perf run --candidates llama31-70b-vllm --run-id load-1 --shard 0/4   # 1/4 …
    """
    from nova.cli.evals import _parse_shard

    shard = _parse_shard(shard_text)
    if (run_id is None) != (shard is None):
        raise click.UsageError("--shard I/N and --run-id go together (the run the shards share)")
    if shard is not None and workers > 1:
        raise click.UsageError("give --shard or --workers, not both")
    from nova.config import Candidate
    from nova.perf import PerfSpec, latency_throughput_chart, run_perf, spec_fields_from_profile
    from nova.store import RunStore, open_store

    spec_data: dict[str, Any] = {}
    datasets: list[str] | None = None
    cands: list[Candidate] | None = None
    loaded = None
    ws = None
    if base_url:
        if not model:
            raise click.UsageError("--base-url needs --model NAME")
        provider: dict[str, Any] = {"base_url": base_url, "cache": False, "timeout_s": 600}
        if api_key_env:
            if not os.environ.get(api_key_env):
                raise click.UsageError(f"--api-key-env {api_key_env}: the variable is not set")
            provider["api_key"] = os.environ[api_key_env]
            # Masked in every file, log line and row, like a ${VAR} secret of nova.yaml.
            register_secret(provider["api_key"])
        cands = [
            Candidate.model_validate(
                {"id": "target", "model": f"openai/{model}", "provider": provider}
            )
        ]
        spec_data["candidates"] = ["target"]
        try:
            ws = app.workspace()
        except WorkspaceError:
            ws = None
    else:
        loaded = app.config()
        ws = app.workspace()
        cfg = loaded.config
        chosen = cfg.profile_candidates(profile, candidates.split(",") if candidates else None)
        prof = cfg.profiles.get(profile) if profile else None
        if prof is not None:
            spec_data.update(spec_fields_from_profile(prof))
            if prof.quality is not None:  # the prompts the benchmarks pipeline sends
                datasets = prof.quality.datasets
        spec_data["candidates"] = chosen
        spec_data["profile"] = profile
    if concurrency:
        spec_data["concurrency"] = _ints(concurrency)
    if rates:
        spec_data["rates"] = [float(x) for x in rates.split(",")]
        spec_data["arrival"] = arrival or "constant"
    elif arrival:
        spec_data["arrival"] = arrival
    for key, val in (
        ("requests", requests),
        ("duration_s", duration_s),
        ("warmup", warmup),
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
        ("prompts", prompts),
    ):
        if val is not None:
            spec_data[key] = val
    if slo:
        spec_data["slo"] = _slo(slo)
    if no_saturation_stop:
        spec_data["stop_at_saturation"] = False
    spec = PerfSpec.model_validate(spec_data)
    con = err_console()

    def on_level(cid: str, lv: LevelMetrics) -> None:
        if not as_json:
            ttft = f"{lv.ttft_ms.p50:.1f}" if lv.ttft_ms else "—"
            con.print(
                f"  {cid} {lv.label}: {lv.successful}/{lv.requests} ok, TTFT p50 {ttft} "
                f"ms, {lv.output_throughput:,.1f} output tok/s",
                markup=False,
            )

    store = (
        open_store(ws, loaded.config if loaded else None)
        if ws is not None
        else RunStore("sqlite://")
    )
    with store:
        run_id, results = asyncio.run(
            run_perf(
                ws,
                loaded,
                spec,
                store,
                app.catalog(),
                candidates=cands,
                on_level=on_level,
                shard=shard,
                run_id=run_id,
                workers=workers,
                start_timeout_s=start_timeout_s,
                datasets=datasets,
            )
        )
    if chart:
        latency_throughput_chart(results, chart, title=f"Performance run {run_id}")
    if as_json:
        print_json(
            {
                "run_id": run_id,
                "spec": spec.model_dump(mode="json"),
                "results": [r.model_dump(mode="json") for r in results],
            }
        )
        return
    render_perf(results, run_id)
    if chart:
        out_console().print(f"Chart: {chart}", markup=False)
    if ws is None:
        out_console().print("(no workspace: results were not stored)", markup=False)
    if any(r.error for r in results):
        raise SystemExit(1)


def _load(app: AppContext, run_id: str) -> tuple[str, list[CandidatePerf]]:
    from nova.perf import CandidatePerf
    from nova.store import open_store

    loaded = app.config()
    with open_store(app.workspace(), loaded.config) as store:
        run = store.get_run(run_id)
    if run.kind != "performance":
        raise NovaError(f"run {run.id} is a {run.kind} run, not a performance run")
    return run.id, [CandidatePerf.model_validate(r) for r in run.meta.get("results", [])]


@perf_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--definitions", is_flag=True, help="Also print how every metric is defined.")
@pass_app
def perf_show(app: AppContext, run_id: str, as_json: bool, definitions: bool) -> None:
    """Tables of a stored performance run, per candidate and load level.

    \b
    Example:
      nova perf show 20261127-0412 --definitions
    """
    from nova.perf import DEFINITIONS

    rid, results = _load(app, run_id)
    if as_json:
        print_json({"run_id": rid, "results": [r.model_dump(mode="json") for r in results]})
        return
    render_perf(results, rid)
    if definitions:
        out_console().print(DEFINITIONS, markup=False)


@perf_group.command("chart")
@click.argument("run_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file (.png or .svg).",
)
@pass_app
def perf_chart(app: AppContext, run_id: str, out: Path) -> None:
    """Latency-vs-throughput chart of a stored performance run.

    \b
    Example:
      nova perf chart 20261127-0412 --out reports/latency.svg
    """
    from nova.perf import latency_throughput_chart

    rid, results = _load(app, run_id)
    latency_throughput_chart(results, out, title=f"Performance run {rid}")
    out_console().print(f"wrote {out}", markup=False)
