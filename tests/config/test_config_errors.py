from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nova.config import load_config
from nova.errors import ConfigError

GOOD = """\
version: 1
name: Test
candidates:
  - id: a
    model: openai/some-model
    role: baseline
    provider:
      base_url: http://127.0.0.1:9/v1
      api_key: ${TEST_KEY}
      timeout_s: 30
  - id: b
    model: mock/echo
kpis:
  - {id: ttft, name: TTFT, metric: ttft_ms, target: 1000, direction: lower, owner: Aura}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "nova.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def problems(path: Path, env: dict[str, str]) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    return [(p.line, p.path, p.message) for p in info.value.problems]


def test_good_config_loads_and_hash_ignores_secret_value(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD)
    a = load_config(p, env={"TEST_KEY": "secret-one-123"})
    b = load_config(p, env={"TEST_KEY": "secret-two-456"})
    assert a.config.candidates[0].provider.api_key is not None
    assert a.config.candidates[0].provider.api_key.get_secret_value() == "secret-one-123"
    assert a.hash == b.hash  # the hash covers the config, never the secret
    assert "secret-one" not in a.config.model_dump_json()


def test_misspelled_key_wrong_type_and_missing_env_var_all_reported(tmp_path: Path) -> None:
    bad = GOOD.replace("      timeout_s: 30", "      timeout_s: soon").replace(
        "    role: baseline", "    rol: baseline"
    )
    found = problems(write(tmp_path, bad), env={})
    lines = {(line, path) for line, path, _ in found}
    assert (6, "candidates[0].rol") in lines
    assert (9, "candidates[0].provider.api_key") in lines
    assert (10, "candidates[0].provider.timeout_s") in lines
    msgs = " | ".join(m for *_, m in found)
    assert "did you mean 'role'" in msgs
    assert "TEST_KEY is not set" in msgs
    assert "'soon'" in msgs
    assert len(found) == 3


def test_cli_validate_prints_each_problem_with_file_and_line_and_exits_2(
    tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    bad = GOOD.replace("      timeout_s: 30", "      timeout_s: soon").replace(
        "    role: baseline", "    rol: baseline"
    )
    write(tmp_path, bad)
    r = run_cli("--workspace", str(tmp_path), "config", "validate")
    assert r.code == 2  # type: ignore[attr-defined]
    err = r.err  # type: ignore[attr-defined]
    assert f"{tmp_path / 'nova.yaml'}:6: candidates[0].rol:" in err
    assert f"{tmp_path / 'nova.yaml'}:9: candidates[0].provider.api_key:" in err
    assert f"{tmp_path / 'nova.yaml'}:10: candidates[0].provider.timeout_s:" in err


def test_literal_secret_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("${TEST_KEY}", "sk-literal-abcdef"))
    found = problems(p, env={})
    assert found[0][:2] == (9, "candidates[0].provider.api_key")
    assert "environment variable" in found[0][2]
    assert all("sk-literal" not in m for *_, m in found)


def test_duplicate_keys_syntax_errors_and_unknown_references(tmp_path: Path) -> None:
    dup = GOOD.replace("    role: baseline\n", "    role: baseline\n    role: judge\n")
    assert (7, "candidates[0].role", "duplicate key 'role' (first on line 6)") in problems(
        write(tmp_path, dup), env={"TEST_KEY": "k"}
    )
    syntax = problems(write(tmp_path, "name: [unclosed\n"), env={})
    assert syntax[0][0] == 2 and "YAML syntax error" in syntax[0][2]
    refs = (
        GOOD
        + """\
profiles:
  core:
    candidates: [a, nope]
decision:
  criteria:
    - {id: speed, source: "kpi:ttfb", weight: 1, direction: lower}
"""
    )
    found = problems(write(tmp_path, refs), env={"TEST_KEY": "k"})
    assert (17, "profiles.core.candidates[1]") in {(ln, p) for ln, p, _ in found}
    assert any(
        p == "decision.criteria[0].source" and "unknown KPI 'ttfb'" in m for _, p, m in found
    )


def test_env_default_and_escape(tmp_path: Path) -> None:
    text = GOOD.replace("http://127.0.0.1:9/v1", "${BASE:-http://127.0.0.1:7/v1}").replace(
        "name: Test", "name: Cost $$5"
    )
    cfg = load_config(write(tmp_path, text), env={"TEST_KEY": "k"}).config
    assert cfg.candidates[0].provider.base_url == "http://127.0.0.1:7/v1"
    assert cfg.name == "Cost $5"
    cfg = load_config(write(tmp_path, text), env={"TEST_KEY": "k", "BASE": "http://x/v1"}).config
    assert cfg.candidates[0].provider.base_url == "http://x/v1"


def test_unknown_catalog_id_suggests_the_closest(tmp_path: Path) -> None:
    text = GOOD.replace("    model: mock/echo", "    model: mock/echo\n    catalog: gpt-4")
    with pytest.raises(ConfigError) as info:
        load_config(
            write(tmp_path, text),
            env={"TEST_KEY": "k"},
            catalog_ids={"gpt-4o", "mixtral-8x7b-instruct"},
        )
    (p,) = info.value.problems
    assert p.path == "candidates[1].catalog" and "did you mean 'gpt-4o'" in p.message


def test_schema_command_prints_json_schema_with_field_docs(
    run_cli: Callable[..., object],
) -> None:
    r = run_cli("config", "schema")
    schema = json.loads(r.out)  # type: ignore[attr-defined]
    assert schema["title"] == "nova.yaml"
    cand = schema["$defs"]["Candidate"]
    assert cand["additionalProperties"] is False
    assert "provider/model" in cand["properties"]["model"]["description"]


OIDC = """\
gateway:
  oidc:
    jwks_url: https://idp.example/jwks.json
    issuer: https://idp.example
    audience: nova
"""


@pytest.mark.parametrize(
    ("extra", "where", "says"),
    [
        ("    limits: {app: {rpm: 0}}\n", ":18: gateway.oidc.limits.app.rpm:", "greater than"),
        ("    limits: {user: {rpm: 5}}\n", ":18: gateway.oidc.limits.user.[key]:", "'app'"),
        ("    claim_limits: {gold: {rpm: 5}}\n", ":14: gateway.oidc:", "needs limits_claim"),
        ("    limits_claim: tier\n", ":14: gateway.oidc:", "claim_limits is empty"),
        ("    limits: {app: {rpn: 5}}\n", ":18: gateway.oidc.limits.app.rpn:", "rpm"),
    ],
)
def test_bad_oidc_limits_are_one_line_with_file_line_and_field(
    tmp_path: Path,
    run_cli: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
    extra: str,
    where: str,
    says: str,
) -> None:
    monkeypatch.setenv("TEST_KEY", "secret-value-123")
    write(tmp_path, GOOD.replace("kpis:", OIDC + extra + "kpis:"))
    r = run_cli("--workspace", str(tmp_path), "config", "validate")
    assert r.code == 2  # type: ignore[attr-defined]
    lines = [ln for ln in r.err.splitlines() if ln.startswith("error:")]  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    assert f"{tmp_path / 'nova.yaml'}{where}" in lines[0] and says in lines[0]


def test_schema_documents_oidc_limits(run_cli: Callable[..., object]) -> None:
    schema = json.loads(run_cli("config", "schema").out)  # type: ignore[attr-defined]
    oidc = schema["$defs"]["OidcSettings"]["properties"]
    assert set(oidc) >= {"limits", "limits_claim", "claim_limits"}
    assert "each subject" in oidc["limits"]["description"]
    limits = schema["$defs"]["SubjectLimits"]["properties"]
    assert sorted(limits) == ["budget_tokens", "rpm", "tpm"]
    assert all(limits[f]["description"] for f in limits)
