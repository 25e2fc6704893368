"""Read and surgically update the team's task list (``Agenten_Aufgaben_Uebersicht.csv``).

The file belongs to the team, so an update rewrites only the bytes of the cells it changes:
delimiter, encoding, BOM, quoting, line endings, column order and every other byte stay as
they were. A small RFC 4180 tokenizer works on the raw bytes and records each cell's byte
span; this is safe because ``"``, ``,``, ``;``, CR and LF are single ASCII bytes that never
occur inside a multi-byte UTF-8 sequence, and cp1252 is a single-byte encoding.

>>> table = TaskTable.parse(b'ID;Status\\r\\nT-1;"Offen"\\r\\n')
>>> table.set_cells({"T-1": {"Status": "Abgeschlossen"}})
b'ID;Status\\r\\nT-1;"Abgeschlossen"\\r\\n'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nova._io import atomic_write_bytes
from nova.errors import ConfigError, Problem

__all__ = ["STATUS_VALUES", "TaskTable", "update_tasks"]

STATUS_VALUES = ("Offen", "In Arbeit", "Blockiert", "Abgeschlossen")
"""The values the Status column may take."""

_REQUIRED = ("ID", "Status")
_BOM = b"\xef\xbb\xbf"
_QUOTE, _CR, _LF = 0x22, 0x0D, 0x0A


@dataclass(frozen=True)
class _Cell:
    start: int  # byte offset of the raw cell in the file, opening quote included
    end: int  # byte offset just past the raw cell, closing quote included
    quoted: bool
    value: str


@dataclass(frozen=True)
class _Record:
    line: int  # physical line on which the record starts (1-based)
    cells: tuple[_Cell, ...]
    blank: bool  # an empty physical line: skipped, never a row


def _breaks(raw: bytes) -> int:
    """Count physical line breaks (CRLF, LF or a lone CR) in ``raw``."""
    return raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")


def _line_at(data: bytes, offset: int) -> int:
    return 1 + _breaks(data[:offset])


def _detect_delimiter(data: bytes, start: int) -> int:
    """``;`` if the header line has more semicolons than commas outside quotes, else ``,``."""
    counts = {ord(","): 0, ord(";"): 0}
    in_quotes = False
    for byte in data[start:]:
        if byte == _QUOTE:
            in_quotes = not in_quotes
        elif not in_quotes and byte in (_CR, _LF):
            break
        elif not in_quotes and byte in counts:
            counts[byte] += 1
    return ord(";") if counts[ord(";")] > counts[ord(",")] else ord(",")


def _decode_check(data: bytes, file: Path | None) -> tuple[str, str, bool]:
    """Return (encoding name, codec for cells, has BOM); the whole file must decode."""
    if data.startswith(_BOM):
        attempts = [("utf-8-sig", "utf-8")]
    else:
        attempts = [("utf-8", "utf-8"), ("cp1252", "cp1252")]
    offset = len(_BOM) if data.startswith(_BOM) else 0
    error: UnicodeDecodeError | None = None
    for name, codec in attempts:
        try:
            data[offset:].decode(codec)
        except UnicodeDecodeError as exc:
            error = exc
            continue
        return name, codec, offset > 0
    assert error is not None
    bad = offset + error.start
    msg = f"byte 0x{data[bad]:02x} is neither valid {attempts[0][0]} nor cp1252"
    if offset:
        msg = f"file starts with a UTF-8 BOM but byte 0x{data[bad]:02x} is not valid UTF-8"
    raise ConfigError([Problem(file, _line_at(data, bad), "", msg + "; re-save it as UTF-8")])


def _tokenize(data: bytes, pos: int, delim: int, codec: str, file: Path | None) -> list[_Record]:
    """Split ``data[pos:]`` into records of cells with exact byte spans."""
    unquoted = re.compile(b"[^" + re.escape(bytes([delim])) + b"\r\n]*")
    records: list[_Record] = []
    line, n = 1, len(data)
    while pos < n:
        rec_line, rec_start = line, pos
        cells: list[_Cell] = []
        while True:
            start = pos
            if pos < n and data[pos] == _QUOTE:
                close = pos + 1
                while True:
                    close = data.find(b'"', close)
                    if close < 0:
                        msg = 'quoted cell opened on this line is never closed (unbalanced ")'
                        raise ConfigError([Problem(file, line, "", msg)])
                    if data[close + 1 : close + 2] != b'"':
                        break
                    close += 2
                inner = data[pos + 1 : close]
                cell_line, line = line, line + _breaks(inner)
                pos = close + 1
                if pos < n and data[pos] not in (delim, _CR, _LF):
                    msg = (
                        f"text after the closing quote of the cell starting on line {cell_line}"
                        ' (unbalanced " or a quote that should be doubled as "")'
                    )
                    raise ConfigError([Problem(file, cell_line, "", msg)])
                value = inner.decode(codec).replace('""', '"')
                cells.append(_Cell(start, pos, True, value))
            else:
                match = unquoted.match(data, pos)
                assert match is not None  # the pattern matches the empty string
                pos = match.end()
                cells.append(_Cell(start, pos, False, data[start:pos].decode(codec)))
            if pos < n and data[pos] == delim:
                pos += 1
                continue
            break
        blank = pos == rec_start
        if pos < n:  # a line terminator: CRLF, LF or a lone CR
            pos += 2 if data[pos : pos + 2] == b"\r\n" else 1
            line += 1
        records.append(_Record(rec_line, tuple(cells), blank))
    return records


class TaskTable:
    """A parsed task list that remembers where every cell's bytes are.

    ``rows`` maps each (stripped) header name to the cell's decoded value. ``encoding`` is
    ``"utf-8-sig"`` (UTF-8 with BOM), ``"utf-8"`` or ``"cp1252"``; ``newline`` is the first
    line ending in the file (``"\\r\\n"``, ``"\\n"`` or ``"\\r"``), and ``final_newline`` says
    whether the last line ends with one.
    """

    def __init__(self, data: bytes, path: Path | None = None) -> None:
        """Parse ``data``; ``path`` is only used in error messages. Raise ``ConfigError``."""
        self.path = path
        self.data = data
        self.encoding, self._codec, self.has_bom = _decode_check(data, path)
        start = len(_BOM) if self.has_bom else 0
        self.delimiter = chr(_detect_delimiter(data, start))
        m = re.search(rb"\r\n|\n|\r", data)
        self.newline = m.group().decode("ascii") if m else "\n"
        self.final_newline = data.endswith((b"\n", b"\r"))
        records = _tokenize(data, start, ord(self.delimiter), self._codec, path)
        records = [r for r in records if not r.blank]
        if not records:
            raise ConfigError([Problem(path, 1, "", "file is empty; expected a header line")])
        head, body = records[0], records[1:]
        self.header = [c.value.strip() for c in head.cells]
        problems = self._check_header(head.line)
        width = len(self.header)
        for rec in body:
            if len(rec.cells) != width:
                msg = f"row has {len(rec.cells)} fields, the header has {width}"
                problems.append(Problem(path, rec.line, "", msg))
        if problems:
            raise ConfigError(problems)
        self.rows = [
            {name: cell.value for name, cell in zip(self.header, rec.cells, strict=True)}
            for rec in body
        ]
        self._records = body
        self._index: dict[str, int] = {}
        for i, (row, rec) in enumerate(zip(self.rows, body, strict=True)):
            task_id = row["ID"].strip()
            if not task_id:
                continue
            if task_id in self._index:
                first = body[self._index[task_id]].line
                msg = f"duplicate ID {task_id!r} (first used on line {first})"
                problems.append(Problem(path, rec.line, "ID", msg))
            else:
                self._index[task_id] = i
        if problems:
            raise ConfigError(problems)

    def _check_header(self, line: int) -> list[Problem]:
        problems: list[Problem] = []
        seen: set[str] = set()
        for name in self.header:
            if name in seen:
                problems.append(Problem(self.path, line, name, "column appears twice in header"))
            seen.add(name)
        for name in _REQUIRED:
            if name not in seen:
                msg = (
                    f"required column {name!r} is missing (header: {', '.join(self.header)};"
                    f" delimiter {self.delimiter!r})"
                )
                problems.append(Problem(self.path, line, name, msg))
        return problems

    @classmethod
    def load(cls, path: Path) -> TaskTable:
        """Read and parse the task list at ``path``."""
        return cls(path.read_bytes(), path)

    @classmethod
    def parse(cls, data: bytes, path: Path | None = None) -> TaskTable:
        """Parse a task list already in memory."""
        return cls(data, path)

    def find_rows(self, predicate: Callable[[dict[str, str]], bool]) -> list[dict[str, str]]:
        """Rows for which ``predicate(row)`` is true, in file order."""
        return [row for row in self.rows if predicate(row)]

    def rows_matching(self, column: str, substring: str) -> list[dict[str, str]]:
        """Rows whose ``column`` contains ``substring``, ignoring case (e.g. a Nachweis path)."""
        if column not in self.header:
            msg = f"no column {column!r} (header: {', '.join(self.header)})"
            raise ConfigError([Problem(self.path, None, column, msg)])
        needle = substring.casefold()
        return self.find_rows(lambda row: needle in row[column].casefold())

    def _plan(
        self, updates: Mapping[str, Mapping[str, str]]
    ) -> tuple[list[tuple[_Cell, bytes]], list[str]]:
        """Validate ``updates``; return the byte edits and the IDs they change, in file order."""
        problems: list[Problem] = []
        edits: dict[int, list[tuple[_Cell, bytes]]] = {}
        for task_id, cells in updates.items():
            index = self._index.get(task_id.strip())
            if index is None:
                known = ", ".join(list(self._index)[:5]) + (", …" if len(self._index) > 5 else "")
                msg = f"no task with ID {task_id!r} (IDs in file: {known or 'none'})"
                problems.append(Problem(self.path, None, "ID", msg))
                continue
            rec = self._records[index]
            for column, value in cells.items():
                where = f"{task_id}.{column}"
                if column not in self.header:
                    msg = f"no column {column!r} (header: {', '.join(self.header)})"
                    problems.append(Problem(self.path, rec.line, where, msg))
                    continue
                if column == "Status" and value not in STATUS_VALUES:
                    msg = f"status {value!r} is not one of {', '.join(STATUS_VALUES)}"
                    problems.append(Problem(self.path, rec.line, where, msg))
                    continue
                cell = rec.cells[self.header.index(column)]
                if cell.value == value:
                    continue
                try:
                    raw = self._encode_cell(value, cell.quoted)
                except UnicodeEncodeError as exc:
                    bad = value[exc.start : exc.end]
                    msg = f"{bad!r} cannot be written in this file's encoding {self.encoding}"
                    problems.append(Problem(self.path, rec.line, where, msg))
                    continue
                edits.setdefault(index, []).append((cell, raw))
        if problems:
            raise ConfigError(problems, summary=f"cannot update {self.path or 'task list'}")
        ids = [self.rows[i]["ID"].strip() for i in sorted(edits)]
        return [edit for i in sorted(edits) for edit in edits[i]], ids

    def _encode_cell(self, value: str, quoted: bool) -> bytes:
        needs_quotes = any(ch in value for ch in (self.delimiter, '"', "\r", "\n"))
        if quoted or needs_quotes:
            value = '"' + value.replace('"', '""') + '"'
        return value.encode(self._codec)

    def set_cells(self, updates: Mapping[str, Mapping[str, str]]) -> bytes:
        """Return the file's bytes with only the given cells changed (``{ID: {column: value}}``).

        A quoted cell stays quoted; an unquoted one is quoted only if the new value needs it.
        Raise ``ConfigError`` for an unknown ID or column, an invalid Status, or a value the
        file's encoding cannot hold.
        """
        edits, _ = self._plan(updates)
        return self._apply(edits)

    def _apply(self, edits: list[tuple[_Cell, bytes]]) -> bytes:
        out: list[bytes] = []
        pos = 0
        for cell, raw in sorted(edits, key=lambda edit: edit[0].start):
            out += [self.data[pos : cell.start], raw]
            pos = cell.end
        out.append(self.data[pos:])
        return b"".join(out)


def update_tasks(path: Path, updates: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Apply ``{ID: {column: value}}`` to the task list at ``path``; return the changed IDs.

    The file is written atomically, and only if a cell really changes; on any error
    (``ConfigError`` for bad input, ``OSError`` from the write) the file is left as it was.
    """
    table = TaskTable.load(path)
    edits, ids = table._plan(updates)
    if edits:
        atomic_write_bytes(path, table._apply(edits))
    return ids
