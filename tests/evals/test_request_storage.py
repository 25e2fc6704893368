"""Request bodies of an eval run are stored once per run where they repeat, and nothing a
report says changes with it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import nova
from nova.catalog import load_catalog
from nova.config import load_config
from nova.evals import EvalSpec, build_report, run_eval
from nova.store import RunStore
from nova.store._migrations import migrate
from tests.evals.test_runner import make_workspace

PROMPT = Path(nova.__file__).parent / "templates/workspace/de/guardrails/safety_system_prompt.md"


def _run(tmp_path: Path, name: str, *, upto: str | None) -> tuple[dict[str, Any], list[str]]:
    ws = make_workspace(tmp_path / name, n=30)
    (ws.root / "guardrails").mkdir()
    (ws.root / "guardrails" / "safety_system_prompt.md").write_bytes(PROMPT.read_bytes())
    loaded = load_config(ws.config_file)
    spec = EvalSpec(
        candidates=["strong", "weak"], baseline="weak", datasets=["dialogues"], repeats=2
    )
    url = f"sqlite:///{tmp_path / name / 'n.db'}"
    if upto:  # a store as an older nova wrote it (0004: whole bodies in every row)
        with RunStore(url, auto_migrate=False) as old:
            migrate(old.engine, upto=upto)
    with RunStore(url, auto_migrate=not upto) as store:
        run_id = asyncio.run(run_eval(ws, loaded, spec, store))
        rep = build_report(store, run_id, loaded.config, load_catalog()).model_dump(mode="json")
        bodies = [json.dumps(r.request, ensure_ascii=False) for r in store.iter_requests(run_id)]
    rep.pop("run_id", None)
    return rep, bodies


def test_eval_run_stores_the_system_prompt_once_and_reports_the_same(tmp_path: Path) -> None:
    new_rep, new_bodies = _run(tmp_path, "new", upto=None)
    old_rep, old_bodies = _run(tmp_path, "old", upto="0004_gateway")
    parts_rep, parts_bodies = _run(tmp_path, "parts", upto="0005_request_parts")

    assert new_bodies == old_bodies == parts_bodies  # every body, byte for byte, in order
    assert len(new_bodies) == 30 * 2 * 2
    first = json.loads(new_bodies[0])
    assert first["messages"][0]["content"] == PROMPT.read_text(encoding="utf-8")
    assert first["tools"][0]["name"]
    assert json.dumps(new_rep, sort_keys=True) == json.dumps(old_rep, sort_keys=True)
    assert json.dumps(parts_rep, sort_keys=True) == json.dumps(old_rep, sort_keys=True)

    prompt = PROMPT.read_text(encoding="utf-8")
    with sqlite3.connect(tmp_path / "new" / "n.db") as con:
        assert (
            con.execute("SELECT count(*) FROM request_parts").fetchone()[0] == 3
        )  # prompt, tools, map
        rows = con.execute("SELECT request, packed FROM requests").fetchall()
    assert all(r[0] == "null" and r[1] for r in rows)  # every row packed (test_packed_rows.py)
    with sqlite3.connect(tmp_path / "old" / "n.db") as con:
        rows = [json.loads(r[0]) for r in con.execute("SELECT request FROM requests")]
    assert all(r["messages"][0]["content"] == prompt for r in rows)
