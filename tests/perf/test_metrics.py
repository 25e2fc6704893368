"""Every definition on hand-built timelines (no sleeping, no server)."""

from __future__ import annotations

import math

import pytest

from nova.config import Candidate, Slo
from nova.perf import RequestSample, compute_level, percentile
from nova.perf._cost import estimate_cost, managed_cost, self_hosted_cost

MS = 1_000_000


def sample(
    send: int,
    first: int,
    chunks: list[int],
    tokens: int | None = None,
    sched: int | None = None,
    err: str | None = None,
) -> RequestSample:
    """Times in ms relative to 0."""
    return RequestSample(
        t_scheduled_ns=(sched if sched is not None else send) * MS,
        t_send_ns=send * MS,
        t_first_byte_ns=(send + 1) * MS,
        t_first_token_ns=first * MS if first else None,
        t_last_token_ns=chunks[-1] * MS if chunks else None,
        t_end_ns=(chunks[-1] + 1) * MS if chunks else (send + 5) * MS,
        chunk_times_ns=[c * MS for c in chunks],
        output_tokens=tokens,
        usage_source="server" if tokens is not None else "estimate",
        error=err,
    )


def test_ttft_tpot_itl_e2el_and_throughput_by_hand() -> None:
    # Request A: send 0, chunks at 100, 110, 120, 130 (4 tokens)
    #   TTFT 100, E2EL 130, TPOT (130-100)/(4-1) = 10, ITL gaps 10, 10, 10
    # Request B: send 50 (scheduled 40 -> queue 10), chunks at 250, 270, 290 (3 tokens by
    #   usage; chunks 3) -> TTFT 200, E2EL 240, TPOT 40/2 = 20, ITL 20, 20
    a = sample(0, 100, [100, 110, 120, 130], tokens=4)
    b = sample(50, 250, [250, 270, 290], tokens=3, sched=40)
    m = compute_level([a, b], label="c2", concurrency=2)
    assert m.ttft_ms is not None and m.tpot_ms is not None and m.itl_ms is not None
    assert m.e2el_ms is not None and m.queue_ms is not None
    assert (m.ttft_ms.mean, m.ttft_ms.median) == (150.0, 150.0)
    assert m.e2el_ms.median == 185.0  # (130 + 240) / 2
    assert sorted([m.tpot_ms.p50]) == [15.0]  # median of 10 and 20
    assert m.itl_ms.n == 5 and m.itl_ms.median == 10.0  # pooled: 10,10,10,20,20
    assert m.queue_ms.median == 5.0  # 0 and 10
    assert m.ttfb_ms is not None and m.ttfb_ms.median == 1.0
    # span: first send 0 .. last completion 291 ms
    assert m.duration_s == pytest.approx(0.291)
    assert m.output_throughput == pytest.approx(7 / 0.291)
    assert m.request_throughput == pytest.approx(2 / 0.291)
    assert m.tokens_per_chunk == 1.0
    assert m.usage_sources == {"server": 2}
    assert m.goodput is None and m.slo_attainment is None


def test_tokens_fall_back_to_chunks_and_multi_token_chunks() -> None:
    # No usage: 3 chunks -> 3 tokens (estimate). With usage 6 over 3 chunks: 2 per chunk.
    m = compute_level([sample(0, 10, [10, 20, 30])], label="x")
    assert m.output_tokens == 3 and m.usage_sources == {"estimate": 1}
    m = compute_level([sample(0, 10, [10, 20, 30], tokens=6)], label="x")
    assert m.tokens_per_chunk == 2.0
    assert m.tpot_ms is not None and m.tpot_ms.median == 4.0  # (30-10)/(6-1)


def test_goodput_and_slo_attainment() -> None:
    fast = sample(0, 50, [50, 60, 70], tokens=3)  # TTFT 50, TPOT 10, E2EL 70
    slow_ttft = sample(0, 500, [500, 510], tokens=2)  # TTFT 500
    slow_tpot = sample(0, 50, [50, 150, 250], tokens=3)  # TPOT 100
    failed = sample(0, 0, [], err="server")
    slo = Slo(ttft_ms=100, tpot_ms=20)
    m = compute_level([fast, slow_ttft, slow_tpot, failed], label="x", slo=slo)
    assert m.successful == 3 and m.failed == 1 and m.errors == {"server": 1}
    assert m.slo_attainment == 0.25  # 1 of 4 requests, the failure never meets an SLO
    assert m.goodput == pytest.approx(1 / m.duration_s)


def test_failures_and_cut_streams_are_counted_apart_and_in_p99_with_failures() -> None:
    ok = [sample(0, 10 + i, [10 + i, 20 + i], tokens=2) for i in range(98)]
    cut = sample(0, 10, [10], tokens=None, err="stream_cut")
    fail = sample(0, 0, [], err="timeout")
    m = compute_level([*ok, cut, fail], label="x")
    assert (m.successful, m.failed, m.incomplete) == (98, 1, 1)
    assert m.errors == {"timeout": 1, "stream_cut": 1}
    assert m.ttft_ms is not None and m.ttft_ms.n == 98
    assert math.isfinite(m.ttft_ms.p99)
    assert m.ttft_p99_with_failures_ms == math.inf  # 2% failed: p99 is "infinitely slow"
    one_fail = compute_level([*[sample(0, 10, [10, 20], 2)] * 199, fail], label="y")
    assert one_fail.ttft_p99_with_failures_ms == 10.0  # 0.5% failed: p99 still finite


def test_percentile_interpolation() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 99) == 10
    assert percentile([0, 10], 90) == 9.0
    assert math.isnan(percentile([], 50))


def test_cost_arithmetic(workspace: object) -> None:
    # Managed: 800 in + 250 out at 2.50/10.00 per 1M:
    #   per conversation = (800*2.5 + 250*10)/1e6 = 0.0045 USD -> 4.50 per 1,000
    #   per 1M output tokens = 10 + 2.5 * 800/250 = 18.0
    assert managed_cost(2.5, 10.0, 800, 250) == pytest.approx((18.0, 4.5))
    # Self-hosted: 2 GPUs x 4.50 = 9.00 USD/h at 1,000 output tok/s:
    #   per 1M = 9 / (1000*3600) * 1e6 = 2.5 USD; per 1,000 conversations of 250 output
    #   tokens = 2.5 * 250 * 1000 / 1e6 = 0.625 USD
    assert self_hosted_cost(9.0, 1000.0, 250) == pytest.approx((2.5, 0.625))
    from nova.catalog import load_catalog

    cat = load_catalog()
    gpt = Candidate.model_validate(
        {
            "id": "g",
            "model": "azure/gpt-4o",
            "catalog": "gpt-4o",
            "hosting": "managed",
            "provider": {"base_url": "x", "deployment": "d", "api_version": "v"},
        }
    )
    est = estimate_cost(gpt, cat, conversation_tokens=(800, 250), output_tokens_per_s=None)
    assert est.usd_per_1k_conversations == pytest.approx(4.5)
    assert est.sheet is not None and est.sheet_date is not None and est.sheet in est.basis
    vllm = Candidate.model_validate(
        {
            "id": "v",
            "model": "openai/m",
            "catalog": "llama-3.1-70b-instruct",
            "gpu": "H100-80GB",
            "gpus": 2,
            "provider": {"base_url": "x"},
        }
    )
    per_gpu = cat.gpu_price("H100-80GB")[1]  # type: ignore[index]
    est = estimate_cost(vllm, cat, conversation_tokens=(800, 250), output_tokens_per_s=1000.0)
    assert est.usd_per_mtok_output == pytest.approx(2 * per_gpu / 3600 * 1000)
    mock = Candidate.model_validate({"id": "m", "model": "mock/x"})
    assert (
        estimate_cost(
            mock, cat, conversation_tokens=(1, 1), output_tokens_per_s=5.0
        ).usd_per_1k_conversations
        is None
    )


def test_infinite_p99_survives_a_json_round_trip() -> None:
    from nova.perf import LevelMetrics

    m = compute_level([sample(0, 10, [10, 20], 2), sample(0, 0, [], err="timeout")], label="x")
    assert m.e2el_p99_with_failures_ms == math.inf
    again = LevelMetrics.model_validate_json(m.model_dump_json())
    assert again.e2el_p99_with_failures_ms == math.inf
    again = LevelMetrics.model_validate(m.model_dump(mode="json"))
    assert again.e2el_p99_with_failures_ms == math.inf
