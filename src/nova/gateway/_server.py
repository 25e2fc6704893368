"""Run the gateway: ``nova serve`` in one or several processes, or in a background thread
(tests, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from aiohttp import web

from nova._secrets import RedactingFilter
from nova.catalog import Catalog
from nova.config import NovaConfig, Workspace, load_config
from nova.errors import NovaError
from nova.gateway._app import Gateway
from nova.gateway._rails import WorkspaceRails
from nova.gateway._routes import build_app
from nova.store import RunStore, open_store

__all__ = ["open_gateway", "running_gateway", "serve"]

log = logging.getLogger("nova.gateway")


def open_gateway(workspace: Workspace) -> Gateway:
    """The gateway of a workspace: nova.yaml, its catalog, its run store and its rails."""
    from nova.catalog import load_catalog

    catalog = load_catalog(workspace.catalog_dir)
    loaded = load_config(
        workspace.config_file,
        catalog_ids=set(catalog.models),
        price_sheet_ids=set(catalog.price_sheets),
    )
    store = open_store(workspace, loaded.config)
    return Gateway(loaded.config, store, workspace_root=workspace.root, catalog=catalog)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("nova")
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def _serve_one(
    root: Path, host: str, port: int, reuse_port: bool, on_ready: Callable[[str], None] | None
) -> None:
    _setup_logging()
    gateway = open_gateway(Workspace(root))
    app = build_app(gateway)

    async def ready(_app: web.Application) -> None:
        _tune_gc()
        if on_ready is not None:
            on_ready(f"http://{host}:{port}")

    app.on_startup.append(ready)
    web.run_app(
        app,
        loop=_event_loop(),
        host=host,
        port=port,
        reuse_port=reuse_port or None,
        access_log=None,  # one audit record per request instead; an access log costs CPU
        print=None,
        handle_signals=True,
    )


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path's tail.

    Everything loaded at start-up (modules, the app, pydantic's and SQLAlchemy's caches, some
    hundred thousand objects) is moved out of the collector's sight (``gc.freeze``), and the
    youngest generation is collected after 20,000 instead of 700 allocations: a request
    allocates a few hundred objects that reference counting frees when it ends, so most die
    before a collection would scan them. Reference cycles are still collected."""
    if os.environ.get("NOVA_GATEWAY_GC") == "default":
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when installed (``pip install 'nova[gateway]'``), else asyncio's.

    The same aiohttp application runs on either; uvloop's loop and transports cost less CPU:
    benchmarks/bench_gateway.py 4 500, two alternating runs each, best of two (2-core VM,
    load average about 3, 2026-11-30), gateway CPU per request 1.47 -> 1.43 ms at 500 req/s,
    0.85 -> 0.77 ms at concurrency 32, 1.63 -> 1.33 ms streaming."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _worker(root: str, host: str, port: int) -> None:
    _serve_one(Path(root), host, port, True, None)


def serve(
    workspace: Workspace,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. ``workers`` > 1 starts that many processes sharing the
    port (SO_REUSEPORT); their metrics are merged through a shared multiprocess folder."""
    _setup_logging()
    open_gateway(workspace).store.close()  # fail here, with one line, on a bad config
    if workers <= 1:
        _serve_one(workspace.root, host, port, False, on_ready)
        return
    if port == 0:
        raise NovaError("--workers above 1 needs a fixed --port (the workers share it)")
    metrics_dir = tempfile.mkdtemp(prefix="nova-gateway-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker, args=(str(workspace.root), host, port), daemon=False)
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")

    def stop(_sig: int, _frame: object) -> None:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for p in procs:
            p.join()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@contextlib.contextmanager
def running_gateway(
    config: NovaConfig,
    store: RunStore,
    *,
    workspace_root: Path | None = None,
    rails: WorkspaceRails | None = None,
    catalog: Catalog | None = None,
    host: str = "127.0.0.1",
) -> Iterator[tuple[str, Gateway]]:
    """Serve a gateway on a free port from a background thread; yield its URL and itself
    (``catalog`` prices managed candidates, as ``open_gateway`` does)."""
    loop = asyncio.new_event_loop()
    gateway = Gateway(config, store, workspace_root=workspace_root, rails=rails, catalog=catalog)
    app = build_app(gateway)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    thread = threading.Thread(target=loop.run_forever, name="nova-gateway", daemon=True)
    thread.start()

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    try:
        url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
        yield url, gateway
    finally:
        try:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
