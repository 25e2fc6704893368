"""nova's command line: thin commands over the library, one module per command group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nova.__about__ import __version__
from nova._secrets import redact
from nova.cli._context import AppContext
from nova.cli._render import err_console
from nova.cli.alerts import alerts_group
from nova.cli.audit import audit_group
from nova.cli.benchmarks import benchmarks_command, report_command
from nova.cli.candidates import candidates_group, catalog_group
from nova.cli.config import config_group
from nova.cli.controls import controls_command
from nova.cli.decision import decide_command, matrix_command, review_group
from nova.cli.deploy import deploy_group
from nova.cli.docs import docs_command
from nova.cli.evals import datasets_group, eval_group
from nova.cli.guardrails import guardrails_group
from nova.cli.init import init_command
from nova.cli.keys import keys_group
from nova.cli.mock_server import mock_server_command
from nova.cli.perf import perf_group
from nova.cli.redteam import redteam_group
from nova.cli.runs import runs_group
from nova.cli.serve import serve_command
from nova.errors import EXIT_INTERRUPTED, EXIT_KNOWN_ERROR, ConfigError, NovaError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="nova")
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="NOVA_WORKSPACE",
    help="Workspace folder (default: the nearest folder upwards with nova.yaml).",
)
@click.pass_context
def cli(ctx: click.Context, workspace: Path | None) -> None:
    """nova: choose, prove and roll out a large language model.

    \b
    Start here:
      nova init sophia && cd sophia
      nova config validate
      nova candidates list

    Exit codes: 0 ok, 1 error, 2 bad usage or invalid config, 3 a gate failed,
    130 interrupted. NOVA_DEBUG=1 shows tracebacks.
    """
    ctx.obj = AppContext(workspace_option=workspace)


cli.add_command(init_command)
cli.add_command(benchmarks_command)
cli.add_command(report_command)
cli.add_command(config_group)
cli.add_command(candidates_group)
cli.add_command(catalog_group)
cli.add_command(eval_group)
cli.add_command(datasets_group)
cli.add_command(perf_group)
cli.add_command(matrix_command)
cli.add_command(review_group)
cli.add_command(decide_command)
cli.add_command(docs_command)
cli.add_command(runs_group)
cli.add_command(audit_group)
cli.add_command(mock_server_command)
cli.add_command(deploy_group)
cli.add_command(redteam_group)
cli.add_command(guardrails_group)
cli.add_command(controls_command)
cli.add_command(alerts_group)
cli.add_command(serve_command)
cli.add_command(keys_group)


def _debug() -> bool:
    """NOVA_DEBUG, read only when an error needs it (pydantic-settings costs ~0.1 s to import)."""
    from nova.settings import get_settings

    return get_settings().debug


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="nova", standalone_mode=False)
    except click.exceptions.Abort:
        err_console().print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        err_console().print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NovaError as exc:
        if _debug():
            raise
        con = err_console()
        if isinstance(exc, ConfigError):
            for p in exc.problems:
                con.print(f"error: {redact(str(p))}", markup=False)
        else:
            con.print(f"error: {redact(str(exc))}", markup=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:
        if _debug():
            raise
        err_console().print(
            f"error: unexpected {type(exc).__name__}: {redact(str(exc))} "
            "(set NOVA_DEBUG=1 for the traceback, and please report it)",
            markup=False,
        )
        sys.exit(EXIT_KNOWN_ERROR)
    sys.exit(0)
