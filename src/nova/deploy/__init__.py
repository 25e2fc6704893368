"""Deployment: GPU sizing, one engine-neutral Helm chart and a compose file per candidate
(vLLM, TGI, TensorRT-LLM, llama.cpp), managed-option READMEs, offline validation, apply."""

from nova.deploy._apply import ApplyStep, apply_steps, missing_tool, run_step
from nova.deploy._chart import deep_merge, render_manifests, render_templates
from nova.deploy._profiles import (
    ENGINE_IDS,
    EngineBuild,
    EngineId,
    EngineProfile,
    GpuType,
    engine_profile,
    engine_profiles,
    gpu_types,
)
from nova.deploy._render import (
    OVERRIDE_FILE,
    RenderResult,
    Target,
    default_engine,
    effective_values,
    find_candidate,
    render_candidate,
    servable_engines,
)
from nova.deploy._sizing import Sizing, size_candidate
from nova.deploy._validate import (
    Check,
    ValidationReport,
    compose_binary,
    helm_renderer_available,
    rendered_engine,
    validate_folder,
)

__all__ = [
    "ENGINE_IDS",
    "OVERRIDE_FILE",
    "ApplyStep",
    "Check",
    "EngineBuild",
    "EngineId",
    "EngineProfile",
    "GpuType",
    "RenderResult",
    "Sizing",
    "Target",
    "ValidationReport",
    "apply_steps",
    "compose_binary",
    "deep_merge",
    "default_engine",
    "effective_values",
    "engine_profile",
    "engine_profiles",
    "find_candidate",
    "gpu_types",
    "helm_renderer_available",
    "missing_tool",
    "render_candidate",
    "render_manifests",
    "render_templates",
    "rendered_engine",
    "run_step",
    "servable_engines",
    "size_candidate",
    "validate_folder",
]
