"""Engine profiles: which Prometheus metric of a serving engine answers which question.

Engines name their metrics differently and rename them between versions, so each profile
names its source and the date it was read; ``tests/observability/fixtures/<profile>.prom``
holds an exposition sample written from that source, and a test checks every metric a rule
uses against it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nova.config import Candidate, MonitoringSettings
from nova.errors import ConfigError, Problem

__all__ = ["ENGINE_PROFILES", "EngineProfile", "Selector", "engine_for"]


class Selector(BaseModel):
    """A metric name with fixed label matchers, e.g. ``nv_trt_llm_request_metrics`` with
    ``request_type="waiting"``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    """Metric name as the engine exports it."""
    matchers: tuple[tuple[str, str], ...] = ()
    """Label matchers (name, exact value)."""

    def promql(self, **extra: str) -> str:
        """The selector in PromQL, with ``extra`` exact matchers added first."""
        pairs = [*extra.items(), *self.matchers]
        inner = ",".join(f'{k}="{v}"' for k, v in pairs)
        return f"{self.metric}{{{inner}}}" if inner else self.metric


def _s(metric: str, **matchers: str) -> Selector:
    return Selector(metric=metric, matchers=tuple(matchers.items()))


class EngineProfile(BaseModel):
    """The metrics of one engine (version range) that nova's rules and dashboard read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """Profile id used in nova.yaml (``monitoring.engines``)."""
    name: str
    """Display name with the version range."""
    source: str
    """Where the names were read (source file or documentation URL)."""
    retrieved: str
    """Date the source was read (ISO)."""
    requests_waiting: Selector
    """Gauge: requests queued at the engine."""
    requests_running: Selector
    """Gauge: requests being processed."""
    kv_cache_usage: Selector | None = None
    """Gauge 0..1: KV-cache use (None: the engine does not export it)."""
    preemptions: Selector | None = None
    """Counter: requests preempted for lack of KV cache."""
    ttft_histogram: str | None = None
    """Histogram (seconds) of time to first token."""
    e2e_histogram: str | None = None
    """Histogram (seconds) of end-to-end request latency."""
    prompt_tokens: Selector | None = None
    """Counter of prompt tokens."""
    generation_tokens: Selector | None = None
    """Counter of generated tokens."""

    def metric_names(self) -> set[str]:
        """Every metric name (series name, ``_bucket`` for histograms) the rules may use."""
        out = {
            s.metric
            for s in (
                self.requests_waiting,
                self.requests_running,
                self.kv_cache_usage,
                self.preemptions,
                self.prompt_tokens,
                self.generation_tokens,
            )
            if s is not None
        }
        for h in (self.ttft_histogram, self.e2e_histogram):
            if h is not None:
                out |= {f"{h}_bucket", f"{h}_count", f"{h}_sum"}
        return out


_VLLM_SOURCE = (
    "https://github.com/vllm-project/vllm/blob/005a810bc40faa25b8870fbc8559c3462581eee3/"
    "vllm/v1/metrics/loggers.py (PrometheusStatLogger)"
)

_VLLM_V1 = EngineProfile(
    id="vllm",
    name="vLLM V1 engine (0.9 and later)",
    source=_VLLM_SOURCE,
    retrieved="2026-11-30",
    requests_waiting=_s("vllm:num_requests_waiting"),
    requests_running=_s("vllm:num_requests_running"),
    kv_cache_usage=_s("vllm:kv_cache_usage_perc"),
    preemptions=_s("vllm:num_preemptions_total"),
    ttft_histogram="vllm:time_to_first_token_seconds",
    e2e_histogram="vllm:e2e_request_latency_seconds",
    prompt_tokens=_s("vllm:prompt_tokens_total"),
    generation_tokens=_s("vllm:generation_tokens_total"),
)

# V0 exports the same names, except the KV-cache gauge (renamed in 0.9).
_VLLM_V0 = _VLLM_V1.model_copy(
    update={
        "id": "vllm-v0",
        "name": "vLLM V0 engine (before 0.9; KV cache as gpu_cache_usage_perc)",
        "source": (
            "https://github.com/vllm-project/vllm/blob/"
            "00c33e81b526a179a6afb86512d1e8198965ee2f/vllm/engine/metrics.py (class Metrics)"
        ),
        "kv_cache_usage": _s("vllm:gpu_cache_usage_perc"),
    }
)

ENGINE_PROFILES: dict[str, EngineProfile] = {
    p.id: p
    for p in (
        _VLLM_V1,
        _VLLM_V0,
        EngineProfile(
            id="tgi",
            name="Hugging Face TGI 3.x (router metrics; no KV-cache or TTFT metric)",
            source=(
                "https://github.com/huggingface/text-generation-inference/blob/"
                "db931fcf42da018a3657580c64bf2720f167f9ab/router/src/server.rs (2026-01-08)"
            ),
            retrieved="2026-11-30",
            requests_waiting=_s("tgi_queue_size"),
            requests_running=_s("tgi_batch_current_size"),
            e2e_histogram="tgi_request_duration",
        ),
        EngineProfile(
            id="triton-trtllm",
            name="Triton Inference Server with the TensorRT-LLM backend (inflight batcher)",
            source=(
                "https://github.com/triton-inference-server/tensorrtllm_backend/blob/"
                "0b9d7d5a195820d53abadfcf7208d0ccdbfd5332/README.md (metrics section, 2026-07-14)"
            ),
            retrieved="2026-11-30",
            requests_waiting=_s("nv_trt_llm_request_metrics", request_type="waiting"),
            requests_running=_s("nv_trt_llm_request_metrics", request_type="active"),
            kv_cache_usage=_s("nv_trt_llm_kv_cache_block_metrics", kv_cache_block_type="fraction"),
        ),
        EngineProfile(
            id="llamacpp",
            name="llama.cpp server with --metrics (no KV-cache, latency or preemption metric)",
            source="https://github.com/ggml-org/llama.cpp tools/server (metrics handler)",
            retrieved="2026-11-30",
            requests_waiting=_s("llamacpp:requests_deferred"),
            requests_running=_s("llamacpp:requests_processing"),
            prompt_tokens=_s("llamacpp:prompt_tokens_total"),
            generation_tokens=_s("llamacpp:tokens_predicted_total"),
        ),
    )
}
"""Engine profile id -> profile."""

_HINTS = (("triton", "triton-trtllm"), ("trtllm", "triton-trtllm"), ("tgi", "tgi"),
          ("vllm", "vllm"), ("llama.cpp", "llamacpp"), ("llamacpp", "llamacpp"))  # fmt: skip


def engine_for(candidate: Candidate, settings: MonitoringSettings) -> EngineProfile | None:
    """The engine profile of a candidate; None when it exposes no engine metrics (managed).

    Order: ``monitoring.engines[<id>]``, ``provider.options.engine``, then the candidate's
    id, name and model (``…-vllm`` reads as vLLM); a local GGUF (provider ``llamacpp``) is
    served by llama.cpp's server in deployment.
    """
    explicit = settings.engines.get(candidate.id) or candidate.provider.options.get("engine")
    if explicit is not None:
        profile = ENGINE_PROFILES.get(str(explicit))
        if profile is None:
            raise ConfigError(
                [
                    Problem(
                        None,
                        None,
                        f"monitoring.engines.{candidate.id}",
                        f"unknown engine profile {explicit!r}; choose one of "
                        f"{', '.join(ENGINE_PROFILES)}",
                    )
                ]
            )
        return profile
    if candidate.hosting == "managed":
        return None
    text = " ".join((candidate.id, candidate.name or "", candidate.model)).lower()
    for hint, profile_id in _HINTS:
        if hint in text:
            return ENGINE_PROFILES[profile_id]
    if candidate.provider_kind == "llamacpp":
        return ENGINE_PROFILES["llamacpp"]
    return None
