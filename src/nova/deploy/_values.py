"""The chart's values for one candidate: engine profile + sizing + nova.yaml, and its schema.

Secrets appear only as references: Kubernetes ``secretKeyRef`` entries here, ``${VAR}`` in the
compose file. The variable names come from nova.yaml itself (``api_key: ${SOPHIA_VLLM_API_KEY}``
makes the gateway's environment variable ``SOPHIA_VLLM_API_KEY``), never the values.
"""

from __future__ import annotations

import re
from typing import Any

from nova.__about__ import __version__
from nova.catalog import CatalogModel
from nova.config import Candidate, LoadedConfig
from nova.deploy._profiles import EngineProfile
from nova.deploy._sizing import Sizing

__all__ = ["GATEWAY_PORT", "build_values", "env_names", "values_schema"]

GATEWAY_PORT = 8080
"""Port of the gateway (``nova serve``)."""
HF_TOKEN_SECRET = {"name": "hf-token", "key": "token"}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_CACHE = "/models"


def k8s_name(candidate_id: str) -> str:
    """A DNS-1123 name from a candidate id (``_`` and ``.`` become ``-``)."""
    return re.sub(r"[^a-z0-9-]", "-", candidate_id.lower()).strip("-")[:40]


def env_names(loaded: LoadedConfig, cand: Candidate) -> dict[str, str]:
    """The environment variables nova.yaml reads for ``base_url`` and ``api_key`` of ``cand``.

    Defaults to ``NOVA_<ID>_BASE_URL`` / ``NOVA_<ID>_API_KEY`` when nova.yaml has a literal.
    """
    i = loaded.config.candidates.index(cand)
    upper = re.sub(r"[^A-Z0-9]", "_", cand.id.upper())
    out = {"base_url": f"NOVA_{upper}_BASE_URL", "api_key": f"NOVA_{upper}_API_KEY"}
    for key in out:
        raw = loaded.source.raw_strings.get(("candidates", i, "provider", key), "")
        m = _ENV_REF.search(raw)
        if m:
            out[key] = m.group(1)
    return out


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    ref = {"name": secret, "key": key, "optional": True}
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def _fill(args: tuple[str, ...], subs: dict[str, str]) -> list[str]:
    return [a.format(**subs) for a in args]


def _lora(rec: CatalogModel, engine: EngineProfile) -> tuple[bool, str]:
    hit = next((x for x in rec.lora if x.engine == engine.catalog_engine), None)
    if hit is None:
        return False, f"the catalog has no LoRA fact for {rec.id} on {engine.catalog_engine}"
    return hit.supported, hit.note or ""


def build_values(
    loaded: LoadedConfig,
    cand: Candidate,
    rec: CatalogModel,
    engine: EngineProfile,
    sizing: Sizing,
) -> dict[str, Any]:
    """values.yaml of the chart (the compose file is rendered from the same dict)."""
    name = k8s_name(cand.id)
    gguf_repo, _, gguf_file = (rec.gguf or ":").partition(":")
    subs = {
        "model": rec.hf_repo or cand.provider_model,
        "served_name": cand.provider_model,
        "port": str(engine.port),
        "gpus": str(sizing.gpus),
        "max_model_len": str(sizing.max_model_len),
        # llama.cpp splits --ctx-size among its --parallel slots: what the KV room holds.
        "ctx_total": str(min(sizing.kv_capacity_tokens, sizing.max_model_len * sizing.concurrency)),
        "concurrency": str(sizing.concurrency),
        "gguf_repo": gguf_repo,
        "gguf_file": gguf_file,
        "cache": _CACHE,
        "engine_dir": f"{_CACHE}/trtllm/engine",
    }
    args = _fill(engine.args, subs) + list(engine.precision_args.get(sizing.precision, ()))
    names = env_names(loaded, cand)
    engine_env: list[dict[str, Any]] = [
        {"name": k, "value": v.format(**subs)} for k, v in engine.env.items()
    ]
    engine_env.append(_secret_env("HF_TOKEN", HF_TOKEN_SECRET["name"], HF_TOKEN_SECRET["key"]))
    if engine.api_key_env:
        engine_env.append(_secret_env(engine.api_key_env, f"{name}-engine", "api-key"))
    lora_ok, lora_note = _lora(rec, engine)
    gateway_env: list[dict[str, Any]] = [
        {"name": "NOVA_WORKSPACE", "value": "/workspace"},
        {"name": "HOME", "value": "/tmp"},
        {"name": names["base_url"], "value": f"http://{name}-engine:{engine.port}/v1"},
        _secret_env(names["api_key"], f"{name}-engine", "api-key"),
    ]
    waiting = engine.waiting_metric
    gpu_key = "nvidia.com/gpu"
    hardened = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    pod_sc = {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    build = engine.build
    return {
        "name": name,
        "candidate": cand.id,
        "engine": {
            "name": engine.id,
            "image": {"repository": engine.image, "tag": engine.tag, "pullPolicy": "IfNotPresent"},
            "command": list(engine.command),
            "args": args,
            "extraArgs": [],
            "port": engine.port,
            "healthPath": engine.health_path,
            "readyPath": engine.ready_path,
            "metricsPath": engine.metrics_path,
            "replicas": 1,
            "gpus": sizing.gpus,
            "gpu": sizing.gpu,
            "precision": sizing.precision,
            "env": engine_env,
            "shmSize": engine.shm_size,
            # 10 s x 180 = 30 min for the first download and load of the weights.
            "startupFailureThreshold": 180,
            "resources": {
                "limits": {gpu_key: sizing.gpus},
                "requests": {gpu_key: sizing.gpus, "cpu": str(4 * sizing.gpus), "memory": "32Gi"},
            },
            "podSecurityContext": pod_sc,
            "securityContext": hardened,
            "nodeSelector": {},
            "tolerations": [{"key": gpu_key, "operator": "Exists", "effect": "NoSchedule"}],
        },
        "modelCache": {
            "mountPath": _CACHE,
            "create": True,
            "claimName": f"{name}-model-cache",
            "size": f"{max(50, int(sizing.weights_gib * 2.5 // 10 * 10 + 10))}Gi",
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
        },
        "build": {
            "supported": build is not None,
            "enabled": False,
            "command": list(build.command) if build else [],
            "args": _fill(build.args, subs) if build else [],
            "serveArgs": _fill(build.serve_args, subs) if build else [],
        },
        "lora": {
            "supported": lora_ok,
            "enabled": False,
            "args": list(engine.lora_args) if lora_ok else [],
            "extraArgs": [],
            "env": [{"name": k, "value": v} for k, v in engine.lora_env.items()] if lora_ok else [],
            "note": lora_note,
        },
        "gateway": {
            "enabled": True,
            "image": {"repository": "nova", "tag": __version__, "pullPolicy": "IfNotPresent"},
            "command": ["nova"],
            "args": ["serve", "--host", "0.0.0.0", "--port", str(GATEWAY_PORT)],
            "port": GATEWAY_PORT,
            "replicas": 2,
            "env": gateway_env,
            "resources": {
                "requests": {"cpu": "500m", "memory": "512Mi"},
                "limits": {"memory": "1Gi"},
            },
            "podSecurityContext": pod_sc,
            "securityContext": hardened,
        },
        "podDisruptionBudget": {"engineMaxUnavailable": 1, "gatewayMinAvailable": 1},
        "networkPolicy": {"enabled": True, "prometheusNamespace": "monitoring"},
        "serviceMonitor": {"enabled": True, "interval": "30s", "labels": {"release": "prometheus"}},
        "autoscaling": {
            "supported": waiting is not None,
            "enabled": False,
            "minReplicas": 1,
            "maxReplicas": 4,
            "cooldownSeconds": 600,
            "prometheusAddress": "http://prometheus-operated.monitoring.svc:9090",
            "query": (f'sum({waiting}{{pod=~"{name}-engine-.*"}})' if waiting else ""),
            "threshold": "8",
        },
    }


_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_BOOL = {"type": "boolean"}
_LIST = {"type": "array"}
_OBJ = {"type": "object"}


def _image() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["repository", "tag"],
        "properties": {
            "repository": {"type": "string", "minLength": 1},
            "tag": {"type": "string", "minLength": 1},
            "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        },
    }


def _env_list() -> dict[str, Any]:
    # A value literal is allowed only for names that do not look like secrets.
    secretish = "(?i)(token|key|secret|password)"
    return {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "value": _STR, "valueFrom": _OBJ},
            "if": {"properties": {"name": {"pattern": secretish}}},
            "then": {"not": {"required": ["value"]}},
        },
    }


def _toggle(extra: dict[str, Any]) -> dict[str, Any]:
    """An optional feature the engine may not support: ``enabled`` needs ``supported``."""
    return {
        "type": "object",
        "required": ["supported", "enabled"],
        "properties": {"supported": _BOOL, "enabled": _BOOL, **extra},
        "if": {"properties": {"supported": {"const": False}}},
        "then": {"properties": {"enabled": {"const": False}}},
    }


def values_schema() -> dict[str, Any]:
    """values.schema.json: Helm checks values.override.yaml against it at install time."""
    port = {"type": "integer", "minimum": 1, "maximum": 65535}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "nova engine + gateway chart values",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "candidate", "engine", "modelCache", "gateway"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
            "candidate": _STR,
            "engine": {
                "type": "object",
                "required": ["image", "args", "port", "healthPath", "readyPath", "gpus"],
                "properties": {
                    "name": {"enum": ["vllm", "tgi", "trtllm", "llamacpp"]},
                    "image": _image(),
                    "command": {"type": "array", "items": _STR},
                    "args": {"type": "array", "items": _STR, "minItems": 1},
                    "extraArgs": {"type": "array", "items": _STR},
                    "port": port,
                    "healthPath": {"type": "string", "pattern": "^/"},
                    "readyPath": {"type": "string", "pattern": "^/"},
                    "metricsPath": {"type": "string", "pattern": "^/"},
                    "replicas": _INT,
                    "gpus": {"type": "integer", "minimum": 1},
                    "gpu": _STR,
                    "precision": _STR,
                    "env": _env_list(),
                    "shmSize": _STR,
                    "startupFailureThreshold": {"type": "integer", "minimum": 1},
                    "resources": _OBJ,
                    "podSecurityContext": _OBJ,
                    "securityContext": _OBJ,
                    "nodeSelector": _OBJ,
                    "tolerations": _LIST,
                },
            },
            "modelCache": {
                "type": "object",
                "required": ["mountPath", "claimName"],
                "properties": {
                    "mountPath": {"type": "string", "pattern": "^/"},
                    "create": _BOOL,
                    "claimName": {"type": "string", "minLength": 1},
                    "size": _STR,
                    "accessModes": {"type": "array", "items": _STR, "minItems": 1},
                    "storageClassName": _STR,
                },
            },
            "build": _toggle({"command": _LIST, "args": _LIST, "serveArgs": _LIST}),
            "lora": _toggle({"args": _LIST, "extraArgs": _LIST, "env": _env_list(), "note": _STR}),
            "gateway": {
                "type": "object",
                "properties": {
                    "enabled": _BOOL,
                    "image": _image(),
                    "command": _LIST,
                    "args": _LIST,
                    "port": port,
                    "replicas": _INT,
                    "env": _env_list(),
                    "resources": _OBJ,
                    "podSecurityContext": _OBJ,
                    "securityContext": _OBJ,
                },
            },
            "podDisruptionBudget": _OBJ,
            "networkPolicy": {
                "type": "object",
                "properties": {"enabled": _BOOL, "prometheusNamespace": _STR},
            },
            "serviceMonitor": {
                "type": "object",
                "properties": {"enabled": _BOOL, "interval": _STR, "labels": _OBJ},
            },
            "autoscaling": _toggle(
                {
                    "minReplicas": _INT,
                    "maxReplicas": {"type": "integer", "minimum": 1},
                    "cooldownSeconds": _INT,
                    "prometheusAddress": _STR,
                    "query": _STR,
                    "threshold": _STR,
                }
            ),
        },
    }
