"""Engine profiles and GPU types: the data that fits one chart to vLLM, TGI, TensorRT-LLM and
llama.cpp. Shipped as YAML under ``data/``, each record with a source and a retrieved-on date."""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter

from nova.errors import ConfigError, Problem

__all__ = [
    "ENGINE_IDS",
    "EngineBuild",
    "EngineId",
    "EngineProfile",
    "GpuType",
    "engine_profile",
    "engine_profiles",
    "gpu_types",
]

EngineId = Literal["vllm", "tgi", "trtllm", "llamacpp"]
ENGINE_IDS: tuple[EngineId, ...] = ("vllm", "tgi", "trtllm", "llamacpp")
"""Engine names of ``nova deploy render --engine``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class GpuType(_Strict):
    """A GPU model and the memory an engine can allocate on it."""

    id: str
    """GPU id as the catalog's plans and price sheets spell it, e.g. ``H100-80GB``."""
    memory_gib: float = Field(gt=0)
    """Memory as the driver reports it, in GiB."""
    note: str | None = None
    """How the number was read."""
    source: HttpUrl
    """Public page of the GPU."""
    retrieved: date
    """Day the fact was read."""


class EngineBuild(_Strict):
    """An ahead-of-time build step (TensorRT-LLM engines) run as a Kubernetes Job."""

    command: tuple[str, ...]
    """Entrypoint of the build container."""
    args: tuple[str, ...]
    """Arguments of the build (placeholders as in ``EngineProfile.args``)."""
    serve_args: tuple[str, ...]
    """Server arguments that load the built engine instead of the checkpoint."""


class EngineProfile(_Strict):
    """How one serving engine is started, probed, scraped and given GPUs."""

    id: EngineId
    """Engine name used by nova's commands."""
    catalog_engine: Literal["vllm", "tgi", "tensorrt-llm", "llama.cpp"]
    """The engine's name in the catalog (``hosting.self_hosted``, ``lora``, plans)."""
    name: str
    """Display name."""
    image: str
    """Container image repository."""
    tag: str
    """Image tag nova pins."""
    command: tuple[str, ...] = ()
    """Entrypoint override (empty: the image's own)."""
    args: tuple[str, ...]
    """Server arguments; ``{placeholders}`` are filled per candidate."""
    port: int = Field(gt=0, lt=65536)
    """Port the server listens on."""
    health_path: str
    """Liveness path."""
    ready_path: str
    """Readiness path (answers once the model is loaded)."""
    metrics_path: str
    """Prometheus metrics path."""
    waiting_metric: str | None = None
    """Prometheus metric of requests waiting in the queue (None: autoscaling not offered)."""
    memory_utilization: float = Field(gt=0, le=1)
    """Share of GPU memory the engine allocates (vLLM ``--gpu-memory-utilization``)."""
    tensor_parallel: bool
    """Whether several GPUs form one tensor-parallel group (the count must divide the heads)."""
    precisions: tuple[str, ...]
    """Weight precisions the profile can serve."""
    precision_args: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Extra arguments per precision."""
    needs_gguf: bool = False
    """Whether the engine loads a GGUF file (the catalog's ``gguf``)."""
    api_key_env: str | None = None
    """Environment variable from which the server reads the API key it requires."""
    lora_args: tuple[str, ...] = ()
    """Arguments that enable LoRA adapters."""
    lora_env: dict[str, str] = Field(default_factory=dict)
    """Environment that enables LoRA adapters."""
    lora_hint: str = ""
    """How to add adapters, for the README."""
    shm_size: str
    """Size of the ``/dev/shm`` memory volume (NCCL between tensor-parallel ranks)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Plain (non-secret) environment."""
    healthcheck: tuple[str, ...]
    """Compose healthcheck test."""
    build: EngineBuild | None = None
    """Ahead-of-time build step, if the engine has one."""
    note: str | None = None
    """What an operator should know."""
    source: HttpUrl
    """Documentation the profile follows."""
    retrieved: date
    """Day the documentation was read."""


def _load(name: str) -> object:
    text = resources.files("nova.deploy").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def engine_profiles() -> dict[str, EngineProfile]:
    """Every shipped engine profile by id."""
    items = TypeAdapter(list[EngineProfile]).validate_python(_load("engines.yaml"))
    return {e.id: e for e in items}


@cache
def gpu_types() -> dict[str, GpuType]:
    """Every known GPU type by id."""
    items = TypeAdapter(list[GpuType]).validate_python(_load("gpus.yaml"))
    return {g.id: g for g in items}


def engine_profile(engine: str) -> EngineProfile:
    """The profile of ``engine``; an unknown name is a usage error naming the known ones."""
    profiles = engine_profiles()
    if engine not in profiles:
        msg = f"unknown engine {engine!r}: use one of {', '.join(ENGINE_IDS)}"
        raise ConfigError([Problem(None, None, "--engine", msg)], msg)
    return profiles[engine]
