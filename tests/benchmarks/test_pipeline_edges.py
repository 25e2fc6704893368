from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from nova.benchmarks import run_benchmarks
from nova.catalog import load_catalog
from nova.config import Workspace, init_workspace, load_config
from nova.store import open_store


def _ws(tmp_path: Path, judge_url: str, reachable: bool = True) -> Workspace:
    root = tmp_path / "ws"
    init_workspace(root, language="en")
    cfg = yaml.safe_load((root / "nova.yaml").read_text("utf-8"))
    base = "" if reachable else "-down"
    cfg["candidates"] = [
        {
            "id": "a",
            "model": f"mock/a{base}",
            "role": "baseline",
            "provider": {
                "options": {"default": "Gerne.", **({} if reachable else {"fail": "unreachable"})}
            },
        },
        {
            "id": "j",
            "model": "openai/judge",
            "role": "judge",
            "provider": {"base_url": judge_url, "timeout_s": 3},
        },
    ]
    cfg["profiles"] = {
        "llm-core": {
            "candidates": ["a"],
            "performance": None,
            "quality": {"datasets": ["dialogues"], "max_cases": 3, "judge": "j"},
        }
    }
    (root / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
    return Workspace(root)


def test_an_unreachable_judge_is_said_loudly(tmp_path: Path) -> None:
    ws = _ws(tmp_path, "http://127.0.0.1:9/v1")
    loaded = load_config(ws.config_file)
    with open_store(ws, loaded.config) as store:
        out = asyncio.run(run_benchmarks(ws, loaded, load_catalog(), store, profile="llm-core"))
    assert any(w.startswith("JUDGE UNREACHABLE") for w in out.warnings)
    assert out.not_measured == {} and out.quality_run is not None


def test_no_reachable_candidate_borrows_no_old_run_and_recommends_nothing(
    tmp_path: Path,
) -> None:
    ws = _ws(tmp_path, "http://127.0.0.1:9/v1")
    loaded = load_config(ws.config_file)
    cat = load_catalog()
    with open_store(ws, loaded.config) as store:
        first = asyncio.run(run_benchmarks(ws, loaded, cat, store, profile="llm-core"))
        assert first.winner == "a"
    down = _ws(tmp_path / "again", "http://127.0.0.1:9/v1", reachable=False)
    # same store folder layout, but let the second workspace reuse the first one's store
    (down.root / ".nova").rmdir()
    (down.root / ".nova").symlink_to(ws.root / ".nova")
    loaded2 = load_config(down.config_file)
    with open_store(down, loaded2.config) as store:
        second = asyncio.run(run_benchmarks(down, loaded2, cat, store, profile="llm-core"))
    assert second.not_measured and second.winner is None
    assert second.quality_run is None


def test_ctrl_c_names_the_run_to_resume(
    tmp_path: Path, monkeypatch: object, run_cli: object
) -> None:
    import nova.benchmarks as pipeline  # the CLI command imports it when it runs

    ws = _ws(tmp_path, "http://127.0.0.1:9/v1")

    async def interrupted(*args: object, on_started: object = None, **kw: object) -> None:
        if on_started is not None and kw.get("resume") is None:
            on_started("20261127-000000-abcdef")  # type: ignore[operator]
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run_benchmarks", interrupted)  # type: ignore[attr-defined]
    r = run_cli("--workspace", str(ws.root), "benchmarks", "--profile", "llm-core")  # type: ignore[operator]
    assert r.code == 130
    assert "--resume 20261127-000000-abcdef" in r.err
