"""``nova candidates list|show`` and ``nova catalog list|show``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from nova.cli._context import AppContext, pass_app
from nova.cli._render import out_console, print_json, print_table
from nova.errors import CatalogError

if TYPE_CHECKING:
    from nova.catalog import CandidateSummary, CatalogModel

__all__ = ["candidates_group", "catalog_group"]


def _yes_no(v: bool | None) -> str:
    return "?" if v is None else ("yes" if v else "no")


def _summaries(app: AppContext) -> list[CandidateSummary]:
    from nova.catalog import summarize_candidate
    from nova.settings import get_settings

    loaded = app.config()
    cat = app.catalog()
    max_age = get_settings().catalog_max_age_days
    out = []
    for i, c in enumerate(loaded.config.candidates):
        prefix = f"candidates[{i}]."
        reasons = [w.message for w in loaded.warnings if w.path.startswith(prefix)]
        out.append(summarize_candidate(c, cat, not_ready=reasons, max_age_days=max_age))
    return out


@click.group("candidates")
def candidates_group() -> None:
    """The candidates of nova.yaml with their catalog facts."""


@candidates_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def candidates_list(app: AppContext, as_json: bool) -> None:
    """Table of candidates: role, license, context window, price, facts age, readiness.

    \b
    Example:
      nova candidates list --json | jq '.[] | select(.ready)'
    """
    rows = _summaries(app)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = []
    for r in rows:
        age = "?" if r.age_days is None else f"{r.age_days} d"
        table.append(
            [
                r.id,
                r.role,
                r.hosting,
                r.license or "?",
                _yes_no(r.commercial_use),
                f"{r.context_window:,}" if r.context_window else "?",
                r.price.describe() if r.price else "—",
                Text(age + (" STALE" if r.stale else ""), style="red" if r.stale else ""),
                Text("yes", style="green") if r.ready else Text("no", style="yellow"),
            ]
        )
    print_table(
        [
            "ID",
            "Role",
            "Hosting",
            "License",
            "Commercial",
            "Context",
            "Price",
            "Facts age",
            "Ready",
        ],
        table,
        caption="Facts age = days since the oldest catalog fact used was checked at its source. "
        "`nova candidates show ID` lists every fact with its source.",
    )
    not_ready = [r for r in rows if not r.ready]
    for r in not_ready:
        for reason in r.not_ready_reasons:
            out_console().print(f"not ready: {reason}", markup=False)


def _fact(label: str, value: Any, source: Any = None, retrieved: Any = None) -> list[str]:
    src = f"{source} ({retrieved})" if source else ""
    return [label, "" if value is None else str(value), src]


def _model_rows(m: CatalogModel) -> list[list[str]]:
    lic = m.license
    rows = [
        _fact("License", f"{lic.name} [{lic.spdx}]", lic.source, lic.retrieved),
        _fact("Open weights", _yes_no(lic.open_weights), lic.source, lic.retrieved),
        _fact("OSI approved", _yes_no(lic.osi_approved), lic.source, lic.retrieved),
        _fact("Commercial use", _yes_no(lic.commercial_use), lic.source, lic.retrieved),
        _fact("EU licensees excluded", _yes_no(lic.eu_restricted), lic.source, lic.retrieved),
    ]
    rows += [_fact("Restriction", r, lic.source, lic.retrieved) for r in lic.restrictions]
    if lic.attribution:
        rows.append(_fact("Attribution", lic.attribution, lic.source, lic.retrieved))
    cw = m.context_window
    rows.append(
        _fact(
            "Context window",
            f"{cw.tokens:,} tokens" + (f" — {cw.note}" if cw.note else ""),
            cw.source,
            cw.retrieved,
        )
    )
    if m.parameters:
        p = m.parameters
        active = f", {p.active_b:g}B active" if p.active_b else ""
        rows.append(_fact("Parameters", f"{p.total_b:g}B total{active}", p.source, p.retrieved))
    if m.languages_note:
        rows.append(_fact("Languages", m.languages_note))
    for o in m.hosting.managed:
        regions = f" — regions: {', '.join(o.regions)}" if o.regions else ""
        note = f" — {o.note}" if o.note else ""
        rows.append(
            _fact(f"Managed: {o.platform}", f"{o.model_id}{regions}{note}", o.source, o.retrieved)
        )
    if m.hosting.self_hosted:
        rows.append(_fact("Self-hosted engines", ", ".join(m.hosting.self_hosted)))
    for lo in m.lora:
        rows.append(
            _fact(
                f"LoRA on {lo.engine}",
                _yes_no(lo.supported) + (f" — {lo.note}" if lo.note else ""),
                lo.source,
                lo.retrieved,
            )
        )
    for sh in m.self_hosting:
        rows.append(
            _fact(
                f"GPU plan ({sh.engine})",
                f"{sh.gpus}× {sh.gpu}, {sh.precision}" + (f" — {sh.note}" if sh.note else ""),
                sh.source,
                sh.retrieved,
            )
        )
    if m.hf_repo:
        rows.append(_fact("Weights", f"https://huggingface.co/{m.hf_repo}"))
    if m.gguf:
        rows.append(_fact("GGUF", m.gguf))
    return rows


def _show_model(app: AppContext, m: CatalogModel, header: list[str]) -> None:
    cat = app.catalog()
    rows = _model_rows(m)
    for sheet in cat.sheets_for(m.id):
        for mp in sheet.models:
            if mp.model == m.id:
                rows.append(
                    _fact(
                        f"Price ({sheet.provider})",
                        f"{mp.input_per_mtok:.2f} / {mp.output_per_mtok:.2f} "
                        f"{sheet.currency} per 1M in/out [{sheet.id}]",
                        sheet.source,
                        sheet.retrieved,
                    )
                )
    for sh in m.self_hosting:
        found = cat.gpu_price(sh.gpu)
        if found:
            sheet, per_gpu = found
            rows.append(
                _fact(
                    f"GPU price ({sh.gpu})",
                    f"{per_gpu:.2f} {sheet.currency}/GPU-h × "
                    f"{sh.gpus} = {per_gpu * sh.gpus:.2f}/h [{sheet.id}]",
                    sheet.source,
                    sheet.retrieved,
                )
            )
    con = out_console()
    for line in header:
        con.print(line, markup=False)
    print_table(["Fact", "Value", "Source (retrieved)"], rows)
    con.print(
        f"Oldest fact: {cat.oldest_fact(m.id)}; record from {cat.origin.get(m.id)}", markup=False
    )


@candidates_group.command("show")
@click.argument("candidate_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def candidates_show(app: AppContext, candidate_id: str, as_json: bool) -> None:
    """Every fact about one candidate (or catalog model), each with its source and date.

    \b
    Example:
      nova candidates show gpt4o-azure
    """
    cfg = app.config().config
    cat = app.catalog()
    try:
        cand = cfg.candidate(candidate_id)
    except KeyError:
        cand = None
    if cand is None:
        if candidate_id in cat.models:
            _show_catalog(app, candidate_id, as_json)
            return
        known = ", ".join(c.id for c in cfg.candidates)
        raise CatalogError(
            f"no candidate {candidate_id!r} in nova.yaml (known: {known}) and "
            "no catalog model of that id"
        )
    summary = next(s for s in _summaries(app) if s.id == cand.id)
    rec = cat.models.get(cand.catalog) if cand.catalog else None
    if as_json:
        print_json(
            {
                "candidate": cand.model_dump(mode="json"),
                "summary": summary.model_dump(mode="json"),
                "catalog": rec.model_dump(mode="json") if rec else None,
            }
        )
        return
    header = [
        f"{cand.id}: {summary.name}",
        f"  model {cand.model}, role {cand.role}, "
        f"hosting {cand.hosting}, ready: {'yes' if summary.ready else 'no'}",
    ]
    header += [f"  not ready: {r}" for r in summary.not_ready_reasons]
    if rec is None:
        for line in header:
            out_console().print(line, markup=False)
        out_console().print("  no catalog record (set `catalog:` in nova.yaml)", markup=False)
        return
    _show_model(app, rec, header)


@click.group("catalog")
def catalog_group() -> None:
    """The shipped catalog of models and price sheets (plus workspace overrides)."""


@catalog_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def catalog_list(app: AppContext, as_json: bool) -> None:
    """All catalog models with license, context window and age of the facts.

    \b
    Example:
      nova catalog list
    """
    cat = app.catalog()
    if as_json:
        print_json(
            {
                "models": [m.model_dump(mode="json") for m in cat.models.values()],
                "price_sheets": [s.model_dump(mode="json") for s in cat.price_sheets.values()],
            }
        )
        return
    rows = []
    for m in sorted(cat.models.values(), key=lambda m: m.id):
        params = f"{m.parameters.total_b:g}B" if m.parameters else "?"
        rows.append(
            [
                m.id,
                m.name,
                m.license.name,
                _yes_no(m.license.commercial_use),
                f"{m.context_window.tokens:,}",
                params,
                ", ".join(o.platform for o in m.hosting.managed) or "—",
                str(cat.oldest_fact(m.id)),
            ]
        )
    print_table(
        ["ID", "Name", "License", "Commercial", "Context", "Params", "Managed", "Oldest fact"], rows
    )
    sheets = sorted(cat.price_sheets.values(), key=lambda s: s.id)
    print_table(
        ["Price sheet", "Provider", "Kind", "Retrieved", "Source"],
        [[s.id, s.provider, s.kind, str(s.retrieved), str(s.source)] for s in sheets],
    )


def _show_catalog(app: AppContext, model_id: str, as_json: bool) -> None:
    m = app.catalog().model(model_id)
    if as_json:
        print_json(m.model_dump(mode="json"))
        return
    _show_model(app, m, [f"{m.id}: {m.name} ({m.vendor})"])


@catalog_group.command("show")
@click.argument("model_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def catalog_show(app: AppContext, model_id: str, as_json: bool) -> None:
    """Every fact of one catalog model with its source.

    \b
    Example:
      nova catalog show mixtral-8x7b-instruct
    """
    _show_catalog(app, model_id, as_json)


@candidates_group.command("ping")
@click.argument("candidate_ids", nargs=-1)
@click.option(
    "--timeout",
    "timeout_s",
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def candidates_ping(
    app: AppContext, candidate_ids: tuple[str, ...], timeout_s: float, as_json: bool
) -> None:
    """Send one short request to each candidate (default: all) and show who answers.

    Prints status, the model id the server reported, latency and token counts (with their
    source); exit 1 if any candidate failed.

    \b
    Example:
      nova candidates ping llama31-70b-vllm gpt4o-azure
    """
    from nova.providers import PING_PROMPT, ping_candidates

    cfg = app.config().config
    try:
        chosen = [cfg.candidate(c) for c in candidate_ids] if candidate_ids else cfg.candidates
    except KeyError as exc:
        raise CatalogError(
            f"no candidate {exc.args[0]!r} in nova.yaml (known: "
            f"{', '.join(c.id for c in cfg.candidates)})"
        ) from None
    results = asyncio.run(
        ping_candidates(chosen, workspace_root=app.workspace().root, timeout_s=timeout_s)
    )
    if as_json:
        print_json([r.model_dump(mode="json") for r in results])
    else:

        def ms(v: float | None) -> str:
            return "" if v is None else f"{v:,.0f}"

        print_table(
            [
                "Candidate",
                "Status",
                "Model (reported)",
                "TTFT ms",
                "Total ms",
                "Tokens in/out",
                "Answer / error",
            ],
            [
                [
                    r.candidate,
                    Text("ok", style="green")
                    if r.ok
                    else Text(r.error_kind or "error", style="red"),
                    r.model_reported or "",
                    ms(r.ttft_ms),
                    ms(r.latency_ms),
                    f"{r.prompt_tokens}/{r.completion_tokens} ({r.usage_source})" if r.ok else "",
                    (r.text or "") if r.ok else (r.error or ""),
                ]
                for r in results
            ],
            caption=f"One streaming request each: {PING_PROMPT!r}, max 16 tokens, no retries.",
        )
    if not all(r.ok for r in results):
        raise SystemExit(1)
