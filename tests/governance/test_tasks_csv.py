"""The team's task list is updated cell by cell: every other byte of the file stays as it was."""

from __future__ import annotations

import csv
import io
import os
from importlib import resources
from pathlib import Path

import pytest

from nova.errors import ConfigError
from nova.governance._tasks_csv import STATUS_VALUES, TaskTable, update_tasks

BOM = b"\xef\xbb\xbf"
DEFAULT_CSV = resources.files("nova").joinpath(
    "templates", "workspace", "de", "Agenten_Aufgaben_Uebersicht.csv"
)
OLD_NS = 1_000_000_000_000_000_000  # a fixed mtime, so any rewrite would show


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "Agenten_Aufgaben_Uebersicht.csv"
    path.write_bytes(data)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, f"{old!r} must occur exactly once in the fixture"
    return data.replace(old, new)


def _stdlib_rows(data: bytes, encoding: str, delimiter: str) -> list[dict[str, str]]:
    """What Python's csv module reads from the same bytes: a cross-check of our tokenizer."""
    text = data.decode(encoding)
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def _assert_untouched(path: Path, data: bytes) -> None:
    assert path.read_bytes() == data
    assert path.stat().st_mtime_ns == OLD_NS
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


# --- byte-exact round trips ------------------------------------------------------------------


def test_default_template_lf_utf8_comma(tmp_path: Path) -> None:
    data = DEFAULT_CSV.read_bytes()
    path = _write(tmp_path, data)
    table = TaskTable.load(path)
    assert (table.delimiter, table.encoding, table.has_bom) == (",", "utf-8", False)
    assert (table.newline, table.final_newline) == ("\n", True)
    assert table.header[:2] == ["ID", "Bereich"]
    assert table.rows == _stdlib_rows(data, "utf-8", ",")
    assert table.set_cells({}) == data

    [review] = table.rows_matching("Aufgabe", "stakeholder-review")
    assert review["ID"] == "SOPHIA-15"
    by_path = table.rows_matching("Nachweis", "Agenten_Aufgaben_Uebersicht.csv")
    assert [r["ID"] for r in by_path] == ["SOPHIA-20"]

    assert update_tasks(path, {"SOPHIA-15": {"Status": "Abgeschlossen"}}) == ["SOPHIA-15"]
    old = b",Product,Offen,SOPHIA-11;SOPHIA-13;SOPHIA-16"
    new = b",Product,Abgeschlossen,SOPHIA-11;SOPHIA-13;SOPHIA-16"
    assert path.read_bytes() == _replace_once(data, old, new)


def test_semicolon_cp1252_crlf_with_umlauts(tmp_path: Path) -> None:
    text = (
        "ID;Aufgabe;Verantwortlich;Status;Abhängigkeiten;Nachweis\r\n"
        "T-1;Größe prüfen;Jürgen Weiß;Offen;;docs/ä.md\r\n"
        "T-2;Maßnahmen, Übersicht;Özlem;In Arbeit;T-1;\r\n"
    )
    data = text.encode("cp1252")
    path = _write(tmp_path, data)
    table = TaskTable.load(path)
    assert (table.delimiter, table.encoding, table.newline) == (";", "cp1252", "\r\n")
    assert table.rows == _stdlib_rows(data, "cp1252", ";")
    assert table.rows[0]["Aufgabe"] == "Größe prüfen"

    assert update_tasks(path, {"T-2": {"Status": "Abgeschlossen"}}) == ["T-2"]
    expected = _replace_once(
        data, ";Özlem;In Arbeit;".encode("cp1252"), ";Özlem;Abgeschlossen;".encode("cp1252")
    )
    assert path.read_bytes() == expected

    # A new value with umlauts is written in cp1252 too, not UTF-8.
    assert update_tasks(path, {"T-2": {"Nachweis": "Prüfbericht.md"}}) == ["T-2"]
    assert path.read_bytes() == expected.replace(b";T-1;\r\n", b";T-1;Pr\xfcfbericht.md\r\n")


def test_utf8_bom_with_multiline_quoted_cell(tmp_path: Path) -> None:
    data = (
        BOM + b"ID,Aufgabe,Status,Nachweis\n"
        b'A-1,"Review, Teil 1\nmit ""Legal""",Offen,docs/a.md\n'
        b'A-2,"Stakeholder-Review",Blockiert,\n'
    )
    path = _write(tmp_path, data)
    table = TaskTable.load(path)
    assert (table.encoding, table.has_bom, table.header[0]) == ("utf-8-sig", True, "ID")
    assert table.rows[0]["Aufgabe"] == 'Review, Teil 1\nmit "Legal"'
    assert table.rows == _stdlib_rows(data, "utf-8-sig", ",")

    assert update_tasks(path, {"A-1": {"Status": "Abgeschlossen"}}) == ["A-1"]
    expected = _replace_once(data, b'""",Offen,docs', b'""",Abgeschlossen,docs')
    assert path.read_bytes() == expected
    assert path.read_bytes().count(BOM) == 1

    # A quoted cell stays quoted, and quotes in the new value are doubled.
    assert update_tasks(path, {"A-2": {"Aufgabe": 'Stakeholder-Review "final"'}}) == ["A-2"]
    assert path.read_bytes() == expected.replace(
        b'"Stakeholder-Review"', b'"Stakeholder-Review ""final"""'
    )
    assert TaskTable.load(path).rows[1]["Aufgabe"] == 'Stakeholder-Review "final"'


def test_last_line_without_newline(tmp_path: Path) -> None:
    data = b"ID,Aufgabe,Status\nT-1,a,Offen\nT-2,b,Offen"
    path = _write(tmp_path, data)
    assert TaskTable.load(path).final_newline is False
    assert update_tasks(path, {"T-2": {"Status": "Abgeschlossen"}}) == ["T-2"]
    assert path.read_bytes() == data.removesuffix(b"Offen") + b"Abgeschlossen"


@pytest.mark.parametrize(
    ("task_id", "old", "new"),
    [
        ("T-1", b'"T-1",Plan,"Offen"', b'"T-1",Plan,"Abgeschlossen"'),
        ("T-2", b'"T-2",Bau,Offen', b'"T-2",Bau,Abgeschlossen'),
    ],
)
def test_mixed_quoting_keeps_each_cells_style(
    tmp_path: Path, task_id: str, old: bytes, new: bytes
) -> None:
    data = b'"ID","Aufgabe",Status,Nachweis\r\n"T-1",Plan,"Offen",x\r\n"T-2",Bau,Offen,"y"\r\n'
    path = _write(tmp_path, data)
    assert update_tasks(path, {task_id: {"Status": "Abgeschlossen"}}) == [task_id]
    assert path.read_bytes() == _replace_once(data, old, new)


def test_unquoted_cell_is_quoted_only_when_needed() -> None:
    data = b"ID;Aufgabe;Status;Nachweis\nT-1;Plan;Offen;x\n"
    table = TaskTable.parse(data)
    out = table.set_cells({"T-1": {"Aufgabe": "Plan; Review", "Nachweis": "a,b"}})
    assert out == b'ID;Aufgabe;Status;Nachweis\nT-1;"Plan; Review";Offen;a,b\n'
    assert TaskTable.parse(out).rows[0] == {
        "ID": "T-1",
        "Aufgabe": "Plan; Review",
        "Status": "Offen",
        "Nachweis": "a,b",
    }


def test_unchanged_value_does_not_write(tmp_path: Path) -> None:
    data = b"ID,Status\r\nT-1,Abgeschlossen\r\n\r\n"  # a trailing blank line is tolerated
    path = _write(tmp_path, data)
    assert update_tasks(path, {"T-1": {"Status": "Abgeschlossen"}}) == []
    _assert_untouched(path, data)


def test_find_rows_with_predicate() -> None:
    table = TaskTable.parse(b"ID,Status\nT-1,Offen\nT-2,Blockiert\nT-3,Offen\n")
    open_ids = [r["ID"] for r in table.find_rows(lambda r: r["Status"] == "Offen")]
    assert open_ids == ["T-1", "T-3"]
    assert set(STATUS_VALUES) == {"Offen", "In Arbeit", "Blockiert", "Abgeschlossen"}


# --- malformed files and bad updates: a clear error, nothing written ---------------------------


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (b'ID,Aufgabe,Status\nT-1,ok,Offen\nT-2,"kaputt,Offen\nT-3,x,Offen\n', 3, "never closed"),
        (b'ID,Aufgabe,Status\nT-1,ok,Offen\nT-2,"kaputt,Offen\nT-3,"x",Offen\n', 3, "unbalanced"),
        (b'ID,Aufgabe,Status\nT-1,"zwei\nZeilen",Offen\nT-2,x\n', 4, "2 fields, the header has 3"),
        (b'ID,Aufgabe,Status\nT-1,"a\r\nb",Offen\r\n"x\r\ny",Offen\r\n', 4, "2 fields"),
        (b"ID,Aufgabe,Status\nT-1,a,Offen\nT-2,b,Offen\nT-1,c,Offen\n", 4, "duplicate ID 'T-1'"),
        (b"ID;Aufgabe;Stand\nT-1;a;Offen\n", 1, "required column 'Status' is missing"),
        (b"ID,Status\nT-1,Offen\nT-2,\x81\n", 3, "neither valid utf-8 nor cp1252"),
    ],
)
def test_malformed_file_names_the_line(tmp_path: Path, data: bytes, line: int, words: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        update_tasks(path, {"T-1": {"Status": "Abgeschlossen"}})
    [problem] = info.value.problems
    assert (problem.file, problem.line) == (path, line)
    assert words in problem.message
    _assert_untouched(path, data)


@pytest.mark.parametrize(
    ("updates", "field", "words"),
    [
        ({"T-1": {"Nachweis": "✓ geprüft"}}, "T-1.Nachweis", "cannot be written in this file's"),
        ({"T-9": {"Status": "Abgeschlossen"}}, "ID", "no task with ID 'T-9'"),
        ({"T-1": {"Stand": "Abgeschlossen"}}, "T-1.Stand", "no column 'Stand'"),
        ({"T-1": {"Status": "Erledigt"}}, "T-1.Status", "not one of Offen, In Arbeit"),
    ],
)
def test_bad_update_writes_nothing(
    tmp_path: Path, updates: dict[str, dict[str, str]], field: str, words: str
) -> None:
    data = "ID;Status;Nachweis\r\nT-1;Offen;Größe\r\nT-2;Offen;\r\n".encode("cp1252")
    path = _write(tmp_path, data)
    # A valid update in the same call is not applied either: all or nothing.
    with pytest.raises(ConfigError) as info:
        update_tasks(path, {"T-2": {"Status": "Abgeschlossen"}, **updates})
    [problem] = info.value.problems
    assert (problem.path, problem.file) == (field, path)
    assert words in problem.message
    _assert_untouched(path, data)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = b"ID,Status\nT-1,Offen\nT-2,Offen\n"
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        update_tasks(path, {"T-2": {"Status": "erledigt"}, "T-3": {"Status": "Offen"}})
    assert [(p.line, p.path) for p in info.value.problems] == [(3, "T-2.Status"), (None, "ID")]
    assert "no task with ID 'T-3' (IDs in file: T-1, T-2)" in str(info.value)
    _assert_untouched(path, data)


def test_failed_write_leaves_original_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"ID,Status\nT-1,Offen\n"
    path = _write(tmp_path, data)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        update_tasks(path, {"T-1": {"Status": "Abgeschlossen"}})
    _assert_untouched(path, data)
