"""``nova config validate|schema``."""

from __future__ import annotations

import json

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json
from nova.errors import ConfigError, Problem

__all__ = ["config_group"]


@click.group("config")
def config_group() -> None:
    """Check nova.yaml and print its schema."""


def _dataset_problems(app: AppContext) -> list[Problem]:
    loaded = app.config()
    ws = app.workspace()
    out = []
    for name, prof in loaded.config.profiles.items():
        if prof.quality is None:
            continue
        for i, ds in enumerate(prof.quality.datasets):
            if not (ws.datasets_dir / f"{ds}.jsonl").is_file():
                path = ("profiles", name, "quality", "datasets", i)
                out.append(
                    Problem(
                        loaded.file,
                        loaded.source.line_of(path),
                        f"profiles.{name}.quality.datasets[{i}]",
                        f"dataset file datasets/{ds}.jsonl does not exist",
                    )
                )
    return out


@config_group.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def validate_command(app: AppContext, as_json: bool) -> None:
    """Check nova.yaml: every problem with file, line and field path; exit 2 if any.

    Also checks references to the catalog, KPIs, candidates and dataset files, and warns
    about candidates that cannot be reached yet (for example an unset API key).

    \b
    Example:
      nova config validate --workspace sophia-workspace
    """
    try:
        loaded = app.config()
    except ConfigError as exc:
        if as_json:
            print_json({"valid": False, "problems": [_p(p) for p in exc.problems]})
        else:
            con = err_console()
            for p in exc.problems:
                con.print(f"error: {p}", markup=False)
            con.print(f"{len(exc.problems)} problem(s): {exc.summary}", markup=False)
        raise SystemExit(exc.exit_code) from None
    problems = _dataset_problems(app)
    if as_json:
        print_json(
            {
                "valid": not problems,
                "config_hash": loaded.hash,
                "problems": [_p(p) for p in problems],
                "warnings": [_p(w) for w in loaded.warnings],
            }
        )
    else:
        con = out_console()
        for p in problems:
            err_console().print(f"error: {p}", markup=False)
        for w in loaded.warnings:
            con.print(f"warning: {w}", markup=False)
        if not problems:
            cfg = loaded.config
            con.print(
                f"{loaded.file} is valid: {len(cfg.candidates)} candidates, "
                f"{len(cfg.profiles)} profiles ({', '.join(cfg.profiles)}), {len(cfg.kpis)} KPIs, "
                f"{len(cfg.decision.criteria)} criteria, {len(cfg.decision.gates)} gates; "
                f"{len(loaded.warnings)} warning(s). Config hash {loaded.hash}",
                markup=False,
            )
    if problems:
        raise SystemExit(2)


def _p(p: Problem) -> dict[str, object]:
    return {
        "file": str(p.file) if p.file else None,
        "line": p.line,
        "path": p.path,
        "message": p.message,
    }


@config_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of nova.yaml (for editors and CI).

    \b
    Example:
      nova config schema > nova.schema.json
    """
    from nova.config import NovaConfig

    schema = NovaConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "nova.yaml"
    click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
