"""``nova deploy render``: write ``deploy/models/<candidate>/`` for one candidate.

Self-hosted (and local) candidates get the Helm chart, compose.yaml and a README with the
sizing arithmetic; managed candidates a README with the settings nova needs. The steps:

1. resolve the candidate, its catalog record and the engine (exit 2 with what to set);
2. size it (weights + KV cache → GPUs);
3. build the values (merged with the user's values.override.yaml for compose);
4. render every file in memory;
5. write them atomically, refusing to overwrite a generated file someone edited by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml

from nova.__about__ import __version__
from nova._io import atomic_write_text
from nova._secrets import redact
from nova._templates import template_environment
from nova.catalog import Catalog, CatalogModel
from nova.config import Candidate, LoadedConfig, Workspace
from nova.deploy._chart import deep_merge, render_templates
from nova.deploy._compose import render_compose, render_prometheus_config
from nova.deploy._managed import render_managed_readme
from nova.deploy._profiles import (
    ENGINE_IDS,
    EngineProfile,
    engine_profile,
    engine_profiles,
    gpu_types,
)
from nova.deploy._sizing import OVERHEAD_GIB_PER_GPU, Sizing, size_candidate
from nova.deploy._values import GATEWAY_PORT, build_values, env_names, values_schema
from nova.deploy._values import k8s_name as _k8s_name
from nova.errors import ConfigError, NovaError, Problem

__all__ = [
    "OVERRIDE_FILE",
    "RenderResult",
    "Target",
    "default_engine",
    "effective_values",
    "find_candidate",
    "render_candidate",
    "servable_engines",
]

Target = Literal["k8s", "compose", "all"]
OVERRIDE_FILE = "values.override.yaml"
"""The user's Helm values; nova creates it once, empty, and never writes it again."""
_MANIFEST = ".nova-rendered.json"
_COMPOSE_FILES = ("compose.yaml", "prometheus.yml")
_OVERRIDE_HEAD = """\
# Your settings for this chart: nova creates this file once and never changes it again.
# `helm upgrade --install … -f values.override.yaml` and `nova deploy render` (for
# compose.yaml) apply it over values.yaml. Examples:
#   engine:
#     image: {tag: v0.11.1}
#   autoscaling: {enabled: true, maxReplicas: 6}
#   lora: {enabled: true, extraArgs: ["--lora-modules", "support=/models/adapters/support"]}
{}
"""


@dataclass
class RenderResult:
    """What ``render_candidate`` wrote."""

    candidate: str
    folder: Path
    managed: bool
    engine: str | None = None
    sizing: Sizing | None = None
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _problem(loaded: LoadedConfig, cand: Candidate | None, fld: str, msg: str) -> ConfigError:
    i = loaded.config.candidates.index(cand) if cand else None
    path = f"candidates[{i}].{fld}" if i is not None else fld
    line = loaded.source.line_of(("candidates", i, fld) if i is not None else ("candidates",))
    return ConfigError([Problem(loaded.file, line, path, msg)], msg)


def find_candidate(loaded: LoadedConfig, candidate_id: str) -> Candidate:
    """The candidate with this id, or ConfigError (exit 2) listing the known ids."""
    try:
        return loaded.config.candidate(candidate_id)
    except KeyError:
        known = ", ".join(c.id for c in loaded.config.candidates)
        msg = f"no candidate {candidate_id!r} in nova.yaml (known: {known})"
        raise ConfigError([Problem(loaded.file, None, "candidates", msg)], msg) from None


def servable_engines(rec: CatalogModel) -> list[str]:
    """Engines that can serve ``rec`` per the catalog (llama.cpp also needs a GGUF build)."""
    out = []
    for e in engine_profiles().values():
        if e.catalog_engine in rec.hosting.self_hosted and (rec.gguf or not e.needs_gguf):
            out.append(e.id)
    return [e for e in ENGINE_IDS if e in out]


def default_engine(cand: Candidate, rec: CatalogModel) -> str | None:
    """llama.cpp for llamacpp candidates; else the engine of the catalog's plan, else the
    first engine that can serve the model."""
    engines = servable_engines(rec)
    if cand.provider_kind == "llamacpp" and "llamacpp" in engines:
        return "llamacpp"
    for plan in rec.self_hosting:
        for e in engines:
            if engine_profile(e).catalog_engine == plan.engine:
                return e
    return engines[0] if engines else None


def _resolve_engine(
    loaded: LoadedConfig, cand: Candidate, rec: CatalogModel, engine: str | None
) -> EngineProfile:
    can = servable_engines(rec)
    if engine is None:
        engine = default_engine(cand, rec)
        if engine is None:
            raise _problem(
                loaded,
                cand,
                "catalog",
                f"no engine can serve {rec.id} per the catalog: add one to "
                f"hosting.self_hosted in catalog/models/{rec.id}.yaml",
            )
    profile = engine_profile(engine)
    if engine not in can:
        why = (
            f"{rec.id} has no GGUF build in the catalog (set gguf: org/repo:file.gguf in "
            f"catalog/models/{rec.id}.yaml)"
            if profile.catalog_engine in rec.hosting.self_hosted
            else f"the catalog lists {', '.join(rec.hosting.self_hosted) or 'no engine'} "
            f"for {rec.id}"
        )
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "--engine",
                    f"{engine} cannot serve {cand.id}: {why}; use --engine "
                    f"{' or '.join(can) or '(none available)'}",
                )
            ]
        )
    return profile


def _read_override(folder: Path) -> dict[str, Any]:
    path = folder / OVERRIDE_FILE
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([Problem(path, line, "", f"YAML syntax error: {exc.problem}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(path, 1, "", "must be a mapping of values")])
    return data


def effective_values(folder: Path) -> dict[str, Any]:
    """values.yaml of a rendered chart merged with values.override.yaml, as Helm would."""
    base = yaml.safe_load((folder / "values.yaml").read_text(encoding="utf-8"))
    return deep_merge(base, _read_override(folder))


def _chart_version() -> str:
    return re.sub(r"\.?(dev|a|b|rc)(\d+)$", r"-\1\2", __version__)


def _env() -> jinja2.Environment:
    return template_environment("deploy")


def _self_hosted_files(
    loaded: LoadedConfig,
    cand: Candidate,
    rec: CatalogModel,
    engine: EngineProfile,
    sizing: Sizing,
    folder: Path,
    target: Target,
) -> dict[str, str]:
    values = build_values(loaded, cand, rec, engine, sizing)
    merged = deep_merge(values, _read_override(folder))
    names = env_names(loaded, cand)
    name = _k8s_name(cand.id)
    files: dict[str, str] = {}
    env = _env()
    head = "# Generated by nova deploy render: put your changes into values.override.yaml.\n"
    if target in ("k8s", "all"):
        files["Chart.yaml"] = env.get_template("Chart.yaml.j2").render(
            name=name,
            description=f"{cand.name or rec.name} on {engine.name}, behind the nova gateway",
            chart_version=_chart_version(),
            app_version=__version__,
            engine=engine.id,
            candidate=cand.id,
        )
        files["values.yaml"] = head + yaml.safe_dump(
            values, sort_keys=False, default_flow_style=False, width=1000
        )
        files["values.schema.json"] = json.dumps(values_schema(), indent=2) + "\n"
        for tname, text in render_templates("helm").items():
            files[f"templates/{tname}"] = text
    if target in ("compose", "all"):
        secret_vars = {"HF_TOKEN": "HF_TOKEN", names["api_key"]: names["api_key"]}
        if engine.api_key_env:
            secret_vars[engine.api_key_env] = names["api_key"]
        files["compose.yaml"] = render_compose(merged, engine, secret_vars, project=name)
        files["prometheus.yml"] = render_prometheus_config(merged)
    files["files/nova.yaml"] = loaded.file.read_text(encoding="utf-8")
    files["README.md"] = env.get_template("README.md.j2").render(
        c={"id": cand.id, "name": cand.name or rec.name, "provider_model": cand.provider_model},
        rec=rec,
        e=engine,
        s=sizing,
        name=name,
        nova_version=__version__,
        gateway_port=GATEWAY_PORT,
        lora_ok=values["lora"]["supported"],
        overhead=OVERHEAD_GIB_PER_GPU,
        gpu_source=gpu_types()[sizing.gpu].source,
        cache=values["modelCache"]["mountPath"],
        secrets=[
            ("hf-token", "token", "Hugging Face token for gated weights (optional)"),
            (
                f"{name}-engine",
                "api-key",
                (
                    f"the key the engine requires (`{engine.api_key_env}`) and the gateway sends"
                    if engine.api_key_env
                    else f"the key the gateway sends; {engine.name} checks none, the "
                    "NetworkPolicy keeps everyone but the gateway out"
                )
                + f" (nova.yaml reads it as `{names['api_key']}`)",
            ),
        ],
        compose_vars=sorted({"HF_TOKEN", names["api_key"]}),
    )
    return files


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _group(rel: str) -> str:
    if rel in _COMPOSE_FILES:
        return "compose"
    if rel in ("README.md",) or rel.startswith("files/"):
        return "common"
    return "k8s"


def _write(
    folder: Path, files: dict[str, str], target: Target, force: bool
) -> tuple[list[Path], list[Path]]:
    """Write ``files`` atomically; return (written, removed). Never overwrite a person's edit."""
    # Last line of defence: a registered secret never reaches a file (see nova._secrets).
    files = {rel: str(redact(text)) for rel, text in files.items()}
    mpath = folder / _MANIFEST
    old: dict[str, str] = {}
    if mpath.is_file():
        old = json.loads(mpath.read_text(encoding="utf-8"))
    groups = {"common", "k8s", "compose"} if target == "all" else {"common", target}
    stale = [r for r in old if r not in files and _group(r) in groups]
    conflicts = []
    for rel in [*files, *stale]:
        path = folder / rel
        if not path.is_file():
            continue
        current = _sha(path.read_text(encoding="utf-8"))
        if rel in files and current == _sha(files[rel]):
            continue
        if old.get(rel) != current:
            conflicts.append(rel)
    if conflicts and not force:
        raise NovaError(
            f"{folder}: {', '.join(conflicts)} changed since nova wrote it (or was not written "
            f"by nova): move your change into {OVERRIDE_FILE} / compose.override.yaml, or pass "
            "--force to overwrite"
        )
    written, removed = [], []
    for rel, text in files.items():
        path = folder / rel
        if not (path.is_file() and path.read_text(encoding="utf-8") == text):
            atomic_write_text(path, text)
            written.append(path)
    for rel in stale:
        (folder / rel).unlink(missing_ok=True)
        removed.append(folder / rel)
    manifest = {r: h for r, h in old.items() if r not in stale}
    manifest.update({rel: _sha(text) for rel, text in files.items()})
    atomic_write_text(mpath, json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    override = folder / OVERRIDE_FILE
    if "Chart.yaml" in files and not override.exists():
        atomic_write_text(override, _OVERRIDE_HEAD)
        written.append(override)
    return written, removed


def render_candidate(
    workspace: Workspace,
    loaded: LoadedConfig,
    catalog: Catalog,
    candidate_id: str,
    *,
    engine: str | None = None,
    target: Target = "all",
    precision: str | None = None,
    context: int | None = None,
    concurrency: int | None = None,
    force: bool = False,
) -> RenderResult:
    """Render ``deploy/models/<candidate>/``; ConfigError (exit 2) says what to set."""
    cand = find_candidate(loaded, candidate_id)
    folder = workspace.deploy_dir(cand.id)
    rec = catalog.models.get(cand.catalog) if cand.catalog else None
    if cand.hosting == "managed":
        text = render_managed_readme(loaded, cand, rec, catalog)
        written, _ = _write(folder, {"README.md": text}, "all", force)
        return RenderResult(cand.id, folder, managed=True, written=written)
    if rec is None:
        raise _problem(
            loaded, cand, "catalog", f"candidate {cand.id} needs catalog: to be deployed"
        )
    profile = _resolve_engine(loaded, cand, rec, engine)
    i = loaded.config.candidates.index(cand)
    sizing = size_candidate(
        loaded.config,
        cand,
        catalog,
        profile,
        where=(str(loaded.file), loaded.source.line_of(("candidates", i))),
        precision=precision,
        context=context,
        concurrency=concurrency,
    )
    files = _self_hosted_files(loaded, cand, rec, profile, sizing, folder, target)
    written, removed = _write(folder, files, target, force)
    warnings = list(sizing.warnings)
    if cand.provider_kind != "openai":
        var = env_names(loaded, cand)["base_url"]
        warnings.append(
            f"{cand.id}: nova.yaml reaches this candidate through provider "
            f"{cand.provider_kind!r}; the gateway uses the rendered engine only with "
            f"model: openai/{cand.provider_model} and provider.base_url: ${{{var}}}"
        )
    return RenderResult(
        cand.id,
        folder,
        managed=False,
        engine=profile.id,
        sizing=sizing,
        written=written,
        removed=removed,
        warnings=warnings,
    )
