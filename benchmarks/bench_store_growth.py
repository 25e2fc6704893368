"""Storage and memory against the number of cases: store bytes per answered case and the eval
runner's peak RSS.

Two paths, each N in a fresh process (peak RSS is per process):
- runner: ``run_eval`` through the real stack against nova's mock server (its own process,
  core 0; the runner on core 1), one candidate, the German starter safety system prompt
  (2.9 KB) and the escalation tool in every request, 3 deterministic graders, answers of 24
  tokens, streaming, 64 in flight.
- writer: the runner's store write path without HTTP, for sizes the runner takes too long for
  on a 2-core machine: the requests and grades the runner stored for its first 200 cases,
  cycled (body, answer, response, timings and grade details as measured; the case id and user
  turn varied), committed 100 results per transaction as the runner's writer does.

Bytes per case = (SQLite file + WAL after close) / answered cases; "beyond answer" subtracts
the UTF-8 bytes of the stored answer texts. Targets (issue 15): <= 1 KB per case beyond the
answer text; peak RSS within 1.5x between the smallest and the largest N of a path.

Run: make bench  (or .venv/bin/python benchmarks/bench_store_growth.py [runner_n,... writer_n,...])
"""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

RUNNER_CASES: tuple[int, ...] = (10_000, 50_000, 100_000)
WRITER_CASES: tuple[int, ...] = (10_000, 100_000)
TARGET_BYTES = 1024.0
TARGET_RSS_RATIO = 1.5
TEMPLATES = 200
"""Runner requests the writer path cycles through: real timings and server request ids vary
from row to row as in a run (a single repeated template would flatter a compact store)."""
_HERE = Path(__file__).resolve()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())


def _answer_bytes(url: str, run_id: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            sa.text("SELECT sum(length(CAST(text AS BLOB))) FROM requests WHERE run_id = :r"),
            {"r": run_id},
        ).scalar_one()
    engine.dispose()
    return int(n or 0)


def _workspace(root: Path, url: str, n: int) -> Path:
    from _mockproc import write_mock_config

    (root / "datasets").mkdir(parents=True)
    (root / "guardrails").mkdir()
    import nova

    prompt = Path(nova.__file__).parent / "templates/workspace/de/guardrails"
    (root / "guardrails" / "safety_system_prompt.md").write_bytes(
        (prompt / "safety_system_prompt.md").read_bytes()
    )
    with (root / "datasets" / "bench.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            case = {
                "id": f"b{i:06d}",
                "category": "dialogue",
                "language": "de",
                "messages": [{"role": "user", "content": f"Wie hoch ist meine Rechnung {i}?"}],
                "expect": [
                    {"grader": "contains_any", "values": ["Tag", "Rechnung"]},
                    {"grader": "escalation", "expected": False},
                    {"grader": "max_length", "chars": 1200},
                ],
                "rationale": "benchmark",
            }
            fh.write(json.dumps(case, ensure_ascii=False) + "\n")
    write_mock_config(root, url)
    return root


def _child_runner(n: int, mock_url: str, template_out: str) -> dict[str, Any]:
    import asyncio

    from nova.config import Workspace, load_config
    from nova.evals import EvalSpec, run_eval
    from nova.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(_workspace(Path(tmp) / "ws", mock_url, n))
        loaded = load_config(ws.config_file)
        spec = EvalSpec(candidates=["mock"], datasets=["bench"], max_tokens=24)
        rss0 = _peak_mb()
        url = ws.default_database_url
        with RunStore(url) as store:
            run_id = asyncio.run(run_eval(ws, loaded, spec, store))
            stored = store.count_requests(run_id)
        peak = _peak_mb()
        db = Path(url.removeprefix("sqlite:///"))
        total = _db_bytes(db)
        with RunStore(url) as store, Path(template_out).open("w", encoding="utf-8") as fh:
            grades: dict[str | None, list[Any]] = {}
            for g in store.iter_grades(run_id):
                grades.setdefault(g.case_id, []).append(g.model_dump(mode="json"))
            for rec in itertools.islice(store.iter_requests(run_id), TEMPLATES):
                line = {"rec": rec.model_dump(mode="json"), "grades": grades[rec.case_id]}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        return {
            "cases": stored,
            "bytes": total,
            "answer": _answer_bytes(url, run_id),
            "rss0": rss0,
            "peak": peak,
        }


def _child_writer(n: int, template: str) -> dict[str, Any]:
    from nova.store import GradeRecord, RequestRecord, RunStore

    lines = Path(template).read_text(encoding="utf-8").splitlines()  # parsed one at a time
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.db"
        url = f"sqlite:///{db}"
        rss0 = _peak_mb()
        with RunStore(url) as store:
            run = store.start_run("quality")
            for lo in range(0, n, 100):
                batch = []
                for i in range(lo, min(n, lo + 100)):
                    t = json.loads(lines[i % len(lines)])
                    tpl = RequestRecord.model_validate(t["rec"])
                    user = tpl.request["messages"][-1]
                    cid = f"b{i:06d}"
                    body = {
                        **tpl.request,
                        "messages": [
                            *tpl.request["messages"][:-1],
                            {**user, "content": f"Wie hoch ist meine Rechnung {i}?"},
                        ],
                        "case_id": cid,
                    }
                    rec = tpl.model_copy(update={"case_id": cid, "request": body})
                    grades = [
                        GradeRecord.model_validate({**g, "case_id": cid}) for g in t["grades"]
                    ]
                    batch.append((rec, grades))
                store.add_results(run.id, batch)
            stored = store.count_requests(run.id)
        peak = _peak_mb()
        return {
            "cases": stored,
            "bytes": _db_bytes(db),
            "answer": _answer_bytes(url, run.id),
            "rss0": rss0,
            "peak": peak,
        }


def _spawn(*args: str) -> dict[str, Any]:
    # A fresh process per N: ru_maxrss is a per-process peak. It inherits this process's
    # core (1; the mock server has core 0).
    cmd = [sys.executable, str(_HERE), "--child", *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    from _mockproc import mock_server_process
    from rich.console import Console
    from rich.table import Table

    from nova.__about__ import __version__
    from nova.providers import MockServerSettings

    runner_ns, writer_ns = RUNNER_CASES, WRITER_CASES
    if len(sys.argv) == 3:
        runner_ns = tuple(int(x) for x in sys.argv[1].split(","))
        writer_ns = tuple(int(x) for x in sys.argv[2].split(","))
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        template = str(Path(tmp) / "templates.jsonl")
        with mock_server_process(MockServerSettings(output_tokens=24)) as url:
            for n in runner_ns:
                rows.append(("runner", n, _spawn("runner", str(n), url, template)))
        for n in writer_ns:
            rows.append(("writer", n, _spawn("writer", str(n), template)))
    table = Table(
        title=f"Store growth and runner memory (nova {__version__}): SQLite, 1 candidate, "
        "24-token answers, 2.9 KB system prompt + escalation tool in every request"
    )
    for col in (
        "path",
        "cases",
        "store MB",
        "bytes/case",
        "bytes/case beyond answer",
        "target",
        "peak RSS MB",
        "RSS before run MB",
    ):
        table.add_column(col, justify="right")
    failed = False
    for path, n, r in rows:
        per = r["bytes"] / max(1, r["cases"])
        beyond = (r["bytes"] - r["answer"]) / max(1, r["cases"])
        ok = beyond <= TARGET_BYTES and r["cases"] == n
        failed |= not ok
        table.add_row(
            path,
            f"{r['cases']:,}",
            f"{r['bytes'] / 1e6:.1f}",
            f"{per:,.0f}",
            f"{beyond:,.0f}",
            "ok" if ok else f"MISSED (> {TARGET_BYTES:.0f})",
            f"{r['peak']:.0f}",
            f"{r['rss0']:.0f}",
        )
    Console().print(table)
    for path in ("runner", "writer"):
        peaks = [(n, r["peak"]) for p, n, r in rows if p == path]
        if len(peaks) >= 2:
            ratio = peaks[-1][1] / peaks[0][1]
            ok = ratio <= TARGET_RSS_RATIO
            failed |= not ok
            print(
                f"{path}: peak RSS {peaks[-1][0]:,} vs {peaks[0][0]:,} cases = {ratio:.2f}x "
                f"({'ok' if ok else 'MISSED'}, target <= {TARGET_RSS_RATIO}x)"
            )
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, n = sys.argv[2], int(sys.argv[3])
        if kind == "runner":
            res = _child_runner(n, sys.argv[4], sys.argv[5])
        else:
            res = _child_writer(n, sys.argv[4])
        print(json.dumps(res))
    else:
        main()
