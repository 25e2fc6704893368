"""``nova deploy render``: files, edges (exit 2), user edits kept, no secret ever written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import Result

Run = Callable[..., Result]


def _deploy(workspace: Path, cid: str) -> Path:
    return workspace / "deploy" / "models" / cid


def test_render_writes_chart_compose_and_readme(workspace: Path, run_cli: Run) -> None:
    r = run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm")
    assert r.code == 0, r.err
    folder = _deploy(workspace, "llama31-70b-vllm")
    for rel in (
        "Chart.yaml",
        "values.yaml",
        "values.schema.json",
        "values.override.yaml",
        "templates/engine-deployment.yaml",
        "templates/networkpolicy.yaml",
        "templates/servicemonitor.yaml",
        "templates/scaledobject.yaml",
        "templates/gateway.yaml",
        "compose.yaml",
        "README.md",
        "files/nova.yaml",
    ):
        assert (folder / rel).is_file(), rel
    values = yaml.safe_load((folder / "values.yaml").read_text())
    jsonschema.validate(values, json.loads((folder / "values.schema.json").read_text()))
    assert values["engine"]["gpus"] == 2
    assert values["engine"]["args"][:2] == ["--model", "meta-llama/Llama-3.1-70B-Instruct"]
    assert "--tensor-parallel-size" in values["engine"]["args"]
    assert values["autoscaling"]["query"].startswith("sum(vllm:num_requests_waiting{")
    # the sizing arithmetic is printed and written, with the warning about gpus: 2
    assert "weights = 70.6e9 parameters x 2 B = 131.5 GiB" in r.out
    assert "set gpus: 4 to follow the sizing" in r.err
    readme = (folder / "README.md").read_text()
    assert "KV cache = 320 KiB x 1050 x 64 = 20.5 GiB" in readme
    compose = yaml.safe_load((folder / "compose.yaml").read_text())
    assert compose["services"]["gateway"]["depends_on"] == {
        "engine": {"condition": "service_healthy"}
    }
    assert compose["networks"]["backend"] == {"internal": True}
    gw_env = compose["services"]["gateway"]["environment"]
    assert gw_env["SOPHIA_VLLM_BASE_URL"] == "http://engine:8000/v1"
    assert gw_env["SOPHIA_VLLM_API_KEY"] == "${SOPHIA_VLLM_API_KEY:-}"
    assert compose["services"]["engine"]["environment"]["VLLM_API_KEY"] == (
        "${SOPHIA_VLLM_API_KEY:-}"
    )


def test_rendering_twice_gives_the_same_bytes(workspace: Path, run_cli: Run) -> None:
    assert run_cli("-w", str(workspace), "deploy", "render", "mixtral-8x7b-vllm").code == 0
    folder = _deploy(workspace, "mixtral-8x7b-vllm")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    r = run_cli("-w", str(workspace), "deploy", "render", "mixtral-8x7b-vllm")
    assert r.code == 0
    assert "up to date" in r.out
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_user_overrides_survive_and_reach_compose(workspace: Path, run_cli: Run) -> None:
    assert run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm").code == 0
    folder = _deploy(workspace, "llama31-70b-vllm")
    override = folder / "values.override.yaml"
    mine = b"# mine\nengine:\n  image: {tag: v0.11.1-custom}\n"
    override.write_bytes(mine)
    assert run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm").code == 0
    assert override.read_bytes() == mine
    compose = yaml.safe_load((folder / "compose.yaml").read_text())
    assert compose["services"]["engine"]["image"] == "vllm/vllm-openai:v0.11.1-custom"
    assert "v0.11.1-custom" not in (folder / "values.yaml").read_text()


def test_a_hand_edited_generated_file_is_not_overwritten(workspace: Path, run_cli: Run) -> None:
    assert run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm").code == 0
    svc = _deploy(workspace, "llama31-70b-vllm") / "templates" / "engine-service.yaml"
    svc.write_text(svc.read_text() + "# my edit\n")
    r = run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm")
    assert r.code == 1
    assert "templates/engine-service.yaml changed since nova wrote it" in r.err
    assert svc.read_text().endswith("# my edit\n")
    r = run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm", "--force")
    assert r.code == 0
    assert "# my edit" not in svc.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "foo"], "unknown engine 'foo': use one of vllm, tgi, trtllm, llamacpp"),
        (
            ["--engine", "trtllm"],
            "trtllm cannot serve mixtral-8x7b-vllm: the catalog lists vllm, tgi, llama.cpp",
        ),
    ],
)
def test_engine_edges_exit_2(workspace: Path, run_cli: Run, args: list[str], message: str) -> None:
    r = run_cli("-w", str(workspace), "deploy", "render", "mixtral-8x7b-vllm", *args)
    assert r.code == 2
    assert message in r.err
    assert not _deploy(workspace, "mixtral-8x7b-vllm").exists()


def test_self_hosted_candidate_without_gpu_plan_exits_2(workspace: Path, run_cli: Run) -> None:
    rec: dict[str, Any] = yaml.safe_load(
        Path(__file__)
        .parents[2]
        .joinpath("src/nova/catalog/data/models/qwen2.5-7b-instruct.yaml")
        .read_text()
    )
    rec["id"] = "qwen-noplan"
    rec.pop("self_hosting")
    (workspace / "catalog" / "models").mkdir(parents=True)
    (workspace / "catalog" / "models" / "qwen-noplan.yaml").write_text(yaml.safe_dump(rec))
    text = (workspace / "nova.yaml").read_text()
    text = text.replace(
        "\nprofiles:",
        "\n  - id: qwen-noplan\n    model: openai/Qwen/Qwen2.5-7B-Instruct\n"
        "    catalog: qwen-noplan\n    hosting: self-hosted\n"
        "    provider: {base_url: http://127.0.0.1:9/v1}\n\nprofiles:",
        1,
    )
    (workspace / "nova.yaml").write_text(text)
    line = text.splitlines().index("  - id: qwen-noplan") + 1
    r = run_cli("-w", str(workspace), "deploy", "render", "qwen-noplan")
    assert r.code == 2
    assert (
        f"nova.yaml:{line}: candidates[8].gpu: self-hosted candidate qwen-noplan has no GPU "
        in (r.err)
    )
    assert "set gpu: (e.g. H100-80GB) and gpus: in nova.yaml" in r.err


def test_unknown_candidate_exits_2(workspace: Path, run_cli: Run) -> None:
    r = run_cli("-w", str(workspace), "deploy", "render", "nope")
    assert r.code == 2
    assert "no candidate 'nope' in nova.yaml" in r.err


def test_managed_candidates_get_a_readme_only(workspace: Path, run_cli: Run) -> None:
    r = run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-bedrock")
    assert r.code == 0, r.err
    folder = _deploy(workspace, "llama31-70b-bedrock")
    assert sorted(p.name for p in folder.iterdir()) == [".nova-rendered.json", "README.md"]
    text = (folder / "README.md").read_text()
    assert (
        "| `provider.region` | `${AWS_REGION:-us-west-2}` | environment variable `AWS_REGION` |"
        in (text)
    )
    assert "Configured region: us-west-2 — **not an EU region the catalog lists" in text
    assert "EU regions the catalog lists: none confirmed." in text
    assert "Fallback targets (role: fallback): `mixtral-8x7b-vllm`" in text


PLANTED = {
    "SOPHIA_VLLM_API_KEY": "sk-planted-vllm-0123456789",
    "SOPHIA_FALLBACK_API_KEY": "sk-planted-fallback-0123456789",
    "AZURE_OPENAI_API_KEY": "planted-azure-key-0123456789",
    "HF_TOKEN": "hf_planted_token_0123456789",
    "AWS_SECRET_ACCESS_KEY": "planted/aws/secret/0123456789",
}


def test_no_secret_value_is_ever_rendered(
    workspace: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in PLANTED.items():
        monkeypatch.setenv(k, v)
    # nova.yaml references the planted variables (the shipped one already does for three)
    text = (workspace / "nova.yaml").read_text()
    assert "${SOPHIA_VLLM_API_KEY:-}" in text and "${AZURE_OPENAI_API_KEY:-}" in text
    ids = ["llama31-70b-vllm", "mixtral-8x7b-vllm", "gpt4o-azure", "llama31-70b-bedrock"]
    for cid in ids:
        r = run_cli("-w", str(workspace), "deploy", "render", cid)
        assert r.code == 0, r.err
        assert not any(v in r.out + r.err for v in PLANTED.values())
    for engine in ("tgi", "trtllm", "llamacpp"):
        r = run_cli(
            "-w", str(workspace), "deploy", "render", "llama31-70b-vllm", "--engine", engine
        )
        assert r.code == 0, r.err
    files = [p for p in (workspace / "deploy").rglob("*") if p.is_file()]
    assert len(files) > 20
    for p in files:
        data = p.read_text()
        for v in PLANTED.values():
            assert v not in data, f"{v} leaked into {p}"
    values = yaml.safe_load((_deploy(workspace, "llama31-70b-vllm") / "values.yaml").read_text())
    env = {e["name"]: e for e in values["engine"]["env"]}
    assert env["LLAMA_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "llama31-70b-vllm-engine",
        "key": "api-key",
        "optional": True,
    }


def test_llamacpp_context_is_what_the_kv_room_holds(workspace: Path, run_cli: Run) -> None:
    r = run_cli(
        "-w", str(workspace), "deploy", "render", "llama31-70b-vllm", "--engine", "llamacpp"
    )
    assert r.code == 0, r.err
    values = yaml.safe_load((_deploy(workspace, "llama31-70b-vllm") / "values.yaml").read_text())
    args = values["engine"]["args"]
    ctx = int(args[args.index("--ctx-size") + 1])
    # Q4_K_M: 70.6e9 x 0.60625 B = 39.86 GiB; 2 x (79.6 - 1.5) = 156.2 GiB usable;
    # KV room 116.34 GiB / 320 KiB = 381,220 tokens -> 380,928 (1k steps), not 32,768 x 64
    assert ctx == 380_928
    assert args[args.index("--parallel") + 1] == "64"
    assert args[args.index("--hf-file") + 1] == "Meta-Llama-3.1-70B-Instruct-Q4_K_M.gguf"


def test_in_process_candidates_get_told_how_the_gateway_reaches_the_engine(
    workspace: Path, run_cli: Run
) -> None:
    r = run_cli("-w", str(workspace), "deploy", "render", "qwen25-05b-local")
    assert r.code == 0, r.err
    assert (
        "qwen25-05b-local: nova.yaml reaches this candidate through provider 'llamacpp'; the "
        "gateway uses the rendered engine only with model: openai/qwen2.5-0.5b-instruct and "
        "provider.base_url: ${NOVA_QWEN25_05B_LOCAL_BASE_URL}"
    ) in r.err


def test_probes_never_need_the_api_key() -> None:
    from nova.deploy import engine_profiles

    # Engines that check an API key do so on /v1/*: a probe there would fail once it is set.
    for e in engine_profiles().values():
        for path in (e.health_path, e.ready_path, e.metrics_path):
            assert not path.startswith("/v1"), (e.id, path)
