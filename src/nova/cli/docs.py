"""``nova docs``: the governance documents Legal and Security ask for."""

from __future__ import annotations

from typing import Literal

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import out_console

__all__ = ["docs_command"]


@click.command("docs")
@click.option(
    "--language",
    type=click.Choice(["de", "en"]),
    help="Language (default: governance.language of nova.yaml).",
)
@click.option("--quality-run", help="Quality run for the evidence (default: latest).")
@click.option("--perf-run", help="Performance run for the evidence (default: latest).")
@click.option("--redteam-run", help="Red-team run for the evidence (default: latest).")
@pass_app
def docs_command(
    app: AppContext,
    language: str | None,
    quality_run: str | None,
    perf_run: str | None,
    redteam_run: str | None,
) -> None:
    """Write docs/governance/: license review, DSFA (or screening note), exit strategy,
    fallback plan, deployment options, KPI catalogue, LoRA compatibility, QA plan.

    Each is filled from the catalog, nova.yaml and the measured evidence, and ends with the
    evidence it was generated from. Values that were not measured say so.

    \b
    Example:
      nova docs --language de
    """
    from nova.decision import collect_evidence
    from nova.governance import render_governance_docs
    from nova.store import open_store

    loaded = app.config()
    ws = app.workspace()
    with open_store(ws, loaded.config) as store:
        ev = collect_evidence(
            ws,
            loaded,
            app.catalog(),
            store,
            quality_run=quality_run,
            perf_run=perf_run,
            redteam_run=redteam_run,
        )
    lang: Literal["de", "en"] | None = (
        None if language is None else ("de" if language == "de" else "en")
    )
    paths = render_governance_docs(ws.root, loaded.config, app.catalog(), ev, language=lang)
    con = out_console()
    for p in paths:
        con.print(f"wrote {p}", markup=False)
