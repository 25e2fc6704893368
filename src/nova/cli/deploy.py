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
@click.argument("candidate", required=False)
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
@click.option(
    "--job",
    type=click.Choice(["eval", "perf"]),
    help="Instead of a candidate: a Kubernetes Indexed Job running `nova eval|perf run` as "
    "--shards pods of one run (deploy/jobs/).",
)
@click.option("--shards", type=click.IntRange(min=1), help="Pods (shards) of the --job.")
@click.option("--image", help="Image of the --job: nova with the workspace at /workspace.")
@click.option("--run-id", help="Run id the --job's shards share (default: a new one).")
@click.option("--profile", "-p", help="Profile the --job runs.")
@click.option(
    "--store-secret",
    default="nova-store",
    show_default=True,
    help="Secret whose key 'url' holds NOVA_DATABASE_URL for the --job (a reference only).",
)
@pass_app
def render_command(
    app: AppContext,
    candidate: str | None,
    engine: str | None,
    target: str,
    precision: str | None,
    context: int | None,
    concurrency: int | None,
    force: bool,
    job: str | None,
    shards: int | None,
    image: str | None,
    run_id: str | None,
    profile: str | None,
    store_secret: str,
) -> None:
    """Write the Helm chart, compose.yaml and README (with the sizing) of CANDIDATE.

    Managed candidates get a README with the settings nova needs instead. Your changes go into
    values.override.yaml (created once, never overwritten) and compose.override.yaml (never
    written by nova).

    With --job eval|perf --shards N: an Indexed Job of N pods, pod i running
    `--shard i/N` of one run in the store NOVA_DATABASE_URL (from --store-secret); validated
    offline before it is written.

    \b
    Example:
      nova deploy render mixtral-8x7b-vllm --engine vllm --target k8s
      nova deploy render --job eval --shards 8 --image registry.example/nova-ws:1 -p llm-core
    """
    if job is not None:
        _render_job(app, job, shards, image, run_id, profile, store_secret, candidate)
        return
    if candidate is None:
        raise click.UsageError("give CANDIDATE (or --job eval|perf --shards N)")
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


def _render_job(
    app: AppContext,
    job: str,
    shards: int | None,
    image: str | None,
    run_id: str | None,
    profile: str | None,
    store_secret: str,
    candidate: str | None,
) -> None:
    from nova.deploy import job_manifest, validate_job, write_job
    from nova.errors import NovaError
    from nova.store import new_run_id

    if candidate is not None:
        raise click.UsageError("--job renders a run, not a candidate: drop CANDIDATE")
    if shards is None or image is None:
        raise click.UsageError("--job needs --shards N and --image IMAGE")
    rid = run_id or new_run_id()
    kind: Any = job
    manifest = job_manifest(
        kind, shards, image=image, run_id=rid, profile=profile, store_secret=store_secret
    )
    bad = [c for c in validate_job(manifest) if not c.ok]
    if bad:
        raise NovaError(
            "the Job does not validate: " + "; ".join(f"{c.subject}: {c.detail}" for c in bad)
        )
    path = write_job(app.workspace().root / "deploy" / "jobs", manifest)
    con = out_console()
    con.print(f"wrote {path} (validated: kubernetes-validate strict, nova rules)", markup=False)
    con.print(
        f"run {rid}: {shards} shards; the store URL comes from Secret {store_secret} key 'url'. "
        f"Then: kubectl apply -f {path}; `nova runs merge {rid}` when the Job is done.",
        markup=False,
    )


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


@deploy_group.command("apply")
@click.argument("candidate")
@click.option(
    "--target",
    type=click.Choice(["k8s", "compose", "all"]),
    default="k8s",
    show_default=True,
    help="Helm release, docker compose, or both.",
)
@click.option("--namespace", default="default", show_default=True, help="Kubernetes namespace.")
@click.option("--dry-run", is_flag=True, help="Print the commands, run nothing.")
@pass_app
def apply_command(
    app: AppContext, candidate: str, target: str, namespace: str, dry_run: bool
) -> None:
    """Roll out the rendered deployment of CANDIDATE with helm / docker compose.

    Records deploy.apply in the audit log when the commands ran.

    \b
    Example:
      nova deploy apply llama31-70b-vllm --dry-run
    """
    import getpass

    from nova.deploy import apply_steps, find_candidate, k8s_name, missing_tool, run_step
    from nova.errors import NovaError
    from nova.store import open_store

    cand = find_candidate(app.config(), candidate)
    if cand.hosting == "managed":
        raise NovaError(
            f"{cand.id} is managed: nothing to apply (see deploy/models/{cand.id}/README.md)"
        )
    folder = app.workspace().deploy_dir(cand.id)
    steps = apply_steps(folder, k8s_name(cand.id), target=target, namespace=namespace)
    con = out_console()
    for step in steps:
        con.print(step.shell(), markup=False)
    if dry_run:
        return
    missing = [(s, why) for s in steps if (why := missing_tool(s)) is not None]
    if missing:
        raise NovaError(
            "; ".join(why for _, why in missing)
            + ": nothing was applied; run the commands above where the tools are installed"
        )
    for step in steps:
        run_step(step)
    with open_store(app.workspace(), app.config().config) as store:
        store.audit(
            getpass.getuser(),
            "deploy.apply",
            cand.id,
            {"target": target, "namespace": namespace, "commands": [s.shell() for s in steps]},
        )
    con.print(f"applied {cand.id} ({target}); recorded deploy.apply in the audit log")


@deploy_group.command("hf-endpoint")
@click.argument("candidate")
@click.option("--vendor", default="aws", show_default=True, help="Cloud vendor of the endpoint.")
@click.option("--region", default="eu-west-1", show_default=True, help="Region of the endpoint.")
@click.option("--namespace", help="Hub user or organisation (default: the token's user).")
@click.option(
    "--scale-to-zero",
    "scale_to_zero",
    type=click.IntRange(min=1),
    default=15,
    show_default=True,
    help="Minutes idle before scaling to zero.",
)
@click.option("--update-config", is_flag=True, help="Write the endpoint's base_url into nova.yaml.")
@click.option("--dry-run", is_flag=True, help="Print the spec only.")
@click.option("--timeout", "timeout_s", type=float, default=1800, show_default=True)
@click.option("--poll", "poll_s", type=click.IntRange(min=1), default=10, hidden=True)
@click.option(
    "--api-url",
    envvar="NOVA_HF_ENDPOINTS_API",
    hidden=True,
    help="Inference Endpoints API (a proxy, or a local recorder in tests).",
)
@pass_app
def hf_endpoint_command(
    app: AppContext,
    candidate: str,
    vendor: str,
    region: str,
    namespace: str | None,
    scale_to_zero: int,
    update_config: bool,
    dry_run: bool,
    timeout_s: float,
    poll_s: int,
    api_url: str | None,
) -> None:
    """Build the Hugging Face Inference Endpoint spec of CANDIDATE and, with HF_TOKEN set,
    create it and wait until it runs (the plan's PoC deployment).

    With --update-config, the endpoint's URL becomes the candidate's provider.base_url in
    nova.yaml (only those bytes change; comments and layout stay).

    \b
    Example:
      HF_TOKEN=hf_… nova deploy hf-endpoint llama31-70b-vllm --region eu-west-1 --update-config
    """
    import getpass
    import json
    import os

    from nova.deploy import (
        create_endpoint,
        endpoint_spec,
        engine_profile,
        find_candidate,
        size_candidate,
        update_base_url,
    )
    from nova.errors import NovaError
    from nova.store import open_store

    loaded = app.config()
    cand = find_candidate(loaded, candidate)
    rec = app.catalog().models.get(cand.catalog or "")
    if rec is None or not rec.license.open_weights:
        raise NovaError(f"{cand.id} has no open weights in the catalog: no endpoint to build")
    vllm = engine_profile("vllm")
    sizing = size_candidate(loaded.config, cand, app.catalog(), vllm)
    spec = endpoint_spec(
        cand, rec, vllm, sizing, vendor=vendor, region=region, scale_to_zero_minutes=scale_to_zero
    )
    con = out_console()
    con.print(json.dumps(spec.as_dict(), indent=2), markup=False)
    token = os.environ.get("HF_TOKEN", "")
    if dry_run:
        return
    if not token:
        con.print("HF_TOKEN is not set: nothing was created (set it to create the endpoint)")
        return
    from nova._secrets import register_secret

    register_secret(token)
    base_url = create_endpoint(
        spec,
        token=token,
        namespace=namespace,
        hub_url=os.environ.get("HF_ENDPOINT"),
        api_url=api_url,
        timeout_s=timeout_s,
        poll_s=poll_s,
    )
    con.print(f"endpoint {spec.name} is running: base_url {base_url}", markup=False)
    with open_store(app.workspace(), loaded.config) as store:
        store.audit(
            getpass.getuser(),
            "deploy.apply",
            cand.id,
            {"target": "hf-endpoint", "endpoint": spec.name, "base_url": base_url},
        )
    if update_config:
        update_base_url(loaded.file, cand.id, base_url)
        con.print(f"set provider.base_url of {cand.id} in {loaded.file}", markup=False)
    else:
        con.print("nova.yaml unchanged (pass --update-config to write the base_url)")
