"""``--workers N`` and ``--shard i/N`` for load: merged levels are computed once from the union
of the stored per-request samples, so every percentile is exact."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nova.catalog import load_catalog
from nova.config import Candidate
from nova.perf import PerfSpec, run_perf
from nova.providers import MockServerSettings, running_mock_server
from nova.store import RunStore


def _p(values: list[float], q: int) -> float:
    # An independent implementation: statistics.quantiles 'inclusive' is the linear
    # interpolation between order statistics (numpy's default), cut point q-1 of 99.
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@pytest.mark.integration
def test_two_workers_give_the_exact_percentiles_of_the_union(tmp_path: Path) -> None:
    settings = MockServerSettings(ttft_ms=20, itl_ms=2, output_tokens=8)
    with running_mock_server(settings) as url:
        cand = Candidate.model_validate(
            {"id": "m", "model": "openai/m", "provider": {"base_url": url, "cache": False}}
        )
        spec = PerfSpec(
            candidates=["m"],
            concurrency=[8],
            requests=81,
            warmup=4,
            output_tokens=8,
            input_tokens=4,
        )
        with RunStore(f"sqlite:///{tmp_path / 'p.db'}") as store:
            run_id, (res,) = asyncio.run(
                run_perf(None, None, spec, store, load_catalog(), candidates=[cand], workers=2)
            )
            recs = list(store.iter_requests(run_id))
            assert store.get_run(run_id).meta["workers"] == 2
    (lv,) = res.levels
    assert lv.requests == 81 == len(recs)
    assert {r.request["shard"] for r in recs} == {"0/2", "1/2"}  # both processes sent load
    assert sorted(int(r.case_id.split("#")[1]) for r in recs if r.case_id) == list(range(4, 85))
    ttft = [
        (r.t_first_token_ns - r.t_send_ns) / 1e6 for r in recs if r.t_first_token_ns and r.t_send_ns
    ]
    tpot = [
        (r.t_last_token_ns - r.t_first_token_ns) / 1e6 / (r.completion_tokens - 1)
        for r in recs
        if r.t_last_token_ns and r.t_first_token_ns and r.completion_tokens
    ]
    assert lv.ttft_ms is not None and lv.tpot_ms is not None
    assert len(ttft) == lv.ttft_ms.n == 81
    for q, got in ((50, lv.ttft_ms.p50), (90, lv.ttft_ms.p90), (99, lv.ttft_ms.p99)):
        assert got == pytest.approx(_p(ttft, q), rel=1e-12)
    assert lv.tpot_ms.p50 == pytest.approx(_p(tpot, 50), rel=1e-12)
    assert lv.tpot_ms.p99 == pytest.approx(_p(tpot, 99), rel=1e-12)
    # The span runs from the first send of either process to the last answer of either.
    assert 0 < lv.duration_s < 10


@pytest.mark.integration
def test_perf_shards_in_two_processes_merge_into_one_run(tmp_path: Path) -> None:
    settings = MockServerSettings(ttft_ms=10, itl_ms=1, output_tokens=4)
    with running_mock_server(settings) as url:
        ws = tmp_path / "ws"
        (ws / "datasets").mkdir(parents=True)
        cfg = {
            "version": 1,
            "name": "t",
            "candidates": [
                {"id": "m", "model": "openai/m", "provider": {"base_url": url, "cache": False}}
            ],
        }
        (ws / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
        base = [sys.executable, "-m", "nova", "--workspace", str(ws)]
        load = ["perf", "run", "--candidates", "m", "--concurrency", "3,4", "--requests", "30"]
        load += ["--warmup", "2", "--output-tokens", "4", "--no-saturation-stop", "--json"]
        procs = [
            subprocess.Popen(
                [*base, *load, "--run-id", "p-1", "--shard", f"{i}/2"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
        own = [json.loads(o)["results"][0]["levels"] for o, _ in outs]
        # concurrency 3 over 2 shards: 2 + 1 workers, requests split 16/16 of 32 (incl. warm-up)
        assert [lv[0]["concurrency"] for lv in own] == [3, 3]
        assert sorted(lv[0]["requests"] for lv in own) == [15, 15]
        merged = subprocess.run(
            [*base, "runs", "merge", "p-1", "--json"], env=env, capture_output=True, text=True
        )
        assert merged.returncode == 0, merged.stderr
        data = json.loads(merged.stdout)
        assert [s["status"] for s in data["shards"]] == ["completed", "completed"]
        levels = data["results"][0]["levels"]
        assert [lv["requests"] for lv in levels] == [30, 30]
        with RunStore(f"sqlite:///{ws / '.nova' / 'nova.db'}") as store:
            run = store.get_run("p-1")
            recs = [r for r in store.iter_requests("p-1") if r.request["load"] == "concurrency 4"]
        assert run.status == "completed"
        assert run.meta["results"][0]["levels"] == levels  # the last shard merged it
        assert all(lv["start_skew_ms"] is not None for lv in levels)  # they started together
        again = subprocess.run(
            [*base, *load, "--run-id", "p-1", "--shard", "0/2"], env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr  # a shard run again sends nothing twice
        with RunStore(f"sqlite:///{ws / '.nova' / 'nova.db'}") as store:
            assert store.count_requests("p-1") == 60
            # It had nothing to send, so it neither waited nor rewrote when it started.
            assert store.get_run("p-1").meta["starts"] == run.meta["starts"]
        ttft = [
            (r.t_first_token_ns - r.t_send_ns) / 1e6
            for r in recs
            if r.t_first_token_ns and r.t_send_ns
        ]
        assert levels[1]["ttft_ms"]["p90"] == pytest.approx(_p(ttft, 90), rel=1e-12)


def test_slices_of_a_poisson_level_keep_the_one_schedule() -> None:
    """Two slices fire the arrivals of one Poisson schedule: their union is, request for
    request, the schedule of a single process with the same seed and start."""
    import time

    from nova.perf import run_level, synthetic_prompts
    from nova.perf._merge import level_slice
    from nova.providers import create_provider
    from nova.shard import Shard

    cand = Candidate.model_validate({"id": "m", "model": "mock/m"})
    prompts = synthetic_prompts(4, 4)

    async def go(shard: Shard | None, start: int) -> dict[int, int]:
        p = create_provider(cand)
        owns = level_slice(shard, None)[0] if shard else None
        async with p:
            got = await run_level(
                p, prompts, arrival="poisson", rate=400.0, requests=60, seed=7,
                owns=owns, start_ns=start,
            )  # fmt: skip
        return {i: s.t_scheduled_ns - start for i, s in got}

    async def both() -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
        start = time.perf_counter_ns() + 50_000_000
        one = await go(None, start)
        start = time.perf_counter_ns() + 50_000_000
        a, b = await asyncio.gather(go(Shard(0, 2), start), go(Shard(1, 2), start))
        return one, a, b

    one, a, b = asyncio.run(both())
    assert set(a) == set(range(0, 60, 2)) and set(b) == set(range(1, 60, 2))
    assert {**a, **b} == one  # same arrival offsets, to the nanosecond


def test_concurrency_is_shared_and_a_slice_beyond_it_is_idle() -> None:
    from nova.perf._merge import level_slice
    from nova.shard import Shard

    owns, conc = level_slice(Shard(2, 3), 2)  # concurrency 2 over 3 slices: slice 2 idle
    assert conc == 0 and not any(owns(i) for i in range(10))
    parts = [level_slice(Shard(k, 3), 2) for k in range(2)]
    assert [c for _, c in parts] == [1, 1]
    assert [[i for i in range(6) if o(i)] for o, _ in parts] == [[0, 2, 4], [1, 3, 5]]
