from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.catalog import load_catalog
from nova.config import Candidate
from nova.perf import PerfSpec, run_level, run_perf, synthetic_prompts
from nova.providers import (
    ChatRequest,
    ChatResponse,
    MockServerSettings,
    Provider,
    Timings,
    Usage,
    create_provider,
    register_provider,
    running_mock_server,
)
from nova.store import RunStore


@register_provider("capped-test")
class CappedProvider(Provider):
    """A fake server that can serve 2 requests at once, 20 ms each: saturates at 2."""

    sem: asyncio.Semaphore

    async def start(self) -> None:
        self.sem = asyncio.Semaphore(2)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        t0 = time.perf_counter_ns()
        async with self.sem:
            await asyncio.sleep(0.02)
        t = time.perf_counter_ns()
        return ChatResponse(
            text="x",
            finish_reason="stop",
            usage=Usage(completion_tokens=10, source="server"),
            timings=Timings(
                t_send_ns=t0, t_first_token_ns=t, t_last_token_ns=t, t_end_ns=t, chunk_times_ns=[t]
            ),
        )


def test_sweep_stops_at_saturation(tmp_path: Path) -> None:
    cand = Candidate.model_validate({"id": "cap", "model": "capped-test/x"})
    spec = PerfSpec(
        candidates=["cap"],
        concurrency=[1, 2, 4, 8, 16],
        requests=30,
        warmup=2,
        prompts="synthetic",
        input_tokens=4,
    )
    with RunStore(f"sqlite:///{tmp_path / 'p.db'}") as store:
        run_id, (res,) = asyncio.run(
            run_perf(None, None, spec, store, load_catalog(), candidates=[cand])
        )
        assert store.count_requests(run_id) == 30 * len(res.levels)
    # 1 -> 2 doubles throughput; 2 -> 4 adds nothing: stop after the 4 level.
    assert [lv.concurrency for lv in res.levels] == [1, 2, 4]
    assert res.saturated_at == "concurrency 4"
    assert res.levels[1].output_throughput > 1.6 * res.levels[0].output_throughput
    assert res.cost is not None and "no catalog record" in res.cost.basis


@pytest.mark.integration
def test_errors_mid_stream_are_counted_not_fatal() -> None:
    settings = MockServerSettings(
        output_tokens=8, error_rate=0.5, fault_mix=("cut", "http_500"), seed=3
    )
    with running_mock_server(settings) as url:
        cand = Candidate.model_validate(
            {"id": "m", "model": "openai/m", "provider": {"base_url": url, "cache": False}}
        )

        async def go() -> list[Any]:
            p = create_provider(cand)
            async with p:
                return await run_level(
                    p,
                    synthetic_prompts(5, 4),
                    arrival="concurrency",
                    concurrency=4,
                    requests=40,
                    output_tokens=8,
                )

        samples = [s for _, s in asyncio.run(go())]
    kinds = {s.error for s in samples}
    assert len(samples) == 40
    assert {"stream_cut", "server"} <= kinds and None in kinds


@pytest.mark.integration
def test_poisson_and_constant_arrivals_follow_the_schedule() -> None:
    with running_mock_server(MockServerSettings(output_tokens=2)) as url:
        cand = Candidate.model_validate(
            {"id": "m", "model": "openai/m", "provider": {"base_url": url, "cache": False}}
        )

        async def go(arrival: str) -> tuple[float, list[Any]]:
            p = create_provider(cand)
            async with p:
                t0 = time.perf_counter()
                res = await run_level(
                    p,
                    ["hallo"],
                    arrival=arrival,
                    rate=100.0,
                    requests=60,
                    warmup=0,
                    seed=7,
                    output_tokens=2,
                )
                return time.perf_counter() - t0, [s for _, s in res]

        wall_c, const = asyncio.run(go("constant"))
        wall_p, pois = asyncio.run(go("poisson"))
    # 60 requests at 100/s: the last is due at 0.59 s
    assert 0.55 < wall_c < 1.5
    sched = sorted(s.t_scheduled_ns for s in const)
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(sched)]
    assert all(abs(g - 10.0) < 0.01 for g in gaps)  # exactly 10 ms apart by construction
    psched = sorted(s.t_scheduled_ns for s in pois)
    pgaps = [(b - a) / 1e6 for a, b in itertools.pairwise(psched)]
    assert min(pgaps) < 5 < max(pgaps)  # exponential gaps vary
    assert 0.2 < wall_p < 3


@pytest.mark.integration
def test_perf_cli_against_mock_server_and_llamacpp(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    with running_mock_server(MockServerSettings(ttft_ms=10, itl_ms=2, output_tokens=64)) as url:
        cfg = {
            "version": 1,
            "name": "t",
            "candidates": [
                {
                    "id": "served",
                    "model": "openai/m",
                    "role": "baseline",
                    "provider": {"base_url": url},
                },
                {"id": "tiny", "model": "llamacpp/tiny", "provider": {"model_path": "nova:tiny"}},
            ],
        }
        (tmp_path / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
        chart = tmp_path / "lat.svg"
        r = run_cli(
            "--workspace",
            str(tmp_path),
            "perf",
            "run",
            "--candidates",
            "served,tiny",
            "--concurrency",
            "1,2",
            "--requests",
            "6",
            "--warmup",
            "1",
            "--output-tokens",
            "8",
            "--input-tokens",
            "16",
            "--chart",
            str(chart),
            "--slo",
            "ttft:1000",
        )
        assert r.code == 0, r.err
        assert "served" in r.out and "tiny" in r.out and "concurrency 2" in r.out
        assert chart.read_text("utf-8").lstrip().startswith("<?xml")
        run_id = r.out.split("Performance run ")[1].split()[0]
        r = run_cli("--workspace", str(tmp_path), "perf", "show", run_id, "--json")
        data = json.loads(r.out)
        by = {x["candidate"]: x for x in data["results"]}
        assert by["served"]["levels"][0]["ttft_ms"]["p50"] >= 10
        assert by["served"]["levels"][0]["usage_sources"] == {"server": 6}
        assert by["tiny"]["levels"][0]["usage_sources"] == {"estimate": 6}
        r = run_cli(
            "--workspace",
            str(tmp_path),
            "perf",
            "run",
            "--base-url",
            url,
            "--model",
            "m",
            "--concurrency",
            "1",
            "--requests",
            "3",
            "--json",
        )
        assert r.code == 0 and json.loads(r.out)["results"][0]["candidate"] == "target"


@pytest.mark.integration
def test_the_connection_pool_never_caps_the_load_level(tmp_path: Path) -> None:
    # A candidate with the default max_concurrency (8) measured at concurrency 32: every
    # request must be in flight at once, so TTFT stays near the server's 100 ms.
    with running_mock_server(MockServerSettings(ttft_ms=100, output_tokens=2)) as url:
        cand = Candidate.model_validate(
            {"id": "m", "model": "openai/m", "provider": {"base_url": url}}
        )
        spec = PerfSpec(
            candidates=["m"],
            concurrency=[32],
            requests=32,
            warmup=0,
            input_tokens=4,
            output_tokens=2,
        )
        with RunStore(f"sqlite:///{tmp_path / 'p.db'}") as store:
            _, (res,) = asyncio.run(
                run_perf(None, None, spec, store, load_catalog(), candidates=[cand])
            )
    (lv,) = res.levels
    assert lv.ttft_ms is not None and lv.ttft_ms.p99 < 190  # a pool of 16: waves of >= 200
