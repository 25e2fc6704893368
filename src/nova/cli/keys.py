"""``nova keys create|list|revoke``: API keys of the gateway."""

from __future__ import annotations

import getpass

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json, print_table

__all__ = ["keys_group"]


@click.group("keys")
def keys_group() -> None:
    """API keys of `nova serve`: shown once at creation, stored only as a hash."""


@keys_group.command("create")
@click.option("--name", required=True, help="Who uses the key, e.g. sophia-web.")
@click.option(
    "--role",
    type=click.Choice(["app", "auditor", "admin"]),
    default="app",
    show_default=True,
    help="app calls models, auditor reads the audit API, admin manages keys.",
)
@click.option("--model", "models", multiple=True, help="Allowed candidate id (repeatable).")
@click.option("--rpm", type=click.IntRange(min=1), help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(min=1), help="Tokens per minute.")
@click.option("--budget-tokens", type=click.IntRange(min=1), help="Total token budget.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def keys_create(
    app: AppContext,
    name: str,
    role: str,
    models: tuple[str, ...],
    rpm: int | None,
    tpm: int | None,
    budget_tokens: int | None,
    as_json: bool,
) -> None:
    """Create a key and print it once (it cannot be shown again).

    \b
    Example:
      nova keys create --name sophia-web --role app --model llama31-70b-vllm --rpm 600
    """
    from nova.gateway import create_key

    cfg = app.config().config
    known = {c.id for c in cfg.candidates}
    unknown = [m for m in models if m not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown candidate {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            param_hint="--model",
        )
    from nova.store import open_store

    with open_store(app.workspace(), cfg) as store:
        new = create_key(
            store,
            name=name,
            role=role,  # type: ignore[arg-type]  # click.Choice guarantees a KeyRole
            models=list(models) or None,
            rpm=rpm,
            tpm=tpm,
            budget_tokens=budget_tokens,
        )
        store.audit(_actor(), "gateway.key.create", new.record.id, {"role": role, "name": name})
    if as_json:
        print_json(
            {**new.record.model_dump(mode="json", exclude={"secret_sha256"}), "key": new.secret}
        )
        return
    out_console().print(new.secret, markup=False, soft_wrap=True)
    err_console().print(
        f"key {new.record.id} ({role}) created; this is the only time it is shown: "
        "store it in your secret manager",
        markup=False,
    )


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def keys_list(app: AppContext, as_json: bool) -> None:
    """Every key with role, limits and usage (never the key itself).

    \b
    Example:
      nova keys list --json
    """
    from nova.store import open_store

    with open_store(app.workspace(), app.config().config) as store:
        keys = store.api_keys()
    if as_json:
        print_json([k.model_dump(mode="json", exclude={"secret_sha256"}) for k in keys])
        return
    if not keys:
        out_console().print("No keys yet: nova keys create --name NAME --role app")
        return
    print_table(
        ["Id", "Name", "Role", "Models", "RPM", "TPM", "Budget", "Used", "Created", "Revoked"],
        [
            [
                k.id, k.name, k.role, ",".join(k.models or []) or "all",
                k.rpm or "", k.tpm or "", k.budget_tokens or "", k.tokens_used,
                f"{k.created_at:%Y-%m-%d %H:%M}",
                f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
            ]
            for k in keys
        ],
    )  # fmt: skip


@keys_group.command("revoke")
@click.argument("key_id")
@pass_app
def keys_revoke(app: AppContext, key_id: str) -> None:
    """Revoke a key; a running gateway refuses it within gateway.key_refresh_s (1 s).

    \b
    Example:
      nova keys revoke 3f9a0c1b2d4e
    """
    from nova.store import open_store

    with open_store(app.workspace(), app.config().config) as store:
        if not store.revoke_api_key(key_id):
            raise click.ClickException(f"no active key {key_id!r}: see `nova keys list`")
        store.audit(_actor(), "gateway.key.revoke", key_id, {})
    out_console().print(f"key {key_id} revoked", markup=False)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
