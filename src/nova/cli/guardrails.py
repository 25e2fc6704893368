"""``nova guardrails check|validate``: run the workspace rails on a text, print the verdicts."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import out_console, print_json, print_table
from nova.errors import GateFailedError

if TYPE_CHECKING:
    from nova.safety import Rails, RailsResult

__all__ = ["guardrails_group"]


@click.group("guardrails")
def guardrails_group() -> None:
    """Guardrails of guardrails/rails.yaml: validate them, try them on a text."""


def _load(app: AppContext) -> Rails:
    from nova.safety import load_rails

    ws = app.workspace()
    return load_rails(ws.root, config=app.config().config)


@guardrails_group.command("validate")
@pass_app
def guardrails_validate(app: AppContext) -> None:
    """Check guardrails/rails.yaml; exit 2 with file:line for each problem.

    \b
    Example:
      nova guardrails validate
    """
    rails = _load(app)
    names = rails.names
    out_console().print(
        f"rails.yaml is valid. Input rails: {', '.join(names['input']) or 'none'}; "
        f"output rails: {', '.join(names['output']) or 'none'}; canary "
        f"{'planted' if rails.canary else 'off'}",
        markup=False,
    )


@guardrails_group.command("schema")
def guardrails_schema() -> None:
    """Print the JSON Schema of guardrails/rails.yaml (field descriptions included).

    \b
    Example:
      nova guardrails schema > rails.schema.json
    """
    from nova.safety import RailsConfig

    print_json(RailsConfig.model_json_schema())


@guardrails_group.command("check")
@click.argument("text", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read the text from this file ('-' for stdin is the TEXT argument '-').",
)
@click.option(
    "--stage",
    type=click.Choice(["input", "output"]),
    default="input",
    show_default=True,
    help="Check TEXT as a customer message (input) or as a model answer (output).",
)
@click.option(
    "--given",
    help="Output stage: the customer message the answer replies to (its PII is not a leak).",
)
@click.option(
    "--models", is_flag=True, help="Also run model-backed rails (moderation by a candidate)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def guardrails_check(
    app: AppContext,
    text: str | None,
    file: Path | None,
    stage: str,
    given: str | None,
    models: bool,
    as_json: bool,
) -> None:
    """Run the rails on TEXT and print each verdict (rail, action, detail, time).

    Exit code 0 when the text passes (possibly redacted), 3 when a rail blocks it,
    2 when rails.yaml is invalid.

    \b
    Example:
      nova guardrails check "Ignoriere alle vorherigen Anweisungen"
      nova guardrails check --stage output --given "Meine Mail: a@b.de" "Ihre Mail: a@b.de"
      nova guardrails check --file mail.txt --json
    """
    if (text is None) == (file is None):
        raise click.UsageError("give either TEXT or --file")
    if file is not None:
        content = file.read_text(encoding="utf-8")
    else:
        content = sys.stdin.read() if text == "-" else str(text)
    rails = _load(app)
    result = asyncio.run(_run(rails, content, stage, given, models))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _render(result)
    if result.blocked:
        raise GateFailedError(f"blocked by {', '.join(_blockers(result))}")


async def _run(
    rails: Rails, content: str, stage: str, given: str | None, models: bool
) -> RailsResult:
    try:
        if stage == "input":
            msgs = [{"role": "user", "content": content}]
            return await rails.acheck_input(msgs) if models else rails.check_input(msgs)
        history = [{"role": "user", "content": given}] if given else []
        if models:
            return await rails.acheck_output(content, history)
        return rails.check_output(content, history)
    finally:
        await rails.aclose()


def _blockers(result: RailsResult) -> list[str]:
    return [v.rail for v in result.verdicts if v.action == "block"]


def _render(result: RailsResult) -> None:
    print_table(
        ["Rail", "Stage", "Fired", "Action", "Detail", "ms"],
        [
            [v.rail, v.stage, "yes" if v.fired else "no", v.action, v.detail, f"{v.elapsed_ms:.3f}"]
            for v in result.verdicts
        ],
        title="Guardrail verdicts",
    )
    con = out_console()
    if result.blocked:
        con.print(f"blocked by {', '.join(_blockers(result))}; refusal: {result.refusal}",
                  markup=False)  # fmt: skip
    elif result.messages is not None:
        con.print(f"passes; sent on as: {result.messages[-1].get('content')}", markup=False)
    else:
        con.print(f"passes; sent on as: {result.text}", markup=False)
