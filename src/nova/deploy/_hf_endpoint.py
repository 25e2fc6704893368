"""Hugging Face Inference Endpoint as the PoC target: the spec, and creating it.

The spec follows the candidate's sizing (GPU type and count → the endpoint's instance type and
size) and runs the same vLLM image and arguments as the chart, with scale-to-zero. Creating it
goes through ``huggingface_hub`` (``HfApi.create_inference_endpoint``, then ``wait``); the
token comes from ``HF_TOKEN`` and is never printed or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nova.catalog import CatalogModel
from nova.config import Candidate
from nova.deploy._profiles import EngineProfile
from nova.deploy._sizing import Sizing
from nova.deploy._values import k8s_name
from nova.errors import MissingDependencyError, NovaError

__all__ = ["HF_INSTANCE_TYPES", "EndpointSpec", "create_endpoint", "endpoint_spec"]

HF_INSTANCE_TYPES = {
    "H100-80GB": "nvidia-h100",
    "A100-80GB": "nvidia-a100",
    "L40S-48GB": "nvidia-l40s",
    "L4-24GB": "nvidia-l4",
}
"""nova GPU id → Inference Endpoints instance type (sizes x1, x2, x4, x8 = GPU count)."""
_SIZES = (1, 2, 4, 8)


@dataclass(frozen=True)
class EndpointSpec:
    """The arguments of ``HfApi.create_inference_endpoint`` nova uses."""

    name: str
    repository: str
    vendor: str
    region: str
    accelerator: str
    instance_type: str
    instance_size: str
    min_replica: int
    max_replica: int
    scale_to_zero_timeout: int
    image: dict[str, Any]
    container_args: tuple[str, ...]
    task: str = "text-generation"
    framework: str = "pytorch"
    type: str = "authenticated"

    def as_dict(self) -> dict[str, Any]:
        """The spec as plain data (printed by the CLI, no secrets in it)."""
        return {
            "name": self.name,
            "repository": self.repository,
            "vendor": self.vendor,
            "region": self.region,
            "accelerator": self.accelerator,
            "instance_type": self.instance_type,
            "instance_size": self.instance_size,
            "min_replica": self.min_replica,
            "max_replica": self.max_replica,
            "scale_to_zero_timeout": self.scale_to_zero_timeout,
            "custom_image": self.image,
            "container_args": list(self.container_args),
            "task": self.task,
            "framework": self.framework,
            "type": self.type,
        }


def endpoint_spec(
    cand: Candidate,
    rec: CatalogModel,
    engine: EngineProfile,
    sizing: Sizing,
    *,
    vendor: str = "aws",
    region: str = "eu-west-1",
    scale_to_zero_minutes: int = 15,
) -> EndpointSpec:
    """The endpoint for ``cand``: sized like the chart, scale to zero after idle minutes."""
    if not rec.hf_repo:
        raise NovaError(f"{rec.id} has no Hugging Face repository (hf_repo) in the catalog")
    if sizing.gpu not in HF_INSTANCE_TYPES:
        raise NovaError(f"no Inference Endpoints instance type known for {sizing.gpu}")
    size = next((n for n in _SIZES if n >= sizing.gpus), None)
    if size is None:
        raise NovaError(f"{sizing.gpus} GPUs exceed the largest instance (x8)")
    # The endpoint mounts the repository at /repository; the server serves it under the
    # candidate's model name, so nova.yaml's model stays valid.
    args = [
        "--model",
        "/repository",
        "--served-model-name",
        cand.provider_model,
        "--tensor-parallel-size",
        str(size),
        "--max-model-len",
        str(sizing.max_model_len),
        "--max-num-seqs",
        str(sizing.concurrency),
        *engine.precision_args.get(sizing.precision, ()),
    ]
    return EndpointSpec(
        name=k8s_name(cand.id)[:32].strip("-"),
        repository=rec.hf_repo,
        vendor=vendor,
        region=region,
        accelerator="gpu",
        instance_type=HF_INSTANCE_TYPES[sizing.gpu],
        instance_size=f"x{size}",
        min_replica=0,
        max_replica=1,
        scale_to_zero_timeout=scale_to_zero_minutes,
        image={
            "url": f"{engine.image}:{engine.tag}",
            "healthRoute": engine.health_path,
            "port": engine.port,
        },
        container_args=tuple(args),
    )


def create_endpoint(
    spec: EndpointSpec,
    *,
    token: str,
    namespace: str | None = None,
    hub_url: str | None = None,
    api_url: str | None = None,
    timeout_s: float = 1800,
    poll_s: int = 10,
) -> str:
    """Create the endpoint, wait until it runs, return its OpenAI-compatible base URL.

    ``hub_url`` is the Hub (``HF_ENDPOINT``), ``api_url`` the Inference Endpoints API; both
    default to Hugging Face's own. huggingface_hub reads the latter from a module constant,
    so nova sets that constant for the duration of the call.
    """
    try:
        import huggingface_hub
        from huggingface_hub import HfApi, constants
    except ImportError:
        raise MissingDependencyError(
            "nova deploy hf-endpoint", "deploy", "huggingface_hub"
        ) from None
    previous = constants.INFERENCE_ENDPOINTS_ENDPOINT
    if api_url:
        constants.INFERENCE_ENDPOINTS_ENDPOINT = api_url.rstrip("/")
    try:
        api = HfApi(endpoint=hub_url, token=token)
        d = spec.as_dict()
        endpoint = api.create_inference_endpoint(
            spec.name,
            repository=spec.repository,
            framework=spec.framework,
            accelerator=spec.accelerator,
            instance_size=spec.instance_size,
            instance_type=spec.instance_type,
            region=spec.region,
            vendor=spec.vendor,
            min_replica=spec.min_replica,
            max_replica=spec.max_replica,
            scale_to_zero_timeout=spec.scale_to_zero_timeout,
            task=spec.task,
            custom_image=d["custom_image"],
            container_args=d["container_args"],
            type=spec.type,
            namespace=namespace,
        )
        endpoint.wait(timeout=int(timeout_s), refresh_every=poll_s)
    except huggingface_hub.errors.HfHubHTTPError as exc:
        raise NovaError(f"Inference Endpoints API refused {spec.name}: {exc}") from None
    except huggingface_hub.errors.InferenceEndpointError as exc:
        raise NovaError(f"Inference Endpoint {spec.name} did not start: {exc}") from None
    finally:
        constants.INFERENCE_ENDPOINTS_ENDPOINT = previous
    if not endpoint.url:
        raise NovaError(f"Inference Endpoint {spec.name} runs but reports no URL")
    return endpoint.url.rstrip("/") + "/v1"
