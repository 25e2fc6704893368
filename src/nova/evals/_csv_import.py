"""Import eval cases from a spreadsheet (CSV) into JSONL.

Columns (header names, case-insensitive; ``;`` or ``,`` separated, UTF-8 with or without BOM
or cp1252): ``id``, ``category``, ``language``, ``user`` (the user's message; for several
turns use ``turns`` instead: a JSON list of ``{"role", "content"}``), optional ``system``,
``expect`` (a JSON list of grader objects, or a short form ``contains_any: a | b``,
``escalation: true``, ``refusal: false``, ``language: de``, several separated by `` ; ``),
``tags`` (comma separated), ``weight``, ``rationale``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nova._io import atomic_write_text
from nova.datasets import Case
from nova.errors import ConfigError, Problem

__all__ = ["import_cases_csv", "parse_expect"]


def parse_expect(text: str) -> list[dict[str, Any]]:
    """``contains_any: kündig | portal ; escalation: false`` -> grader objects (or JSON)."""
    text = text.strip()
    if text.startswith("["):
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError("expect must be a JSON list")
        return data
    out: list[dict[str, Any]] = []
    for part in filter(None, (p.strip() for p in text.split(" ; "))):
        name, _, arg = part.partition(":")
        name, arg = name.strip(), arg.strip()
        if name in ("contains_any", "contains_all", "not_contains"):
            out.append({"grader": name, "values": [v.strip() for v in arg.split("|") if v.strip()]})
        elif name == "contains":
            out.append({"grader": name, "value": arg})
        elif name in ("escalation", "refusal"):
            out.append({"grader": name, "expected": arg.lower() in ("true", "ja", "yes", "1")})
        elif name == "language":
            out.append({"grader": name, "expected": arg})
        elif name == "regex":
            out.append({"grader": name, "pattern": arg})
        elif name == "max_length":
            out.append({"grader": name, "chars": int(arg)})
        elif name == "judge":
            out.append({"grader": name, "rubric": arg})
        elif name == "pii_leak":
            out.append({"grader": name})
        else:
            raise ValueError(f"unknown check {name!r}")
    return out


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def import_cases_csv(src: Path, dest: Path, *, force: bool = False) -> int:
    """Convert ``src`` (CSV) to ``dest`` (JSONL); every bad row is reported, nothing written
    then. Refuses to overwrite ``dest`` unless ``force``. Returns the number of cases."""
    text = _decode(src.read_bytes())
    first = text.split("\n", 1)[0]
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    problems: list[Problem] = []
    for need in ("id", "category", "language", "rationale"):
        if need not in fields:
            problems.append(Problem(src, 1, need, f"missing column {need!r}"))
    if "user" not in fields and "turns" not in fields:
        problems.append(Problem(src, 1, "user", "needs a 'user' or a 'turns' column"))
    if problems:
        raise ConfigError(problems, f"{src} cannot be imported")
    cases: list[Case] = []
    for row in reader:
        line = reader.line_num
        r = {k: (row.get(v) or "").strip() for k, v in fields.items()}
        try:
            msgs = (
                json.loads(r["turns"])
                if r.get("turns")
                else [{"role": "user", "content": r["user"]}]
            )
            obj: dict[str, Any] = {
                "id": r["id"],
                "category": r["category"],
                "language": r["language"],
                "messages": msgs,
                "expect": parse_expect(r.get("expect", "")),
                "tags": [t.strip() for t in r.get("tags", "").split(",") if t.strip()],
                "rationale": r["rationale"],
            }
            if r.get("system"):
                obj["system"] = r["system"]
            if r.get("weight"):
                obj["weight"] = float(r["weight"].replace(",", "."))
            cases.append(Case.model_validate(obj))
        except (ValueError, KeyError) as exc:
            if isinstance(exc, ValidationError):
                for err in exc.errors(include_url=False):
                    problems.append(Problem(src, line, ".".join(map(str, err["loc"])), err["msg"]))
            else:
                problems.append(Problem(src, line, "", str(exc)))
    ids = [c.id for c in cases]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem(src, None, "id", f"duplicate id {dup!r}"))
    if problems:
        raise ConfigError(problems, f"{src} cannot be imported")
    if dest.exists() and not force:
        raise ConfigError([Problem(dest, None, "", "exists: pass --force to replace it")])
    atomic_write_text(dest, "".join(c.model_dump_json(exclude_defaults=True) + "\n" for c in cases))
    return len(cases)
