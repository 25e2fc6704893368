"""``nova mock-server``: nova's OpenAI-compatible mock LLM server on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nova._secrets import register_secret

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["mock_server_command"]


class _LazyDefaults(click.Command):
    """Takes the options' defaults from ``MockServerSettings`` when the command is used, so
    that importing the CLI (``nova --help``) does not import the mock server."""

    _filled = False

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not self._filled:
            from nova.providers import ALL_FAULTS, MockServerSettings

            defaults = MockServerSettings()
            for p in self.params:
                if p.name in MockServerSettings.model_fields and p.name != "fault_mix":
                    p.default = getattr(defaults, p.name)
                if isinstance(p, click.Option) and p.name == "fault_mix":
                    p.help = f"Faults that failures draw from [default: {','.join(ALL_FAULTS)}]."
            self._filled = True
        return super().get_params(ctx)


def _fault_mix(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    from nova.providers import ALL_FAULTS

    if value is None:
        return None
    faults = [f.strip() for f in value.split(",") if f.strip()]
    unknown = [f for f in faults if f not in ALL_FAULTS]
    if unknown or not faults:
        raise click.BadParameter(
            f"unknown fault {', '.join(unknown) or '(none given)'}; choose from "
            f"{','.join(ALL_FAULTS)}"
        )
    return faults


@click.command("mock-server", cls=_LazyDefaults)
@click.option("--host", show_default=True, help="Loopback address.")
@click.option(
    "--port",
    type=int,
    show_default=True,
    help="TCP port; 0 picks a free one.",
)
@click.option("--model", show_default=True, help="Model id it reports.")
@click.option(
    "--ttft-ms",
    type=float,
    show_default=True,
    help="Time to the first token.",
)
@click.option(
    "--itl-ms",
    type=float,
    show_default=True,
    help="Time between tokens (one token per chunk).",
)
@click.option(
    "--output-tokens",
    type=int,
    show_default=True,
    help="Tokens per answer; a request's max_tokens caps it.",
)
@click.option(
    "--max-model-len",
    type=int,
    show_default=True,
    help="Context window (prompt + max_tokens above it: HTTP 400).",
)
@click.option(
    "--error-rate",
    type=float,
    show_default=True,
    help="Fraction of requests that fail (0..1).",
)
@click.option(
    "--fault-mix",
    callback=_fault_mix,
    metavar="FAULT,…",
    help="Faults that failures draw from.",
)
@click.option(
    "--seed",
    type=int,
    show_default=True,
    help="Seed of the random draws (same seed, same outcomes).",
)
@click.option(
    "--stall-s",
    type=float,
    show_default=True,
    help="How long a stall sends nothing before closing.",
)
@click.option(
    "--retry-after-s",
    type=int,
    show_default=True,
    help="Retry-After seconds of an http_429.",
)
@click.option(
    "--require-api-key-env", metavar="VAR", help="Require this variable's value as Bearer key."
)
@click.option(
    "--request-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append one JSON line per chat request (id, last user message, fault) to this file.",
)
def mock_server_command(
    host: str,
    port: int,
    model: str,
    ttft_ms: float,
    itl_ms: float,
    output_tokens: int,
    max_model_len: int,
    error_rate: float,
    fault_mix: list[str] | None,
    seed: int,
    stall_s: float,
    retry_after_s: int,
    require_api_key_env: str | None,
    request_log: Path | None,
) -> None:
    """Serve an OpenAI-compatible mock LLM with exact latency and injected faults.

    Prints its base URL, then serves until Ctrl-C or SIGTERM. Faults: http_500, http_503,
    http_429, reset, cut, stall. A request can force one with the body field
    {"mock": {"fault": "cut"}}.

    \b
    Example:
      nova mock-server --port 8123 --ttft-ms 50 --itl-ms 10 --output-tokens 64
      nova mock-server --error-rate 0.1 --fault-mix http_429,cut --seed 7
    """
    from pydantic import SecretStr, ValidationError

    from nova.providers import MockServer, MockServerSettings

    key: SecretStr | None = None
    if require_api_key_env:
        value = os.environ.get(require_api_key_env)
        if not value:
            raise click.UsageError(
                f"--require-api-key-env {require_api_key_env}: the variable is not set or "
                f"empty; export {require_api_key_env}=<key> first"
            )
        register_secret(value)  # masked in logs like a ${VAR} secret
        key = SecretStr(value)
    fields = {
        "host": host, "port": port, "model": model, "ttft_ms": ttft_ms, "itl_ms": itl_ms,
        "output_tokens": output_tokens, "max_model_len": max_model_len,
        "error_rate": error_rate, "seed": seed, "stall_s": stall_s,
        "retry_after_s": retry_after_s, "require_api_key": key, "request_log": request_log,
    }  # fmt: skip
    if fault_mix is not None:
        fields["fault_mix"] = fault_mix
    try:
        settings = MockServerSettings.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise click.UsageError(problems) from None

    def ready(url: str) -> None:
        click.echo(f"nova mock server on {url} (model {settings.model}; Ctrl-C stops)")

    try:
        MockServer(settings).run_forever(on_ready=ready)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
