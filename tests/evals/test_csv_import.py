from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nova.evals import load_dataset

CSV = (
    "id;category;language;user;expect;tags;weight;rationale\r\n"
    'x-1;dialogue;de;Wie kündige ich?;"contains_any: kündig | portal ; escalation: false";'
    "vertrag;1;Standardfrage\r\n"
    'x-2;escalation;de;"Ich will einen Menschen!\r\nSofort.";escalation: true;;2,0;'
    "Ausdrücklicher Wunsch\r\n"
)


def test_import_csv_cp1252_semicolon_with_short_expect_form(
    workspace: Path, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    src = tmp_path / "faelle.csv"
    src.write_bytes(CSV.encode("cp1252"))
    r = run_cli("--workspace", str(workspace), "datasets", "import-csv", str(src), "imported")
    assert r.code == 0, r.err
    ds = load_dataset(workspace / "datasets" / "imported.jsonl")
    a, b = ds.cases
    assert a.expect[0].grader == "contains_any" and a.expect[0].params["values"] == [
        "kündig",
        "portal",
    ]
    assert b.messages[0].content == "Ich will einen Menschen!\r\nSofort."
    assert b.weight == 2.0 and b.expect[0].params["expected"] is True
    again = run_cli("--workspace", str(workspace), "datasets", "import-csv", str(src), "imported")
    assert again.code == 2 and "--force" in again.err


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(
    workspace: Path, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(
        "id,category,language,user,expect,rationale\n"
        "ok-1,dialogue,de,Hallo,escalation: false,r\n"
        "bad-1,smalltalk,de,Hallo,escalation: false,r\n"
        "bad-2,dialogue,de,Hallo,frobnicate: 1,r\n",
        encoding="utf-8",
    )
    r = run_cli("--workspace", str(workspace), "datasets", "import-csv", str(src), "bad")
    assert r.code == 2
    assert f"{src}:3: category" in r.err and f"{src}:4:" in r.err and "frobnicate" in r.err
    assert not (workspace / "datasets" / "bad.jsonl").exists()
