"""``nova serve``: the gateway in front of the workspace's candidates."""

from __future__ import annotations

import click

from nova.cli._context import AppContext, pass_app

__all__ = ["serve_command"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes sharing the port (SO_REUSEPORT).",
)
@pass_app
def serve_command(app: AppContext, host: str, port: int, workers: int) -> None:
    """Serve the workspace's candidates behind an OpenAI-compatible API.

    POST /v1/chat/completions and GET /v1/models need an API key (`nova keys create`);
    /metrics, /healthz and /readyz are open. Every request gets a hash-chained audit record
    (`nova audit verify`); the primary falls back to the `role: fallback` candidate before
    the first token. Settings: the `gateway:` section of nova.yaml.

    \b
    Example:
      nova keys create --name sophia-web --role app
      nova serve --port 8080
    """
    from nova.gateway import serve

    ws = app.workspace()
    app.config()  # a bad nova.yaml fails here with file:line

    def ready(url: str) -> None:
        click.echo(f"nova gateway on {url} ({workers} worker(s); Ctrl-C stops)", err=True)

    serve(ws, host=host, port=port, workers=workers, on_ready=ready)
