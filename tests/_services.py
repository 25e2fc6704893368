"""Start real servers for integration tests on 127.0.0.1, and stop them by PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require(what: str, reason: str) -> None:
    """Skip locally, fail in CI: a service test must never silently not run there."""
    msg = f"{what} not available: {reason} (make test installs it)"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields a SQLAlchemy URL."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        require("PostgreSQL", "no initdb under /usr/lib/postgresql")
    bindir = Path(bins[-1]).parent
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="nova-pg-"))
    data = base / "data"
    prefix: list[str] = []
    if as_root:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            require("PostgreSQL", "running as root without runuser")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "nova",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = base / "log"
    proc = subprocess.Popen(
        [
            *prefix,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(base),
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql+psycopg://nova@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not start (see {log})") from None
                time.sleep(0.1)
        time.sleep(0.3)
        yield url
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def _prometheus_style_server(
    what: str, binary: str, config_file: Path, storage_flag: str, flags: list[str], port: int
) -> Iterator[str]:
    """Prometheus or Alertmanager (the same flag style) with ``config_file``, a throwaway
    storage folder and its log; waits for ``/-/ready``, yields the base URL, stops by PID."""
    base = Path(tempfile.mkdtemp(prefix=f"nova-{what}-"))
    log = base / "log"
    argv = [
        binary,
        f"--config.file={config_file}",
        f"{storage_flag}={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        *flags,
        "--log.level=warn",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/-/ready", proc, what, log)
        yield url
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def prometheus_server(config_file: Path) -> Iterator[str]:
    """A real Prometheus (Debian's ``prometheus``) with ``config_file``, the lifecycle API on
    and a throwaway TSDB; yields its base URL. Stopped by PID."""
    binary = shutil.which("prometheus")
    if binary is None:
        require("Prometheus", "no prometheus binary (apt-get install prometheus)")
    assert binary is not None
    flags = ["--web.enable-lifecycle"]
    with _prometheus_style_server(
        "prometheus", binary, config_file, "--storage.tsdb.path", flags, free_port()
    ) as url:
        yield url


@contextlib.contextmanager
def alertmanager_server(config_file: Path, port: int | None = None) -> Iterator[str]:
    """A real Alertmanager (Debian's ``prometheus-alertmanager``), clustering off, on ``port``
    (default: a free one); yields its base URL. Stopped by PID."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        require("Alertmanager", "no alertmanager binary (apt-get install prometheus-alertmanager)")
    assert binary is not None
    flags = ["--cluster.listen-address="]
    with _prometheus_style_server(
        "alertmanager", binary, config_file, "--storage.path", flags, port or free_port()
    ) as url:
        yield url


@contextlib.contextmanager
def aiohttp_app_server(app: Any) -> Iterator[str]:
    """Serve an ``aiohttp.web.Application`` on 127.0.0.1 from a background thread (its own
    event loop); yield its base URL; stopped on exit."""
    import asyncio
    import threading

    from aiohttp import web

    loop = asyncio.new_event_loop()
    port = free_port()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
