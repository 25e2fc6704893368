"""``nova deploy render|validate|apply|hf-endpoint``: the candidate's deployment."""

from __future__ import annotations

from typing import Any

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console

__all__ = ["deploy_group"]

_ENGINES = click.Choice(["vllm", "tgi", "trtllm", "llamacpp"])


@click.group("deploy")
def deploy_group() -> None:
    """Render, validate and apply each candidate's deployment (deploy/models/<candidate>/).

    \b
    Example:
      nova deploy render llama31-70b-vllm --engine vllm
      nova deploy validate llama31-70b-vllm
      nova deploy apply llama31-70b-vllm --dry-run
    """


@deploy_group.command("render")
@click.argument("candidate")
@click.option("--engine", type=str, help="vllm, tgi, trtllm or llamacpp (default: the plan's).")
@click.option(
    "--target",
    type=click.Choice(["k8s", "compose", "all"]),
    default="all",
    show_default=True,
    help="Helm chart, compose file, or both.",
)
@click.option("--precision", help="Weight precision (default: the catalog plan's).")
@click.option("--context", type=click.IntRange(min=1), help="Tokens per sequence for sizing.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Sequences in flight for sizing.")
@click.option("--force", is_flag=True, help="Overwrite generated files edited by hand.")
@pass_app
def render_command(
    app: AppContext,
    candidate: str,
    engine: str | None,
    target: str,
    precision: str | None,
    context: int | None,
    concurrency: int | None,
    force: bool,
) -> None:
    """Write the Helm chart, compose.yaml and README (with the sizing) of CANDIDATE.

    Managed candidates get a README with the settings nova needs instead. Your changes go into
    values.override.yaml and compose.override.yaml, which nova never writes.

    \b
    Example:
      nova deploy render mixtral-8x7b-vllm --engine vllm --target k8s
    """
    from nova.deploy import render_candidate

    tgt: Any = target
    res = render_candidate(
        app.workspace(),
        app.config(),
        app.catalog(),
        candidate,
        engine=engine,
        target=tgt,
        precision=precision,
        context=context,
        concurrency=concurrency,
        force=force,
    )
    con = out_console()
    if res.sizing is not None:
        s = res.sizing
        con.print(
            f"{res.candidate}: {s.gpus} x {s.gpu} ({s.precision}) on {res.engine}", markup=False
        )
        for line in s.lines:
            con.print(f"  {line}", markup=False)
    for w in res.warnings:
        err_console().print(f"warning: {w}", markup=False)
    for p in res.written:
        con.print(f"wrote {p}", markup=False)
    for p in res.removed:
        con.print(f"removed {p}", markup=False)
    if not res.written and not res.removed:
        con.print(f"{res.folder}: up to date", markup=False)


def _targets(app: AppContext, candidate: str | None) -> list[str]:
    cfg = app.config().config
    if candidate:
        return [candidate]
    return [c.id for c in cfg.candidates if c.role != "judge"]


@deploy_group.command("validate")
@click.argument("candidate", required=False)
@click.option("--kube-version", help="Kubernetes version of the schemas (default: newest).")
@pass_app
def validate_command(app: AppContext, candidate: str | None, kube_version: str | None) -> None:
    """Render CANDIDATE (default: every candidate) and check it offline: values schema,
    Kubernetes schemas (strict), custom resources, nova's security rules, compose config.

    Exit 1 when a check fails.

    \b
    Example:
      nova deploy validate llama31-70b-vllm
    """
    from nova.deploy import render_candidate, rendered_engine, validate_folder
    from nova.errors import NovaError

    con = out_console()
    failed = 0
    for cid in _targets(app, candidate):
        folder = app.workspace().deploy_dir(cid)
        res = render_candidate(
            app.workspace(), app.config(), app.catalog(), cid, engine=rendered_engine(folder)
        )
        if res.managed:
            con.print(f"{cid}: managed, README only (nothing to validate)", markup=False)
            continue
        report = validate_folder(res.folder, kube_version=kube_version)
        bad = report.failures
        failed += len(bad)
        status = "ok" if not bad else f"{len(bad)} FAILED"
        con.print(
            f"{cid} ({res.engine}): {len(report.checks)} checks, {status} "
            f"[manifests rendered by {report.renderer}]",
            markup=False,
        )
        for c in bad:
            con.print(f"  FAIL {c.name}: {c.subject}: {c.detail}", markup=False)
    if failed:
        raise NovaError(
            f"{failed} check(s) failed: fix the values (values.override.yaml) or nova.yaml"
        )
