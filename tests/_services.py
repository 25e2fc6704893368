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
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)
