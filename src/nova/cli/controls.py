"""``nova controls``: which controls this workspace really has, with the evidence."""

from __future__ import annotations

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import print_json, print_table

__all__ = ["controls_command"]


@click.command("controls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def controls_command(app: AppContext, as_json: bool) -> None:
    """Guardrails, red teaming, gateway, monitoring and deployment: active or not, and where
    the evidence is. The governance documents state the same.

    \b
    Example:
      nova controls
    """
    from nova.governance import workspace_controls
    from nova.store import open_store

    ws = app.workspace()
    with open_store(ws, app.config().config) as store:
        state = workspace_controls(ws, store)
    if as_json:
        print_json(state.model_dump(mode="json"))
        return
    print_table(
        ["Control", "State", "Evidence", "Detail"],
        [
            [c.name, "active" if c.active else "not active", c.evidence or "—", c.detail]
            for c in state.all()
        ],
        title="Controls of this workspace",
    )
