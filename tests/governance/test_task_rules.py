"""A task row flips to "Abgeschlossen" only when its documented rule holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nova.config import NovaConfig, Workspace, init_workspace, load_config
from nova.errors import ConfigError
from nova.governance import TaskCheck, TaskTable, record_review, rows_to_complete
from nova.governance._task_rules import effective_rules
from nova.store import RunStore, open_store

CANDIDATE = "llama31-70b-vllm"


def _setup(tmp_path: Path, rules: dict[str, str] | None = None) -> tuple[Workspace, NovaConfig]:
    root = tmp_path / "ws"
    init_workspace(root)
    if rules is not None:
        data = yaml.safe_load((root / "nova.yaml").read_text("utf-8"))
        data["governance"]["task_rules"] = rules
        (root / "nova.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return Workspace(root), load_config(root / "nova.yaml", env={}).config


def _done(ws: Workspace, cfg: NovaConfig, store: RunStore) -> list[str]:
    table = TaskTable.load(ws.root / cfg.governance.tasks_csv)
    check = TaskCheck(ws, cfg, store, CANDIDATE, "sha-1", in_matrix=True)
    return rows_to_complete(check, table, effective_rules(ws, cfg))


def test_rows_flip_only_when_their_work_is_done(tmp_path: Path) -> None:
    ws, cfg = _setup(tmp_path)
    gov = ws.governance_dir
    gov.mkdir(parents=True, exist_ok=True)
    with open_store(ws, cfg) as store:
        # A fresh workspace: what the decision itself does, the matrix, the datasets, and the
        # rails (guardrails/rails.yaml from `nova init` loads with nova.safety).
        base = ["SOPHIA-01", "SOPHIA-04", "SOPHIA-05", "SOPHIA-13", "SOPHIA-19", "SOPHIA-20"]
        assert _done(ws, cfg, store) == base
        rails = ws.root / "guardrails" / "rails.yaml"
        kept = rails.read_bytes()
        rails.unlink()  # no rails configured: the guardrails row is not done
        assert "SOPHIA-05" not in _done(ws, cfg, store)
        rails.write_bytes(kept)
        # The QA plan alone does not finish the red-team row; a finished red-team run does.
        (gov / "qa_plan.md").write_text("# QA plan\n", "utf-8")
        assert "SOPHIA-11" not in _done(ws, cfg, store)
        run = store.start_run("redteam")
        assert "SOPHIA-11" not in _done(ws, cfg, store)  # still running
        store.finish_run(run.id, "completed")
        assert "SOPHIA-11" in _done(ws, cfg, store)
        # The KPI row needs the analytics owner's approval, not the document.
        (gov / "kpi_catalogue.md").write_text("# KPI\n", "utf-8")
        assert "SOPHIA-14" not in _done(ws, cfg, store)
        record_review(
            store,
            CANDIDATE,
            role="analytics",
            decision="approve",
            by="Aura",
            comment="KPI-Katalog abgestimmt",
            matrix_sha="sha-1",
        )
        assert "SOPHIA-14" in _done(ws, cfg, store)
        # Monitoring rows: alerts.activate for this candidate in the audit log.
        store.audit("platform", "alerts.activate", "mixtral-8x7b-vllm", {})
        assert "SOPHIA-21" not in _done(ws, cfg, store)
        store.audit("platform", "alerts.activate", CANDIDATE, {})
        done = _done(ws, cfg, store)
        assert "SOPHIA-21" in done and "SOPHIA-09" in done
        # A license review with Legal's placeholders open is not done.
        (gov / "license_review.md").write_text("- Legal: [to be completed by Legal]\n", "utf-8")
        assert "SOPHIA-06" not in _done(ws, cfg, store)
        (gov / "license_review.md").write_text("- Legal: freigegeben, L. Weber\n", "utf-8")
        assert "SOPHIA-06" in _done(ws, cfg, store)


def test_fallback_row_needs_reduced_resources(tmp_path: Path) -> None:
    ws, cfg = _setup(tmp_path)
    with open_store(ws, cfg) as store:
        # Shipped config: Mixtral on the same 2× H100 as the primary — not reduced.
        assert "SOPHIA-16" not in _done(ws, cfg, store)
    data = yaml.safe_load((ws.root / "nova.yaml").read_text("utf-8"))
    fb = next(c for c in data["candidates"] if c["id"] == "mixtral-8x7b-vllm")
    fb["gpus"] = 1
    (ws.root / "nova.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    cfg = load_config(ws.root / "nova.yaml", env={}).config
    with open_store(ws, cfg) as store:
        assert "SOPHIA-16" in _done(ws, cfg, store)


def test_a_workspace_overrides_rules_by_id_and_by_title_pattern(tmp_path: Path) -> None:
    ws, cfg = _setup(tmp_path, {"SOPHIA-13": "never", "KPI-Katalog.*Aura": "decision"})
    with open_store(ws, cfg) as store:
        done = _done(ws, cfg, store)
    assert "SOPHIA-13" not in done and "SOPHIA-14" in done


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"SOPHIA-11": "redteam and magic"}, "unknown condition 'magic'"),
        ({"SOPHIA-11": "review"}, "needs an argument"),
        ({"(unclosed": "decision"}, "not a row ID or a valid title pattern"),
    ],
)
def test_invalid_rules_name_the_field(tmp_path: Path, rules: dict[str, str], message: str) -> None:
    ws, cfg = _setup(tmp_path, rules)
    with pytest.raises(ConfigError) as err:
        effective_rules(ws, cfg)
    assert message in str(err.value)
    assert f"governance.task_rules.{next(iter(rules))}" in str(err.value)
