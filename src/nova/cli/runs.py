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
    from nova.shard import SKEW_DEFINITION, start_skews
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
    skews = start_skews(run.meta)
    if skews:
        text = "; ".join(f"{k}: {v:.1f} ms" for k, v in skews.items())
        rows.append(["start skew", f"{text} ({SKEW_DEFINITION})"])
    print_table(["Field", "Value"], rows)


@runs_group.command("merge")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def runs_merge(app: AppContext, run_id: str, as_json: bool) -> None:
    """A sharded run as one: the state of every shard, and for a performance run its levels
    recomputed from the stored samples of all shards (stored as the run's results).

    Exit 1 while a shard has not completed (re-run it: `--resume RUN --shard I/N` for an eval,
    the same command for perf).

    \b
    Example:
      nova runs merge big-1
    """
    from nova.cli.perf import render_perf
    from nova.config import Profile
    from nova.errors import NovaError
    from nova.perf import merge_perf
    from nova.shard import shard_states
    from nova.store import open_store

    loaded = app.config()
    with open_store(app.workspace(), loaded.config) as store:
        run = store.get_run(run_id)
        states = shard_states(run)
        results = None
        if run.kind == "performance":
            cands = [loaded.config.candidate(c) for c in run.meta.get("models", {})]
            prof = loaded.config.profiles.get(run.profile or "") or Profile()
            monthly = prof.monthly_conversations
            merged = merge_perf(store, run.id, app.catalog(), cands, monthly)
            results = [r.model_dump(mode="json") for r in merged]
            if all(s.status == "completed" for s in states):
                store.update_meta(run.id, {"results": results})
    pending = [s.shard for s in states if s.status != "completed"]
    if as_json:
        print_json(
            {
                "run_id": run.id,
                "kind": run.kind,
                "status": run.status,
                "shards": [s.model_dump(mode="json") for s in states],
                "results": results,
            }
        )
    else:
        print_table(
            ["Shard", "Status", "Items", "Host", "Started", "Ended"],
            [
                [s.shard, s.status or "not started", s.items, s.host, s.started_at, s.ended_at]
                for s in states
            ],
            title=f"Run {run.id} ({run.kind}, {run.status})",
        )
        if run.kind == "performance" and results is not None:
            render_perf(merged, run.id)
        elif run.kind == "quality" and not pending:
            out_console().print(f"complete: `nova eval show {run.id}`", markup=False)
    if pending:
        raise NovaError(
            f"run {run.id}: shard(s) {', '.join(pending)} not completed; re-run each with "
            "the same command (eval: `nova eval run --resume RUN --shard I/N`)"
        )
