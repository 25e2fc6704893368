"""The deployment-options document and the exit strategy link to rendered deployments, and only
to files that exist."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

Run = Callable[..., Result]


@pytest.mark.parametrize(
    ("lang", "options_line", "exit_line"),
    [
        (
            "en",
            "Rendered deployments: [`deploy/models/llama31-70b-vllm/`]"
            "(../../deploy/models/llama31-70b-vllm/README.md) (Helm chart and compose.yaml), "
            "[`deploy/models/llama31-70b-bedrock/`]"
            "(../../deploy/models/llama31-70b-bedrock/README.md) (settings of the managed service)",
            "- Deployment files of the fallback target: [`deploy/models/mixtral-8x7b-vllm/`]"
            "(../../deploy/models/mixtral-8x7b-vllm/README.md) — Helm chart and compose.yaml.",
        ),
        (
            "de",
            "Gerenderte Deployments: [`deploy/models/llama31-70b-vllm/`]"
            "(../../deploy/models/llama31-70b-vllm/README.md) (Helm-Chart und compose.yaml), "
            "[`deploy/models/llama31-70b-bedrock/`]"
            "(../../deploy/models/llama31-70b-bedrock/README.md) "
            "(Einstellungen des Managed-Dienstes)",
            "- Deployment-Dateien des Ausweichziels: [`deploy/models/mixtral-8x7b-vllm/`]"
            "(../../deploy/models/mixtral-8x7b-vllm/README.md) — Helm-Chart und compose.yaml.",
        ),
    ],
)
def test_documents_link_to_rendered_files(
    workspace: Path, run_cli: Run, lang: str, options_line: str, exit_line: str
) -> None:
    gov = workspace / "docs" / "governance"
    assert run_cli("-w", str(workspace), "docs", "--language", lang).code == 0
    assert "deploy/models/mixtral-8x7b-vllm/README.md" not in (gov / "exit_strategy.md").read_text()
    assert "../../deploy/models" not in (gov / "deployment_options.md").read_text()
    for cid in ("mixtral-8x7b-vllm", "llama31-70b-bedrock", "llama31-70b-vllm"):
        assert run_cli("-w", str(workspace), "deploy", "render", cid).code == 0
    r = run_cli("-w", str(workspace), "docs", "--language", lang)
    assert r.code == 0, r.err
    options = (gov / "deployment_options.md").read_text()
    exit_doc = (gov / "exit_strategy.md").read_text()
    assert f"\n\n{options_line}\n\n" in options  # a paragraph of its own
    assert exit_line in exit_doc.splitlines()
    # every link points at a file that exists
    for doc in (options, exit_doc):
        for part in doc.split("](../../")[1:]:
            target = gov / "../.." / part.split(")", 1)[0]
            assert target.resolve().is_file(), target
