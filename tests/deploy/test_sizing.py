"""Sizing: weights + KV cache → GPUs, with numbers computed by hand in the comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova.catalog import Catalog
from nova.deploy import engine_profile, size_candidate
from tests.deploy.conftest import load

GIB = 1024**3


def test_primary_70b_bf16_needs_four_h100_and_warns_about_two(
    workspace: Path, catalog: Catalog
) -> None:
    loaded = load(workspace, catalog)
    cand = loaded.config.candidate("llama31-70b-vllm")
    s = size_candidate(loaded.config, cand, catalog, engine_profile("vllm"))
    # weights: 70.6e9 x 2 B = 141.2e9 B = 131.50 GiB
    assert s.weights_gib == pytest.approx(70.6e9 * 2 / GIB)
    # KV: 2 x 80 layers x 8 KV heads x 128 dim x 2 B = 327,680 B/token (320 KiB);
    # context 800 + 250 = 1,050 tokens (llm-core conversation_tokens), concurrency 64 (peak)
    assert s.kv_bytes_per_token == 327_680
    assert (s.context, s.concurrency) == (1050, 64)
    assert s.kv_gib == pytest.approx(327_680 * 1050 * 64 / GIB)  # 20.51 GiB
    # usable per H100: 79.6 x 0.9 - 1.5 = 70.14 GiB; 152.0 GiB needs 3 -> 4 (TP power of two)
    assert s.usable_gib_per_gpu == pytest.approx(70.14)
    assert s.needed_gpus == 4
    assert s.gpus == 2  # nova.yaml's gpus: 2 is what gets rendered ...
    assert len(s.warnings) == 1  # ... with a warning that carries the numbers
    assert "gpus: 2 x H100-80GB (140.3 GiB usable)" in s.warnings[0]
    assert "needs 152.0 GiB -> 4 GPU(s)" in s.warnings[0]
    # KV room on 2 GPUs: 140.28 - 131.50 = 8.78 GiB = 28,761 tokens -> 28,672 (1k steps)
    assert s.max_model_len == 28_672
    assert any(line.startswith("KV cache = 320 KiB x 1050 x 64 = 20.5 GiB") for line in s.lines)


def test_fallback_is_sized_for_reduced_resources(workspace: Path, catalog: Catalog) -> None:
    loaded = load(workspace, catalog)
    cand = loaded.config.candidate("mixtral-8x7b-vllm")
    s = size_candidate(loaded.config, cand, catalog, engine_profile("vllm"))
    assert s.reduced
    # a quarter of the peak concurrency 64, and the catalog's smallest vLLM plan (fp8)
    assert (s.concurrency, s.precision) == (16, "fp8")
    # 46.7 GB fp8 = 43.49 GiB + 128 KiB x 1050 x 16 = 2.05 GiB -> one H100 (70.14 usable)
    assert s.weights_gib + s.kv_gib == pytest.approx(46.7e9 / GIB + 131_072 * 1050 * 16 / GIB)
    assert s.needed_gpus == 1
    assert "set gpus: 1 to follow the sizing" in s.warnings[0]


def test_explicit_context_and_concurrency_change_the_count(
    workspace: Path, catalog: Catalog
) -> None:
    loaded = load(workspace, catalog)
    cand = loaded.config.candidate("llama31-70b-vllm")
    small = size_candidate(
        loaded.config, cand, catalog, engine_profile("vllm"), context=1024, concurrency=8
    )
    # 131.5 + 320 KiB x 1024 x 8 = 2.5 GiB = 134.0 GiB -> 2 x 70.14 = 140.28 fits
    assert small.needed_gpus == 2
    assert small.warnings == []


def test_tensor_parallel_must_divide_the_heads(workspace: Path, catalog: Catalog) -> None:
    loaded = load(workspace, catalog)
    cand = loaded.config.candidate("qwen25-05b-local")
    # Qwen2.5-0.5B has 14 attention heads: vLLM may use 1 or 2 GPUs, never 4 or 8.
    s = size_candidate(
        loaded.config, cand, catalog, engine_profile("vllm"), context=32768, concurrency=1024
    )
    assert s.needed_gpus == 2
    assert "must divide 14 heads" in s.lines[6]
