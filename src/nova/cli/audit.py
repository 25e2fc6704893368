"""``nova audit log|verify``: the hash-chained audit log."""

from __future__ import annotations

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json, print_table

__all__ = ["audit_group"]


@click.group("audit")
def audit_group() -> None:
    """The audit log: reviews, approvals, decisions, each chained to the one before."""


@audit_group.command("log")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def audit_log(app: AppContext, as_json: bool) -> None:
    """Every audit entry in order.

    \b
    Example:
      nova audit log --json
    """
    from nova.store import open_store

    with open_store(app.workspace(), app.config().config) as store:
        entries = store.audit_entries()
    if as_json:
        print_json([e.model_dump(mode="json") for e in entries])
        return
    if not entries:
        out_console().print("The audit log is empty.")
        return
    print_table(
        ["#", "At (UTC)", "Actor", "Action", "Subject", "Hash"],
        [
            [e.seq, f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.subject or "", e.hash[:16]]
            for e in entries
        ],
    )


@audit_group.command("verify")
@pass_app
def audit_verify(app: AppContext) -> None:
    """Check the hash chain; name every changed, deleted or reordered entry, and a deleted or
    rewritten tail (against the head anchored outside the table); exit 1 if any.

    \b
    Example:
      nova audit verify
    """
    from nova.store import open_store

    with open_store(app.workspace(), app.config().config) as store:
        entries = store.audit_entries()
        issues = store.verify_audit()
    if issues:
        for i in issues:
            err_console().print(f"entry {i.seq}: {i.problem}", markup=False)
        err_console().print(f"audit log is NOT intact: {len(issues)} problem(s)")
        raise SystemExit(1)
    last = entries[-1].hash if entries else "(empty)"
    anchor = f"; head anchored in {store.audit_head}" if store.audit_head else ""
    out_console().print(
        f"audit log intact: {len(entries)} entries, last hash {last}{anchor}", markup=False
    )
