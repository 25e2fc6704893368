"""compose.yaml for one candidate: the engine on an internal network, the gateway in front.

Rendered from the same values as the chart, so an image or argument set in
values.override.yaml applies to both. Secrets are ``${VAR:-}`` references that docker compose
fills from the environment (or an ``.env`` file) at start; nova never writes their values.
Local changes belong in ``compose.override.yaml``, which docker compose merges by itself.
"""

from __future__ import annotations

from typing import Any

import yaml

from nova.deploy._profiles import EngineProfile

__all__ = ["render_compose", "render_prometheus_config"]


def _env(items: list[dict[str, Any]], secret_vars: dict[str, str]) -> dict[str, str]:
    """Kubernetes env entries → compose environment; secretKeyRefs become ``${VAR:-}``."""
    out: dict[str, str] = {}
    for item in items:
        name = str(item["name"])
        if "value" in item:
            out[name] = str(item["value"])
        else:
            out[name] = f"${{{secret_vars.get(name, name)}:-}}"
    return out


def render_compose(
    values: dict[str, Any],
    engine: EngineProfile,
    secret_vars: dict[str, str],
    *,
    project: str,
) -> str:
    """The compose file text. ``secret_vars`` maps an env name to the host variable it reads
    (the engine's ``VLLM_API_KEY`` reads the candidate's ``SOPHIA_VLLM_API_KEY``)."""
    e = values["engine"]
    g = values["gateway"]
    port = int(e["port"])
    lora = values["lora"]
    args = list(e["args"]) + (
        list(lora["args"]) + list(lora["extraArgs"]) if lora["enabled"] else []
    )
    args += list(e["extraArgs"])
    env = _env(e["env"] + (lora["env"] if lora["enabled"] else []), secret_vars)
    test = [part.replace("{port}", str(port)) for part in engine.healthcheck]
    services: dict[str, Any] = {
        "engine": {
            "image": f"{e['image']['repository']}:{e['image']['tag']}",
            **({"entrypoint": list(e["command"])} if e["command"] else {}),
            "command": args,
            "environment": env,
            # No user: here: a fresh named volume is owned by root and compose has no fsGroup;
            # the container keeps no capabilities and a read-only root filesystem.
            "read_only": True,
            "security_opt": ["no-new-privileges:true"],
            "cap_drop": ["ALL"],
            "shm_size": e["shmSize"].replace("Gi", "gb").replace("Mi", "mb"),
            "tmpfs": ["/tmp"],
            "volumes": [f"model-cache:{values['modelCache']['mountPath']}"],
            "expose": [str(port)],
            "deploy": {
                "resources": {
                    "reservations": {
                        "devices": [
                            {"driver": "nvidia", "count": int(e["gpus"]), "capabilities": ["gpu"]}
                        ]
                    }
                }
            },
            "healthcheck": {
                "test": test,
                "interval": "15s",
                "timeout": "5s",
                "retries": 5,
                "start_period": "30m",
            },
            "networks": ["backend"],
            "restart": "unless-stopped",
        }
    }
    if g["enabled"]:
        genv = _env(g["env"], secret_vars)
        base = next(k for k, v in genv.items() if v.startswith("http://"))
        genv[base] = f"http://engine:{port}/v1"
        genv["NOVA_WORKSPACE"] = "/workspace"
        services["gateway"] = {
            "image": f"{g['image']['repository']}:{g['image']['tag']}",
            "command": list(g["command"]) + list(g["args"]),
            "environment": genv,
            "user": "1000:1000",
            "read_only": True,
            "security_opt": ["no-new-privileges:true"],
            "cap_drop": ["ALL"],
            "tmpfs": ["/tmp", "/workspace/.nova"],
            "volumes": ["./files/nova.yaml:/workspace/nova.yaml:ro"],
            "ports": [f"127.0.0.1:{g['port']}:{g['port']}"],
            "depends_on": {"engine": {"condition": "service_healthy"}},
            "healthcheck": {
                "test": [
                    "CMD",
                    "python3",
                    "-c",
                    f"import urllib.request; urllib.request.urlopen("
                    f"'http://127.0.0.1:{g['port']}/healthz')",
                ],
                "interval": "10s",
                "timeout": "3s",
                "retries": 3,
            },
            "networks": ["backend", "frontend"],
            "restart": "unless-stopped",
        }
    services["prometheus"] = {
        "image": "prom/prometheus:v3.5.0",
        "profiles": ["monitoring"],
        "command": ["--config.file=/etc/prometheus/prometheus.yml"],
        "volumes": ["./prometheus.yml:/etc/prometheus/prometheus.yml:ro"],
        "ports": ["127.0.0.1:9090:9090"],
        "networks": ["backend", "frontend"],
    }
    doc = {
        "name": project,
        "services": services,
        # internal: the engine has no route out and is reachable only by the gateway.
        "networks": {"backend": {"internal": True}, "frontend": {}},
        "volumes": {"model-cache": {}},
    }
    head = (
        "# Generated by nova deploy render: do not edit, put local changes into\n"
        "# compose.override.yaml (docker compose merges it). Secrets come from the environment.\n"
        "# Monitoring (Prometheus) starts with: docker compose --profile monitoring up -d\n"
    )
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)


def render_prometheus_config(values: dict[str, Any]) -> str:
    """prometheus.yml for the compose monitoring profile: scrape engine and gateway."""
    e = values["engine"]
    jobs = [
        {
            "job_name": "engine",
            "metrics_path": e["metricsPath"],
            "static_configs": [{"targets": [f"engine:{e['port']}"]}],
        }
    ]
    if values["gateway"]["enabled"]:
        jobs.append(
            {
                "job_name": "gateway",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"gateway:{values['gateway']['port']}"]}],
            }
        )
    doc = {"global": {"scrape_interval": "15s"}, "scrape_configs": jobs}
    return "# Generated by nova deploy render.\n" + yaml.safe_dump(doc, sort_keys=False)
