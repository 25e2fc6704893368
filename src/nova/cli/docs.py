"""``nova docs``: the governance documents Legal and Security ask for."""

from __future__ import annotations

from typing import Literal

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import out_console
from nova.errors import NovaError

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
@click.option("--diff", "show_diff", is_flag=True, help="Print the unified diff of each document.")
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite documents whose generated text was edited or that have no seal (old file "
    "kept in .nova/backups/docs/, human sections carried over).",
)
@pass_app
def docs_command(
    app: AppContext,
    language: str | None,
    quality_run: str | None,
    perf_run: str | None,
    redteam_run: str | None,
    show_diff: bool,
    force: bool,
) -> None:
    """Write docs/governance/: license review, DSFA (or screening note), exit strategy,
    fallback plan, deployment options, KPI catalogue, LoRA compatibility, QA plan.

    Each is filled from the catalog, nova.yaml and the measured evidence, and ends with the
    evidence it was generated from. Values that were not measured say so. What people wrote in
    the marked human sections is kept byte for byte; each document's changes are summarised
    (`--diff` prints them). A document whose generated text was edited by hand, or that has no
    seal and differs from what nova generates now (written by an older nova), is left alone
    (exit 1, the message says what to do) unless `--force`, which keeps a backup and still
    carries its human sections over.

    \b
    Example:
      nova docs --language de --diff
    """
    from nova.decision import collect_evidence
    from nova.governance import update_governance_docs, workspace_controls
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
        controls = workspace_controls(ws, store)
    lang: Literal["de", "en"] | None = (
        None if language is None else ("de" if language == "de" else "en")
    )
    results = update_governance_docs(
        ws.root, loaded.config, app.catalog(), ev, language=lang, controls=controls, force=force
    )
    con = out_console()
    conflicts = []
    for r in results:
        u = r.update
        name = r.path.name
        if u.conflict and not r.written:
            conflicts.append(u.conflict)
            continue
        if r.created:
            line = f"{name}: new"
        elif not r.written:
            line = f"{name}: unchanged"
        else:
            line = f"{name}: {len(u.kept)} human section(s) kept, +{u.added} −{u.removed} lines"
        if r.backup is not None:
            line += f" (edited file replaced; old one kept at {r.backup})"
        con.print(line, markup=False)
        if show_diff and u.diff:
            for d in u.diff:
                con.print(d, markup=False, highlight=False)
    if conflicts:
        raise NovaError(
            "not overwritten, to keep what people wrote (the other documents were "
            "regenerated):\n  " + "\n  ".join(conflicts)
        )
