"""Deployment: GPU sizing, one engine-neutral Helm chart and a compose file per candidate
(vLLM, TGI, TensorRT-LLM, llama.cpp), managed-option READMEs, offline validation, apply."""

from nova.deploy._apply import ApplyStep, apply_steps, missing_tool, run_step
from nova.deploy._chart import deep_merge, render_manifests, render_templates
from nova.deploy._config_edit import set_base_url, update_base_url
from nova.deploy._hf_endpoint import HF_INSTANCE_TYPES, EndpointSpec, create_endpoint, endpoint_spec
from nova.deploy._job import JobKind, job_manifest, validate_job, write_job
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
    helm_render,
    helm_renderer_available,
    rendered_engine,
    validate_folder,
)
from nova.deploy._values import k8s_name

__all__ = [
    "ENGINE_IDS",
    "HF_INSTANCE_TYPES",
    "OVERRIDE_FILE",
    "ApplyStep",
    "Check",
    "EndpointSpec",
    "EngineBuild",
    "EngineId",
    "EngineProfile",
    "GpuType",
    "JobKind",
    "RenderResult",
    "Sizing",
    "Target",
    "ValidationReport",
    "apply_steps",
    "compose_binary",
    "create_endpoint",
    "deep_merge",
    "default_engine",
    "effective_values",
    "endpoint_spec",
    "engine_profile",
    "engine_profiles",
    "find_candidate",
    "gpu_types",
    "helm_render",
    "helm_renderer_available",
    "job_manifest",
    "k8s_name",
    "missing_tool",
    "render_candidate",
    "render_manifests",
    "render_templates",
    "rendered_engine",
    "run_step",
    "servable_engines",
    "set_base_url",
    "size_candidate",
    "update_base_url",
    "validate_folder",
    "validate_job",
    "write_job",
]
