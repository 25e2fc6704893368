"""``nova serve`` runs on uvloop's event loop when it is installed, else on asyncio's."""

from __future__ import annotations

import asyncio
import sys

import pytest

from nova.gateway._server import _event_loop


def test_serve_uses_uvloop_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = _event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_serve_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    loop = _event_loop()
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
