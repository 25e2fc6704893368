"""``nova runs list|show``: what the run store holds."""

from __future__ import annotations

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import out_console, print_json, print_table

__all__ = ["runs_group"]


@click.group("runs")
def runs_group() -> None:
    """Runs recorded in the workspace's run store."""


@runs_group.command("list")
@click.option("--kind", help="Only runs of this kind (quality, performance, redteam, …).")
@click.option("--limit", default=50, show_default=True, help="Most runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def runs_list(app: AppContext, kind: str | None, limit: int, as_json: bool) -> None:
    """Newest runs first, with status, profile and provenance.

    \b
    Example:
      nova runs list --kind performance
    """
    from nova.store import open_store

    ws = app.workspace()
    with open_store(ws, app.config().config) as store:
        runs = store.list_runs(kind=kind, limit=limit)
        counts = {r.id: store.count_requests(r.id) for r in runs}
    if as_json:
        print_json([{**r.model_dump(mode="json"), "requests": counts[r.id]} for r in runs])
        return
    if not runs:
        out_console().print("No runs yet.")
        return
    print_table(
        ["Run", "Kind", "Profile", "Status", "Started (UTC)", "Requests", "Config hash", "nova"],
        [
            [
                r.id,
                r.kind,
                r.profile or "",
                r.status,
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                counts[r.id],
                (r.config_hash or "")[:19],
                r.nova_version,
            ]
            for r in runs
        ],
    )


@runs_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def runs_show(app: AppContext, run_id: str, as_json: bool) -> None:
    """One run with its provenance (a unique prefix of the id is enough).

    \b
    Example:
      nova runs show 20261127-0321
    """
    from nova.store import open_store

    ws = app.workspace()
    with open_store(ws, app.config().config) as store:
        run = store.get_run(run_id)
        n = store.count_requests(run.id)
    if as_json:
        print_json({**run.model_dump(mode="json"), "requests": n})
        return
    rows = [[k, str(v)] for k, v in run.model_dump(mode="json").items() if k != "meta"]
    rows += [[f"meta.{k}", str(v)] for k, v in run.meta.items()]
    rows.append(["requests", str(n)])
    print_table(["Field", "Value"], rows)
