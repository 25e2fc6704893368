"""``nova deploy hf-endpoint``: the spec, and the API calls huggingface_hub makes, recorded by
a local aiohttp server over real HTTP; nova.yaml changes only by the bytes of base_url."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from nova.deploy import set_base_url
from tests._services import free_port
from tests.conftest import Result

Run = Callable[..., Result]
TOKEN = "hf_planted_endpoint_token_0123456789"


class Recorder:
    """A stand-in Hub + Inference Endpoints API on 127.0.0.1 that records every call."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[dict[str, Any]] = []
        self.created: dict[str, Any] | None = None
        self.gets = 0

    def _raw(self, state: str) -> dict[str, Any]:
        assert self.created is not None
        name = self.created["name"]
        return {
            "name": name,
            "type": self.created["type"],
            "healthRoute": "/health",
            "model": {**self.created["model"], "task": "text-generation"},
            "compute": self.created["compute"],
            "provider": self.created["provider"],
            "status": {
                "state": state,
                "url": f"{self.url}/ep/{name}" if state == "running" else None,
                "createdAt": "2026-11-30T10:00:00.000Z",
                "updatedAt": "2026-11-30T10:00:00.000Z",
            },
        }

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.calls.append(
            {
                "method": request.method,
                "path": request.path,
                "auth": request.headers.get("authorization"),
                "json": body,
            }
        )
        if request.path == "/api/whoami-v2":
            return web.json_response({"type": "user", "name": "sophia-team"})
        if request.method == "POST" and request.path == "/v2/endpoint/sophia-team":
            self.created = body
            return web.json_response(self._raw("pending"))
        if request.method == "GET" and request.path.startswith("/v2/endpoint/sophia-team/"):
            self.gets += 1
            return web.json_response(self._raw("running"))
        if request.path.startswith("/ep/") and request.path.endswith("/health"):
            return web.Response(text="ok")
        return web.json_response({"error": "not found"}, status=404)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", rec.port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield rec
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_dry_run_prints_the_spec(workspace: Path, run_cli: Run) -> None:
    r = run_cli("-w", str(workspace), "deploy", "hf-endpoint", "mixtral-8x7b-vllm", "--dry-run")
    assert r.code == 0, r.err
    spec = json.loads(r.out)
    assert spec["repository"] == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    assert (spec["vendor"], spec["region"]) == ("aws", "eu-west-1")
    # nova.yaml plans 2 x H100-80GB for the fallback: instance nvidia-h100 x2
    assert (spec["instance_type"], spec["instance_size"]) == ("nvidia-h100", "x2")
    assert (spec["min_replica"], spec["scale_to_zero_timeout"]) == (0, 15)
    assert spec["custom_image"] == {
        "url": "vllm/vllm-openai:v0.11.0",
        "healthRoute": "/health",
        "port": 8000,
    }
    assert spec["container_args"][:4] == [
        "--model",
        "/repository",
        "--served-model-name",
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
    ]


def test_without_token_nothing_is_created(workspace: Path, run_cli: Run) -> None:
    r = run_cli("-w", str(workspace), "deploy", "hf-endpoint", "llama31-70b-vllm")
    assert r.code == 0
    assert "HF_TOKEN is not set: nothing was created" in r.out


def test_create_waits_until_running_and_updates_nova_yaml(
    workspace: Path, run_cli: Run, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", recorder.url)
    config = workspace / "nova.yaml"
    before = config.read_bytes()
    r = run_cli(
        "-w",
        str(workspace),
        "deploy",
        "hf-endpoint",
        "llama31-70b-vllm",
        "--update-config",
        "--api-url",
        f"{recorder.url}/v2",
        "--poll",
        "1",
    )
    assert r.code == 0, r.err
    # huggingface_hub may also ask the Hub for other things (e.g. /api/agent-harnesses)
    calls = [c for c in recorder.calls if c["path"].startswith(("/v2/", "/ep/", "/api/whoami"))]
    paths = [(c["method"], c["path"]) for c in calls]
    assert paths[:3] == [
        ("GET", "/api/whoami-v2"),
        ("POST", "/v2/endpoint/sophia-team"),
        ("GET", "/v2/endpoint/sophia-team/llama31-70b-vllm"),
    ]
    assert paths[-1] == ("GET", "/ep/llama31-70b-vllm/health")
    assert all(c["auth"] == f"Bearer {TOKEN}" for c in calls)
    created = recorder.created
    assert created is not None
    assert created["compute"]["instanceType"] == "nvidia-h100"
    assert created["compute"]["instanceSize"] == "x2"
    assert created["compute"]["scaling"] == {
        "maxReplica": 1,
        "minReplica": 0,
        "scaleToZeroTimeout": 15,
    }
    assert created["provider"] == {"region": "eu-west-1", "vendor": "aws"}
    assert created["model"]["repository"] == "meta-llama/Llama-3.1-70B-Instruct"
    base = f"{recorder.url}/ep/llama31-70b-vllm/v1"
    assert f"base_url {base}" in r.out
    # nova.yaml: only the default inside ${SOPHIA_VLLM_BASE_URL:-…} changed
    old = b"${SOPHIA_VLLM_BASE_URL:-http://127.0.0.1:8000/v1}"
    new = f"${{SOPHIA_VLLM_BASE_URL:-{base}}}".encode()
    assert before.count(old) == 1
    assert config.read_bytes() == before.replace(old, new)
    assert TOKEN not in r.out + r.err
    log = run_cli("-w", str(workspace), "audit", "log", "--json").out
    assert '"action": "deploy.apply"' in log and '"target": "hf-endpoint"' in log
    assert TOKEN not in log


def test_without_update_config_nova_yaml_is_untouched(
    workspace: Path, run_cli: Run, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", recorder.url)
    before = (workspace / "nova.yaml").read_bytes()
    r = run_cli(
        "-w",
        str(workspace),
        "deploy",
        "hf-endpoint",
        "mixtral-8x7b-vllm",
        "--api-url",
        f"{recorder.url}/v2",
        "--poll",
        "1",
    )
    assert r.code == 0, r.err
    assert "nova.yaml unchanged" in r.out
    assert (workspace / "nova.yaml").read_bytes() == before


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            b"candidates:\r\n  - id: a\r\n    provider:\r\n      base_url: 'http://x/v1' # c\r\n",
            b'candidates:\r\n  - id: a\r\n    provider:\r\n      base_url: "https://e/v1" # c\r\n',
        ),
        (
            b"# top\ncandidates:\n  - id: b\n    provider:\n      timeout_s: 5\n",
            b"# top\ncandidates:\n  - id: b\n    provider:\n      base_url: https://e/v1\n"
            b"      timeout_s: 5\n",
        ),
        (
            "candidates:\n  - id: ü\n  - id: a\n    provider:\n      base_url: ${V:-http://o}\n".encode(),
            "candidates:\n  - id: ü\n  - id: a\n    provider:\n      base_url: ${V:-https://e/v1}\n".encode(),
        ),
    ],
)
def test_set_base_url_changes_only_those_bytes(before: bytes, after: bytes) -> None:
    cid = "b" if b"id: b" in before else "a"
    assert set_base_url(before, cid, "https://e/v1") == after
