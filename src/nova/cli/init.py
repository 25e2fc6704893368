"""``nova init``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from nova.cli._render import out_console

__all__ = ["init_command"]


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option(
    "--language",
    type=click.Choice(["de", "en"]),
    default="de",
    show_default=True,
    help="Language of the documents and the task list.",
)
@click.option("--name", default="Sophia", show_default=True, help="Name of the assistant.")
@click.option(
    "--demo",
    is_flag=True,
    help="Profile llm-core runs small local models (llama.cpp; "
    "nova's tiny generated models when offline): the embedded default of `make run`.",
)
def init_command(directory: Path, force: bool, language: str, name: str, demo: bool) -> None:
    """Create a workspace: nova.yaml, datasets, guardrails, docs, task list.

    Existing files are kept unless --force is given; nova says which ones it kept.

    \b
    Example:
      nova init sophia-workspace && cd sophia-workspace && nova config validate
    """
    from nova.config import init_workspace

    lang: Literal["de", "en"] = "de" if language == "de" else "en"
    result = init_workspace(directory, language=lang, force=force, name=name, demo=demo)
    con = out_console()
    con.print(f"Workspace {result.root}")
    for rel in result.created:
        con.print(f"  created      {rel}")
    for rel in result.overwritten:
        con.print(f"  overwritten  {rel}")
    for rel in result.kept:
        con.print(f"  kept         {rel} (exists; --force overwrites)")
    con.print(
        f"{len(result.created)} created, {len(result.overwritten)} overwritten, "
        f"{len(result.kept)} kept. Next: nova --workspace {directory} config validate"
    )
